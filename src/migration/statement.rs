//! Reads a client's `ALTER TABLE` text: the table it names, its body (kept
//! as the original text, never re-printed from a parse tree), ghostwire
//! hints in comments, renamed columns, and the forms an online migration
//! cannot run.
//!
//! A small tokenizer instead of sqlparser: sqlparser rejects many real
//! ALTERs (`ENGINE=`, `CONVERT TO CHARACTER SET`, `FORCE`, …), and all we
//! need is the table name, the body's byte range and a few keywords.

use super::Hints;

/// Why an ALTER cannot be run online (each says what to do instead).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("ghostwire: send ALTER TABLE alone, not in a multi-statement query (or add /* ghostwire: direct */ to run it on the server as is)")]
    MultiStatement,
    #[error("ghostwire: ALTER TABLE … RENAME TO cannot run as an online migration; run it with /* ghostwire: direct */ (a rename is instant)")]
    RenameTable,
    #[error("ghostwire: partition and tablespace operations cannot run as an online migration; run them with /* ghostwire: direct */")]
    Partition,
    #[error("ghostwire: unknown hint '{0}' (known: online, direct, async, postpone)")]
    UnknownHint(String),
    #[error("ghostwire: cannot read the table name of this ALTER TABLE")]
    NoTable,
}

/// A parsed `ALTER TABLE`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlterStatement {
    /// `db` of `db.t`, when the statement names one.
    pub schema: Option<String>,
    pub table: String,
    /// The statement text after the table name, trimmed of a trailing `;`.
    pub body: String,
    /// `ALTER IGNORE TABLE`: rows that collide on a new unique key are dropped.
    pub ignore: bool,
    pub hints: Hints,
    /// Columns renamed by `CHANGE old new` / `RENAME COLUMN old TO new`.
    pub renames: Vec<(String, String)>,
    /// The body names its own `ALGORITHM=`: do not try INSTANT on top of it.
    pub algorithm_given: bool,
    /// The body sets the table's `AUTO_INCREMENT` counter itself.
    pub sets_auto_increment: bool,
}

impl AlterStatement {
    /// An ALTER with nothing after the table name: a no-op the server runs.
    pub fn is_empty(&self) -> bool {
        self.body.trim().is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// Unquoted word (keyword or identifier).
    Word(String),
    /// Backquoted identifier, unescaped.
    Ident(String),
    /// String literal (content not kept).
    Str,
    Punct(u8),
}

impl Tok {
    fn is_word(&self, w: &str) -> bool {
        matches!(self, Tok::Word(x) if x.eq_ignore_ascii_case(w))
    }
    fn name(&self) -> Option<&str> {
        match self {
            Tok::Word(x) | Tok::Ident(x) => Some(x),
            _ => None,
        }
    }
}

struct Lexed {
    /// Tokens with the byte offset just past each.
    toks: Vec<(Tok, usize)>,
    /// Text of `/* … */` comments (not executable ones) for hints.
    comments: Vec<String>,
}

fn lex(sql: &str) -> Lexed {
    let b = sql.as_bytes();
    let (mut i, mut toks, mut comments) = (0, Vec::new(), Vec::new());
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"/*!") || b[i..].starts_with(b"/*M!") {
            // Executable comment: its content is SQL. Skip the marker and
            // version; the closing */ is skipped below.
            i += if b[i + 2] == b'M' { 4 } else { 3 };
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        } else if b[i..].starts_with(b"*/") {
            i += 2;
        } else if b[i..].starts_with(b"/*") {
            let end = sql[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e);
            comments.push(sql[i + 2..end].to_string());
            i = (end + 2).min(b.len());
        } else if c == b'#'
            || (b[i..].starts_with(b"--") && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()))
        {
            i = sql[i..].find('\n').map_or(b.len(), |e| i + e + 1);
        } else if c == b'`' || c == b'\'' || c == b'"' {
            let (content, end) = quoted(b, i);
            let tok = if c == b'`' {
                Tok::Ident(String::from_utf8_lossy(&content).into_owned())
            } else {
                Tok::Str
            };
            toks.push((tok, end));
            i = end;
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            toks.push((Tok::Word(sql[start..i].to_string()), i));
        } else {
            toks.push((Tok::Punct(c), i + 1));
            i += 1;
        }
    }
    Lexed { toks, comments }
}

/// Content and end offset of a quoted token starting at `start`; a doubled
/// quote or (for strings) a backslash escapes.
fn quoted(b: &[u8], start: usize) -> (Vec<u8>, usize) {
    let q = b[start];
    let (mut i, mut out) = (start + 1, Vec::new());
    while i < b.len() {
        match b[i] {
            x if x == q && b.get(i + 1) == Some(&q) => {
                out.push(q);
                i += 2;
            }
            x if x == q => return (out, i + 1),
            b'\\' if q != b'`' && i + 1 < b.len() => {
                out.push(b[i + 1]);
                i += 2;
            }
            x => {
                out.push(x);
                i += 1;
            }
        }
    }
    (out, b.len())
}

/// Hint words in `/* ghostwire: … */` comments (also `/*+ ghostwire: … */`).
pub fn hints_in_comments<'a>(
    comments: impl IntoIterator<Item = &'a str>,
) -> Result<Hints, StatementError> {
    let mut hints = Hints::default();
    for c in comments {
        let c = c.trim_start_matches('+').trim();
        let Some(rest) = c
            .get(..9)
            .filter(|p| p.eq_ignore_ascii_case("ghostwire"))
            .map(|_| c[9..].trim_start())
        else {
            continue;
        };
        let Some(words) = rest.strip_prefix(':') else {
            continue;
        };
        hints.merge(Hints::parse(words)?);
    }
    Ok(hints)
}

/// The `/* … */` comments of a statement (for hints), without parsing it.
pub fn comments(sql: &str) -> Result<Vec<String>, StatementError> {
    Ok(lex(sql).comments)
}

/// The value assigned to `@ghostwire` in a `SET` statement: the string's
/// content, or "" for NULL / an empty string. None when not assigned.
pub fn session_hint_value(sql: &str) -> Option<String> {
    let toks = lex(sql).toks;
    let b = sql.as_bytes();
    let at = toks.iter().position(|(t, end)| {
        t.is_word("ghostwire") && {
            let start = end - "ghostwire".len();
            start > 0 && b[start - 1] == b'@' && (start < 2 || b[start - 2] != b'@')
        }
    })?;
    let mut i = at + 1;
    if toks.get(i).map(|t| &t.0) == Some(&Tok::Punct(b':')) {
        i += 1;
    }
    if toks.get(i).map(|t| &t.0) != Some(&Tok::Punct(b'=')) {
        return None;
    }
    let (tok, end) = toks.get(i + 1)?;
    match tok {
        Tok::Str => {
            let start = toks[i].1;
            let from = start + sql[start..].find(['\'', '"'])?;
            Some(String::from_utf8_lossy(&quoted(b, from).0).into_owned())
        }
        t if t.is_word("NULL") => Some(String::new()),
        _ => {
            let _ = end;
            None
        }
    }
}

/// Parses `ALTER [ONLINE] [IGNORE] TABLE name body`.
pub fn parse(sql: &str) -> Result<AlterStatement, StatementError> {
    let Lexed { toks, comments } = lex(sql);
    let hints = hints_in_comments(comments.iter().map(String::as_str))?;
    let mut i = 0;
    let mut ignore = false;
    while i < toks.len() && !toks[i].0.is_word("TABLE") {
        ignore |= toks[i].0.is_word("IGNORE");
        i += 1;
    }
    i += 1;
    let first = toks
        .get(i)
        .and_then(|t| t.0.name())
        .ok_or(StatementError::NoTable)?;
    let (schema, table, mut end) = if toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Punct(b'.')) {
        let t = toks
            .get(i + 2)
            .and_then(|t| t.0.name())
            .ok_or(StatementError::NoTable)?;
        (Some(first.to_string()), t.to_string(), i + 3)
    } else {
        (None, first.to_string(), i + 1)
    };
    let body_start = toks[end - 1].1;
    // Trailing semicolons end the statement; anything after one is a second statement.
    let mut body_end = sql.len();
    let mut last = toks.len();
    while last > end && toks[last - 1].0 == Tok::Punct(b';') {
        last -= 1;
        body_end = toks[last].1 - 1;
    }
    if toks[end..last].iter().any(|t| t.0 == Tok::Punct(b';')) {
        return Err(StatementError::MultiStatement);
    }
    let body = sql[body_start..body_end].trim().to_string();
    let mut renames = Vec::new();
    let mut algorithm_given = false;
    let mut sets_auto_increment = false;
    let mut depth = 0i32;
    while end < last {
        let t = &toks[end].0;
        match t {
            Tok::Punct(b'(') => depth += 1,
            Tok::Punct(b')') => depth -= 1,
            _ if depth != 0 => {}
            Tok::Word(w) => {
                algorithm_given |= w.eq_ignore_ascii_case("ALGORITHM");
                sets_auto_increment |= w.eq_ignore_ascii_case("AUTO_INCREMENT")
                    && toks[end + 1..last].first().is_some_and(|t| match &t.0 {
                        Tok::Punct(b'=') => true,
                        Tok::Word(n) => n.bytes().all(|b| b.is_ascii_digit()),
                        _ => false,
                    });
                check_clause(w, &toks[end + 1..last], &mut renames)?
            }
            _ => {}
        }
        end += 1;
    }
    Ok(AlterStatement {
        schema,
        table,
        body,
        ignore,
        hints,
        renames,
        algorithm_given,
        sets_auto_increment,
    })
}

/// Looks at one top-level keyword of the body and what follows it.
fn check_clause(
    word: &str,
    next: &[(Tok, usize)],
    renames: &mut Vec<(String, String)>,
) -> Result<(), StatementError> {
    let name = |i: usize| next.get(i).and_then(|t| t.0.name()).map(str::to_string);
    let up = word.to_ascii_uppercase();
    match up.as_str() {
        "PARTITION" | "PARTITIONING" | "TABLESPACE" | "DISCARD" | "IMPORT" => {
            Err(StatementError::Partition)
        }
        "RENAME" => {
            let what = next.first().map(|t| &t.0);
            if what.is_some_and(|t| t.is_word("COLUMN")) {
                if let (Some(old), Some(new)) = (name(1), name(3)) {
                    renames.push((old, new));
                }
                Ok(())
            } else if what.is_some_and(|t| t.is_word("INDEX") || t.is_word("KEY")) {
                Ok(())
            } else {
                Err(StatementError::RenameTable)
            }
        }
        "CHANGE" => {
            let mut k = usize::from(next.first().is_some_and(|t| t.0.is_word("COLUMN")));
            if next.get(k).is_some_and(|t| t.0.is_word("IF")) {
                k += 2; // IF EXISTS (MariaDB)
            }
            if let (Some(old), Some(new)) = (name(k), name(k + 1)) {
                if !old.eq_ignore_ascii_case(&new) {
                    renames.push((old, new));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_body_and_hints() {
        let s = parse("/* ghostwire: async postpone */ ALTER TABLE `shop`.`or``ders` ADD COLUMN c INT, ENGINE=InnoDB ;").unwrap();
        assert_eq!(s.schema.as_deref(), Some("shop"));
        assert_eq!(s.table, "or`ders");
        assert_eq!(s.body, "ADD COLUMN c INT, ENGINE=InnoDB");
        assert!(s.hints.async_ && s.hints.postpone && !s.hints.direct);
        let s = parse("alter online ignore table t /*+ GhostWire:direct */ force").unwrap();
        assert!(s.ignore && s.hints.direct);
        assert_eq!((s.schema, s.table.as_str()), (None, "t"));
        assert_eq!(s.body, "/*+ GhostWire:direct */ force");
        assert!(parse("ALTER TABLE t").unwrap().is_empty());
        assert_eq!(
            parse("ALTER TABLE t /* ghostwire: fast */ FORCE"),
            Err(StatementError::UnknownHint("fast".into()))
        );
    }

    #[test]
    fn refusals() {
        use StatementError::*;
        for (sql, want) in [
            ("ALTER TABLE t ADD c INT; SELECT 1", MultiStatement),
            ("ALTER TABLE t RENAME TO u", RenameTable),
            ("ALTER TABLE t RENAME u", RenameTable),
            ("ALTER TABLE t ADD c INT, RENAME AS u", RenameTable),
            (
                "ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 4",
                Partition,
            ),
            ("ALTER TABLE t REMOVE PARTITIONING", Partition),
            ("ALTER TABLE t /*!50100 PARTITION BY KEY() */", Partition),
            ("ALTER TABLE t DISCARD TABLESPACE", Partition),
        ] {
            assert_eq!(parse(sql), Err(want), "{sql}");
        }
        // Keywords inside strings, parentheses or comments do not count.
        let ok = parse("ALTER TABLE t ADD c INT COMMENT 'rename; partition', ADD d INT DEFAULT (1) -- partition\n").unwrap();
        assert_eq!(
            ok.body,
            "ADD c INT COMMENT 'rename; partition', ADD d INT DEFAULT (1) -- partition"
        );
    }

    #[test]
    fn session_variable() {
        assert_eq!(
            session_hint_value("SET @ghostwire = 'online async'").as_deref(),
            Some("online async")
        );
        assert_eq!(
            session_hint_value("set @a=1, @GhostWire:=\"direct\"").as_deref(),
            Some("direct")
        );
        assert_eq!(
            session_hint_value("SET @ghostwire = NULL").as_deref(),
            Some("")
        );
        assert_eq!(session_hint_value("SET @@ghostwire = 1"), None);
        assert_eq!(session_hint_value("SET @ghostwirex = 'a'"), None);
    }

    #[test]
    fn auto_increment_option() {
        for (sql, want) in [
            ("ALTER TABLE t AUTO_INCREMENT = 7", true),
            ("ALTER TABLE t ADD c INT, AUTO_INCREMENT 7", true),
            ("ALTER TABLE t MODIFY id INT AUTO_INCREMENT", false),
            (
                "ALTER TABLE t MODIFY id INT AUTO_INCREMENT, ADD c INT",
                false,
            ),
        ] {
            assert_eq!(parse(sql).unwrap().sets_auto_increment, want, "{sql}");
        }
    }

    #[test]
    fn renamed_columns() {
        let s = parse("ALTER TABLE t CHANGE a b INT, CHANGE COLUMN `c` `d` TEXT, CHANGE e e BIGINT, RENAME COLUMN f TO g, RENAME INDEX i TO j").unwrap();
        assert_eq!(
            s.renames,
            vec![
                ("a".into(), "b".into()),
                ("c".into(), "d".into()),
                ("f".into(), "g".into())
            ]
        );
    }
}
