//! Carries one chunk of the original's rows, as the checksum's snapshot
//! sees them, into a temporary table of the same column types, value for
//! value, so the server can then convert them with the copy's own
//! `INSERT … SELECT` expressions (see `checksum`).
//!
//! Why not convert straight from the original: under REPEATABLE READ an
//! `INSERT … SELECT` reads its source with locking reads, the latest
//! committed rows and not the snapshot's, and holds shared locks on them
//! until the checksum's transaction ends (writers of the table wait). A
//! plain `SELECT` reads the snapshot and locks nothing; its values come to
//! ghostwire and go back into a table whose columns have the original's
//! exact types, so the conversion that follows starts from the same typed
//! values as the copy's did. Each value travels in a form that stores back
//! exactly: numbers, floats and temporals as binary-protocol values,
//! ENUM/SET/BIT/YEAR as their stored numbers, strings as their bytes
//! relabelled with the column's own character set, binary and spatial
//! values as bytes; other types (MySQL's JSON, MariaDB's INET6/UUID) as
//! their canonical text, which the server parses back to the same value.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

use super::schema::ColumnInfo;
use super::sql::ident;
use super::{MigrationError, Result};

/// How one column's values travel.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Carry {
    /// Binary-protocol value as is: integers, DECIMAL (text), FLOAT and
    /// DOUBLE (their IEEE bits), DATE/DATETIME/TIMESTAMP/TIME (fields; the
    /// engine's sessions are in UTC, so a TIMESTAMP reads back unchanged).
    Plain,
    /// The stored number (`col + 0`): an ENUM's index (0 for the error
    /// value ''), a SET's bits, a BIT's value, a YEAR (0 for 0000).
    Number,
    /// A string's bytes, relabelled with its character set (no conversion
    /// on the way in or out).
    Text(String),
    /// Bytes: binary strings, BLOBs, spatial values (the server's own
    /// format), VECTOR.
    Binary,
    /// Canonical text, parsed back by the column's type.
    Canonical,
}

/// One original column the checksum needs, and how it travels.
#[derive(Clone, Debug)]
pub struct Carried {
    /// The column's name, quoted.
    pub col: String,
    carry: Carry,
}

impl Carried {
    pub fn of(c: &ColumnInfo) -> Carried {
        let carry = match c.data_type.as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal"
            | "numeric" | "float" | "double" | "real" | "date" | "datetime" | "timestamp"
            | "time" => Carry::Plain,
            "enum" | "set" | "bit" | "year" => Carry::Number,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
                match c.charset.as_deref() {
                    // The name is the server's; still, only a plain word
                    // goes into SQL text.
                    Some(cs) if cs.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') => {
                        Carry::Text(cs.to_string())
                    }
                    Some(_) => Carry::Canonical,
                    None => Carry::Binary,
                }
            }
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
            | "geometry" | "point" | "linestring" | "polygon" | "multipoint"
            | "multilinestring" | "multipolygon" | "geometrycollection" | "geomcollection"
            | "vector" => Carry::Binary,
            _ => Carry::Canonical,
        };
        Carried {
            col: ident(&c.name),
            carry,
        }
    }

    /// How the snapshot's `SELECT` reads the column.
    fn select(&self) -> String {
        let c = &self.col;
        match self.carry {
            Carry::Plain | Carry::Binary => c.clone(),
            Carry::Number => format!("({c} + 0)"),
            Carry::Text(_) => format!("CAST({c} AS BINARY)"),
            Carry::Canonical => format!("CAST(CAST({c} AS CHAR CHARACTER SET utf8mb4) AS BINARY)"),
        }
    }

    /// The placeholder the value goes back through. Bytes parameters arrive
    /// as binary strings (see `carry_chunk`); `CONVERT(… USING cs)` labels
    /// them with the column's character set, which converts nothing.
    fn placeholder(&self) -> String {
        match &self.carry {
            Carry::Plain | Carry::Number => "?".into(),
            Carry::Text(cs) => format!("CONVERT(CAST(? AS BINARY) USING {cs})"),
            Carry::Binary => "CAST(? AS BINARY)".into(),
            Carry::Canonical => "CONVERT(CAST(? AS BINARY) USING utf8mb4)".into(),
        }
    }
}

/// The temporary table a chunk's original rows are carried into, on the
/// original's snapshot connection.
pub fn raw_table(shadow: &str) -> String {
    let schema = shadow.split('.').next().unwrap_or_default();
    format!("{schema}.`_gw_checksum_raw`")
}

/// `CREATE TEMPORARY TABLE` for `raw_table`: the carried columns with the
/// original's types (a `CREATE … SELECT` of plain columns keeps type,
/// length, signedness, character set and collation; `check_types` makes
/// sure), and nothing else: no keys (a temporary InnoDB table cannot have a
/// FULLTEXT index), no generation expressions (their values are carried).
pub fn create_raw(original: &str, shadow: &str, carried: &[Carried]) -> String {
    let cols: Vec<&str> = carried.iter().map(|c| c.col.as_str()).collect();
    format!(
        "CREATE TEMPORARY TABLE {} SELECT {} FROM {original} LIMIT 0",
        raw_table(shadow),
        cols.join(", ")
    )
}

/// Fails unless every carried column of the raw table has exactly the
/// original's type and collation: a conversion from it is then the copy's.
pub async fn check_types(
    conn: &mut Conn,
    original: &str,
    shadow: &str,
    carried: &[Carried],
) -> Result<()> {
    let of = |rows: Vec<Row>| -> Vec<(Value, Value, Value)> {
        rows.into_iter()
            .filter_map(|r| {
                let v = r.unwrap();
                Some((v.first()?.clone(), v.get(1)?.clone(), v.get(2)?.clone()))
            })
            .collect()
    };
    let old = of(conn
        .query(format!("SHOW FULL COLUMNS FROM {original}"))
        .await?);
    let raw = of(conn
        .query(format!("SHOW FULL COLUMNS FROM {}", raw_table(shadow)))
        .await?);
    for c in carried {
        let find = |cols: &[(Value, Value, Value)]| {
            cols.iter()
                .find(|(name, ..)| {
                    matches!(name, Value::Bytes(b) if ident(&String::from_utf8_lossy(b)) == c.col)
                })
                .map(|(_, t, coll)| (t.clone(), coll.clone()))
        };
        let (a, b) = (find(&old), find(&raw));
        if a.is_none() || a != b {
            return Err(MigrationError::Internal(format!(
                "checksum: the temporary copy of column {} does not have the original's type \
                 ({a:?} vs {b:?}); the original table is unchanged. Please report it; \
                 `[migrations] checksum = false` skips the checksum",
                c.col
            )));
        }
    }
    Ok(())
}

/// Rows per `INSERT` into the raw table: few statements, and under the
/// protocol's 65535 parameters.
const BATCH_ROWS: usize = 1000;

/// Bytes of values per `INSERT` at most (a row of large BLOBs goes alone):
/// ghostwire holds one batch in memory, never the chunk.
const BATCH_BYTES: usize = 8 << 20;

/// Reads the original's rows `WHERE filter` (alias `o`) in the snapshot on
/// `reader` and inserts them into the raw table on `conn` (which must be
/// empty) as they stream in. Both connections' snapshots must be of the
/// same moment (`cutover::snapshot` starts them under one lock). The
/// insert runs in a lenient SQL mode that keeps invalid dates, so every
/// stored value goes in as it is (an ENUM's '' too), with a binary client
/// character set, so string parameters are taken as bytes (in utf8mb4 the
/// server checks them and refuses a latin1 'ö'); the session's settings
/// are restored after. Returns the number of rows carried.
pub async fn carry_chunk(
    conn: &mut Conn,
    reader: &mut Conn,
    original: &str,
    shadow: &str,
    carried: &[Carried],
    filter: &str,
) -> Result<u64> {
    let select: Vec<String> = carried.iter().map(Carried::select).collect();
    let batch = BATCH_ROWS.min(60_000 / carried.len().max(1)).max(1);
    let cols: Vec<&str> = carried.iter().map(|c| c.col.as_str()).collect();
    let one_row = format!(
        "({})",
        carried
            .iter()
            .map(Carried::placeholder)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let insert = |n: usize| {
        format!(
            "INSERT INTO {} ({}) VALUES {}",
            raw_table(shadow),
            cols.join(", "),
            vec![one_row.as_str(); n].join(", ")
        )
    };
    // A plain SELECT: a consistent read of the snapshot, no locks. Binary
    // protocol (a prepared statement), so floats and temporals come typed.
    let mut rows = reader
        .exec_iter(
            format!(
                "SELECT {} FROM {original} o WHERE {filter}",
                select.join(", ")
            ),
            (),
        )
        .await?;
    conn.query_drop(
        "SET @gw_mode = @@SESSION.sql_mode, @gw_client = @@SESSION.character_set_client, \
         @gw_connection = @@SESSION.collation_connection, \
         SESSION sql_mode = 'ALLOW_INVALID_DATES', SESSION character_set_client = binary, \
         SESSION collation_connection = binary",
    )
    .await?;
    let result = async {
        let mut total = 0u64;
        let mut params: Vec<Value> = Vec::new();
        let mut n = 0;
        let mut bytes = 0;
        loop {
            let row = rows.next().await?;
            let done = row.is_none();
            if let Some(row) = row {
                for v in row.unwrap() {
                    bytes += match &v {
                        Value::Bytes(b) => b.len(),
                        _ => 8,
                    };
                    params.push(v);
                }
                n += 1;
            }
            if n > 0 && (done || n == batch || bytes >= BATCH_BYTES) {
                conn.exec_drop(insert(n), std::mem::take(&mut params))
                    .await?;
                total += n as u64;
                (n, bytes) = (0, 0);
            }
            if done {
                return Ok::<_, MigrationError>(total);
            }
        }
    }
    .await;
    // The reader's result is read to its end (or dropped with an error).
    drop(rows);
    conn.query_drop(
        "SET SESSION sql_mode = @gw_mode, SESSION character_set_client = @gw_client, \
         SESSION collation_connection = @gw_connection",
    )
    .await?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, charset: Option<&str>) -> ColumnInfo {
        ColumnInfo {
            name: "c`x".into(),
            ordinal: 0,
            data_type: data_type.into(),
            column_type: data_type.into(),
            unsigned: false,
            charset: charset.map(str::to_string),
            generated: false,
            auto_increment: false,
            constant_default: false,
            nullable: true,
            no_default: false,
        }
    }

    #[test]
    fn each_type_travels_as_itself() {
        let f = |t, cs| {
            let c = Carried::of(&col(t, cs));
            (c.select(), c.placeholder())
        };
        assert_eq!(f("double", None), ("`c``x`".into(), "?".into()));
        assert_eq!(f("enum", Some("utf8mb4")).0, "(`c``x` + 0)");
        assert_eq!(
            f("varchar", Some("latin1")),
            (
                "CAST(`c``x` AS BINARY)".into(),
                "CONVERT(CAST(? AS BINARY) USING latin1)".into()
            )
        );
        assert_eq!(f("point", None).1, "CAST(? AS BINARY)");
        assert_eq!(
            f("json", None).1,
            "CONVERT(CAST(? AS BINARY) USING utf8mb4)"
        );
        // A character set name that is not a plain word never reaches SQL.
        assert_eq!(
            f("text", Some("x) USING latin1")).1,
            "CONVERT(CAST(? AS BINARY) USING utf8mb4)"
        );
    }
}
