//! What the engine reads about tables and the server before and during a
//! migration: columns, unique keys, foreign keys, triggers, binlog settings.
//! Portable `information_schema` / `SHOW` queries (MySQL 8.0/8.4, MariaDB).

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::sql::{ident, KeyKind};
use super::{refused, MigrationError, Result};
use crate::flavour::ServerInfo;

#[derive(Clone, Debug)]
pub struct ColumnInfo {
    pub name: String,
    /// 0-based position (= index in binlog row images).
    pub ordinal: usize,
    pub data_type: String,
    /// Full type with length, signedness and collation, to tell whether a
    /// column's values are stored the same way in both tables.
    pub column_type: String,
    pub unsigned: bool,
    pub charset: Option<String>,
    /// Virtual or stored generated: computed by the server, never copied.
    pub generated: bool,
    pub auto_increment: bool,
    /// Its default is a constant (not CURRENT_TIMESTAMP or an expression):
    /// `DEFAULT(col)` gives what a row without a value got.
    pub constant_default: bool,
    pub nullable: bool,
    /// NOT NULL with no DEFAULT: a row given no value gets the type's
    /// implicit default (0, '', the first ENUM member, a zero date).
    pub no_default: bool,
}

impl ColumnInfo {
    /// The type's implicit default as a literal, for a column with no
    /// DEFAULT that a native ALTER adds to existing rows; None for types
    /// without one here (the copy then fails with the server's error).
    pub fn implicit_default(&self) -> Option<&'static str> {
        Some(match self.data_type.as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal"
            | "numeric" | "float" | "double" | "real" | "bit" | "year" => "0",
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "binary"
            | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "set" => "''",
            "enum" => "1",
            "date" => "'0000-00-00'",
            "datetime" | "timestamp" => "'0000-00-00 00:00:00'",
            "time" => "'00:00:00'",
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct KeyInfo {
    pub name: String,
    pub columns: Vec<String>,
    /// Unique, every column NOT NULL, no prefix: it identifies a row.
    pub identifies_rows: bool,
}

#[derive(Clone, Debug)]
pub struct TableInfo {
    pub columns: Vec<ColumnInfo>,
    /// PRIMARY first.
    pub keys: Vec<KeyInfo>,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

type ColumnRow = (
    String,
    u64,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
);

pub async fn table_info(conn: &mut Conn, schema: &str, table: &str) -> Result<TableInfo> {
    let rows: Vec<ColumnRow> = conn
        .exec(
            "SELECT COLUMN_NAME, ORDINAL_POSITION, LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), \
             CHARACTER_SET_NAME, UPPER(EXTRA), COLLATION_NAME, COLUMN_DEFAULT, IS_NULLABLE \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (schema, table),
        )
        .await?;
    let columns = rows
        .into_iter()
        .map(
            |(
                name,
                ordinal,
                data_type,
                column_type,
                charset,
                extra,
                collation,
                default,
                nullable,
            )| {
                ColumnInfo {
                    name,
                    ordinal: ordinal as usize - 1,
                    data_type,
                    unsigned: column_type.contains("unsigned"),
                    column_type: format!("{column_type} {}", collation.unwrap_or_default()),
                    charset: charset.filter(|c| c != "binary"),
                    // MySQL marks DEFAULT expressions "DEFAULT_GENERATED": not generated columns.
                    generated: ["VIRTUAL", "STORED", "PERSISTENT"]
                        .iter()
                        .any(|w| extra.contains(w)),
                    auto_increment: extra.contains("AUTO_INCREMENT"),
                    // MariaDB writes functions with parentheses, MySQL marks
                    // them DEFAULT_GENERATED.
                    nullable: nullable == "YES",
                    no_default: nullable == "NO"
                        && default.is_none()
                        && !extra.contains("AUTO_INCREMENT")
                        && !extra.contains("GENERATED"),
                    constant_default: !extra.contains("DEFAULT_GENERATED")
                        && !default.as_deref().is_some_and(|d| {
                            d.contains('(')
                                || d.to_ascii_uppercase().starts_with("CURRENT_TIMESTAMP")
                        }),
                }
            },
        )
        .collect();
    // (index, non-unique, column, sub-part, nullable)
    type Stat = (String, u64, Option<String>, Option<u64>, String);
    let stats: Vec<Stat> = conn
        .exec(
            "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, NULLABLE \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
            (schema, table),
        )
        .await?;
    let mut keys: Vec<KeyInfo> = Vec::new();
    for (name, non_unique, column, sub_part, nullable) in stats {
        if keys.last().is_none_or(|k| k.name != name) {
            keys.push(KeyInfo {
                name,
                columns: Vec::new(),
                identifies_rows: non_unique == 0,
            });
        }
        let key = keys.last_mut().expect("just pushed");
        // A functional key part (MySQL) has no column: such a key never
        // identifies rows, and "" matches no column name.
        key.identifies_rows &= column.is_some() && sub_part.is_none() && nullable != "YES";
        key.columns.push(column.unwrap_or_default());
    }
    Ok(TableInfo { columns, keys })
}

/// Estimated rows and whether `schema.table` is a base table; None if absent.
pub async fn table_exists(conn: &mut Conn, schema: &str, table: &str) -> Result<Option<u64>> {
    let row: Option<(Option<u64>, String)> = conn
        .exec_first(
            "SELECT TABLE_ROWS, TABLE_TYPE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (schema, table),
        )
        .await?;
    match row {
        None => Ok(None),
        Some((_, kind)) if kind == "SYSTEM VERSIONED" => Err(refused(format!(
            "{schema}.{table} is system-versioned: its history rows cannot be copied online; \
             run the ALTER with /* ghostwire: direct */"
        ))),
        Some((_, kind)) if kind != "BASE TABLE" => Err(refused(format!(
            "{schema}.{table} is a {}, not a table; an online migration needs a base table",
            kind.to_lowercase()
        ))),
        Some((rows, _)) => Ok(Some(rows.unwrap_or(0))),
    }
}

/// The table's next AUTO_INCREMENT value, if it has such a column.
pub async fn auto_increment(
    conn: &mut Conn,
    server: ServerInfo,
    schema: &str,
    table: &str,
) -> Result<Option<u64>> {
    if let Some(fresh) = server.fresh_table_stats_sql() {
        conn.query_drop(fresh).await?;
    }
    let next: Option<Option<u64>> = conn
        .exec_first(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (schema, table),
        )
        .await?;
    Ok(next.flatten())
}

/// The checks an online copy needs, before anything is created.
pub async fn check_copy_preconditions(
    conn: &mut Conn,
    server: ServerInfo,
    schema: &str,
    table: &str,
) -> Result<()> {
    check_binlog(conn).await?;
    let fk: Option<(String, String, String, String, String)> = conn
        .exec_first(
            "SELECT CONSTRAINT_NAME, CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, \
             REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE (CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?) \
             OR (UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?) LIMIT 1",
            (schema, table, schema, table),
        )
        .await?;
    if let Some((name, cs, ct, rs, rt)) = fk {
        return Err(refused(format!(
            "{schema}.{table} takes part in foreign key {name} ({cs}.{ct} references {rs}.{rt}); \
             an online migration cannot keep a foreign key pointing at the right table across \
             the rename. Drop the constraint first, or run the ALTER with /* ghostwire: direct */"
        )));
    }
    if server.triggers_need_trigger_privilege() {
        check_sees_triggers(conn, schema, table).await?;
    }
    let trigger: Option<String> = conn
        .exec_first(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS \
             WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? LIMIT 1",
            (schema, table),
        )
        .await?;
    if let Some(name) = trigger {
        return Err(refused(format!(
            "{schema}.{table} has trigger {name}; an online migration does not carry triggers \
             to the new table. Drop it first, or run the ALTER with /* ghostwire: direct */"
        )));
    }
    if server.check_names_per_schema() {
        check_constraint_names(conn, schema, table).await?;
    }
    Ok(())
}

/// Where CHECK constraint names are unique per schema (MySQL), the new
/// table cannot have the original's while both exist: `CREATE TABLE … LIKE`
/// names them `<shadow>_chk_N`, which the RENAME turns into `<t>_chk_N`.
/// Only names of that form come through as they were; a table with any
/// other would silently lose it, so the migration is refused.
async fn check_constraint_names(conn: &mut Conn, schema: &str, table: &str) -> Result<()> {
    let names: Vec<String> = conn
        .exec(
            "SELECT CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_TYPE = 'CHECK'",
            (schema, table),
        )
        .await?;
    let generated = |n: &str| {
        n.strip_prefix(table)
            .and_then(|rest| rest.strip_prefix("_chk_"))
            .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
    };
    if let Some(name) = names.iter().find(|n| !generated(n)) {
        return Err(refused(format!(
            "{schema}.{table} has CHECK constraint {name}; MySQL names CHECK constraints per \
             schema, so the new table cannot keep that name while the old one exists (it would \
             become {table}_chk_N). Run the ALTER with /* ghostwire: direct */"
        )));
    }
    Ok(())
}

/// Refuses an ALTER that gave the new table a foreign key: the server
/// checked the client's REFERENCES right on its own connection already; this
/// is about the copy: a foreign key cannot be carried across the rename.
pub async fn check_no_foreign_keys(conn: &mut Conn, schema: &str, shadow: &str) -> Result<()> {
    let fk: Option<String> = conn
        .exec_first(
            "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? LIMIT 1",
            (schema, shadow),
        )
        .await?;
    match fk {
        Some(name) => Err(refused(format!(
            "the ALTER adds foreign key {name}; an online migration cannot carry a foreign key \
             across the rename. Run it with /* ghostwire: direct */"
        ))),
        None => Ok(()),
    }
}

/// Binary log on, ROW format, FULL images, not compressed (MariaDB's
/// compressed events cannot be read by the binlog client).
async fn check_binlog(conn: &mut Conn) -> Result<()> {
    let vars: Vec<(String, String)> = conn
        .query(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN \
             ('log_bin', 'binlog_format', 'binlog_row_image', 'log_bin_compress')",
        )
        .await?;
    let get = |name: &str| {
        vars.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_uppercase())
            .unwrap_or_default()
    };
    let want = [
        ("log_bin", "ON", "enable the binary log (log_bin)"),
        ("binlog_format", "ROW", "SET GLOBAL binlog_format = 'ROW'"),
        (
            "binlog_row_image",
            "FULL",
            "SET GLOBAL binlog_row_image = 'FULL'",
        ),
    ];
    for (name, value, fix) in want {
        let have = get(name);
        if have != value {
            return Err(refused(format!(
                "an online migration reads the binary log and needs {name}={value} (it is '{have}'): {fix}"
            )));
        }
    }
    if get("log_bin_compress") == "ON" {
        return Err(refused(
            "an online migration cannot read compressed binary log events: SET GLOBAL log_bin_compress = OFF",
        ));
    }
    Ok(())
}

/// Refuses when a helper table name is taken (e.g. the old table kept by a
/// previous migration). The client may not be allowed to see that table:
/// its name is logged for the operator, not told to the client.
pub async fn check_free(conn: &mut Conn, schema: &str, names: &[&str]) -> Result<()> {
    for name in names {
        if table_exists(conn, schema, name)
            .await
            .ok()
            .flatten()
            .is_some()
        {
            tracing::warn!(
                %schema, table = %name,
                "a migration cannot start: its helper table name is taken; drop {} when it is not needed",
                format!("{}.{}", ident(schema), ident(name))
            );
            return Err(refused(
                "a table this migration needs to create already exists (the old table of an \
                 earlier migration, a leftover, or a table someone made under that name); an \
                 administrator can see which in ghostwire's log and drop or rename it, or run \
                 this ALTER with /* ghostwire: direct */",
            ));
        }
    }
    Ok(())
}

/// Refuses unless ghostwire's account holds TRIGGER on the table (on *.*,
/// its schema or itself; a grant by pattern or through a role is not
/// seen, and refuses too): where the server hides triggers from accounts
/// without it, "no trigger found" would otherwise mean nothing.
async fn check_sees_triggers(conn: &mut Conn, schema: &str, table: &str) -> Result<()> {
    let held: Option<u8> = conn
        .exec_first(
            "SELECT 1 FROM (SELECT CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), \
             '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''') AS g) me \
             WHERE EXISTS (SELECT 1 FROM information_schema.USER_PRIVILEGES \
               WHERE GRANTEE = me.g AND PRIVILEGE_TYPE = 'TRIGGER') \
             OR EXISTS (SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES \
               WHERE GRANTEE = me.g AND PRIVILEGE_TYPE = 'TRIGGER' AND TABLE_SCHEMA = ?) \
             OR EXISTS (SELECT 1 FROM information_schema.TABLE_PRIVILEGES \
               WHERE GRANTEE = me.g AND PRIVILEGE_TYPE = 'TRIGGER' AND TABLE_SCHEMA = ? \
               AND TABLE_NAME = ?)",
            (schema, schema, table),
        )
        .await?;
    if held.is_none() {
        return Err(refused(format!(
            "ghostwire's account cannot tell whether {schema}.{table} has triggers: this \
             server shows triggers only to accounts with the TRIGGER privilege. Grant TRIGGER \
             on the migrated schemas to ghostwire's account, or run the ALTER with \
             /* ghostwire: direct */"
        )));
    }
    Ok(())
}

/// The current binlog file and position.
pub async fn binlog_position(conn: &mut Conn, server: ServerInfo) -> Result<(String, u64)> {
    let row: Option<mysql_async::Row> = conn.query_first(server.binlog_status_sql()).await?;
    let row = row.ok_or_else(|| refused("the binary log is off: enable log_bin"))?;
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or_default();
    Ok((file, pos))
}

/// The binlog files the server still has (`SHOW BINARY LOGS`).
pub async fn binlog_files(conn: &mut Conn) -> Result<Vec<String>> {
    let rows: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.get::<String, _>(0))
        .collect())
}

/// The chunking key shared by both tables: a key that identifies rows in
/// the old table, whose columns keep their values in the new one (same
/// type, or an integer widened), and which the new table can still find
/// rows by: a unique key of the new table lies within it (the ALTER reduces
/// the key), or the new table has an index that starts with its columns in
/// any order (the same key, reordered or extended). gh-ost's rule, with
/// the index the replay's lookups need.
pub fn shared_key(
    old: &TableInfo,
    new: &TableInfo,
    rename: &dyn Fn(&str) -> String,
) -> std::result::Result<Vec<(String, KeyKind)>, String> {
    use std::collections::BTreeSet;
    let set =
        |cols: &[String]| -> BTreeSet<String> { cols.iter().map(|c| c.to_lowercase()).collect() };
    let mut why = None;
    for key in old.keys.iter().filter(|k| k.identifies_rows) {
        let mapped: Vec<String> = key.columns.iter().map(|c| rename(c)).collect();
        let kept =
            key.columns
                .iter()
                .zip(&mapped)
                .all(|(o, n)| match (old.column(o), new.column(n)) {
                    (Some(o), Some(n)) => same_values(o, n),
                    _ => false,
                });
        if !kept {
            continue;
        }
        let want = set(&mapped);
        let findable = new.keys.iter().any(|k| {
            (k.identifies_rows && set(&k.columns).is_subset(&want))
                || k.columns
                    .get(..mapped.len())
                    .is_some_and(|prefix| set(prefix) == want)
        });
        if !findable {
            continue;
        }
        let mut out = Vec::new();
        for c in &key.columns {
            let info = old
                .column(c)
                .ok_or_else(|| format!("key column {c} not found"))?;
            match KeyKind::of(&info.data_type, info.unsigned, info.charset.as_deref()) {
                Some(kind) => out.push((c.clone(), kind)),
                None => {
                    why = Some(format!(
                        "key {} uses column {c} of type {}, which cannot serve as a chunking key",
                        key.name, info.data_type
                    ));
                    out.clear();
                    break;
                }
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
    }
    Err(why.unwrap_or_else(|| {
        "has no PRIMARY or UNIQUE NOT NULL key whose columns the ALTER leaves as they are and \
         the new table keeps indexed; an online migration needs one"
            .into()
    }))
}

/// Whether a key column's values can be found the same way from `old` to
/// `new`: the same type, any integer to any integer, or a temporal type
/// given more fractional digits. (An integer that does not fit fails the
/// copy, as natively; a difference the lookups miss fails the checksum.)
fn same_values(old: &ColumnInfo, new: &ColumnInfo) -> bool {
    const TEMPORAL: [&str; 3] = ["datetime", "timestamp", "time"];
    let fsp = |c: &ColumnInfo| -> u32 {
        c.column_type
            .split_once('(')
            .and_then(|(_, r)| r.split(')').next())
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    };
    old.column_type == new.column_type
        || super::sql::integer_type(&old.data_type) && super::sql::integer_type(&new.data_type)
        || old.data_type == new.data_type
            && TEMPORAL.contains(&old.data_type.as_str())
            && fsp(new) >= fsp(old)
}

/// Runs `sql`, mapping a server error to itself (relayed to the client).
pub async fn exec(conn: &mut Conn, sql: &str) -> Result<()> {
    conn.query_drop(sql).await.map_err(MigrationError::from)
}
