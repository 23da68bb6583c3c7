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
        statement MEDIUMBLOB NOT NULL,
        statement_charset VARCHAR(64) NOT NULL DEFAULT 'utf8mb4',
        submitted_by VARCHAR(300) NOT NULL,
        shadow_created TINYINT NOT NULL DEFAULT 0,
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
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
];

/// Brings a state table made by an earlier version up to date: statements
/// are kept as the client's bytes with their character set (a latin1
/// server default refused other text), and the table records whether the
/// migration created its shadow (so only tables ghostwire made are dropped).
const UPGRADE: &str = "ALTER TABLE `_ghostwire`.`migrations` \
    MODIFY statement MEDIUMBLOB NOT NULL, \
    ADD COLUMN statement_charset VARCHAR(64) NOT NULL DEFAULT 'utf8mb4' AFTER statement, \
    ADD COLUMN shadow_created TINYINT NOT NULL DEFAULT 0 AFTER submitted_by, \
    CONVERT TO CHARACTER SET utf8mb4";

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
    let current: Option<String> = conn
        .query_first(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '_ghostwire' \
             AND TABLE_NAME = 'migrations' AND COLUMN_NAME = 'shadow_created'",
        )
        .await?;
    if current.is_none() {
        conn.query_drop(UPGRADE).await?;
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
}

pub async fn insert(conn: &mut Conn, m: &NewMigration<'_>) -> Result<()> {
    let (status, strategy, stall, message) = match m.done {
        Some((strategy, stall, message)) => ("complete", strategy, Some(stall), message),
        None => ("queued", "", None, ""),
    };
    conn.exec_drop(
        "INSERT INTO `_ghostwire`.`migrations` \
         (id, owner, table_schema, table_name, statement, statement_charset, submitted_by, \
          status, stage, strategy, stall_ms, progress_pct, created_at, started_at, completed_at, message) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, IF(? = 'complete', 100, 0), UTC_TIMESTAMP(6), \
          IF(? = 'complete', UTC_TIMESTAMP(6), NULL), IF(? = 'complete', UTC_TIMESTAMP(6), NULL), ?)",
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
        ]),
    )
    .await?;
    Ok(())
}

/// Notes that the migration created its shadow table: from now on that
/// table is ghostwire's to drop (and only then).
pub async fn shadow_created(conn: &mut Conn, id: &str) -> Result<()> {
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET shadow_created = 1 WHERE id = ?",
        (id,),
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

/// Columns of `SHOW MIGRATIONS`, in `admin::MIGRATION_COLUMNS` order, then
/// what deciding who may see a row needs.
const LIST: &str = "SELECT id, table_schema, table_name, statement, strategy, status, stage, \
    progress_pct, rows_copied, rows_total, eta_seconds, lag_seconds, cutover_attempts, stall_ms, \
    started_at, completed_at, message, submitted_by, statement_charset \
    FROM `_ghostwire`.`migrations`";
const SHOWN: usize = 17;

/// One migration's row for `SHOW MIGRATIONS`, with its table and submitter.
pub struct Listed {
    pub row: Vec<Option<String>>,
    pub schema: String,
    pub table: String,
    pub submitted_by: String,
}

/// Rows for `SHOW MIGRATIONS` (newest first) or one migration, as text.
pub async fn list(pool: &Pool, id: Option<&str>) -> Result<Vec<Listed>> {
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
    Ok(rows.into_iter().filter_map(listed).collect())
}

fn listed(row: mysql_async::Row) -> Option<Listed> {
    let mut values: Vec<Option<Vec<u8>>> = row
        .unwrap()
        .into_iter()
        .map(|v| match v {
            mysql_async::Value::NULL => None,
            mysql_async::Value::Bytes(b) => Some(b),
            other => Some(other.as_sql(true).trim_matches('\'').as_bytes().to_vec()),
        })
        .collect();
    let text = |v: &Option<Vec<u8>>| v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    let charset = text(values.get(SHOWN + 1)?)?;
    let submitted_by = text(values.get(SHOWN)?)?;
    let statement = values
        .get(3)?
        .as_ref()
        .map(|b| crate::protocol::charset::decode_text(b, &charset));
    values.truncate(SHOWN);
    let mut row: Vec<Option<String>> = values.iter().map(text).collect();
    row[3] = statement;
    Some(Listed {
        schema: row[1].clone()?,
        table: row[2].clone()?,
        submitted_by,
        row,
    })
}

/// Schema, table and submitter of one migration.
pub async fn owner_of(pool: &Pool, id: &str) -> Result<Option<(String, String, String)>> {
    let mut conn = pool.get_conn().await?;
    Ok(conn
        .exec_first(
            "SELECT table_schema, table_name, submitted_by FROM `_ghostwire`.`migrations` WHERE id = ?",
            (id,),
        )
        .await
        .unwrap_or(None))
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
pub async fn fail_orphans(conn: &mut Conn) -> Result<Vec<Orphan>> {
    let rows: Vec<(String, String, String, String, bool)> = conn
        .query(
            "SELECT id, owner, table_schema, table_name, shadow_created \
             FROM `_ghostwire`.`migrations` \
             WHERE status IN ('queued', 'running', 'ready', 'cutting_over')",
        )
        .await?;
    let mut orphans = Vec::new();
    for (id, owner, schema, table, shadow_created) in rows {
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
        orphans.push(Orphan {
            id,
            schema,
            table,
            shadow_created,
        });
    }
    Ok(orphans)
}

/// An unfinished migration whose proxy instance is gone.
pub struct Orphan {
    pub id: String,
    pub schema: String,
    pub table: String,
    /// Whether it had created its shadow table (which is then its to drop).
    pub shadow_created: bool,
}
