//! column_sources and decode_name cases.

use super::alter::{parse_alter, Op};
use super::columns::*;
use super::lexer::{Dialect, Flavour};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn sources(alter: &str, old: &[&str], new: &[&str]) -> Vec<Option<String>> {
    let a = parse_alter(alter.as_bytes(), &Dialect::new(Flavour::MariaDb, 101106)).unwrap();
    let ops = decode_ops(&a.ops, "utf8mb4").unwrap();
    column_sources(&ops, &s(old), &s(new))
}

fn some(v: &[&str]) -> Vec<Option<String>> {
    v.iter()
        .map(|x| (!x.is_empty()).then(|| x.to_string()))
        .collect()
}

#[test]
fn sources_follow_the_original_table() {
    // Both servers resolve CHANGE/DROP/… against the original table and ADD
    // creates a new column: a dropped then re-added column has no source.
    // Verified with data on MariaDB 10.11.19 and MySQL 9.7.4 (the first three
    // cases and RENAME COLUMN a TO b, ADD a).
    assert_eq!(
        sources(
            "ALTER TABLE t DROP COLUMN c1, ADD COLUMN c1 INT DEFAULT 47",
            &["id", "c1"],
            &["id", "c1"]
        ),
        some(&["id", ""])
    );
    assert_eq!(
        sources(
            "ALTER TABLE t CHANGE a b INT, CHANGE b a INT",
            &["a", "b"],
            &["b", "a"]
        ),
        some(&["a", "b"])
    );
    assert_eq!(
        sources(
            "ALTER TABLE t CHANGE a b INT, ADD a INT",
            &["a"],
            &["b", "a"]
        ),
        some(&["a", ""])
    );
    assert_eq!(
        sources(
            "ALTER TABLE t RENAME COLUMN a TO B, MODIFY c TEXT, ALTER COLUMN d SET DEFAULT 1",
            &["a", "c", "d"],
            &["B", "c", "d"]
        ),
        some(&["a", "c", "d"])
    );
    // Names compare case-insensitively.
    assert_eq!(
        sources(
            "ALTER TABLE t CHANGE A b INT, DROP C",
            &["a", "c", "d"],
            &["b", "D"]
        ),
        some(&["a", "d"])
    );
    // ADD IF NOT EXISTS is checked against the original table (verified on
    // MariaDB 10.11; MySQL has no IF NOT EXISTS here): a no-op even when the
    // same statement drops the column.
    assert_eq!(
        sources(
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT",
            &["id", "c"],
            &["id", "c"]
        ),
        some(&["id", "c"])
    );
    assert_eq!(
        sources(
            "ALTER TABLE t DROP c, ADD IF NOT EXISTS c INT",
            &["id", "c"],
            &["id"]
        ),
        some(&["id"])
    );
    assert_eq!(
        sources(
            "ALTER TABLE t CHANGE c d INT, ADD IF NOT EXISTS c INT, ADD IF NOT EXISTS e INT",
            &["id", "c"],
            &["id", "d", "e"]
        ),
        some(&["id", "c", ""])
    );
    assert_eq!(
        sources(
            "ALTER TABLE t ADD (x INT, y INT), DROP IF EXISTS z",
            &["id", "z"],
            &["id", "x", "y"]
        ),
        some(&["id", "", ""])
    );
    // Unknown new columns (e.g. versioning's row_start) have no source.
    assert_eq!(
        sources(
            "ALTER TABLE t ADD SYSTEM VERSIONING",
            &["id"],
            &["id", "row_start"]
        ),
        some(&["id", ""])
    );
    let ops = vec![Op::Change {
        old: "É".to_string(),
        new: "f".to_string(),
    }];
    assert_eq!(column_sources(&ops, &s(&["é"]), &s(&["f"])), some(&["é"]));
}

#[test]
fn decoding_names() {
    assert_eq!(
        decode_name("café".as_bytes(), "utf8mb4").as_deref(),
        Some("café")
    );
    assert_eq!(
        decode_name("café".as_bytes(), "UTF8MB3").as_deref(),
        Some("café")
    );
    assert_eq!(decode_name(b"caf\xe9", "utf8mb4"), None);
    assert_eq!(decode_name(b"caf\xe9", "latin1").as_deref(), Some("café"));
    // latin1 is Windows-1252: 0x80 is the euro sign, 0x81 stays a C1 control.
    assert_eq!(
        decode_name(b"\x80\x81\x9f", "latin1").as_deref(),
        Some("€\u{81}Ÿ")
    );
    assert_eq!(decode_name(b"abc", "ascii").as_deref(), Some("abc"));
    assert_eq!(decode_name("é".as_bytes(), "ascii"), None);
    assert_eq!(decode_name("é".as_bytes(), "binary").as_deref(), Some("é"));
    assert_eq!(decode_name(b"\xff", "binary"), None);
    assert_eq!(decode_name(b"abc", "sjis"), None);
    assert_eq!(decode_name(b"abc", "utf16"), None);
    let a = parse_alter(
        b"ALTER TABLE t CHANGE caf\xe9 x INT",
        &Dialect::new(Flavour::MySql, 90704),
    )
    .unwrap();
    assert_eq!(decode_ops(&a.ops, "utf8mb4"), None);
    assert_eq!(
        decode_ops(&a.ops, "latin1"),
        Some(vec![Op::Change {
            old: "café".into(),
            new: "x".into()
        }])
    );
}
