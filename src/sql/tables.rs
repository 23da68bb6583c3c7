//! Which tables and commands a statement names, for routing: the cut-over
//! gate's word search (hot path, no parse), the gate's confirmation while a
//! gate closes (sqlparser), `USE db`, and the proxy's own migration
//! commands. None of it is a security decision: a statement the gate does
//! not recognise still meets the server's own locks.

use std::ops::ControlFlow;

use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::classify::{skip_space_and_comments, Words};
use super::lexer::{lex, Dialect, Flavour, TokenKind};

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

/// A proxy command, as read from the client's text.
#[derive(Debug, PartialEq, Eq)]
pub enum MigrationCommand {
    /// `SHOW MIGRATIONS` (`None`) or `SHOW MIGRATION '<id>'`.
    Show(Option<String>),
    /// `ALTER MIGRATION '<id>' <ACTION>` (action upper-cased).
    Alter { id: String, action: String },
    /// Not a form the proxy knows: the form it expected.
    Invalid(&'static str),
}

/// Reads `SHOW MIGRATIONS`, `SHOW MIGRATION '<id>'`, `ALTER MIGRATION '<id>'
/// <action>` with the server's lexer (comments, quotes).
pub fn migration_command(sql: &[u8]) -> MigrationCommand {
    let lexed = lex(sql, &Dialect::new(Flavour::MariaDb, 0));
    let mut toks = lexed
        .tokens
        .iter()
        .filter(|t| t.kind != TokenKind::Punct(b';'));
    let word = |t: Option<&super::lexer::Token>| -> String {
        t.filter(|t| t.kind == TokenKind::Word)
            .and_then(|t| sql.get(t.span.clone()))
            .map(|w| String::from_utf8_lossy(w).to_ascii_uppercase())
            .unwrap_or_default()
    };
    let string = |t: Option<&super::lexer::Token>| -> Option<String> {
        match &t?.kind {
            TokenKind::Str(s) | TokenKind::QuotedIdent(s) => {
                Some(String::from_utf8_lossy(s).into_owned())
            }
            _ => None,
        }
    };
    let first = word(toks.next());
    let second = word(toks.next());
    match (first.as_str(), second.as_str()) {
        // Anything after the command is refused, not ignored (LIKE and
        // WHERE are not supported yet).
        ("SHOW", "MIGRATIONS") if toks.next().is_none() => MigrationCommand::Show(None),
        ("SHOW", "MIGRATION") => match (string(toks.next()), toks.next()) {
            (Some(id), None) => MigrationCommand::Show(Some(id)),
            _ => MigrationCommand::Invalid("SHOW MIGRATION '<id>'"),
        },
        ("ALTER", "MIGRATION") => match (string(toks.next()), word(toks.next())) {
            (Some(id), action) if !action.is_empty() && toks.next().is_none() => {
                MigrationCommand::Alter { id, action }
            }
            _ => MigrationCommand::Invalid("ALTER MIGRATION '<id>' COMPLETE"),
        },
        _ => MigrationCommand::Invalid("SHOW MIGRATIONS"),
    }
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
        let d = Dialect::new(Flavour::MariaDb, 101106);
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

    #[test]
    fn commands() {
        use MigrationCommand::*;
        assert_eq!(migration_command(b"show migrations"), Show(None));
        assert_eq!(
            migration_command(b"SHOW MIGRATION /* x */ 'ab-1';"),
            Show(Some("ab-1".into()))
        );
        assert_eq!(
            migration_command(b"alter migration \"ab\" complete"),
            Alter {
                id: "ab".into(),
                action: "COMPLETE".into()
            }
        );
        assert!(matches!(migration_command(b"SHOW MIGRATION"), Invalid(_)));
        assert!(matches!(
            migration_command(b"SHOW MIGRATION '' OR 1=1 -- '"),
            Invalid(_)
        ));
        assert!(matches!(
            migration_command(b"SHOW MIGRATIONS WHERE 1=1"),
            Invalid(_)
        ));
        assert!(matches!(
            migration_command(b"ALTER MIGRATION 'a' COMPLETE; DROP TABLE t"),
            Invalid(_)
        ));
        assert!(matches!(
            migration_command(b"ALTER MIGRATION 'a'"),
            Invalid(_)
        ));
    }
}
