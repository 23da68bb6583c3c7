//! Binlog tail and applier.
//!
//! The tail reads row events for the original table and records the primary
//! keys they touch in a `Delta` set; the applier replays each recorded key
//! by re-reading that row from the original table:
//! `DELETE` the key from the shadow, then `INSERT … SELECT` it from the
//! original (absent there = deleted).
//!
//! Why keys and not row images: the shadow then always converges to the
//! original's *current* row, so event order and duplicate events do not
//! matter, a burst of updates to one hot row costs one replay, and no
//! column value is ever decoded from the binlog and re-encoded (binlog
//! decoding loses unsigned-ness, TIMESTAMP zones, ENUM/SET values and
//! charsets). Only key values are decoded, with the fixups in `sql`.
//! A key changed after its replay is recorded again by a later event; at
//! cut-over the original is locked, the tail is read up to the lock and the
//! last keys are replayed under the lock, so nothing can be missed.

use futures_util::StreamExt;
use mysql_async::binlog::events::{Event, EventData};
use mysql_async::binlog::EventType;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, Opts, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::copier::insert_checked;
use super::sql::{key_in, KeyKind};
use super::{Failure, MigrationError, Result};
use crate::flavour::ServerInfo;

mod conflict;
mod delta;
mod statement;

pub use conflict::{Conflicts, Retries, Then};
pub use delta::{Delta, Horizon, Pos, ResumePoint};

/// What the tail watches.
pub struct Target {
    pub schema: String,
    pub table: String,
    /// Positions and kinds of the key columns in the row image.
    pub key: Vec<(usize, KeyKind)>,
    /// The cut-over sentry: a row written into it marks "everything before
    /// the lock has been read".
    pub sentry: String,
}

/// The running tail: its task reports through `delta`, `marks` and `failed`.
pub struct Tail {
    pub marks: watch::Receiver<u64>,
    stop: CancellationToken,
}

impl Tail {
    /// Connects and starts streaming from `file:pos`.
    pub async fn start(
        opts: Opts,
        server: ServerInfo,
        from: (String, u64),
        target: Target,
        delta: std::sync::Arc<Delta>,
        failure: Failure,
    ) -> Result<Tail> {
        let mut conn = Conn::new(opts).await?;
        for setup in server.binlog_setup() {
            conn.query_drop(*setup).await?;
        }
        // A replica id nobody else uses (replicas sharing an id kick each other off).
        let server_id = 0x4000_0000 | (uuid::Uuid::new_v4().as_u128() as u32 & 0x3FFF_FFFF);
        let request = BinlogStreamRequest::new(server_id)
            .with_filename(from.0.as_bytes())
            .with_pos(from.1);
        let stream = conn.get_binlog_stream(request).await?;
        let (mark_tx, marks) = watch::channel(0u64);
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            if let Err(err) = run(stream, &target, &delta, &mark_tx, &s).await {
                warn!(table = %target.table, error = %err, "binlog tail failed");
                failure.fail_with("reading the binary log failed", &err);
            }
        });
        Ok(Tail { marks, stop })
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn run(
    mut stream: mysql_async::BinlogStream,
    target: &Target,
    delta: &Delta,
    marks: &watch::Sender<u64>,
    stop: &CancellationToken,
) -> Result<()> {
    // The stream starts with an artificial rotate to the file asked for,
    // sent before the format description, so its checksum is not stripped
    // from the name: the file is known already, and it is skipped.
    let mut described = false;
    loop {
        let event = tokio::select! {
            e = stream.next() => e,
            _ = stop.cancelled() => break,
        };
        let Some(event) = event else {
            return Err(MigrationError::LostServer(
                "the server ended the binlog stream".into(),
            ));
        };
        let event = event?;
        if !described {
            described = matches!(
                event.read_data(),
                Ok(Some(EventData::FormatDescriptionEvent(_)))
            );
            continue;
        }
        handle(&stream, &event, target, delta, marks)?;
        // Only after the event's keys are recorded: a replay waiting for
        // the tail to reach a position (`conflict`) then finds them.
        let end = u64::from(event.header().log_pos());
        if matches!(event.header().event_type(), Ok(EventType::ROTATE_EVENT)) {
            if let Ok(Some(EventData::RotateEvent(r))) = event.read_data() {
                delta.set_read(Some(&r.name()), r.position());
            }
        } else if end > 0 {
            delta.set_read(None, end);
        }
    }
    let _ = stream.close().await;
    Ok(())
}

fn handle(
    stream: &mysql_async::BinlogStream,
    event: &Event,
    target: &Target,
    delta: &Delta,
    marks: &watch::Sender<u64>,
) -> Result<()> {
    // Row events carry the changes; the ends of transactions (XID, or a
    // query other than BEGIN: DDL, COMMIT of a non-transactional engine)
    // and file rotations are where a restarted tail may start
    // (`Delta::checkpoint`). Artificial events (position 0) and the rest
    // (GTID, table maps, MariaDB's own) are skipped.
    let end = u64::from(event.header().log_pos());
    let rows = match event.read_data() {
        Ok(Some(EventData::RowsEvent(rows))) => rows,
        Ok(Some(EventData::XidEvent(_))) if end > 0 => {
            delta.set_boundary(None, end);
            return Ok(());
        }
        Ok(Some(EventData::QueryEvent(q))) if end > 0 && q.query_raw() != b"BEGIN" => {
            tracing::trace!(db = %String::from_utf8_lossy(q.schema_raw()), query = %String::from_utf8_lossy(q.query_raw()), "statement in the binlog");
            if statement::may_change(q.query_raw(), q.schema_raw(), &target.schema, &target.table) {
                return Err(super::refused(format!(
                    "a change to {}.{} reached the binary log as a statement, not as rows \
                     (TRUNCATE, or a session with binlog_format STATEMENT or MIXED), and cannot \
                     be replayed; the migration stops with the table unchanged. Keep \
                     binlog_format = ROW in every session while a migration runs, and submit \
                     the ALTER again",
                    target.schema, target.table
                )));
            }
            if statement::may_redefine(
                q.query_raw(),
                q.schema_raw(),
                &target.schema,
                &target.table,
                &target.sentry,
            ) {
                return Err(super::refused(format!(
                    "the definition of {}.{} changed while the migration ran (an ALTER, index or \
                     trigger change made outside this migration); the cut-over would undo it, so \
                     the migration stops with the table as that change left it. Submit the ALTER \
                     again",
                    target.schema, target.table
                )));
            }
            delta.set_boundary(None, end);
            return Ok(());
        }
        Ok(Some(EventData::RotateEvent(r))) => {
            delta.set_boundary(Some(&r.name()), r.position());
            return Ok(());
        }
        _ => return Ok(()),
    };
    let Some(tme) = stream.get_tme(rows.table_id()) else {
        return Ok(());
    };
    if tme.database_name() != target.schema.as_str() {
        return Ok(());
    }
    let table = tme.table_name();
    let is_sentry = table == target.sentry.as_str();
    if table != target.table.as_str() && !is_sentry {
        return Ok(());
    }
    for row in rows.rows(tme) {
        let (before, after) =
            row.map_err(|e| MigrationError::Internal(format!("bad row event: {e}")))?;
        if is_sentry {
            for image in [before, after].into_iter().flatten() {
                if let Some(mysql_async::binlog::value::BinlogValue::Value(v)) = image.as_ref(0) {
                    let token = match v {
                        Value::Int(i) => *i as u64,
                        Value::UInt(u) => *u,
                        _ => 0,
                    };
                    debug!(token, "cut-over mark read from the binlog");
                    marks.send_replace(token);
                }
            }
            continue;
        }
        let before = before.map(|i| key_tuple(&i, &target.key)).transpose()?;
        let after = after.map(|i| key_tuple(&i, &target.key)).transpose()?;
        tracing::trace!(
            ?before,
            ?after,
            pos = event.header().log_pos(),
            "changed key"
        );
        match (before, after) {
            // A row moved to another key: both replay together.
            (Some(b), Some(a)) if a != b => delta.add_moved(b, a),
            (b, a) => b.or(a).into_iter().for_each(|k| delta.add(k)),
        }
    }
    if !is_sentry {
        delta.changed.notify_one();
    }
    Ok(())
}

/// The key of one row image as the literal tuple used in `IN (…)` lists.
fn key_tuple(
    image: &mysql_async::binlog::row::BinlogRow,
    key: &[(usize, KeyKind)],
) -> Result<String> {
    let mut parts = Vec::with_capacity(key.len());
    for (pos, kind) in key {
        let v = match image.as_ref(*pos) {
            Some(mysql_async::binlog::value::BinlogValue::Value(v)) => v,
            _ => {
                return Err(MigrationError::Internal(format!(
                    "row image lacks key column {pos} (is binlog_row_image FULL?)"
                )))
            }
        };
        parts.push(kind.literal(v).map_err(MigrationError::Internal)?);
    }
    Ok(if parts.len() == 1 {
        parts.pop().unwrap_or_default()
    } else {
        format!("({})", parts.join(","))
    })
}

/// SQL that replays keys from the original table into the shadow.
#[derive(Clone)]
pub struct Replay {
    pub original: String,
    pub shadow: String,
    /// Key columns as named in the original / the shadow (quoted).
    pub old_key: Vec<String>,
    pub new_key: Vec<String>,
    /// Copied columns as named in the original / the shadow (quoted, joined).
    pub old_cols: String,
    pub new_cols: String,
    pub checks: super::copier::InsertChecks,
    /// `ALTER IGNORE`: a replayed row that collides on a new unique key is
    /// dropped, as the copy drops it.
    pub ignore: bool,
    /// Batches are replayed only while this instance owns the migration
    /// (under the cut-over's lock, `cutover` holds it instead).
    pub fence: super::fence::Fence,
    /// Stale images in the shadow that block a replayed row.
    pub conflicts: Conflicts,
}

impl Replay {
    /// Statements replaying `keys`, deleting the images of `clear` too
    /// (see `Batch::clear`); run them in one transaction, or under LOCK
    /// TABLES at cut-over.
    pub fn statements(&self, keys: &[String], clear: &[String]) -> [String; 2] {
        let all: Vec<String> = keys.iter().chain(clear).cloned().collect();
        [
            format!(
                "DELETE FROM {} WHERE {}",
                self.shadow,
                key_in(&self.new_key, &all)
            ),
            // A locking read: the server sends a transaction's events
            // before its commit is visible to others; the shared lock waits
            // for that commit, so the row read is the one the event made.
            format!(
                "INSERT {}INTO {} ({}) SELECT {} FROM {} WHERE {} LOCK IN SHARE MODE",
                if self.ignore { "IGNORE " } else { "" },
                self.shadow,
                self.new_cols,
                self.old_cols,
                self.original,
                key_in(&self.old_key, keys)
            ),
        ]
    }

    /// A locking read of the original's rows of `keys` (see
    /// `Conflicts::exclusive`).
    fn lock_sql(&self, keys: &[String]) -> String {
        format!(
            "SELECT COUNT(*) FROM {} WHERE {} LOCK IN SHARE MODE",
            self.original,
            key_in(&self.old_key, keys)
        )
    }

    /// Replays up to `batch` pending keys in a transaction; returns how
    /// many. A batch that loses a deadlock, or collides on a unique key
    /// with a stale image, is put back and tried again (see `conflict`).
    pub async fn flush_once(&self, conn: &mut Conn, delta: &Delta, batch: usize) -> Result<usize> {
        let _writing = self.conflicts.writing().await;
        let mut retries = Retries::default();
        loop {
            let taken = delta.take(batch);
            if taken.keys.is_empty() {
                return Ok(0);
            }
            let n = taken.keys.len();
            tracing::trace!(keys = ?taken.keys, "replaying");
            let [del, ins] = self.statements(&taken.keys, &taken.clear);
            let replay = async |c: &mut Conn| {
                c.query_drop(&del).await?;
                insert_checked(c, &ins, &self.checks).await
            };
            let r = if retries.exclusive() {
                let lock = self.lock_sql(&taken.keys);
                self.conflicts.exclusive(conn, delta, &lock, replay).await
            } else {
                self.fence.write(conn, replay).await
            };
            match r {
                Ok(_) => {
                    delta.settle(&taken);
                    metrics::counter!(crate::metrics::MIGRATION_KEYS_REPLAYED).increment(n as u64);
                    return Ok(n);
                }
                Err(e) => {
                    delta.restore(taken);
                    match retries.after(&e) {
                        Then::Again(pause) => tokio::time::sleep(pause).await,
                        Then::Exclusive => {}
                        Then::Fail => return Err(e),
                    }
                }
            }
        }
    }

    /// Replays every pending key with plain statements (the caller holds
    /// LOCK TABLES, under which a transaction would release the locks, and
    /// nothing changes the original). After a duplicate key, every pending
    /// key's image is taken out of the shadow first: a duplicate that
    /// stays is one the original holds.
    pub async fn flush_all_locked(&self, conn: &mut Conn, delta: &Delta) -> Result<usize> {
        let _writing = self.conflicts.writing().await;
        let mut retries = Retries::default();
        let mut total = 0;
        loop {
            let batch = delta.take(1000);
            if batch.keys.is_empty() {
                return Ok(total);
            }
            let keys = &batch.keys;
            tracing::trace!(?keys, "replaying under the lock");
            let [del, ins] = self.statements(keys, &batch.clear);
            let r = async {
                conn.query_drop(del).await?;
                insert_checked(conn, &ins, &self.checks).await
            }
            .await;
            match r {
                Ok(_) => {
                    total += keys.len();
                    metrics::counter!(crate::metrics::MIGRATION_KEYS_REPLAYED)
                        .increment(keys.len() as u64);
                    delta.settle(&batch);
                }
                Err(e) => {
                    delta.restore(batch);
                    match retries.after(&e) {
                        Then::Exclusive if !retries.cleared() => {
                            self.conflicts.clear(conn, delta).await?
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
    }
}
