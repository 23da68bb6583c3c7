//! The atomic cut-over (gh-ost's protocol, with a sentry table):
//!
//! 1. connection A creates the sentry `<t>_del` and takes
//!    `LOCK TABLES t WRITE, <t>_del WRITE, <t>_gho WRITE`;
//! 2. A writes a mark row into the sentry; when the binlog tail reads it,
//!    every change made to `t` before the lock has been read;
//! 3. A replays the last changed keys (under the lock, nothing changes);
//! 4. connection B issues `RENAME TABLE t TO <t>_del, <t>_gho TO t`,
//!    which blocks on A's lock (seen in the processlist);
//! 5. A drops the sentry and unlocks: B's rename runs first, atomically.
//!
//! If A dies at any point its locks go, but the sentry still exists, so B's
//! rename fails instead of moving the table: the original is safe. Every
//! wait is bounded; an attempt that runs out of time releases everything
//! and is retried by the runner.
//!
//! Around all of it, the table's gate (see `gate`) is closed and drained
//! first, so new statements wait in the proxy instead of queueing on the
//! server's locks, and opened at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};
use tokio::sync::watch;
use tracing::debug;

use super::binlog::{Delta, Replay};
use super::control::{Control, Held};
use super::fence::Fence;
use super::sql::qualified;
use super::{Failure, MigrationError, POLL};
use crate::config::Cutover;
use crate::gate::Gate;

/// The sentry's comment names its migration: only that migration's sentry
/// is ever dropped (a table someone else made under the name is not).
pub fn sentry_comment(id: &str) -> String {
    format!("ghostwire cut-over sentry {id}")
}

pub enum CutoverError {
    /// This attempt gave up; the tables are as before. Try again later.
    /// `reason` is the metric label (`drain_timeout`, `lock_timeout`, `other`).
    Retry {
        reason: &'static str,
        message: String,
    },
    Fatal(MigrationError),
}

fn retry(reason: &'static str, message: impl Into<String>) -> CutoverError {
    CutoverError::Retry {
        reason,
        message: message.into(),
    }
}

impl From<MigrationError> for CutoverError {
    fn from(e: MigrationError) -> Self {
        CutoverError::Fatal(e)
    }
}

impl From<mysql_async::Error> for CutoverError {
    fn from(e: mysql_async::Error) -> Self {
        match e {
            mysql_async::Error::Server(s) if s.code == 1205 => {
                retry("lock_timeout", format!("lock wait timeout: {}", s.message))
            }
            other => CutoverError::Fatal(other.into()),
        }
    }
}

pub struct Attempt<'a> {
    /// The migration's id (a UUID), named in the sentry's comment.
    pub id: &'a str,
    /// This run, which must still own the migration while it locks,
    /// replays and renames.
    pub fence: Fence,
    /// Give the new table the old table's AUTO_INCREMENT counter under the
    /// lock (as a native ALTER keeps it).
    pub carry_auto_increment: bool,
    /// The original table's name (unquoted).
    pub table: &'a str,
    /// The table's cut-over gate: closed and drained (once the sentry
    /// exists) before LOCK TABLES, opened when the attempt ends either way.
    pub gate: &'a Gate,
    pub pool: &'a Pool,
    pub config: &'a Cutover,
    pub original: &'a str,
    pub schema: &'a str,
    pub shadow_name: &'a str,
    pub del_name: &'a str,
    pub replay: &'a Replay,
    pub delta: &'a Arc<Delta>,
    pub marks: watch::Receiver<u64>,
    pub pause: &'a tokio::sync::Mutex<()>,
    pub failure: &'a Failure,
    /// Asked at the point of no return (`Control::commit`).
    pub control: &'a Control,
    pub server: crate::flavour::ServerInfo,
    /// Definition fingerprints of the original and the shadow when the
    /// copy began (`lifecycle::fingerprint`).
    pub defs: &'a (String, String),
}

/// The migration's message for a drain that timed out. It counts the
/// sessions in the way but does not name them: everyone who may see the
/// table sees the message, while the server shows a connection's id only
/// to its user and to holders of PROCESS. ghostwire's log names them.
pub fn blocked_by(holders: &[u32], timeout_ms: u64) -> String {
    format!(
        "{} open transaction(s) that used the table did not end within {timeout_ms} ms \
         (their connection ids are in ghostwire's log); retrying later",
        holders.len()
    )
}

/// One attempt; returns how long the table was locked (new statements on
/// it are held in the proxy from the gate's closing to its opening).
pub async fn attempt(a: &Attempt<'_>) -> Result<Duration, CutoverError> {
    ensure_sentry(&mut a.pool.get_conn().await?, a.id, a.schema, a.del_name).await?;
    close_and_drain(a).await?;
    let result = with_sentry(a, Phase::Rename).await;
    a.gate.open();
    result
}

/// Starts one consistent snapshot on each of `snaps` at a moment when the
/// shadow equals the original (for the checksum): the original is locked
/// READ (readers go on, writers wait), the binlog read up to the lock, the
/// last changes replayed, the snapshots started, and everything released.
/// All snapshots see the same state, so they can compare in parallel.
/// Returns how long writers were blocked.
pub async fn snapshot(a: &Attempt<'_>, snaps: &mut [Conn]) -> Result<Duration, CutoverError> {
    ensure_sentry(&mut a.pool.get_conn().await?, a.id, a.schema, a.del_name).await?;
    close_and_drain(a).await?;
    let result = with_sentry(a, Phase::Snapshot(snaps)).await;
    a.gate.open();
    // The sentry stays for the cut-over (see `ensure_sentry`).
    result
}

async fn close_and_drain(a: &Attempt<'_>) -> Result<(), CutoverError> {
    a.gate.close();
    let drain = Duration::from_millis(a.config.drain_timeout_ms);
    if let Err(holders) = a.gate.drain(drain).await {
        a.gate.open();
        let msg = blocked_by(&holders, a.config.drain_timeout_ms);
        tracing::warn!(table = a.original, ?holders, "cut-over drain timed out");
        return Err(retry("drain_timeout", msg));
    }
    debug!("gate closed and drained");
    Ok(())
}

/// What runs while the tables are locked.
enum Phase<'s> {
    /// The atomic RENAME.
    Rename,
    /// Start a consistent snapshot on each of these connections.
    Snapshot(&'s mut [Conn]),
}

/// Creates the sentry, pauses the background applier and runs `phase` on
/// a lock connection; whatever happens, no lock and no sentry outlive it.
async fn with_sentry(a: &Attempt<'_>, phase: Phase<'_>) -> Result<Duration, CutoverError> {
    let sentry = qualified(a.schema, a.del_name);
    let shadow = qualified(a.schema, a.shadow_name);
    let timeout = Duration::from_secs(a.config.lock_wait_timeout_s);
    // The background applier must not hold statements on the tables now.
    // Paused before the record is held: the applier holds the pause while
    // its batch waits for the record (see `fence`), and a waiting record
    // update (the checkpoint) queues that wait behind our hold.
    let _paused = a.pause.lock().await;
    // Still this instance's migration (another may have adopted it while
    // this one was cut off), and it stays so until the tables are unlocked
    // and the RENAME has run or been stopped: the replay under the lock and
    // the RENAME are writes of this run (see `fence`).
    let fence = a.fence.hold(a.pool).await;
    let fence = match fence {
        Ok(held) => held,
        Err(e) => {
            if matches!(e, MigrationError::Superseded) {
                a.control.hand_over();
            }
            return Err(CutoverError::Fatal(e));
        }
    };
    let result = locked(a, phase, &sentry, &shadow, timeout).await;
    fence.release().await;
    result
}

/// How long (s) the cut-over's lock connection may sit idle before the
/// server closes it: twice the longest wait between its statements, and a
/// margin for a slow machine.
fn lock_idle_limit(lock_wait_timeout_s: u64) -> u64 {
    2 * lock_wait_timeout_s + 5
}

/// `with_sentry` once the fence is held.
async fn locked(
    a: &Attempt<'_>,
    phase: Phase<'_>,
    sentry: &str,
    shadow: &str,
    timeout: Duration,
) -> Result<Duration, CutoverError> {
    let mut lock = a.pool.get_conn().await?;
    // `wait_timeout`: this connection is never idle for longer than one
    // wait for the binlog tail or for the RENAME to queue (each at most
    // `timeout`); if this process freezes while it holds the tables (a
    // paused VM, SIGSTOP), the server closes the connection after this
    // long and the tables are free again, instead of staying locked until
    // the process wakes (the sentry still stops the queued RENAME).
    lock.query_drop(format!(
        "SET SESSION lock_wait_timeout = {0}, wait_timeout = {1}",
        a.config.lock_wait_timeout_s,
        lock_idle_limit(a.config.lock_wait_timeout_s)
    ))
    .await?;
    // The sentry exists (`ensure_sentry`, before the gate closed). Should
    // it have gone meanwhile, LOCK TABLES fails (1146) and so does the
    // migration, with the table unchanged.
    let result = match phase {
        Phase::Rename => rename_phase(a, &mut lock, sentry, shadow, timeout).await,
        Phase::Snapshot(snaps) => {
            async {
                let locked_at = quiesce(a, &mut lock, "READ", sentry, shadow, timeout).await?;
                for snap in snaps.iter_mut() {
                    // Engine sessions run READ COMMITTED, where a snapshot does
                    // not hold across statements: this one is REPEATABLE READ.
                    snap.query_drop("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                        .await?;
                    snap.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                        .await?;
                }
                lock.query_drop("UNLOCK TABLES").await?;
                debug!("snapshots started, tables unlocked");
                Ok(locked_at.elapsed())
            }
            .await
        }
    };
    let _ = lock.query_drop("UNLOCK TABLES").await;
    if result.is_err() {
        drop_sentry(&mut lock, a.id, a.schema, a.del_name).await;
    }
    result
}

/// Locks the original (`mode` WRITE or READ), the sentry and the shadow,
/// waits until the binlog tail has read everything written before the
/// lock, and replays the last changes: until the lock is released the
/// shadow equals the original. Returns when the lock was taken.
async fn quiesce(
    a: &Attempt<'_>,
    lock: &mut Conn,
    mode: &str,
    sentry: &str,
    shadow: &str,
    timeout: Duration,
) -> Result<Instant, CutoverError> {
    lock.query_drop(format!(
        "LOCK TABLES {} {mode}, {sentry} WRITE, {shadow} WRITE",
        a.original
    ))
    .await?;
    let locked_at = Instant::now();
    debug!(mode, "tables locked");
    let mark = (uuid::Uuid::new_v4().as_u128() as u64) >> 2;
    lock.query_drop(format!("INSERT INTO {sentry} VALUES ({mark})"))
        .await?;
    // While the tail reads up to the mark.
    unchanged_definitions(a, lock).await?;
    let mut marks = a.marks.clone();
    let seen = tokio::time::timeout(timeout, marks.wait_for(|m| *m == mark))
        .await
        .is_ok_and(|r| r.is_ok());
    a.failure.check()?;
    if !seen {
        return Err(retry(
            "other",
            format!(
                "the binlog tail did not reach the lock within {} s",
                timeout.as_secs()
            ),
        ));
    }
    let replayed = a.replay.flush_all_locked(lock, a.delta).await?;
    debug!(replayed, "last changes replayed under the lock");
    Ok(locked_at)
}

/// Whether this migration's sentry stands at `schema.name`.
async fn is_sentry(
    conn: &mut Conn,
    id: &str,
    schema: &str,
    name: &str,
) -> Result<bool, mysql_async::Error> {
    let found: Option<String> = conn
        .exec_first(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
             AND TABLE_NAME = ? AND TABLE_COMMENT = ?",
            (schema, name, sentry_comment(id)),
        )
        .await?;
    Ok(found.is_some())
}

/// Creates the sentry at `schema.name` unless this migration's own stands
/// there already; before the gate closes, never while it holds statements.
/// Creating or dropping a table makes the server write and flush its logs,
/// which held every writer's commit for 15–25 ms on the benchmark's server
/// under load; so the sentry is made once, by the first lock attempt (the
/// checksum's snapshot), and kept to the cut-over's RENAME (each attempt
/// adds a row of marks), instead of made and dropped around every attempt.
/// A failed attempt still drops it, and the next makes it again.
pub async fn ensure_sentry(
    conn: &mut Conn,
    id: &str,
    schema: &str,
    name: &str,
) -> Result<(), mysql_async::Error> {
    if is_sentry(conn, id, schema, name).await? {
        return Ok(());
    }
    // The id is a UUID ghostwire made: safe in the statement's text.
    debug_assert!(id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    conn.query_drop(format!(
        "CREATE TABLE {} (mark BIGINT NOT NULL PRIMARY KEY) ENGINE=InnoDB COMMENT='{}'",
        qualified(schema, name),
        sentry_comment(id)
    ))
    .await?;
    debug!(sentry = name, "sentry created");
    Ok(())
}

/// Drops `<t>_del` only while it is this migration's sentry (after a rename, the same
/// name holds the old table, which must never be dropped here).
pub async fn drop_sentry(conn: &mut Conn, id: &str, schema: &str, name: &str) {
    if is_sentry(conn, id, schema, name).await.unwrap_or(false) {
        let _ = conn
            .query_drop(format!("DROP TABLE IF EXISTS {}", qualified(schema, name)))
            .await;
    }
}

async fn rename_phase(
    a: &Attempt<'_>,
    lock: &mut Conn,
    sentry: &str,
    shadow: &str,
    timeout: Duration,
) -> Result<Duration, CutoverError> {
    let mut rename = a.pool.get_conn().await?;
    rename
        .query_drop(format!(
            "SET SESSION lock_wait_timeout = {}",
            a.config.lock_wait_timeout_s
        ))
        .await?;
    let locked_at = quiesce(a, lock, "WRITE", sentry, shadow, timeout).await?;
    if a.carry_auto_increment {
        carry_auto_increment(a, lock, shadow).await?;
    }
    let rename_id = rename.id();
    let rename_sql = format!(
        "RENAME TABLE {} TO {sentry}, {shadow} TO {}",
        a.original, a.original
    );
    let renaming = tokio::spawn(async move {
        let r = rename.query_drop(rename_sql).await;
        (rename, r)
    });
    let blocked = wait_rename_blocked(a.pool, rename_id, timeout).await;
    // Never let the rename through unobserved, nor after a CANCEL or PAUSE:
    // stop it while the sentry still makes it fail.
    let stop = match (blocked, a.control.commit()) {
        (Ok(true), Ok(())) => None,
        (Ok(true), Err(Held::Cancelled)) => Some(CutoverError::Fatal(MigrationError::Cancelled)),
        (Ok(true), Err(Held::Paused)) => Some(retry(
            "paused",
            "paused (ALTER MIGRATION … PAUSE) before the RENAME; the cut-over waits for RESUME",
        )),
        _ => Some(retry(
            "other",
            "the RENAME did not reach the table lock in time",
        )),
    };
    if let Some(e) = stop {
        if let Ok(mut c) = a.pool.get_conn().await {
            let _ = c.query_drop(format!("KILL QUERY {rename_id}")).await;
        }
        lock.query_drop("UNLOCK TABLES").await?;
        let _ = renaming.await;
        return Err(e);
    }
    // The point of no return: the sentry goes, the RENAME runs first.
    lock.query_drop(format!("DROP TABLE {sentry}")).await?;
    lock.query_drop("UNLOCK TABLES").await?;
    let (_conn, r) = renaming
        .await
        .map_err(|e| CutoverError::Fatal(MigrationError::Internal(format!("rename task: {e}"))))?;
    match r {
        Ok(()) => Ok(locked_at.elapsed()),
        Err(e) => Err(retry("other", format!("RENAME failed: {e}"))),
    }
}

/// Under the lock, where nobody else can change them: the original
/// and the shadow are defined as when the copy began. A change made since
/// (an ALTER sent `direct` or straight to the server, a trigger, an index
/// dropped from the shadow by hand) is not in the new table, and the RENAME
/// would silently undo it: the migration fails instead, and the table stays
/// as that change left it.
async fn unchanged_definitions(a: &Attempt<'_>, lock: &mut Conn) -> Result<(), CutoverError> {
    let mut both = super::lifecycle::fingerprints(lock, a.schema, &[a.table, a.shadow_name])
        .await?
        .into_iter();
    let (original, shadow) = (both.next().flatten(), both.next().flatten());
    // Triggers are not in SHOW CREATE TABLE; the checks before the copy
    // refused a table with any, so any now is new (the RENAME would move
    // one on the original to the old table).
    let triggers: Option<u64> = lock
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? \
             AND EVENT_OBJECT_TABLE IN (?, ?)",
            (a.schema, a.table, a.shadow_name),
        )
        .await?;
    let which = if original.as_ref() != Some(&a.defs.0) || triggers != Some(0) {
        format!("{}.{}", a.schema, a.table)
    } else if shadow.as_ref() != Some(&a.defs.1) {
        format!("its new table {}.{}", a.schema, a.shadow_name)
    } else {
        return Ok(());
    };
    Err(CutoverError::Fatal(super::refused(format!(
        "the definition of {which} changed while the migration ran (an ALTER, index or \
         trigger change made outside this migration); the cut-over would undo it, so the \
         migration stops with the table as that change left it. Submit the ALTER again"
    ))))
}

/// Under the lock: ids the old table handed out since the copy began
/// (rows deleted or rolled back at the top) are not handed out again.
async fn carry_auto_increment(
    a: &Attempt<'_>,
    lock: &mut Conn,
    shadow: &str,
) -> Result<(), CutoverError> {
    let old = super::schema::auto_increment(lock, a.server, a.schema, a.table).await?;
    let new = super::schema::auto_increment(lock, a.server, a.schema, a.shadow_name).await?;
    if let (Some(old), Some(new)) = (old, new) {
        if old > new {
            lock.query_drop(format!("ALTER TABLE {shadow} AUTO_INCREMENT = {old}"))
                .await?;
        }
    }
    Ok(())
}

/// True once connection `id` waits for a metadata lock.
async fn wait_rename_blocked(
    pool: &Pool,
    id: u32,
    timeout: Duration,
) -> Result<bool, CutoverError> {
    let mut conn = pool.get_conn().await?;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let n: Option<u64> = conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE ID = ? AND STATE LIKE ?",
                (id, crate::flavour::METADATA_LOCK_WAIT_STATE),
            )
            .await?;
        if n.unwrap_or(0) > 0 {
            return Ok(true);
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(false)
}
