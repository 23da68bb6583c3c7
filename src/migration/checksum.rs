//! Checksum of the original against the shadow before the cut-over.
//!
//! Run inside one consistent snapshot taken while both tables were equal
//! (see `cutover::snapshot`), chunk by chunk along the key: each chunk's
//! row count and XOR of per-row CRC32s must match, over every column of the
//! new table:
//! - a column stored the same way in both tables: its values;
//! - a column the ALTER converts: the original's values converted again by
//!   the server, with the same assignment as the copy, into a temporary
//!   table of the new table's column types, against the shadow's values.
//!   The values converted are the snapshot's: read with a plain `SELECT`
//!   (no locks) and carried into a temporary table of the original's types
//!   first (see `carry`), since an `INSERT … SELECT` from the original
//!   would read the latest rows with locking reads;
//! - a new column with no source and a constant default: that every row
//!   holds its default (generated and AUTO_INCREMENT columns are the
//!   server's own, and time-of-copy defaults cannot be compared).
//!
//! Under ALTER IGNORE the original's side is the rows the new table kept.
//! A mismatch fails the migration before the rename: the original table is
//! left as it is.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::carry::{self, Carried};
use super::copier::{bound, CopyPlan};
use super::{refused, Result};

/// What the checksum compares (names quoted).
#[derive(Default)]
pub struct Compared {
    /// Columns stored the same way: (original, shadow).
    pub same: Vec<(String, String)>,
    /// Columns the ALTER converts: (expression the copy feeds from the
    /// original, shadow column).
    pub converted: Vec<(String, String)>,
    /// New columns that hold a value known in advance: (that value, as an
    /// expression over the shadow row, shadow column).
    pub defaulted: Vec<(String, String)>,
    /// The original's columns the `same` and `converted` ones read, carried
    /// into a temporary table when a column is converted.
    pub carried: Vec<Carried>,
}

/// `CONCAT_WS` skips NULLs; a NULL flag per column keeps (NULL, 'a') and
/// ('a', NULL) apart.
fn row_digest(cols: &[String]) -> String {
    if cols.is_empty() {
        return "COUNT(*), 0".into();
    }
    let parts: Vec<String> = cols.iter().map(|c| format!("{c}, ISNULL({c})")).collect();
    format!(
        "COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('#', {}))), 0)",
        parts.join(", ")
    )
}

/// The temporary table the original's converted rows go into, on the
/// original's snapshot connection (made before the snapshot starts: it
/// has the shadow's column types, so the server converts as into the
/// shadow).
pub fn converted_table(plan: &CopyPlan) -> String {
    let schema = plan.shadow.split('.').next().unwrap_or_default();
    format!("{schema}.`_gw_checksum`")
}

/// The temporary tables a checksum with converted columns needs, made on
/// the original's snapshot connection before the snapshot starts (none
/// when no column is converted): `converted_table`, `LIKE` the shadow (the
/// same types, nullability and defaults, so a value lands there exactly as
/// it lands in the shadow), and the carried rows' table (see `carry`),
/// checked to have the original's types.
pub async fn create_tables(conn: &mut Conn, plan: &CopyPlan, cols: &Compared) -> Result<()> {
    if cols.converted.is_empty() {
        return Ok(());
    }
    create_converted(conn, plan).await?;
    conn.query_drop(carry::create_raw(
        &plan.original,
        &plan.shadow,
        &cols.carried,
    ))
    .await?;
    carry::check_types(conn, &plan.original, &plan.shadow, &cols.carried).await
}

/// `converted_table`, `LIKE` the shadow; or, when the shadow has FULLTEXT
/// or SPATIAL indexes (InnoDB refuses them in a temporary table: ERROR
/// 1796) or partitions (refused too: 1478 on MariaDB, 1562 on MySQL), from
/// the shadow's own definition without them (neither plays a part in how
/// a value converts).
async fn create_converted(conn: &mut Conn, plan: &CopyPlan) -> Result<()> {
    let table = converted_table(plan);
    let def: Option<(Vec<u8>, Vec<u8>)> = conn
        .query_first(format!("SHOW CREATE TABLE {}", plan.shadow))
        .await?;
    let def = def.and_then(|(_, d)| String::from_utf8(d).ok());
    let Some(sql) = def.and_then(|d| temporary_definition(&d, &table)) else {
        let like = format!("CREATE TEMPORARY TABLE {table} LIKE {}", plan.shadow);
        conn.query_drop(like).await?;
        return Ok(());
    };
    // The server's own definition, run again: values it printed (a zero
    // date default) must not be refused by the copy's strict modes.
    conn.query_drop("SET @gw_sql_mode = @@SESSION.sql_mode, SESSION sql_mode = ''")
        .await?;
    let created = conn.query_drop(sql).await;
    conn.query_drop("SET SESSION sql_mode = @gw_sql_mode")
        .await?;
    Ok(created?)
}

/// `SHOW CREATE TABLE` text without its FULLTEXT and SPATIAL keys and its
/// partitioning, as a temporary table named `name`; `None` when it has
/// none of them (or an unexpected shape).
fn temporary_definition(def: &str, name: &str) -> Option<String> {
    let search = |l: &str| {
        let l = l.trim_start();
        l.starts_with("FULLTEXT KEY ") || l.starts_with("SPATIAL KEY ")
    };
    // Both servers print partitioning last, from a line of its own.
    let partitions = |l: &str| {
        let l = l.trim_start();
        l.starts_with("/*!50100 PARTITION BY") || l.starts_with("PARTITION BY")
    };
    let mut lines = def.lines();
    let first = lines.next()?;
    if !first.starts_with("CREATE TABLE ") || !first.ends_with(" (") {
        return None;
    }
    let mut all: Vec<&str> = lines.collect();
    let partitioned = all.iter().position(|l| partitions(l));
    if let Some(at) = partitioned {
        all.truncate(at);
    }
    if partitioned.is_none() && !all.iter().any(|l| search(l)) {
        return None;
    }
    let mut body: Vec<&str> = all.into_iter().filter(|l| !search(l)).collect();
    // The last definition before the closing parenthesis takes no comma.
    let close = body.iter().position(|l| l.starts_with(')'))?;
    let last = close.checked_sub(1)?;
    body[last] = body[last].strip_suffix(',').unwrap_or(body[last]);
    Some(format!(
        "CREATE TEMPORARY TABLE {name} (\n{}",
        body.join("\n")
    ))
}

/// How many snapshot connections `compare` needs.
pub fn snapshots(cols: &Compared) -> usize {
    if cols.converted.is_empty() {
        2
    } else {
        3
    }
}

/// Drops what `create_tables` made (those that exist).
pub async fn drop_tables(conn: &mut Conn, plan: &CopyPlan) {
    for table in [converted_table(plan), carry::raw_table(&plan.shadow)] {
        let _ = conn
            .query_drop(format!("DROP TEMPORARY TABLE IF EXISTS {table}"))
            .await;
    }
}

/// Compares both tables chunk by chunk, the original on `snaps[0]` and
/// the shadow on `snaps[1]` at once (snapshots of the same moment; a third,
/// `snaps[2]`, reads the original's rows to carry when a column is
/// converted, see `snapshots`).
/// Returns the number of rows compared.
pub async fn compare(
    snaps: &mut [Conn],
    plan: &CopyPlan,
    cols: &Compared,
    chunk_rows: u64,
) -> Result<u64> {
    let (conn, other, mut reader) = match snaps {
        [conn, other] => (conn, other, None),
        [conn, other, reader] => (conn, other, Some(reader)),
        _ => {
            return Err(super::MigrationError::Internal(
                "the checksum needs two or three snapshots".into(),
            ))
        }
    };
    let Some(max) = bound(conn, plan, &plan.max_sql()).await? else {
        let n: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM {}", plan.shadow))
            .await?;
        return match n {
            Some(0) | None => Ok(0),
            Some(n) => Err(refused(format!(
                "checksum: the original is empty but the shadow has {n} rows"
            ))),
        };
    };
    let via_table = !cols.converted.is_empty();
    let shadow_cols: Vec<String> = cols
        .same
        .iter()
        .chain(&cols.converted)
        .map(|(_, n)| n.clone())
        .collect();
    let mut old_cols: Vec<String> = if via_table {
        shadow_cols.clone()
    } else {
        cols.same.iter().map(|(o, _)| o.clone()).collect()
    };
    let mut new_cols = shadow_cols.clone();
    for (expected, c) in &cols.defaulted {
        old_cols.push("1".into());
        new_cols.push(format!("({c} <=> {expected})"));
    }
    let old_digest = row_digest(&old_cols);
    let new_digest = row_digest(&new_cols);
    let fed: Vec<String> = cols
        .same
        .iter()
        .map(|(o, _)| o.clone())
        .chain(cols.converted.iter().map(|(e, _)| e.clone()))
        .collect();
    let table = converted_table(plan);
    let raw = carry::raw_table(&plan.shadow);
    let mut lower = None;
    let mut rows = 0;
    loop {
        let upper = bound(conn, plan, &plan.upper_sql(lower.as_ref(), chunk_rows)).await?;
        let last = upper.is_none();
        let hi = upper.unwrap_or_else(|| max.clone());
        // The last chunk is open-ended on the shadow side too: extra rows
        // above the original's last key are a difference.
        let old_range = CopyPlan::range(&plan.old_key, lower.as_ref(), &hi);
        let new_range = if last {
            lower
                .as_ref()
                .map(|lo| super::sql::tuple_cmp(&plan.new_key, lo, ">"))
                .unwrap_or_else(|| "TRUE".into())
        } else {
            CopyPlan::range(&plan.new_key, lower.as_ref(), &hi)
        };
        // ALTER IGNORE drops rows that collide on a new unique key: the
        // shadow must hold exactly the original's rows that it kept.
        let kept = if plan.ignore {
            let s: Vec<String> = plan.new_key.iter().map(|k| format!("s.{k}")).collect();
            let o: Vec<String> = plan.old_key.iter().map(|k| format!("o.{k}")).collect();
            format!(
                " AND EXISTS (SELECT 1 FROM {} s WHERE ({}) = ({}))",
                plan.shadow,
                s.join(", "),
                o.join(", ")
            )
        } else {
            String::new()
        };
        let new_sql = format!("SELECT {new_digest} FROM {} WHERE {new_range}", plan.shadow);
        let old_side = async {
            if !via_table {
                let sql = format!(
                    "SELECT {old_digest} FROM {} o WHERE {old_range}{kept}",
                    plan.original
                );
                return Ok(conn.query_first::<(u64, u64), _>(sql).await?);
            }
            // The chunk as the snapshot sees it, then converted by the server
            // from there: a locking read of a private table harms nobody.
            let Some(reader) = reader.as_deref_mut() else {
                return Err(super::MigrationError::Internal(
                    "converted columns need a third snapshot".into(),
                ));
            };
            carry::carry_chunk(
                conn,
                reader,
                &plan.original,
                &plan.shadow,
                &cols.carried,
                &format!("{old_range}{kept}"),
            )
            .await?;
            conn.query_drop(format!(
                "INSERT INTO {table} ({}) SELECT {} FROM {raw}",
                shadow_cols.join(", "),
                fed.join(", "),
            ))
            .await?;
            let digest = conn
                .query_first::<(u64, u64), _>(format!("SELECT {old_digest} FROM {table}"))
                .await?;
            conn.query_drop(format!("DELETE FROM {table}")).await?;
            conn.query_drop(format!("DELETE FROM {raw}")).await?;
            Ok::<_, super::MigrationError>(digest)
        };
        let (a, b) = tokio::join!(old_side, other.query_first::<(u64, u64), _>(new_sql));
        let (a, b) = (a?, b?);
        if a != b {
            let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
            return Err(refused(format!(
                "checksum mismatch before cut-over in key range {old_range}: original {} rows, \
                 new table {} rows (or different values); the original table is unchanged. \
                 Either a change reached the table without going through the binary log (a \
                 session with sql_log_bin = 0), or this is a bug of ghostwire: please report it",
                a.0, b.0
            )));
        }
        rows += a.map(|r| r.0).unwrap_or_default();
        if last {
            return Ok(rows);
        }
        lower = Some(hi);
    }
}

#[cfg(test)]
mod tests {
    use super::temporary_definition;

    #[test]
    fn search_indexes_and_partitions_are_left_out_of_the_converted_table() {
        let def = "CREATE TABLE `t_gho` (\n  `id` int(11) NOT NULL,\n  `tx` text DEFAULT NULL,\n  \
                   `g` point NOT NULL,\n  PRIMARY KEY (`id`),\n  KEY `k` (`id`,`tx`(3)),\n  \
                   FULLTEXT KEY `ft` (`tx`),\n  SPATIAL KEY `sp` (`g`)\n) ENGINE=InnoDB";
        assert_eq!(
            temporary_definition(def, "d.`_gw_checksum`").unwrap(),
            "CREATE TEMPORARY TABLE d.`_gw_checksum` (\n  `id` int(11) NOT NULL,\n  \
             `tx` text DEFAULT NULL,\n  `g` point NOT NULL,\n  PRIMARY KEY (`id`),\n  \
             KEY `k` (`id`,`tx`(3))\n) ENGINE=InnoDB"
        );
        let plain =
            "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB";
        assert_eq!(temporary_definition(plain, "x"), None, "LIKE is used");
        for partitioned in [
            // MariaDB 10.11
            "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) \
             ENGINE=InnoDB\n PARTITION BY RANGE (`id`)\n(PARTITION `p0` VALUES LESS THAN (3) \
             ENGINE = InnoDB,\n PARTITION `p1` VALUES LESS THAN MAXVALUE ENGINE = InnoDB)",
            // MySQL 9.7
            "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB\n\
             /*!50100 PARTITION BY RANGE (`id`)\n(PARTITION p0 VALUES LESS THAN (3) ENGINE = \
             InnoDB,\n PARTITION p1 VALUES LESS THAN MAXVALUE ENGINE = InnoDB) */",
        ] {
            let def = temporary_definition(partitioned, "x").unwrap();
            assert!(!def.contains("PARTITION"), "{def}");
            assert!(def.ends_with(") ENGINE=InnoDB"), "{def}");
        }
    }
}
