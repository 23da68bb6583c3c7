//! SQL text the engine builds: quoted names, key literals, key predicates.
//!
//! Values are only ever rendered for key columns (chunk bounds and changed
//! keys from the binlog); row data is always moved by the server itself
//! (`INSERT … SELECT`), so no value is decoded and re-encoded on its way
//! from the old table to the new one. (The checksum carries values through
//! ghostwire as typed parameters, for its comparison only: see `carry`.)

use mysql_async::Value;

/// `` `name` `` with backquotes doubled.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `` `schema`.`table` ``.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", ident(schema), ident(table))
}

/// Names of the shadow (`<table>_gho`) and old-table/sentry (`<table>_del`)
/// tables, within MySQL's 64-character limit.
///
/// Why a suffix and not gh-ost's `_<table>_gho`: the cut-over's RENAME waits
/// for the metadata locks of all its tables, taken one by one in name order.
/// If a helper name sorted before the table (as `_…` does), the RENAME would
/// queue on the helper, not on the table, so when the cut-over lock is
/// released, writes queued on the table could run against the *old* table
/// before the RENAME, and be lost (seen on MariaDB 10.11). A name that
/// extends the table's name sorts after it, so the RENAME queues on the
/// table itself and, as the exclusive request, goes first.
pub fn helper_table(table: &str, suffix: &str) -> String {
    let full = format!("{table}_{suffix}");
    if full.chars().count() <= 64 {
        return full;
    }
    // Too long: keep a prefix, then a separator that makes the name sort
    // after the table's own (bytes, as the metadata locks are ordered):
    // '~' after ASCII, a fullwidth tilde after anything below U+FF5E (a
    // plain '~' sorted a name of 'ü's *before* its table: writes were lost),
    // U+FFFD after nearly everything (a name the last of these cannot
    // follow is refused by the runner); a hash keeps two long names with
    // the same prefix apart.
    let hash = table.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let keep = 64 - 1 - 8 - 1 - suffix.chars().count();
    let prefix: String = table.chars().take(keep).collect();
    let mut name = String::new();
    for sep in ['~', '\u{FF5E}', '\u{FFFD}'] {
        name = format!("{prefix}{sep}{:08x}_{suffix}", hash as u32);
        if name.as_bytes() > table.as_bytes() {
            break;
        }
    }
    name
}

/// Where migration `id` keeps the old table after its cut-over (and names
/// its sentry before): unique to the migration, so the next ALTER of the
/// same table can start while this one's old table is kept; a suffix, so it
/// sorts after the table's own name (see `helper_table`). The first of
/// `old_table_names`.
pub fn old_table_name(table: &str, id: &str) -> String {
    old_table_names(table, id).swap_remove(0)
}

/// The names migration `id` may use for its old table, in order: the tag
/// is the id's first 8 hex digits, then 12, 16, … all 32. The migration
/// takes the first that is free when it starts, so a table someone made at
/// `<t>_<id8>_del` (or an old table of an earlier migration whose id starts
/// alike) does not fail it. Each is a suffix of the table's name.
pub fn old_table_names(table: &str, id: &str) -> Vec<String> {
    let hex: String = id.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let mut names: Vec<String> = Vec::new();
    for len in (8..=32).step_by(4) {
        let tag: String = hex.chars().take(len).collect();
        let name = helper_table(table, &format!("{tag}_del"));
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Whether an `information_schema` data type is an integer type.
pub fn integer_type(data_type: &str) -> bool {
    matches!(
        data_type,
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
    )
}

/// How a key column's values are written as SQL literals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Integer of `bits` width; binlog values arrive signed and are fixed up.
    Int {
        bits: u32,
        unsigned: bool,
    },
    Decimal,
    /// Character or binary string; `charset` None = binary.
    Text {
        charset: Option<&'static str>,
    },
    Date,
    DateTime,
    /// TIMESTAMP: text in the engine's UTC sessions, epoch seconds in the
    /// binlog.
    Timestamp,
    /// ENUM, YEAR: read and compared as numbers (an ENUM's index
    /// order is its key order; its label would compare as a string).
    Number,
}

impl KeyKind {
    /// The kind for an `information_schema.COLUMNS` data type, or None when
    /// the type cannot serve as a chunking key.
    pub fn of(data_type: &str, unsigned: bool, charset: Option<&str>) -> Option<KeyKind> {
        let bits = match data_type {
            "tinyint" => 8,
            "smallint" => 16,
            "mediumint" => 24,
            "int" | "integer" => 32,
            "bigint" => 64,
            "decimal" | "numeric" => return Some(KeyKind::Decimal),
            "char" | "varchar" | "binary" | "varbinary" => {
                return Some(KeyKind::Text {
                    charset: charset.map(leak_charset),
                })
            }
            "date" => return Some(KeyKind::Date),
            "datetime" => return Some(KeyKind::DateTime),
            "timestamp" => return Some(KeyKind::Timestamp),
            "enum" | "year" => return Some(KeyKind::Number),
            _ => return None,
        };
        Some(KeyKind::Int { bits, unsigned })
    }

    /// How a key column is read (`col` quoted): as itself, or as a number.
    pub fn select(self, col: &str) -> String {
        match self {
            KeyKind::Number => format!("({col} + 0)"),
            _ => col.to_string(),
        }
    }

    /// A literal for `v`, a key value from a text result (bytes) or from a
    /// binlog row image (typed, with the binlog's decoding quirks undone).
    pub fn literal(self, v: &Value) -> Result<String, String> {
        match (self, v) {
            (_, Value::NULL) => Ok("NULL".into()),
            (KeyKind::Int { bits, unsigned }, Value::Int(i)) => {
                Ok(fix_int(*i as u64, bits, unsigned))
            }
            (KeyKind::Int { bits, unsigned }, Value::UInt(u)) => Ok(fix_int(*u, bits, unsigned)),
            (KeyKind::Int { .. } | KeyKind::Decimal, Value::Bytes(b)) => {
                checked(b, |c| c.is_ascii_digit() || b"+-.eE".contains(&c))
            }
            (KeyKind::Text { charset }, Value::Bytes(b)) => Ok(text_literal(charset, b)),
            (KeyKind::Date | KeyKind::DateTime, Value::Bytes(b)) => {
                checked(b, |c| c.is_ascii_digit() || b" :.-".contains(&c)).map(|s| format!("'{s}'"))
            }
            (KeyKind::Date, Value::Date(y, m, d, ..)) => Ok(format!("'{y:04}-{m:02}-{d:02}'")),
            // Epoch seconds from the binlog; 0 is the zero TIMESTAMP.
            (KeyKind::Timestamp, Value::Bytes(b)) if !b.contains(&b'-') => {
                let secs = checked(b, |c| c.is_ascii_digit() || c == b'.')?;
                Ok(if secs.trim_start_matches('0').is_empty() {
                    "'0000-00-00 00:00:00'".to_string()
                } else {
                    format!("FROM_UNIXTIME({secs})")
                })
            }
            (KeyKind::Timestamp, Value::Int(0)) => Ok("'0000-00-00 00:00:00'".to_string()),
            (KeyKind::Timestamp, Value::Int(i)) => Ok(format!("FROM_UNIXTIME({i})")),
            (KeyKind::Timestamp, Value::Bytes(b)) => {
                checked(b, |c| c.is_ascii_digit() || b" :.-".contains(&c)).map(|s| format!("'{s}'"))
            }
            (KeyKind::Number, Value::Int(i)) => Ok(i.to_string()),
            (KeyKind::Number, Value::UInt(u)) => Ok(u.to_string()),
            // A text result's number, or a binlog YEAR.
            (KeyKind::Number, Value::Bytes(b)) => checked(b, |c| c.is_ascii_digit()),
            (KeyKind::DateTime, Value::Date(y, m, d, h, i, s, us)) => Ok(format!(
                "'{y:04}-{m:02}-{d:02} {h:02}:{i:02}:{s:02}.{us:06}'"
            )),
            (kind, v) => Err(format!("unexpected value {v:?} for a {kind:?} key column")),
        }
    }
}

/// Character sets are few and fixed; interning them keeps `KeyKind` `Copy`.
fn leak_charset(c: &str) -> &'static str {
    static KNOWN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = known.iter().find(|k| **k == c) {
        return k;
    }
    let k: &'static str = Box::leak(c.to_string().into_boxed_str());
    known.push(k);
    k
}

/// Binlog integers arrive as signed 64-bit whatever the column's type
/// (no signedness metadata unless `binlog_row_metadata=FULL`), and negative
/// MEDIUMINTs are not sign-extended: take the column's width from the raw
/// bits and read it with the column's signedness.
fn fix_int(raw: u64, bits: u32, unsigned: bool) -> String {
    let masked = if bits == 64 {
        raw
    } else {
        raw & ((1u64 << bits) - 1)
    };
    if unsigned {
        masked.to_string()
    } else {
        let shift = 64 - bits;
        (((masked << shift) as i64) >> shift).to_string()
    }
}

/// Bytes exactly as stored, tagged with the column's character set so the
/// comparison uses the column's collation (and its index).
fn text_literal(charset: Option<&str>, b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2 + 16);
    if let Some(cs) = charset {
        s.push('_');
        s.push_str(cs);
        s.push(' ');
    }
    s.push_str("X'");
    for byte in b {
        s.push_str(&format!("{byte:02X}"));
    }
    s.push('\'');
    s
}

fn checked(b: &[u8], ok: impl Fn(u8) -> bool) -> Result<String, String> {
    if !b.is_empty() && b.iter().all(|c| ok(*c)) {
        Ok(String::from_utf8_lossy(b).into_owned())
    } else {
        Err(format!(
            "unexpected key value {:?}",
            String::from_utf8_lossy(b)
        ))
    }
}

/// `(a, b) > (x, y)` spelled out as `a > x OR (a = x AND b > y)`, which every
/// server's range optimizer turns into an index range. `op` is `>` or `<=`.
pub fn tuple_cmp(cols: &[String], vals: &[String], op: &str) -> String {
    let strict = op.trim_end_matches('=');
    let mut out = String::new();
    for i in 0..cols.len() {
        if i > 0 {
            out.push_str(" OR ");
        }
        out.push('(');
        for j in 0..i {
            out.push_str(&format!("{} = {} AND ", cols[j], vals[j]));
        }
        let last = if i + 1 == cols.len() { op } else { strict };
        out.push_str(&format!("{} {last} {})", cols[i], vals[i]));
    }
    format!("({out})")
}

/// `cols IN (tuples)`: `a IN (1,2)` for one column, `(a,b) IN ((1,2),(3,4))` otherwise.
pub fn key_in(cols: &[String], tuples: &[String]) -> String {
    if cols.len() == 1 {
        format!("{} IN ({})", cols[0], tuples.join(","))
    } else {
        format!("({}) IN ({})", cols.join(","), tuples.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binlog_int_fixups() {
        let int = |bits, unsigned| KeyKind::Int { bits, unsigned };
        // Unsigned extremes arrive as negative numbers.
        assert_eq!(
            int(64, true).literal(&Value::Int(-1)).unwrap(),
            "18446744073709551615"
        );
        assert_eq!(
            int(32, true).literal(&Value::Int(-1)).unwrap(),
            "4294967295"
        );
        assert_eq!(int(8, true).literal(&Value::Int(-56)).unwrap(), "200");
        // Negative MEDIUMINT arrives without sign extension.
        assert_eq!(int(24, false).literal(&Value::Int(0xFFFFFF)).unwrap(), "-1");
        assert_eq!(
            int(24, false).literal(&Value::Int(-8388608)).unwrap(),
            "-8388608"
        );
        assert_eq!(
            int(64, false).literal(&Value::Int(i64::MIN)).unwrap(),
            i64::MIN.to_string()
        );
        assert_eq!(
            int(32, false)
                .literal(&Value::Bytes(b"-42".to_vec()))
                .unwrap(),
            "-42"
        );
        assert!(int(32, false)
            .literal(&Value::Bytes(b"1 OR 1".to_vec()))
            .is_err());
    }

    #[test]
    fn text_and_dates() {
        let t = KeyKind::Text {
            charset: Some("latin1"),
        };
        assert_eq!(
            t.literal(&Value::Bytes(vec![0xE9, b'\''])).unwrap(),
            "_latin1 X'E927'"
        );
        let b = KeyKind::Text { charset: None };
        assert_eq!(b.literal(&Value::Bytes(vec![0])).unwrap(), "X'00'");
        let d = KeyKind::DateTime
            .literal(&Value::Date(2024, 2, 29, 23, 5, 6, 7))
            .unwrap();
        assert_eq!(d, "'2024-02-29 23:05:06.000007'");
    }

    #[test]
    fn old_table_names_are_the_migrations_own_and_sort_after() {
        let id = "0123abcd-4567-89ef-0123-456789abcdef";
        let names = old_table_names("orders", id);
        assert_eq!(names[0], "orders_0123abcd_del");
        assert_eq!(names[0], old_table_name("orders", id));
        assert_eq!(names[1], "orders_0123abcd4567_del");
        assert_eq!(
            names.last().unwrap(),
            "orders_0123abcd456789ef0123456789abcdef_del"
        );
        assert_eq!(names.len(), 7);
        for table in ["orders", &"x".repeat(60), &"ü".repeat(64)] {
            let names = old_table_names(table, id);
            let mut unique = names.clone();
            unique.dedup();
            assert_eq!(unique, names, "{table}: distinct");
            for n in &names {
                assert!(n.chars().count() <= 64, "{n}");
                assert!(n.as_bytes() > table.as_bytes(), "{n} sorts after {table}");
            }
        }
    }

    #[test]
    fn predicates_and_names() {
        let cols = ["`a`".to_string(), "`b`".to_string()];
        let vals = ["1".to_string(), "2".to_string()];
        assert_eq!(
            tuple_cmp(&cols, &vals, "<="),
            "((`a` < 1) OR (`a` = 1 AND `b` <= 2))"
        );
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(helper_table("orders", "gho"), "orders_gho");
        let long = "x".repeat(64);
        let h = helper_table(&long, "gho");
        assert_eq!(h.chars().count(), 64);
        assert!(h.as_str() > long.as_str(), "sorts after the table");
        assert_ne!(h, helper_table(&format!("{}y", "x".repeat(63)), "gho"));
        // Every long name sorts after its table, byte for byte, whatever
        // its characters (a name of 'ü's once sorted before: writes lost).
        for table in [
            "ü".repeat(64),
            "~".repeat(64),
            format!("{}{}", "a".repeat(40), "\u{FF5E}".repeat(24)),
            "\u{FFEE}".repeat(64),
            "z".repeat(64),
        ] {
            for suffix in ["gho", "0a1b2c3d_del"] {
                let h = helper_table(&table, suffix);
                assert!(h.chars().count() <= 64, "{h}");
                assert!(h.as_bytes() > table.as_bytes(), "{h} sorts after {table}");
            }
        }
    }
}
