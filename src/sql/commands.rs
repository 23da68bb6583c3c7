//! The proxy's own commands, read with the server's lexer in the client's
//! dialect (comments, quotes, and its `NO_BACKSLASH_ESCAPES` /
//! `ANSI_QUOTES`, as the server would read a string there): `SHOW MIGRATIONS [LIKE '<p>' | WHERE <col> = '<v>' [AND …]]
//! [LIMIT n]`, `SHOW MIGRATION '<id>'` and `ALTER MIGRATION '<id>' | ALL
//! <action>`. Anything after a known form is refused, never ignored: a
//! filter the proxy silently dropped would show rows the user did not ask
//! for, and a trailing statement would look as if it had run.

use super::lexer::{lex, Dialect, Token, TokenKind};

/// A proxy command, as read from the client's text.
#[derive(Debug, PartialEq)]
pub enum MigrationCommand {
    /// `SHOW MIGRATIONS` with its filter.
    Show(ShowFilter),
    /// `SHOW MIGRATION '<id>'`.
    ShowOne(String),
    /// `ALTER MIGRATION '<id>' <action>` / `ALTER MIGRATION ALL <action>`.
    Alter { target: Target, action: Action },
    /// Not a form the proxy knows: the form it expected.
    Invalid(&'static str),
}

/// What `SHOW MIGRATIONS` lists; the server evaluates the patterns and
/// comparisons (see `migration::store::list`), the proxy only names them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ShowFilter {
    /// `LIKE '<pattern>'`: matched against the id and the table name.
    pub like: Option<String>,
    /// `WHERE col = 'value' [AND …]`: lower-case column names as written.
    pub equal: Vec<(String, String)>,
    /// `LIMIT n`: applied after the rows the client may not see are removed.
    pub limit: Option<u64>,
}

/// Which migrations an `ALTER MIGRATION` applies to.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Target {
    Id(String),
    /// Every migration the client may change to which the action applies.
    All,
}

/// `ALTER MIGRATION` actions.
#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Action {
    Complete,
    Cancel,
    Pause,
    Resume,
    /// `THROTTLE [RATIO r]`: the copy works `1 - r` of the time (1: stopped).
    Throttle(f64),
    Unthrottle,
    Retry,
    Cleanup,
}

impl Action {
    /// The action as text another instance reads back with `from_text`.
    pub fn to_text(self) -> String {
        match self {
            Action::Throttle(r) => format!("THROTTLE {r}"),
            a => a.name().to_string(),
        }
    }

    pub fn from_text(text: &str) -> Option<Action> {
        let mut words = text.split_whitespace();
        match words.next()? {
            "THROTTLE" => Some(Action::Throttle(words.next()?.parse().ok()?)),
            word => Action::without_argument(word),
        }
    }

    /// The actions that take no argument, by their keyword.
    fn without_argument(word: &str) -> Option<Action> {
        Some(match word {
            "COMPLETE" => Action::Complete,
            "CANCEL" => Action::Cancel,
            "PAUSE" => Action::Pause,
            "RESUME" => Action::Resume,
            "UNTHROTTLE" => Action::Unthrottle,
            "RETRY" => Action::Retry,
            "CLEANUP" => Action::Cleanup,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Complete => "COMPLETE",
            Action::Cancel => "CANCEL",
            Action::Pause => "PAUSE",
            Action::Resume => "RESUME",
            Action::Throttle(_) => "THROTTLE",
            Action::Unthrottle => "UNTHROTTLE",
            Action::Retry => "RETRY",
            Action::Cleanup => "CLEANUP",
        }
    }
}

const SHOW_FORM: &str =
    "SHOW MIGRATIONS [LIKE '<pattern>' | WHERE <column> = '<value>' [AND …]] [LIMIT <n>]";
const ALTER_FORM: &str = "ALTER MIGRATION '<id>' | ALL  COMPLETE | CANCEL | PAUSE | RESUME | \
    THROTTLE [RATIO <0..1>] | UNTHROTTLE | RETRY | CLEANUP";

/// Reads a migration command in the client's `dialect`.
pub fn migration_command(sql: &[u8], dialect: &Dialect) -> MigrationCommand {
    let lexed = lex(sql, dialect);
    // A statement terminator at the very end is what clients send; one
    // anywhere else means a second statement, which is refused.
    let mut tokens: &[Token] = &lexed.tokens;
    if let [rest @ .., last] = tokens {
        if last.kind == TokenKind::Punct(b';') {
            tokens = rest;
        }
    }
    let mut r = Reader { sql, tokens };
    let command = read(&mut r);
    // An unterminated string or comment (or bytes the server will not lex)
    // is a syntax error on the server, never a command.
    match command {
        MigrationCommand::Show(_) if lexed.refused() => MigrationCommand::Invalid(SHOW_FORM),
        MigrationCommand::ShowOne(_) if lexed.refused() => {
            MigrationCommand::Invalid("SHOW MIGRATION '<id>'")
        }
        MigrationCommand::Alter { .. } if lexed.refused() => MigrationCommand::Invalid(ALTER_FORM),
        command => command,
    }
}

fn read(r: &mut Reader) -> MigrationCommand {
    match (r.word().as_str(), r.word().as_str()) {
        ("SHOW", "MIGRATIONS") => match show_filter(r) {
            Some(f) if r.done() => MigrationCommand::Show(f),
            _ => MigrationCommand::Invalid(SHOW_FORM),
        },
        ("SHOW", "MIGRATION") => match r.string() {
            Some(id) if r.done() => MigrationCommand::ShowOne(id),
            _ => MigrationCommand::Invalid("SHOW MIGRATION '<id>'"),
        },
        ("ALTER", "MIGRATION") => {
            let target = match r.string() {
                Some(id) => Target::Id(id),
                None if r.peek_word("ALL") => {
                    r.word();
                    Target::All
                }
                None => return MigrationCommand::Invalid(ALTER_FORM),
            };
            match action(r) {
                Some(action) if r.done() => MigrationCommand::Alter { target, action },
                _ => MigrationCommand::Invalid(ALTER_FORM),
            }
        }
        _ => MigrationCommand::Invalid(SHOW_FORM),
    }
}

fn show_filter(r: &mut Reader) -> Option<ShowFilter> {
    let mut f = ShowFilter::default();
    if r.peek_word("LIKE") {
        r.word();
        f.like = Some(r.string()?);
    } else if r.peek_word("WHERE") {
        r.word();
        loop {
            let column = r.identifier()?.to_ascii_lowercase();
            if !r.punct(b'=') {
                return None;
            }
            // A quoted value, or a number (`paused = 1`), compared as text.
            let value = match r.string() {
                Some(v) => v,
                None => r.number()?,
            };
            f.equal.push((column, value));
            if !r.peek_word("AND") {
                break;
            }
            r.word();
        }
    }
    if r.peek_word("LIMIT") {
        r.word();
        f.limit = Some(r.number()?.parse().ok()?);
    }
    Some(f)
}

fn action(r: &mut Reader) -> Option<Action> {
    Some(match r.word().as_str() {
        "THROTTLE" if r.peek_word("RATIO") => {
            r.word();
            let ratio: f64 = r.number()?.parse().ok()?;
            if !(0.0..=1.0).contains(&ratio) {
                return None;
            }
            Action::Throttle(ratio)
        }
        "THROTTLE" => Action::Throttle(1.0),
        word => return Action::without_argument(word),
    })
}

struct Reader<'a> {
    sql: &'a [u8],
    tokens: &'a [Token],
}

impl Reader<'_> {
    fn next(&mut self) -> Option<&Token> {
        let (first, rest) = self.tokens.split_first()?;
        self.tokens = rest;
        Some(first)
    }

    fn text(&self, t: &Token) -> String {
        String::from_utf8_lossy(self.sql.get(t.span.clone()).unwrap_or_default()).into_owned()
    }

    /// The next token as an upper-case keyword ("" if it is none).
    fn word(&mut self) -> String {
        match self.next().cloned() {
            Some(t) if t.kind == TokenKind::Word => self.text(&t).to_ascii_uppercase(),
            _ => String::new(),
        }
    }

    fn peek_word(&self, w: &str) -> bool {
        self.tokens
            .first()
            .is_some_and(|t| t.kind == TokenKind::Word && self.text(t).eq_ignore_ascii_case(w))
    }

    /// A string literal, as the session's mode reads one: under
    /// ANSI_QUOTES `"…"` is an identifier, and an identifier is no string
    /// here (the server would read a column name).
    fn string(&mut self) -> Option<String> {
        match &self.tokens.first()?.kind {
            TokenKind::Str(s) => {
                let s = String::from_utf8_lossy(s).into_owned();
                self.next();
                Some(s)
            }
            _ => None,
        }
    }

    fn identifier(&mut self) -> Option<String> {
        let t = self.next()?.clone();
        match t.kind {
            TokenKind::Word => Some(self.text(&t)),
            TokenKind::QuotedIdent(s) => Some(String::from_utf8_lossy(&s).into_owned()),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<String> {
        let t = self.next()?.clone();
        (t.kind == TokenKind::Number).then(|| self.text(&t))
    }

    fn punct(&mut self, c: u8) -> bool {
        let hit = self
            .tokens
            .first()
            .is_some_and(|t| t.kind == TokenKind::Punct(c));
        if hit {
            self.next();
        }
        hit
    }

    fn done(&self) -> bool {
        self.tokens.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::Flavour;
    use MigrationCommand::*;

    /// In the default SQL mode.
    fn migration_command(sql: &[u8]) -> MigrationCommand {
        super::migration_command(sql, &Dialect::new(Flavour::MariaDb, 101106))
    }

    #[test]
    fn strings_are_read_in_the_sessions_mode() {
        let mut nbe = Dialect::new(Flavour::MySql, 90704);
        nbe.no_backslash_escapes = true;
        // A backslash is an ordinary character there, as the server reads it.
        assert_eq!(
            super::migration_command(br"SHOW MIGRATION 'x\'", &nbe),
            ShowOne(r"x\".into())
        );
        // In the default mode that string never ends.
        assert!(matches!(
            migration_command(br"SHOW MIGRATION 'x\'"),
            Invalid(_)
        ));
        assert_eq!(
            super::migration_command(br"SHOW MIGRATIONS WHERE table_name = 'a\b'", &nbe),
            Show(ShowFilter {
                like: None,
                equal: vec![("table_name".into(), r"a\b".into())],
                limit: None
            })
        );
        assert_eq!(
            migration_command(br"SHOW MIGRATIONS LIKE 'a\\b'"),
            Show(ShowFilter {
                like: Some(r"a\b".into()),
                equal: vec![],
                limit: None
            })
        );
        assert_eq!(
            super::migration_command(br"SHOW MIGRATIONS LIKE 'a\\b'", &nbe),
            Show(ShowFilter {
                like: Some(r"a\\b".into()),
                equal: vec![],
                limit: None
            })
        );
    }

    #[test]
    fn double_quotes_are_a_string_only_where_the_mode_says_so() {
        let mut ansi = Dialect::new(Flavour::MySql, 90704);
        ansi.ansi_quotes = true;
        assert!(matches!(
            super::migration_command(br#"SHOW MIGRATIONS LIKE "t""#, &ansi),
            Invalid(_)
        ));
        assert!(matches!(
            super::migration_command(b"ALTER MIGRATION `x` CANCEL", &ansi),
            Invalid(_)
        ));
        assert_eq!(
            migration_command(br#"SHOW MIGRATIONS LIKE "t""#),
            Show(ShowFilter {
                like: Some("t".into()),
                equal: vec![],
                limit: None
            })
        );
    }

    #[test]
    fn show_forms() {
        assert_eq!(
            migration_command(b"show migrations"),
            Show(ShowFilter::default())
        );
        assert_eq!(
            migration_command(b"SHOW MIGRATION /* x */ 'ab-1';"),
            ShowOne("ab-1".into())
        );
        assert_eq!(
            migration_command(b"SHOW MIGRATIONS LIKE 'ord%' LIMIT 5"),
            Show(ShowFilter {
                like: Some("ord%".into()),
                equal: vec![],
                limit: Some(5)
            })
        );
        assert_eq!(
            migration_command(b"SHOW MIGRATIONS WHERE status = 'running' AND `Table_Name`='t'"),
            Show(ShowFilter {
                like: None,
                equal: vec![
                    ("status".into(), "running".into()),
                    ("table_name".into(), "t".into())
                ],
                limit: None
            })
        );
    }

    #[test]
    fn alter_forms() {
        assert_eq!(
            migration_command(b"alter migration \"ab\" complete"),
            Alter {
                target: Target::Id("ab".into()),
                action: Action::Complete
            }
        );
        assert_eq!(
            migration_command(b"ALTER MIGRATION 'x' THROTTLE RATIO 0.25;"),
            Alter {
                target: Target::Id("x".into()),
                action: Action::Throttle(0.25)
            }
        );
        assert_eq!(
            migration_command(b"ALTER MIGRATION ALL PAUSE"),
            Alter {
                target: Target::All,
                action: Action::Pause
            }
        );
    }

    #[test]
    fn actions_round_trip_as_text() {
        for a in [
            Action::Pause,
            Action::Throttle(0.25),
            Action::Cancel,
            Action::Complete,
        ] {
            assert_eq!(Action::from_text(&a.to_text()), Some(a));
        }
        assert_eq!(Action::from_text("THROTTLE"), None);
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            &b"SHOW MIGRATION"[..],
            b"SHOW MIGRATION '' OR 1=1 -- '",
            b"SHOW MIGRATIONS WHERE 1=1",
            b"SHOW MIGRATIONS WHERE status = 'x' OR 1",
            b"SHOW MIGRATIONS WHERE status != 'x'",
            b"SHOW MIGRATIONS WHERE paused = x",
            b"SHOW MIGRATIONS LIMIT 1, 2",
            b"SHOW MIGRATIONS LIKE 'a'; DROP TABLE t",
            b"ALTER MIGRATION 'a' COMPLETE; DROP TABLE t",
            b"ALTER MIGRATION 'a' COMPLETE;;",
            b"ALTER MIGRATION 'a'",
            b"ALTER MIGRATION 'a' THROTTLE RATIO 2",
            b"ALTER MIGRATION 'a' THROTTLE RATIO",
            b"ALTER MIGRATION 'a' FROBNICATE",
            b"ALTER MIGRATION a PAUSE",
            b"SHOW MIGRATION 'abc",
            b"ALTER MIGRATION 'a' PAUSE /* x",
        ] {
            assert!(
                matches!(migration_command(bad), Invalid(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
