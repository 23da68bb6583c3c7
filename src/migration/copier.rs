//! Chunked, parallel copy from the original table into the shadow.
//!
//! One task walks the key index to find chunk bounds (an index-only
//! `LIMIT 1 OFFSET n`); `workers` tasks each run `INSERT … SELECT` for one
//! key range at a time. Chunk size follows a target time per chunk. Copy
//! sessions use READ COMMITTED, so the copy takes no locks on the original
//! and writers are never blocked by it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Pool, Row};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::binlog::{Conflicts, Delta, Retries, Then};
use super::control::Control;
use super::persisted::CopiedUpTo;

use super::sql::{tuple_cmp, KeyKind};
use super::{MigrationError, Result};
use crate::protocol::packets::ErrPacket;

/// What to copy.
#[derive(Clone)]
pub struct CopyPlan {
    pub original: String,
    pub shadow: String,
    /// `FORCE INDEX (…)` clause for the key.
    pub force_index: String,
    /// Key columns as named in the original / the shadow (quoted).
    pub old_key: Vec<String>,
    pub new_key: Vec<String>,
    pub kinds: Vec<KeyKind>,
    /// The old key columns as read for chunk bounds (see `KeyKind::select`).
    pub select_key: Vec<String>,
    pub old_cols: String,
    pub new_cols: String,
    /// `ALTER IGNORE`: rows colliding on a new unique key are dropped.
    pub ignore: bool,
    /// The AUTO_INCREMENT column is copied from one (a stored 0 stays 0).
    pub keep_zero_ids: bool,
    pub checks: InsertChecks,
    /// Chunks are written only while this instance owns the migration.
    pub fence: super::fence::Fence,
    /// Stale images in the shadow that block a copied row (shared with
    /// the replay).
    pub conflicts: Conflicts,
}

/// How an `INSERT … SELECT` into the shadow is held to a native ALTER's
/// row copy.
#[derive(Clone, Debug, Default)]
pub struct InsertChecks {
    /// A conversion warning fails the copy, as it fails a native ALTER in
    /// strict mode (not under `ALTER IGNORE`).
    pub warnings_fail: bool,
    /// New columns of the same type as their source, made shorter: a value
    /// too long for them is "Data truncated" natively (cut as a string of
    /// the same type), not "Data too long".
    pub cut: Vec<String>,
    /// The server, whose native ALTER's wording the copy's errors take.
    pub server: Option<crate::flavour::ServerInfo>,
    /// (shadow, original) table names: the server's message names the
    /// shadow; the client's native ALTER would name its own table.
    pub names: (String, String),
}

/// Shared progress counters, and the copy's completion watermark.
pub struct Progress {
    pub rows: AtomicU64,
    pub chunk_rows: AtomicU64,
    completion: std::sync::Mutex<Completion>,
    /// Told the highest integer key below which every chunk is copied.
    watermark: Option<Box<dyn Fn(i128) + Send + Sync>>,
}

/// Chunks finish out of order; the watermark moves over the finished prefix.
#[derive(Default)]
struct Completion {
    next: u64,
    /// Finished chunks past the prefix: upper bound and rows.
    done: std::collections::BTreeMap<u64, (Bound, u64)>,
    /// The finished prefix: every chunk up to this bound (a checkpoint).
    prefix: Option<CopiedUpTo>,
}

impl Progress {
    /// `from`: what an earlier process already copied (a resume).
    pub fn new(
        chunk_rows: u64,
        from: Option<CopiedUpTo>,
        watermark: Option<Box<dyn Fn(i128) + Send + Sync>>,
    ) -> Self {
        Progress {
            rows: AtomicU64::new(from.as_ref().map_or(0, |f| f.rows)),
            chunk_rows: AtomicU64::new(chunk_rows),
            completion: std::sync::Mutex::new(Completion {
                prefix: from,
                ..Default::default()
            }),
            watermark,
        }
    }

    fn chunk_done(&self, seq: u64, hi: &Bound, rows: u64) {
        let mut c = self.completion.lock().unwrap_or_else(|p| p.into_inner());
        c.done.insert(seq, (hi.clone(), rows));
        loop {
            let next = c.next;
            let Some((hi, rows)) = c.done.remove(&next) else {
                break;
            };
            c.next += 1;
            if let ([one], Some(report)) = (hi.as_slice(), &self.watermark) {
                if let Ok(v) = one.parse::<i128>() {
                    report(v);
                }
            }
            let before = c.prefix.as_ref().map_or(0, |p| p.rows);
            c.prefix = Some(CopiedUpTo {
                below: hi,
                rows: before + rows,
            });
        }
    }

    /// Every chunk up to this bound is copied (`None`: none in order yet).
    pub fn copied(&self) -> Option<CopiedUpTo> {
        let c = self.completion.lock().unwrap_or_else(|p| p.into_inner());
        c.prefix.clone()
    }
}

pub type Bound = Vec<String>;
type Chunk = (u64, Option<Bound>, Bound);

impl CopyPlan {
    /// The key of the last row of the original (a chunk walk's end).
    pub fn max_sql(&self) -> String {
        let desc: Vec<String> = self.old_key.iter().map(|c| format!("{c} DESC")).collect();
        format!(
            "SELECT {} FROM {} {} ORDER BY {} LIMIT 1",
            self.select_key.join(", "),
            self.original,
            self.force_index,
            desc.join(", ")
        )
    }

    /// The key `n` rows after `lower` (an index-only walk).
    pub fn upper_sql(&self, lower: Option<&Bound>, n: u64) -> String {
        let order = self.old_key.join(", ");
        let after = lower
            .map(|lo| format!("WHERE {}", tuple_cmp(&self.old_key, lo, ">")))
            .unwrap_or_default();
        format!(
            "SELECT {} FROM {} {} {after} ORDER BY {order} LIMIT 1 OFFSET {}",
            self.select_key.join(", "),
            self.original,
            self.force_index,
            n.max(1) - 1
        )
    }

    /// `lo < key <= hi` over the key columns `key` (old or new names).
    pub fn range(key: &[String], lo: Option<&Bound>, hi: &Bound) -> String {
        let upto = tuple_cmp(key, hi, "<=");
        match lo {
            Some(lo) => format!("{} AND {upto}", tuple_cmp(key, lo, ">")),
            None => upto,
        }
    }
}

/// Copies every row above `from` (all rows when `None`); `delta`: the
/// keys changed meanwhile (see `copy_range`).
#[allow(clippy::too_many_arguments)]
pub async fn copy(
    pool: &Pool,
    plan: &CopyPlan,
    delta: &Arc<Delta>,
    from: Option<Bound>,
    workers: usize,
    target: Duration,
    progress: Arc<Progress>,
    control: &Arc<Control>,
) -> Result<()> {
    let stop = control.token();
    let mut conn = pool.get_conn().await?;
    let max = bound(&mut conn, plan, &plan.max_sql()).await?;
    let Some(max) = max else {
        return Ok(()); // empty table: rows inserted later come through the binlog
    };
    let (tx, rx) = mpsc::channel::<Chunk>(workers * 2);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    // A failed worker stops the others and the producer at once.
    let abort = stop.child_token();
    // Every chunk is in the channel: a worker the throttler narrowed out of
    // the copy (`Control::admit`) may end instead of waiting.
    let all_sent = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..workers {
        let (pool, plan, delta, rx, progress, abort, control) = (
            pool.clone(),
            plan.clone(),
            delta.clone(),
            rx.clone(),
            progress.clone(),
            abort.clone(),
            control.clone(),
        );
        let all_sent = all_sent.clone();
        tasks.spawn(async move {
            let turn = Turn {
                index,
                all_sent: &all_sent,
                control: &control,
            };
            let r = worker(&turn, &pool, &plan, &delta, &rx, target, &progress, &abort).await;
            if r.is_err() {
                abort.cancel();
            }
            r
        });
    }
    drop(rx);
    let mut lower: Option<Bound> = from;
    let mut seq = 0;
    let producer = async {
        loop {
            let n = progress.chunk_rows.load(Ordering::Relaxed);
            let upper = plan.upper_sql(lower.as_ref(), n);
            let upper = bound(&mut conn, plan, &upper).await?;
            let last = upper.is_none();
            let hi = upper.unwrap_or_else(|| max.clone());
            let sent = tokio::select! {
                r = tx.send((seq, lower.clone(), hi.clone())) => r.is_ok(),
                _ = abort.cancelled() => false,
            };
            if !sent || last {
                return Ok::<(), MigrationError>(());
            }
            seq += 1;
            lower = Some(hi);
        }
    };
    let produced = producer.await;
    drop(tx);
    all_sent.cancel();
    let mut result = Ok(());
    while let Some(r) = tasks.join_next().await {
        let r = r.map_err(|e| MigrationError::Internal(format!("copy worker: {e}")))?;
        // The first real failure is the answer, not the cancellation it
        // caused in the other workers.
        if result.is_ok() || matches!(result, Err(MigrationError::Cancelled)) && r.is_err() {
            result = r;
        }
    }
    result?;
    if stop.is_cancelled() {
        return Err(MigrationError::Cancelled);
    }
    produced
}

/// Reads one key tuple (text protocol) as literals.
pub async fn bound(
    conn: &mut mysql_async::Conn,
    plan: &CopyPlan,
    sql: &str,
) -> Result<Option<Bound>> {
    let row: Option<Row> = conn.query_first(sql).await?;
    let Some(row) = row else { return Ok(None) };
    let values = row.unwrap();
    let mut out = Vec::with_capacity(values.len());
    for (v, kind) in values.iter().zip(&plan.kinds) {
        out.push(kind.literal(v).map_err(MigrationError::Internal)?);
    }
    Ok(Some(out))
}

/// Which copy worker this is, and what decides when it may copy.
struct Turn<'a> {
    index: usize,
    all_sent: &'a CancellationToken,
    control: &'a Control,
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    turn: &Turn<'_>,
    pool: &Pool,
    plan: &CopyPlan,
    delta: &Delta,
    rx: &tokio::sync::Mutex<mpsc::Receiver<Chunk>>,
    target: Duration,
    progress: &Progress,
    stop: &CancellationToken,
) -> Result<()> {
    let control = turn.control;
    let mut conn = pool.get_conn().await?;
    loop {
        // Narrowed out by the throttler: wait before taking a chunk (never
        // with one in hand, which the others could not copy). Once every
        // chunk is handed out, a worker other than 0 that must wait ends
        // instead: worker 0 never does, so it copies whatever is left.
        tokio::select! {
            biased;
            r = control.admit(turn.index) => r?,
            _ = turn.all_sent.cancelled(), if turn.index > 0 => return Ok(()),
            _ = stop.cancelled() => return Err(MigrationError::Cancelled),
        }
        let next = rx.lock().await.recv().await;
        let Some((seq, lo, hi)) = next else {
            return Ok(());
        };
        // Paused or fully throttled: wait here, with the chunk in hand (as
        // worker 0 would: narrowing applies only before taking a chunk).
        tokio::select! {
            r = control.admit(0) => r?,
            _ = stop.cancelled() => return Err(MigrationError::Cancelled),
        }
        let range = CopyPlan::range(&plan.old_key, lo.as_ref(), &hi);
        let started = Instant::now();
        let rows = copy_range(&mut conn, plan, delta, &range).await?;
        tracing::trace!(seq, %range, rows, "chunk copied");
        progress.rows.fetch_add(rows, Ordering::Relaxed);
        metrics::counter!(crate::metrics::MIGRATION_ROWS_COPIED).increment(rows);
        progress.chunk_done(seq, &hi, rows);
        let took = started.elapsed();
        resize(progress, rows, took, target);
        control.rest(took).await?;
    }
}

/// Copies one key range. The applier never touches a range before its
/// chunk is done (see `binlog::Horizon`), but the shadow may hold an image
/// of a row outside the range that is older than the chunk's read, or
/// newer (replay reads the latest rows), and collides with a copied row on
/// a unique key when writers pass a value from row to row. A chunk that
/// collides is copied again as replay copies: under the replay's lock,
/// with a locking read of the latest rows, stale images cleared
/// (`binlog::conflict`). A duplicate that stays is a real one (a new
/// unique key the data violates) and fails the migration with the
/// server's own error, as a native ALTER would; so does a value the new
/// column type cannot hold (strict mode). `ALTER IGNORE` keeps IGNORE's
/// meaning: such rows are dropped. A lost deadlock is tried again.
async fn copy_range(
    conn: &mut mysql_async::Conn,
    plan: &CopyPlan,
    delta: &Delta,
    range: &str,
) -> Result<u64> {
    let mut retries = Retries::default();
    loop {
        let r = if retries.exclusive() {
            let _writing = plan.conflicts.writing().await;
            let lock = format!(
                "SELECT COUNT(*) FROM {} {} WHERE {range} LOCK IN SHARE MODE",
                plan.original, plan.force_index
            );
            let copy = async |c: &mut mysql_async::Conn| copy_range_sql(c, plan, range, true).await;
            plan.conflicts.exclusive(conn, delta, &lock, copy).await
        } else {
            // Only while this instance owns the migration (see `fence`).
            let copy =
                async |c: &mut mysql_async::Conn| copy_range_sql(c, plan, range, false).await;
            plan.fence.write(conn, copy).await
        };
        match r {
            Ok(rows) => return Ok(rows),
            Err(e) => match retries.after(&e) {
                Then::Again(pause) => tokio::time::sleep(pause).await,
                Then::Exclusive => {}
                Then::Fail => return Err(e),
            },
        }
    }
}

/// One `INSERT … SELECT` of a range; `latest`: a locking read of the
/// latest rows, as replay reads them (else the consistent, non-locking
/// read of the statement's start).
async fn copy_range_sql(
    conn: &mut mysql_async::Conn,
    plan: &CopyPlan,
    range: &str,
    latest: bool,
) -> Result<u64> {
    let verb = if plan.ignore {
        "INSERT IGNORE"
    } else {
        "INSERT"
    };
    let sql = format!(
        "{verb} INTO {} ({}) SELECT {} FROM {} {} WHERE {range}{}",
        plan.shadow,
        plan.new_cols,
        plan.old_cols,
        plan.original,
        plan.force_index,
        if latest { " LOCK IN SHARE MODE" } else { "" }
    );
    insert_checked(conn, &sql, &plan.checks).await
}

/// Runs an `INSERT … SELECT` into the shadow; with `warnings_fail`, a
/// warning it raised (a value truncated, an invalid date) fails it with that
/// warning as the error, as strict mode makes a native ALTER's row copy fail
/// (notes, such as a time part dropped from a date, do not). Returns the
/// rows inserted.
pub async fn insert_checked(
    conn: &mut mysql_async::Conn,
    sql: &str,
    checks: &InsertChecks,
) -> Result<u64> {
    if let Err(e) = conn.query_drop(sql).await {
        return Err(match e {
            mysql_async::Error::Server(s) => MigrationError::Server(as_alter_error(
                ErrPacket::new(s.code, s.state, s.message),
                checks,
            )),
            other => other.into(),
        });
    }
    let rows = conn.affected_rows();
    if checks.warnings_fail && conn.get_warnings() > 0 {
        let warnings: Vec<(String, u16, String)> = conn.query("SHOW WARNINGS LIMIT 20").await?;
        if let Some((_, code, message)) = warnings.into_iter().find(|w| w.0 != "Note") {
            return Err(MigrationError::Server(as_alter_error(
                ErrPacket::new(code, "HY000", message),
                checks,
            )));
        }
    }
    Ok(rows)
}

/// An `INSERT … SELECT` and an ALTER's row copy word some refusals of the
/// same value differently: the copy's error, as the native ALTER reports it
/// (a NULL into NOT NULL, and a string cut to a shorter column of its own
/// type, are "Data truncated").
fn as_alter_error(mut e: ErrPacket, checks: &InsertChecks) -> ErrPacket {
    let (shadow, table) = &checks.names;
    if !shadow.is_empty() {
        e.message = e.message.replace(shadow.as_str(), table);
    }
    let quoted = |m: &str| m.split('\'').nth(1).map(str::to_string);
    let row = |m: &str| m.rsplit(' ').next().unwrap_or("1").to_string();
    let cut =
        |m: &str| quoted(m).is_some_and(|c| checks.cut.iter().any(|x| x.eq_ignore_ascii_case(&c)));
    match e.code {
        1048 | 1406 if e.code == 1048 || cut(&e.message) => match quoted(&e.message) {
            Some(col) if e.code == 1048 => {
                let server = checks.server.unwrap_or(crate::flavour::ServerInfo {
                    flavour: crate::flavour::Flavour::MariaDb,
                    version: 0,
                });
                let (code, state, message) = server.null_into_not_null(&col);
                ErrPacket::new(code, state, message)
            }
            Some(col) => {
                let at = row(&e.message);
                ErrPacket::new(
                    1265,
                    "01000",
                    format!("Data truncated for column '{col}' at row {at}"),
                )
            }
            None => e,
        },
        1292 => ErrPacket::new(1292, "22007", e.message),
        1264 => ErrPacket::new(1264, "22003", e.message),
        _ => e,
    }
}

/// Next chunk size: aim at the target time, move halfway there, stay in bounds.
fn resize(progress: &Progress, rows: u64, took: Duration, target: Duration) {
    if rows == 0 {
        return;
    }
    let now = progress.chunk_rows.load(Ordering::Relaxed);
    let ideal = (rows as f64 * target.as_secs_f64() / took.as_secs_f64().max(1e-4)) as u64;
    let next = ((now + ideal) / 2).clamp(100, 200_000);
    progress.chunk_rows.store(next, Ordering::Relaxed);
}
