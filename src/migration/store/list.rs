//! `SHOW MIGRATIONS` rows: the columns shown, the filters (evaluated by
//! the server), and who submitted each row (for the session's check of who
//! may see it).

use mysql_async::prelude::Queryable;
use mysql_async::Pool;

use super::super::Result;

/// Columns of `SHOW MIGRATIONS` (names and the expressions behind them),
/// in `admin::MIGRATION_COLUMNS` order. `WHERE <name> = '…'` compares the
/// expression, on the server.
pub const SHOWN: [(&str, &str); 23] = [
    ("id", "id"),
    ("table_schema", "table_schema"),
    ("table_name", "table_name"),
    ("statement", "statement"),
    ("strategy", "strategy"),
    ("status", "status"),
    // An unfinished migration whose instance is gone (its owner lock is
    // free) says so until another instance takes it over.
    (
        "stage",
        "IF(status IN ('queued', 'running', 'ready', 'cutting_over') \
         AND IS_USED_LOCK(CONCAT('ghostwire.', owner)) IS NULL, \
         CONCAT('stalled, its ghostwire instance is gone: ', stage), stage)",
    ),
    ("progress_pct", "progress_pct"),
    ("rows_copied", "rows_copied"),
    ("rows_total", "rows_total"),
    ("eta_seconds", "eta_seconds"),
    ("lag_seconds", "lag_seconds"),
    ("cutover_attempts", "cutover_attempts"),
    ("stall_ms", "stall_ms"),
    ("started_at", "started_at"),
    ("completed_at", "completed_at"),
    ("message", "message"),
    ("paused", "paused"),
    ("throttled", "throttled"),
    ("throttle_reason", "NULLIF(throttle_reason, '')"),
    (
        "old_table",
        "IF(old_table_dropped_at IS NULL, old_table, NULL)",
    ),
    (
        "old_table_drop_at",
        "IF(old_table_dropped_at IS NULL, old_table_drop_at, NULL)",
    ),
    ("last_command", "last_command"),
];

/// One migration's row for `SHOW MIGRATIONS`, with its table and submitter.
pub struct Listed {
    pub row: Vec<Option<String>>,
    pub schema: String,
    pub table: String,
    pub submitted_by: String,
}

/// Which rows `list` reads.
pub enum Filter<'a> {
    One(&'a str),
    /// `LIKE` on the id or the table name, and `column = value` pairs
    /// (names from `SHOWN`; the caller checked them).
    Matching {
        like: Option<&'a str>,
        /// `\` escapes in `like` (false: no escape character, as in a
        /// MySQL session with NO_BACKSLASH_ESCAPES).
        backslash_escapes: bool,
        equal: &'a [(String, String)],
    },
}

/// Rows for `SHOW MIGRATIONS` (newest first) or one migration, as text.
pub async fn list(pool: &Pool, filter: Filter<'_>) -> Result<Vec<Listed>> {
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
    let columns: Vec<&str> = SHOWN.iter().map(|(_, expr)| *expr).collect();
    let mut sql = format!(
        "SELECT {}, submitted_by, statement_charset FROM `_ghostwire`.`migrations` WHERE 1",
        columns.join(", ")
    );
    let mut params: Vec<mysql_async::Value> = Vec::new();
    match filter {
        Filter::One(id) => {
            sql.push_str(" AND id = ?");
            params.push(id.into());
        }
        Filter::Matching {
            like,
            backslash_escapes,
            equal,
        } => {
            if let Some(p) = like {
                sql.push_str(if backslash_escapes {
                    " AND (id LIKE ? OR table_name LIKE ?)"
                } else {
                    " AND (id LIKE ? ESCAPE '' OR table_name LIKE ? ESCAPE '')"
                });
                params.extend([p.into(), p.into()]);
            }
            for (name, value) in equal {
                let Some((_, expr)) = SHOWN.iter().find(|(n, _)| n == name) else {
                    continue;
                };
                sql.push_str(&format!(" AND {expr} = ?"));
                params.push(value.as_str().into());
            }
            sql.push_str(" ORDER BY created_at DESC LIMIT 1000");
        }
    }
    let rows: Vec<mysql_async::Row> = conn.exec(sql, params).await?;
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
    let n = SHOWN.len();
    let charset = text(values.get(n + 1)?)?;
    let submitted_by = text(values.get(n)?)?;
    let statement = values
        .get(3)?
        .as_ref()
        .map(|b| crate::protocol::charset::decode_text(b, &charset));
    values.truncate(n);
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
