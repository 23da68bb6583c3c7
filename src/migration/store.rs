//! Migration state kept in the primary: `_ghostwire.migrations`.
//!
//! The primary is the source of truth so that `SHOW MIGRATIONS` is the same
//! through every proxy instance and survives a proxy restart.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};

use super::Result;

const CREATE: [&str; 2] = [
    "CREATE DATABASE IF NOT EXISTS `_ghostwire`",
    "CREATE TABLE IF NOT EXISTS `_ghostwire`.`migrations` (
        id CHAR(36) NOT NULL PRIMARY KEY,
        table_schema VARCHAR(64) NOT NULL,
        table_name VARCHAR(64) NOT NULL,
        statement MEDIUMTEXT NOT NULL,
        submitted_by VARCHAR(300) NOT NULL,
        owner CHAR(36) NOT NULL DEFAULT '',
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
        KEY by_created (created_at),
        KEY by_table (table_schema, table_name)
    ) ENGINE=InnoDB",
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
    Ok(())
}

pub struct NewMigration<'a> {
    pub id: &'a str,
    /// The proxy instance running it (see `owner_lock`).
    pub owner: &'a str,
    pub schema: &'a str,
    pub table: &'a str,
    pub statement: &'a str,
    pub submitted_by: &'a str,
}

pub async fn insert(conn: &mut Conn, m: &NewMigration<'_>) -> Result<()> {
    conn.exec_drop(
        "INSERT INTO `_ghostwire`.`migrations` \
         (id, owner, table_schema, table_name, statement, submitted_by, status, stage, created_at, message) \
         VALUES (?, ?, ?, ?, ?, ?, 'queued', 'queued', UTC_TIMESTAMP(6), '')",
        (m.id, m.owner, m.schema, m.table, m.statement, m.submitted_by),
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
}

pub async fn update(conn: &mut Conn, id: &str, u: &Update<'_>) -> Result<()> {
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
    if sets.is_empty() {
        return Ok(());
    }
    params.push(id.into());
    let sql = format!(
        "UPDATE `_ghostwire`.`migrations` SET {} WHERE id = ?",
        sets.join(", ")
    );
    conn.exec_drop(sql, params).await?;
    Ok(())
}

/// Columns of `SHOW MIGRATIONS`, in `admin::MIGRATION_COLUMNS` order.
const LIST: &str = "SELECT id, table_schema, table_name, statement, strategy, status, stage, \
    progress_pct, rows_copied, rows_total, eta_seconds, lag_seconds, cutover_attempts, stall_ms, \
    started_at, completed_at, message FROM `_ghostwire`.`migrations`";

/// Rows for `SHOW MIGRATIONS` (newest first) or one migration, as text.
pub async fn list(pool: &Pool, id: Option<&str>) -> Result<Vec<Vec<Option<String>>>> {
    let mut conn = pool.get_conn().await?;
    let exists: Option<String> = conn
        .exec_first(
            "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = '_ghostwire' AND TABLE_NAME = 'migrations'",
            (),
        )
        .await?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let rows: Vec<mysql_async::Row> = match id {
        Some(id) => conn.exec(format!("{LIST} WHERE id = ?"), (id,)).await?,
        None => {
            conn.query(format!("{LIST} ORDER BY created_at DESC LIMIT 1000"))
                .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            row.unwrap()
                .into_iter()
                .map(|v| match v {
                    mysql_async::Value::NULL => None,
                    mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                    other => Some(other.as_sql(true).trim_matches('\'').to_string()),
                })
                .collect()
        })
        .collect())
}

/// The advisory lock a proxy instance holds while it lives; its migrations
/// are orphans once nobody holds it.
pub fn owner_lock(owner: &str) -> String {
    format!("ghostwire.{owner}")
}

/// Marks unfinished migrations whose proxy instance is gone (its owner lock
/// is free) as failed, and returns them so their helper tables can be
/// dropped. Migrations of live instances (other proxies sharing the
/// primary) are left alone.
pub async fn fail_orphans(conn: &mut Conn) -> Result<Vec<(String, String, String)>> {
    let rows: Vec<(String, String, String, String)> = conn
        .query(
            "SELECT id, owner, table_schema, table_name FROM `_ghostwire`.`migrations` \
             WHERE status IN ('queued', 'running', 'ready', 'cutting_over')",
        )
        .await?;
    let mut orphans = Vec::new();
    for (id, owner, schema, table) in rows {
        let holder: Option<Option<u64>> = conn
            .exec_first("SELECT IS_USED_LOCK(?)", (owner_lock(&owner),))
            .await?;
        if holder.flatten().is_some() {
            continue;
        }
        conn.exec_drop(
            "UPDATE `_ghostwire`.`migrations` SET status = 'failed', stage = 'failed', \
             completed_at = UTC_TIMESTAMP(6), message = 'ghostwire stopped while this migration \
             ran; the original table is unchanged. Submit the ALTER again' WHERE id = ?",
            (&id,),
        )
        .await?;
        orphans.push((id, schema, table));
    }
    Ok(orphans)
}
