//! The old table's life after a cut-over: it keeps a name of its own
//! (`<t>_<id>_del`, so the next ALTER of the same table can start at once),
//! is kept for `[migrations] retain_old_table` (an operator can rename it
//! back to undo the change) and is then dropped in the background.
//!
//! Why a plain `DROP TABLE`: on MariaDB 10.11 and MySQL 8.0.23+ dropping an
//! InnoDB table no longer scans the buffer pool under a global lock, and
//! the file is unlinked after the dictionary lock is released; a chunked
//! `DELETE` first would write every row to the binlog and replicas. One
//! table at a time, by one instance at a time (a named lock), timed in
//! `ghostwire_old_table_drop_seconds`.
//!
//! Only tables a completed migration of ghostwire renamed are dropped: the
//! name comes from the migration's own record, never from a listing.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tracing::{info, warn};

use super::sql::qualified;
use super::{store, Handle, Result};

/// How often the dropper looks for old tables whose retention ended.
const SCAN: Duration = Duration::from_secs(30);

/// The named lock that keeps two instances from dropping at once.
const LOCK: &str = "ghostwire.old_tables";

/// Starts the background dropper (once per engine).
pub(super) fn spawn_dropper(handle: Handle) {
    let inner = handle.inner.clone();
    let tasks = inner.tasks.clone();
    tasks.spawn(async move {
        loop {
            let next = match drop_due(&handle).await {
                Ok(next) => next.map_or(SCAN, |n| n.min(SCAN)),
                Err(e) => {
                    warn!(error = %e, "could not drop old tables whose retention ended");
                    SCAN
                }
            };
            tokio::select! {
                _ = inner.stop.cancelled() => break,
                _ = inner.dropper.notified() => {}
                _ = tokio::time::sleep(next) => {}
            }
        }
    });
}

/// Drops every old table whose retention has ended; returns how long
/// until the next one's ends.
async fn drop_due(handle: &Handle) -> Result<Option<Duration>> {
    let mut conn = handle.inner.pool.get_conn().await?;
    let got: Option<Option<u64>> = conn.exec_first("SELECT GET_LOCK(?, 0)", (LOCK,)).await?;
    if got.flatten() != Some(1) {
        return Ok(None); // another instance is dropping
    }
    let result = async {
        for (id, schema, old) in store::old_tables_due(&mut conn).await? {
            if handle.inner.stop.is_cancelled() {
                break;
            }
            drop_old_table(&mut conn, &id, &schema, &old).await?;
        }
        store::next_old_table_due(&mut conn).await
    }
    .await;
    let _ = conn.exec_drop("DO RELEASE_LOCK(?)", (LOCK,)).await;
    result
}

/// What identifies the old table ghostwire kept: a hash of its definition
/// (`SHOW CREATE TABLE`, its name and AUTO_INCREMENT counter left out),
/// read right after the cut-over and again before any drop. A table put at
/// that name since (renamed there, made anew) is left alone.
///
/// Read with an empty `sql_mode`: the text of SHOW CREATE TABLE depends on
/// the session's mode (quotes, padded CHAR defaults, …), and the engine's
/// connections carry the client's.
pub(super) async fn fingerprint(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Option<String>> {
    Ok(fingerprints(conn, schema, &[table]).await?.pop().flatten())
}

/// `fingerprint` of each of `tables`, under one change of `sql_mode` (the
/// cut-over reads two while it holds its lock).
pub(super) async fn fingerprints(
    conn: &mut Conn,
    schema: &str,
    tables: &[&str],
) -> Result<Vec<Option<String>>> {
    conn.query_drop("SET @gw_fingerprint_mode = @@SESSION.sql_mode, SESSION sql_mode = ''")
        .await?;
    let mut shown = Vec::with_capacity(tables.len());
    for table in tables {
        let r: std::result::Result<Option<(String, String)>, _> = conn
            .query_first(format!("SHOW CREATE TABLE {}", qualified(schema, table)))
            .await;
        shown.push(r);
    }
    conn.query_drop("SET SESSION sql_mode = @gw_fingerprint_mode")
        .await?;
    shown
        .into_iter()
        .map(|r| match r {
            Ok(row) => Ok(row.map(|(_, create)| hash_definition(&create))),
            Err(mysql_async::Error::Server(e)) if e.code == 1146 => Ok(None),
            Err(e) => Err(e.into()),
        })
        .collect()
}

/// The hash of a `SHOW CREATE TABLE` text without its name and its
/// AUTO_INCREMENT counter.
fn hash_definition(create: &str) -> String {
    let body = create.split_once('(').map(|(_, b)| b).unwrap_or(create);
    let normal: String = body
        .split(' ')
        .filter(|w| !w.starts_with("AUTO_INCREMENT="))
        .collect::<Vec<_>>()
        .join(" ");
    let hash = normal.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!("{hash:016x}")
}

/// What identifies the old table ghostwire kept, recorded right after the
/// cut-over: its definition (`fingerprint`) and when the server says the
/// table at that name was made. A table made there since with the very
/// same definition (re-created by hand, restored from a dump) was made
/// later. (MariaDB's creation time moves when the table is renamed, MySQL's
/// does not; after the cut-over's RENAME neither moves until someone
/// touches the table.)
pub(super) async fn old_table_identity(
    conn: &mut Conn,
    schema: &str,
    table: &str,
) -> Result<Option<String>> {
    let Some(definition) = fingerprint(conn, schema, table).await? else {
        return Ok(None);
    };
    let created: Option<Option<String>> = conn
        .exec_first(
            "SELECT CAST(CREATE_TIME AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (schema, table),
        )
        .await?;
    Ok(Some(format!(
        "{IDENTITY}{definition}:{}",
        created.flatten().unwrap_or_default()
    )))
}

/// How an identity starts (records made before it hold the fingerprint
/// only, and are checked by that).
const IDENTITY: &str = "v2:";

/// What a drop of a migration's old table found.
pub(crate) enum Dropped {
    Done,
    /// Nothing at that name any more.
    Gone,
    /// Another table stands at that name now: left alone.
    NotOurs,
}

/// Whether the table at the old table's name is still the one ghostwire
/// kept (`old_table_identity`); marks the record when it is not there or
/// not ours.
pub(super) async fn check_old_table(
    conn: &mut Conn,
    id: &str,
    schema: &str,
    old: &str,
) -> Result<Option<Dropped>> {
    let expected = store::old_table_check(conn, id).await?;
    let now = if expected.as_deref().is_some_and(|e| e.starts_with(IDENTITY)) {
        old_table_identity(conn, schema, old).await?
    } else {
        fingerprint(conn, schema, old).await?
    };
    let verdict = match (now, expected) {
        (None, _) => Some(Dropped::Gone),
        (Some(now), Some(expected)) if now != expected => Some(Dropped::NotOurs),
        _ => None,
    };
    if let Some(v) = &verdict {
        let note = match v {
            Dropped::NotOurs => {
                "left alone: the table now at that name is not the one ghostwire kept"
            }
            _ => "it was gone already",
        };
        warn!(%id, %schema, table = %old, note, "old table not dropped");
        store::old_table_dropped(conn, id).await?;
    }
    Ok(verdict)
}

/// Drops one migration's old table (when it is still the one ghostwire
/// kept) and records that it is gone.
pub(super) async fn drop_old_table(
    conn: &mut Conn,
    id: &str,
    schema: &str,
    old: &str,
) -> Result<Dropped> {
    if let Some(verdict) = check_old_table(conn, id, schema, old).await? {
        return Ok(verdict);
    }
    let started = Instant::now();
    conn.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(schema, old)))
        .await?;
    let took = started.elapsed();
    store::old_table_dropped(conn, id).await?;
    metrics::counter!(crate::metrics::OLD_TABLES_DROPPED).increment(1);
    metrics::histogram!(crate::metrics::OLD_TABLE_DROP_SECONDS).record(took.as_secs_f64());
    info!(%id, %schema, table = %old, ms = took.as_millis() as u64, "old table dropped");
    Ok(Dropped::Done)
}

impl Handle {
    /// Lets the dropper look now (a retention of 0 just started).
    pub(super) fn wake_dropper(&self) {
        self.inner.dropper.notify_one();
    }
}
