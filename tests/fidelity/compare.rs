//! A table as both sides are compared: its SHOW CREATE TABLE (name
//! normalised) and its rows as the server's raw text-protocol bytes.

use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};

pub struct Table {
    pub create: String,
    pub columns: Vec<String>,
    /// Sorted by bytes: rows equal under a collation but not in bytes must
    /// not make the order depend on the physical layout.
    pub rows: Vec<Vec<Option<Vec<u8>>>>,
}

impl Table {
    /// Reads `name` on a connection whose results are raw bytes in UTC.
    pub async fn read(d: &mut Conn, name: &str) -> Result<Table, String> {
        let (_, create): (Vec<u8>, Vec<u8>) = d
            .query_first(format!("SHOW CREATE TABLE `{name}`"))
            .await
            .map_err(|e| format!("SHOW CREATE TABLE {name}: {e}"))?
            .ok_or("SHOW CREATE TABLE: no row")?;
        let create = normalise(&String::from_utf8_lossy(&create), name);
        let result: Vec<Row> = d
            .query(format!("SELECT * FROM `{name}`"))
            .await
            .map_err(|e| format!("SELECT {name}: {e}"))?;
        let columns = result
            .first()
            .map(|r| {
                r.columns_ref()
                    .iter()
                    .map(|c| c.name_str().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut rows: Vec<Vec<Option<Vec<u8>>>> = result
            .into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        Value::NULL => None,
                        Value::Bytes(b) => Some(b),
                        other => Some(other.as_sql(true).into_bytes()),
                    })
                    .collect()
            })
            .collect();
        rows.sort();
        Ok(Table {
            create,
            columns,
            rows,
        })
    }
}

fn normalise(create: &str, name: &str) -> String {
    create.replacen(&format!("CREATE TABLE `{name}`"), "CREATE TABLE `T`", 1)
}

/// What differs between ghostwire's table and the native one, briefly:
/// the SHOW CREATE TABLE lines only one side has, else the row counts and
/// the first differing row.
pub fn first_difference(ghostwire: &Table, native: &Table) -> Option<String> {
    if ghostwire.create != native.create {
        let g: Vec<&str> = ghostwire.create.lines().collect();
        let n: Vec<&str> = native.create.lines().collect();
        let only = |a: &[&str], b: &[&str]| {
            a.iter()
                .filter(|l| !b.contains(l))
                .take(4)
                .map(|l| l.trim().trim_end_matches(','))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        return Some(format!(
            "SHOW CREATE TABLE differs: ghostwire `{}` vs native `{}`",
            only(&g, &n),
            only(&n, &g)
        ));
    }
    let (g, n) = (&ghostwire.rows, &native.rows);
    let i = g.iter().zip(n).position(|(a, b)| a != b);
    let counts = if g.len() != n.len() {
        format!("{} rows vs native {}; ", g.len(), n.len())
    } else {
        String::new()
    };
    let Some(i) = i else {
        if g.len() == n.len() {
            return None;
        }
        let (extra, side) = if g.len() > n.len() {
            (&g[n.len()], "ghostwire")
        } else {
            (&n[g.len()], "native")
        };
        return Some(format!("{counts}only {side} has ({})", row_text(extra)));
    };
    let cols: Vec<String> = g[i]
        .iter()
        .zip(&n[i])
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .take(4)
        .map(|(c, (a, b))| {
            let name = ghostwire.columns.get(c).map(String::as_str).unwrap_or("?");
            format!("{name}: {} vs native {}", value_text(a), value_text(b))
        })
        .collect();
    Some(format!(
        "{counts}first differing row ({}): {}",
        row_text(&g[i]),
        cols.join(", ")
    ))
}

fn row_text(row: &[Option<Vec<u8>>]) -> String {
    let mut s = row
        .iter()
        .take(6)
        .map(value_text)
        .collect::<Vec<_>>()
        .join(", ");
    if row.len() > 6 {
        s.push_str(", …");
    }
    s
}

/// A value as text when it is printable UTF-8, else as hex.
fn value_text(v: &Option<Vec<u8>>) -> String {
    match v {
        None => "NULL".into(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) if !s.chars().any(char::is_control) => {
                let short: String = s.chars().take(40).collect();
                let more = if short.len() < s.len() { "…" } else { "" };
                format!("'{short}{more}'")
            }
            _ => {
                let hex: String = b.iter().take(24).map(|x| format!("{x:02X}")).collect();
                let more = if b.len() > 24 { "…" } else { "" };
                format!("0x{hex}{more}")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(create: &str, rows: &[&[Option<&[u8]>]]) -> Table {
        Table {
            create: create.into(),
            columns: vec!["id".into(), "v".into()],
            rows: rows
                .iter()
                .map(|r| r.iter().map(|v| v.map(<[u8]>::to_vec)).collect())
                .collect(),
        }
    }

    #[test]
    fn equal_tables_have_no_difference() {
        let a = table("CREATE TABLE `T` (\n  `id` int\n)", &[&[Some(b"1"), None]]);
        let b = table("CREATE TABLE `T` (\n  `id` int\n)", &[&[Some(b"1"), None]]);
        assert_eq!(first_difference(&a, &b), None);
    }

    #[test]
    fn every_kind_of_difference_is_reported() {
        let base = table(
            "CREATE TABLE `T` (\n  `id` int,\n  `v` int\n)",
            &[&[Some(b"1"), None]],
        );
        let ddl = table(
            "CREATE TABLE `T` (\n  `id` int,\n  `v` bigint\n)",
            &[&[Some(b"1"), None]],
        );
        let d = first_difference(&ddl, &base).unwrap();
        assert!(d.contains("`v` bigint") && d.contains("`v` int"), "{d}");
        // One byte apart: 'é' in latin1 vs in utf8.
        let latin1 = table(&base.create, &[&[Some(b"1"), Some(b"\xE9")]]);
        let utf8 = table(&base.create, &[&[Some(b"1"), Some("é".as_bytes())]]);
        let d = first_difference(&latin1, &utf8).unwrap();
        assert!(d.contains("v: 0xE9 vs native 'é'"), "{d}");
        let null = table(&base.create, &[&[Some(b"1"), Some(b"")]]);
        let d = first_difference(&null, &base).unwrap();
        assert!(d.contains("v: '' vs native NULL"), "{d}");
        let more = table(&base.create, &[&[Some(b"1"), None], &[Some(b"2"), None]]);
        let d = first_difference(&more, &base).unwrap();
        assert!(
            d.contains("2 rows vs native 1") && d.contains("only ghostwire has ('2', NULL)"),
            "{d}"
        );
    }

    #[test]
    fn only_the_table_name_is_normalised() {
        assert_eq!(
            normalise("CREATE TABLE `x_n` (\n  `x_n` int\n)", "x_n"),
            "CREATE TABLE `T` (\n  `x_n` int\n)"
        );
    }
}
