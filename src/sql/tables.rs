//! Which tables a statement names, for routing: the cut-over gate's word
//! search (hot path, no parse), the gate's confirmation while a gate closes
//! (sqlparser) and `USE db`. None of it is a security decision: a statement the gate does
//! not recognise still meets the server's own locks.

use std::ops::ControlFlow;

use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::classify::{skip_space_and_comments, Words};
use super::lexer::{lex, Dialect, TokenKind};

/// Whether `sql` contains `needle` (lower-case ASCII bytes of a table name)
/// as a whole word, in any case. Runs on every statement while a table is
/// watched: a byte scan, no allocation.
pub fn mentions_word(sql: &[u8], needle: &[u8]) -> bool {
    let n = needle.len();
    if n == 0 || sql.len() < n {
        return false;
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    (0..=sql.len() - n).any(|i| {
        sql.get(i..i + n)
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
            && (i == 0 || sql.get(i - 1).is_none_or(|b| !word(*b)))
            && sql.get(i + n).is_none_or(|b| !word(*b))
    })
}

/// Whether `sql` names `table` as an identifier (plain or quoted), as the
/// server's lexer reads it: a name inside a string or a comment does not
/// count. Runs only when `mentions_word` found the name, to keep a
/// statement such as `SELECT 'orders'` from holding up a cut-over.
pub fn names_identifier(sql: &[u8], table: &str, d: &Dialect) -> bool {
    let lexed = lex(sql, d);
    if lexed.unterminated || lexed.malformed {
        return true;
    }
    lexed.tokens.iter().any(|t| match &t.kind {
        TokenKind::Word => sql
            .get(t.span.clone())
            .is_some_and(|w| w.eq_ignore_ascii_case(table.as_bytes())),
        TokenKind::QuotedIdent(name) => name.eq_ignore_ascii_case(table.as_bytes()),
        _ => false,
    })
}

/// The database a `USE db` statement switches to.
pub fn use_target(text: &[u8]) -> Option<String> {
    let mut words = Words { rest: text };
    words.next().filter(|w| w.eq_ignore_ascii_case(b"USE"))?;
    let rest = skip_space_and_comments(words.rest);
    let rest = String::from_utf8_lossy(rest);
    let rest = rest.trim().trim_end_matches(';').trim();
    let name = match rest.strip_prefix('`') {
        Some(quoted) => quoted.strip_suffix('`')?.replace("``", "`"),
        None => rest.to_string(),
    };
    (!name.is_empty()).then_some(name)
}

/// Whether `sql` really reads or writes `schema.table`: parsed only while
/// a gate is not open. Unqualified names resolve against the session's
/// current database (unknown: any); text that cannot be parsed counts as
/// using it.
pub fn uses_table(sql: &str, db: Option<&str>, schema: &str, table: &str) -> bool {
    let Ok(statements) = Parser::parse_sql(&MySqlDialect {}, sql) else {
        return true;
    };
    let mut hit = false;
    let _ = sqlparser::ast::visit_relations(&statements, |name| {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
            .collect();
        let matches = match parts.as_slice() {
            [t] => {
                t.eq_ignore_ascii_case(table) && db.is_none_or(|d| d.eq_ignore_ascii_case(schema))
            }
            [s, t] => s.eq_ignore_ascii_case(schema) && t.eq_ignore_ascii_case(table),
            _ => false,
        };
        if matches {
            hit = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    hit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_statements() {
        assert_eq!(use_target(b"USE shop").as_deref(), Some("shop"));
        assert_eq!(use_target(b"use `my``db` ;").as_deref(), Some("my`db"));
        assert_eq!(
            use_target(b"/* c */ USE /* d */ shop").as_deref(),
            Some("shop")
        );
        assert_eq!(use_target(b"USE"), None);
    }

    #[test]
    fn identifiers_not_strings() {
        let d = Dialect::new(super::super::lexer::Flavour::MariaDb, 101106);
        assert!(names_identifier(b"SELECT * FROM orders", "orders", &d));
        assert!(names_identifier(b"SELECT * FROM `Orders`", "orders", &d));
        assert!(!names_identifier(b"SELECT 'orders'", "orders", &d));
        assert!(!names_identifier(b"SELECT 1 /* orders */", "orders", &d));
        assert!(names_identifier(
            b"SELECT 'unterminated orders",
            "orders",
            &d
        ));
    }

    #[test]
    fn words() {
        assert!(mentions_word(b"select * from Orders where x", b"orders"));
        assert!(!mentions_word(b"select * from orders2", b"orders"));
        assert!(!mentions_word(b"", b"orders"));
    }
}
