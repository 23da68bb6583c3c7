//! Migration state kept in the primary: `_ghostwire.migrations`.
//!
//! The primary is the source of truth so that `SHOW MIGRATIONS` is the same
//! through every proxy instance and survives a proxy restart.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};

use super::Result;

mod commands;
mod list;
mod resume;

pub use commands::*;
pub use list::*;
pub use resume::*;

const CREATE: [&str; 5] = [
    "CREATE DATABASE IF NOT EXISTS `_ghostwire`",
    "CREATE TABLE IF NOT EXISTS `_ghostwire`.`migrations` (
        id CHAR(36) NOT NULL PRIMARY KEY,
        table_schema VARCHAR(64) NOT NULL,
        table_name VARCHAR(64) NOT NULL,
        statement MEDIUMBLOB NOT NULL,
        statement_charset VARCHAR(64) NOT NULL DEFAULT 'utf8mb4',
        submitted_by VARCHAR(300) NOT NULL,
        shadow_created TINYINT NOT NULL DEFAULT 0,
        owner CHAR(36) NOT NULL DEFAULT '',
        run_id CHAR(36) NOT NULL DEFAULT '',
        strategy VARCHAR(16) NOT NULL DEFAULT '',
        status VARCHAR(16) NOT NULL,
        stage VARCHAR(64) NOT NULL DEFAULT '',
        progress_pct DOUBLE NOT NULL DEFAULT 0,
        rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,
        rows_total BIGINT UNSIGNED NOT NULL DEFAULT 0,
        eta_seconds BIGINT NULL,
        lag_seconds DOUBLE NULL,
        cutover_attempts INT UNSIGNED NOT NULL DEFAULT 0,
        stall_ms BIGINT UNSIGNED NULL,
        binlog_file VARCHAR(255) NULL,
        binlog_pos BIGINT UNSIGNED NULL,
        created_at DATETIME(6) NOT NULL,
        started_at DATETIME(6) NULL,
        completed_at DATETIME(6) NULL,
        message TEXT NULL,
        paused TINYINT NOT NULL DEFAULT 0,
        throttled TINYINT NOT NULL DEFAULT 0,
        throttle_reason VARCHAR(255) NOT NULL DEFAULT '',
        old_table VARCHAR(64) NULL,
        old_table_drop_at DATETIME(6) NULL,
        old_table_dropped_at DATETIME(6) NULL,
        last_command VARCHAR(512) NULL,
        requested_action VARCHAR(64) NULL,
        requested_by VARCHAR(300) NULL,
        old_table_check VARCHAR(64) NULL,
        request MEDIUMTEXT NULL,
        checkpoint MEDIUMTEXT NULL,
        KEY by_created (created_at),
        KEY by_table (table_schema, table_name),
        KEY by_drop (old_table_drop_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    // Every ALTER MIGRATION command: who sent it, when, and what came of it.
    "CREATE TABLE IF NOT EXISTS `_ghostwire`.`commands` (
        seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        migration_id CHAR(36) NOT NULL,
        command VARCHAR(64) NOT NULL,
        issued_by VARCHAR(300) NOT NULL,
        issued_at DATETIME(6) NOT NULL,
        result VARCHAR(512) NOT NULL,
        KEY by_migration (migration_id, seq)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    // The throttler's heartbeat: each instance writes its own clock here,
    // and reads it back on the replicas (see `throttle`).
    "CREATE TABLE IF NOT EXISTS `_ghostwire`.`heartbeat` (
        instance CHAR(36) NOT NULL PRIMARY KEY,
        beat_us BIGINT NOT NULL
    ) ENGINE=InnoDB",
    // Each instance's keeper notes here, on its lock's connection, that it
    // is alive (see `instance`): a lock held by a process that stopped
    // noting (frozen, partitioned) does not hold its migrations forever.
    "CREATE TABLE IF NOT EXISTS `_ghostwire`.`instances` (
        instance CHAR(36) NOT NULL PRIMARY KEY,
        alive_at DATETIME(6) NOT NULL,
        every_ms INT UNSIGNED NOT NULL
    ) ENGINE=InnoDB",
];

/// Brings a state table made by an earlier version up to date, one step
/// per version (a step runs when its marker column is missing): statements
/// kept as the client's bytes with their character set (a latin1 server
/// default refused other text) and whether the migration created its
/// shadow (only tables ghostwire made are dropped); then control and
/// throttle state and the old table's lifecycle; then what a resume needs
/// (`persisted`); then the run that may write (`fence`).
const UPGRADES: [(&str, &str); 6] = [
    (
        "shadow_created",
        "ALTER TABLE `_ghostwire`.`migrations` \
         MODIFY statement MEDIUMBLOB NOT NULL, \
         ADD COLUMN statement_charset VARCHAR(64) NOT NULL DEFAULT 'utf8mb4' AFTER statement, \
         ADD COLUMN shadow_created TINYINT NOT NULL DEFAULT 0 AFTER submitted_by, \
         CONVERT TO CHARACTER SET utf8mb4",
    ),
    (
        "old_table",
        "ALTER TABLE `_ghostwire`.`migrations` \
         ADD COLUMN paused TINYINT NOT NULL DEFAULT 0, \
         ADD COLUMN throttled TINYINT NOT NULL DEFAULT 0, \
         ADD COLUMN throttle_reason VARCHAR(255) NOT NULL DEFAULT '', \
         ADD COLUMN old_table VARCHAR(64) NULL, \
         ADD COLUMN old_table_drop_at DATETIME(6) NULL, \
         ADD COLUMN old_table_dropped_at DATETIME(6) NULL, \
         ADD COLUMN last_command VARCHAR(512) NULL, \
         ADD KEY by_drop (old_table_drop_at)",
    ),
    (
        "requested_action",
        "ALTER TABLE `_ghostwire`.`migrations` \
         ADD COLUMN requested_action VARCHAR(64) NULL, \
         ADD COLUMN requested_by VARCHAR(300) NULL",
    ),
    (
        "old_table_check",
        "ALTER TABLE `_ghostwire`.`migrations` ADD COLUMN old_table_check VARCHAR(64) NULL",
    ),
    (
        "checkpoint",
        "ALTER TABLE `_ghostwire`.`migrations` \
         ADD COLUMN request MEDIUMTEXT NULL, ADD COLUMN checkpoint MEDIUMTEXT NULL",
    ),
    (
        "run_id",
        "ALTER TABLE `_ghostwire`.`migrations` \
         ADD COLUMN run_id CHAR(36) NOT NULL DEFAULT '' AFTER owner",
    ),
];

/// Status values, in the order a migration normally passes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Queued,
    Running,
    /// Copied and in sync; waiting for `ALTER MIGRATION … COMPLETE` (postpone).
    Ready,
    CuttingOver,
    Complete,
    Failed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Ready => "ready",
            Status::CuttingOver => "cutting_over",
            Status::Complete => "complete",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

pub async fn ensure(pool: &Pool) -> Result<()> {
    let mut conn = pool.get_conn().await?;
    for sql in CREATE {
        conn.query_drop(sql).await?;
    }
    for (marker, upgrade) in UPGRADES {
        let current: Option<String> = conn
            .exec_first(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '_ghostwire' \
                 AND TABLE_NAME = 'migrations' AND COLUMN_NAME = ?",
                (marker,),
            )
            .await?;
        if current.is_none() {
            conn.query_drop(upgrade).await?;
        }
    }
    Ok(())
}

pub struct NewMigration<'a> {
    pub id: &'a str,
    /// The proxy instance running it (see `owner_lock`).
    pub owner: &'a str,
    pub schema: &'a str,
    pub table: &'a str,
    /// The statement as the client sent it, and its character set.
    pub statement: &'a [u8],
    pub charset: &'a str,
    /// `CURRENT_USER()` of the client.
    pub submitted_by: &'a str,
    /// Recorded as already complete (an instant ALTER the client's own
    /// connection ran), with this message.
    pub done: Option<(&'a str, u64, &'a str)>,
    /// The request in its stored form (`persisted`), for a resume.
    pub request: Option<String>,
}

pub async fn insert(conn: &mut Conn, m: &NewMigration<'_>) -> Result<()> {
    let (status, strategy, stall, message) = match m.done {
        Some((strategy, stall, message)) => ("complete", strategy, Some(stall), message),
        None => ("queued", "", None, ""),
    };
    conn.exec_drop(
        "INSERT INTO `_ghostwire`.`migrations` \
         (id, owner, table_schema, table_name, statement, statement_charset, submitted_by, \
          status, stage, strategy, stall_ms, progress_pct, created_at, started_at, completed_at, message, \
          request) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, IF(? = 'complete', 100, 0), UTC_TIMESTAMP(6), \
          IF(? = 'complete', UTC_TIMESTAMP(6), NULL), IF(? = 'complete', UTC_TIMESTAMP(6), NULL), ?, ?)",
        mysql_async::Params::Positional(vec![
            m.id.into(),
            m.owner.into(),
            m.schema.into(),
            m.table.into(),
            m.statement.into(),
            m.charset.into(),
            m.submitted_by.into(),
            status.into(),
            status.into(),
            strategy.into(),
            stall.into(),
            status.into(),
            status.into(),
            status.into(),
            message.into(),
            m.request.as_deref().into(),
        ]),
    )
    .await?;
    Ok(())
}

/// Notes that the migration creates its shadow table (or, `false`, that
/// its CREATE failed): from then on that table is ghostwire's to drop (and
/// only then).
pub async fn shadow_created(conn: &mut Conn, id: &str, made: bool) -> Result<()> {
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET shadow_created = ? WHERE id = ?",
        (made, id),
    )
    .await?;
    Ok(())
}

/// One change to a migration's row; `None` fields are left as they are.
#[derive(Default)]
pub struct Update<'a> {
    pub status: Option<Status>,
    pub stage: Option<&'a str>,
    pub strategy: Option<&'a str>,
    pub rows_copied: Option<u64>,
    pub rows_total: Option<u64>,
    pub progress_pct: Option<f64>,
    pub eta_seconds: Option<Option<u64>>,
    pub lag_seconds: Option<f64>,
    pub cutover_attempts: Option<u32>,
    pub stall_ms: Option<u64>,
    pub binlog: Option<(&'a str, u64)>,
    pub message: Option<&'a str>,
    pub paused: Option<bool>,
    /// Throttled, and why (empty when not).
    pub throttled: Option<(bool, &'a str)>,
    /// The old table's name and how long it is kept (seconds) before the
    /// background drop.
    pub old_table: Option<(&'a str, u64)>,
}

pub async fn update(conn: &mut Conn, id: &str, u: &Update<'_>) -> Result<()> {
    update_as(conn, id, None, u).await.map(|_| ())
}

/// `update`, only while `owner` (when given) still owns the migration:
/// false when another instance has taken it over (nothing written).
pub async fn update_as(
    conn: &mut Conn,
    id: &str,
    owner: Option<&str>,
    u: &Update<'_>,
) -> Result<bool> {
    use mysql_async::Value;
    let mut sets: Vec<&str> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let mut set = |col: &'static str, v: Value| {
        sets.push(col);
        params.push(v);
    };
    if let Some(s) = u.status {
        set("status = ?", s.as_str().into());
        match s {
            Status::Running => sets.push("started_at = COALESCE(started_at, UTC_TIMESTAMP(6))"),
            Status::Complete | Status::Failed | Status::Cancelled => {
                sets.push("completed_at = UTC_TIMESTAMP(6)")
            }
            _ => {}
        }
    }
    let mut set = |col: &'static str, v: Value| {
        sets.push(col);
        params.push(v);
    };
    if let Some(v) = u.stage {
        set("stage = ?", v.into());
    }
    if let Some(v) = u.strategy {
        set("strategy = ?", v.into());
    }
    if let Some(v) = u.rows_copied {
        set("rows_copied = ?", v.into());
    }
    if let Some(v) = u.rows_total {
        set("rows_total = ?", v.into());
    }
    if let Some(v) = u.progress_pct {
        set("progress_pct = ?", v.into());
    }
    if let Some(v) = u.eta_seconds {
        set("eta_seconds = ?", v.into());
    }
    if let Some(v) = u.lag_seconds {
        set("lag_seconds = ?", v.into());
    }
    if let Some(v) = u.cutover_attempts {
        set("cutover_attempts = ?", v.into());
    }
    if let Some(v) = u.stall_ms {
        set("stall_ms = ?", v.into());
    }
    if let Some((file, pos)) = u.binlog {
        set("binlog_file = ?", file.into());
        set("binlog_pos = ?", pos.into());
    }
    if let Some(v) = u.message {
        set("message = ?", v.into());
    }
    if let Some(v) = u.paused {
        set("paused = ?", v.into());
    }
    if let Some((on, reason)) = u.throttled {
        set("throttled = ?", on.into());
        set("throttle_reason = ?", reason.into());
    }
    if let Some((name, retain_s)) = u.old_table {
        set("old_table = ?", name.into());
        set(
            "old_table_drop_at = UTC_TIMESTAMP(6) + INTERVAL ? SECOND",
            retain_s.into(),
        );
    }
    if sets.is_empty() {
        return Ok(true);
    }
    params.push(id.into());
    let mut sql = format!(
        "UPDATE `_ghostwire`.`migrations` SET {} WHERE id = ?",
        sets.join(", ")
    );
    if let Some(owner) = owner {
        sql.push_str(" AND owner = ?");
        params.push(owner.into());
    }
    conn.exec_drop(sql, params).await?;
    if owner.is_none() || conn.affected_rows() > 0 {
        return Ok(true);
    }
    // Nothing changed: the same values, or no longer ours.
    let now: Option<String> = conn
        .exec_first(
            "SELECT owner FROM `_ghostwire`.`migrations` WHERE id = ?",
            (id,),
        )
        .await?;
    Ok(now.as_deref() == owner)
}

/// The advisory lock a proxy instance holds while it lives; its migrations
/// are orphans once nobody holds it.
pub fn owner_lock(owner: &str) -> String {
    format!("ghostwire.{owner}")
}

/// Notes that `instance` is alive now (server time), and that it notes
/// so every `every`.
pub async fn note_alive(conn: &mut Conn, instance: &str, every: std::time::Duration) -> Result<()> {
    conn.exec_drop(
        "INSERT INTO `_ghostwire`.`instances` (instance, alive_at, every_ms) \
         VALUES (?, UTC_TIMESTAMP(6), ?) \
         ON DUPLICATE KEY UPDATE alive_at = VALUES(alive_at), every_ms = VALUES(every_ms)",
        (instance, every.as_millis() as u64),
    )
    .await?;
    Ok(())
}

/// How long ago (server time) `instance` last noted it was alive, and how
/// often it notes it; `None` when it never did (an older version).
pub async fn silent_for(
    conn: &mut Conn,
    instance: &str,
) -> Result<Option<(std::time::Duration, std::time::Duration)>> {
    let row: Option<(Option<i64>, u64)> = conn
        .exec_first(
            "SELECT TIMESTAMPDIFF(MICROSECOND, alive_at, UTC_TIMESTAMP(6)), every_ms \
             FROM `_ghostwire`.`instances` WHERE instance = ?",
            (instance,),
        )
        .await?;
    Ok(row.and_then(|(us, every)| {
        Some((
            std::time::Duration::from_micros(us?.max(0) as u64),
            std::time::Duration::from_millis(every),
        ))
    }))
}

/// Run on each engine connection as it opens: a user lock whose name says
/// which instance it belongs to and carries its connection id
/// (`gw.<instance>.<id>`, within MySQL's 64 characters), so another
/// instance can find and close the connections of a stopped one
/// (`close_connections_of`). The instance is a UUID ghostwire made: safe in
/// the statement's text.
pub fn mark_connection(instance: &str) -> String {
    debug_assert!(instance.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    format!("DO GET_LOCK(CONCAT('gw.{instance}.', CONNECTION_ID()), 0)")
}

/// Closes every connection of `instance` that this account may see (its
/// own, as ghostwire's instances share one): before a migration of a
/// stopped instance is claimed, so a frozen process's open transaction
/// cannot hold the record (see `fence`) and nothing it sent later runs.
/// Returns how many were closed.
pub async fn close_connections_of(conn: &mut Conn, instance: &str) -> Result<usize> {
    let ids: Vec<u64> = conn
        .exec(
            "SELECT ID FROM information_schema.PROCESSLIST \
             WHERE IS_USED_LOCK(CONCAT('gw.', ?, '.', ID)) = ID",
            (instance,),
        )
        .await?;
    let mut closed = 0;
    for id in ids {
        match conn.query_drop(format!("KILL CONNECTION {id}")).await {
            Ok(()) => closed += 1,
            // Gone meanwhile.
            Err(mysql_async::Error::Server(e)) if e.code == 1094 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(closed)
}

/// An unfinished migration, as recorded.
pub struct Unfinished {
    pub id: String,
    /// The proxy instance running it (see `owner_lock`).
    pub owner: String,
    pub schema: String,
    pub table: String,
    pub stage: String,
    pub status: String,
    /// Whether it had created its shadow table (which is then its to drop).
    pub shadow_created: bool,
    /// Its request is stored: it can be resumed (`persisted`).
    pub resumable: bool,
}

pub async fn unfinished(conn: &mut Conn) -> Result<Vec<Unfinished>> {
    type Row = (String, String, String, String, String, String, bool, bool);
    let rows: Vec<Row> = conn
        .query(
            "SELECT id, owner, table_schema, table_name, stage, status, shadow_created, \
             request IS NOT NULL \
             FROM `_ghostwire`.`migrations` \
             WHERE status IN ('queued', 'running', 'ready', 'cutting_over')",
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, owner, schema, table, stage, status, shadow_created, resumable)| Unfinished {
                id,
                owner,
                schema,
                table,
                stage,
                status,
                shadow_created,
                resumable,
            },
        )
        .collect())
}

/// Fails a migration nobody runs, if it is still unfinished and still
/// `owner`'s (two reconcilers never both take it). True when it did.
pub async fn fail_abandoned(conn: &mut Conn, id: &str, owner: &str, message: &str) -> Result<bool> {
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET status = 'failed', stage = 'failed', \
         completed_at = UTC_TIMESTAMP(6), message = ? \
         WHERE id = ? AND owner = ? AND status IN ('queued', 'running', 'ready', 'cutting_over')",
        (message, id, owner),
    )
    .await?;
    Ok(conn.affected_rows() == 1)
}

/// What the lifecycle needs to know of one migration.
pub struct State {
    pub status: String,
    /// The proxy instance running (or that ran) it.
    pub owner: String,
    pub schema: String,
    pub table: String,
    /// The old table, while it has not been dropped.
    pub old_table: Option<String>,
}

pub async fn state(conn: &mut Conn, id: &str) -> Result<Option<State>> {
    let row: Option<(String, String, String, Option<String>, String)> = conn
        .exec_first(
            "SELECT status, table_schema, table_name, \
             IF(old_table_dropped_at IS NULL, old_table, NULL), owner \
             FROM `_ghostwire`.`migrations` WHERE id = ?",
            (id,),
        )
        .await?;
    Ok(row.map(|(status, schema, table, old_table, owner)| State {
        status,
        owner,
        schema,
        table,
        old_table,
    }))
}

/// Old tables whose time is up: (migration id, schema, old table).
pub async fn old_tables_due(conn: &mut Conn) -> Result<Vec<(String, String, String)>> {
    Ok(conn
        .query(
            "SELECT id, table_schema, old_table FROM `_ghostwire`.`migrations` \
             WHERE old_table_drop_at <= UTC_TIMESTAMP(6) AND old_table_dropped_at IS NULL \
             AND old_table IS NOT NULL AND status = 'complete' ORDER BY old_table_drop_at",
        )
        .await?)
}

/// Notes that the migration's old table is gone.
pub async fn old_table_dropped(conn: &mut Conn, id: &str) -> Result<()> {
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET old_table_dropped_at = UTC_TIMESTAMP(6) WHERE id = ?",
        (id,),
    )
    .await?;
    Ok(())
}

/// How long until the next kept old table's retention ends.
pub async fn next_old_table_due(conn: &mut Conn) -> Result<Option<std::time::Duration>> {
    let us: Option<Option<i64>> = conn
        .query_first(
            "SELECT TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), MIN(old_table_drop_at)) \
             FROM `_ghostwire`.`migrations` WHERE old_table_dropped_at IS NULL \
             AND old_table IS NOT NULL AND status = 'complete'",
        )
        .await?;
    Ok(us
        .flatten()
        .map(|us| std::time::Duration::from_micros(us.max(0) as u64 + 1000)))
}

/// The old table's fingerprint recorded after the cut-over (`lifecycle`).
pub async fn old_table_check(conn: &mut Conn, id: &str) -> Result<Option<String>> {
    let v: Option<Option<String>> = conn
        .exec_first(
            "SELECT old_table_check FROM `_ghostwire`.`migrations` WHERE id = ?",
            (id,),
        )
        .await?;
    Ok(v.flatten())
}

pub async fn set_old_table_check(conn: &mut Conn, id: &str, check: &str) -> Result<()> {
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET old_table_check = ? WHERE id = ?",
        (check, id),
    )
    .await?;
    Ok(())
}
