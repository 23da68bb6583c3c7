//! Classifies COM_QUERY / COM_STMT_PREPARE text by its leading keywords.
//!
//! Runs on every query, so it never allocates and looks at no more than the
//! first two or three words (after whitespace and comments). Table extraction
//! for the cut-over gate is a separate, slower path used only while a gate is
//! closing.

/// What the proxy does with a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Relay unchanged.
    Passthrough,
    /// `ALTER [ONLINE] [IGNORE] TABLE …`: a candidate for an online migration.
    AlterTable,
    /// `SHOW MIGRATIONS`, `SHOW MIGRATION '<id>'`, `ALTER MIGRATION …`:
    /// answered by the proxy.
    MigrationCommand,
    /// `CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX …` or `DROP INDEX …`: a
    /// candidate for an online migration as its equivalent `ALTER TABLE`.
    IndexDdl,
    /// `SET … @ghostwire …`: the session notes its hints, then relays it.
    SetHint,
    /// `USE db`: the session follows its current database.
    Use,
}

/// Classifies statement text.
#[inline]
pub fn classify(sql: &[u8]) -> Class {
    let mut words = Words { rest: sql };
    let Some(first) = words.next() else {
        return Class::Passthrough;
    };
    if first.eq_ignore_ascii_case(b"ALTER") {
        let mut w = words.next();
        while w
            .is_some_and(|w| w.eq_ignore_ascii_case(b"ONLINE") || w.eq_ignore_ascii_case(b"IGNORE"))
        {
            w = words.next();
        }
        match w {
            Some(w) if w.eq_ignore_ascii_case(b"TABLE") => Class::AlterTable,
            Some(w) if w.eq_ignore_ascii_case(b"MIGRATION") => Class::MigrationCommand,
            _ => Class::Passthrough,
        }
    } else if first.eq_ignore_ascii_case(b"SHOW") {
        match words.next() {
            Some(w)
                if w.eq_ignore_ascii_case(b"MIGRATIONS")
                    || w.eq_ignore_ascii_case(b"MIGRATION") =>
            {
                Class::MigrationCommand
            }
            _ => Class::Passthrough,
        }
    } else if first.eq_ignore_ascii_case(b"CREATE") {
        let mut w = words.next();
        if w.is_some_and(|w| {
            w.eq_ignore_ascii_case(b"UNIQUE")
                || w.eq_ignore_ascii_case(b"FULLTEXT")
                || w.eq_ignore_ascii_case(b"SPATIAL")
        }) {
            w = words.next();
        }
        match w {
            Some(w) if w.eq_ignore_ascii_case(b"INDEX") => Class::IndexDdl,
            _ => Class::Passthrough,
        }
    } else if first.eq_ignore_ascii_case(b"DROP") {
        match words.next() {
            Some(w) if w.eq_ignore_ascii_case(b"INDEX") => Class::IndexDdl,
            _ => Class::Passthrough,
        }
    } else if first.eq_ignore_ascii_case(b"USE") {
        Class::Use
    } else if first.eq_ignore_ascii_case(b"SET") && mentions_hint_variable(words.rest) {
        Class::SetHint
    } else {
        Class::Passthrough
    }
}

/// Only SET statements are searched, so this stays off the hot path.
fn mentions_hint_variable(rest: &[u8]) -> bool {
    rest.windows(10)
        .any(|w| w.eq_ignore_ascii_case(b"@ghostwire"))
}

/// Iterator over leading words, skipping whitespace and comments.
pub(crate) struct Words<'a> {
    pub(crate) rest: &'a [u8],
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.rest = skip_space_and_comments(self.rest);
        let len = self
            .rest
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$'))
            .unwrap_or(self.rest.len());
        if len == 0 {
            return None;
        }
        let (word, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(word)
    }
}

/// Skips whitespace, `/* … */`, `-- …` and `# …` comments.
pub(crate) fn skip_space_and_comments(mut s: &[u8]) -> &[u8] {
    loop {
        match s {
            [b, rest @ ..] if b.is_ascii_whitespace() => s = rest,
            [b'/', b'*', rest @ ..] => {
                s = match rest.windows(2).position(|w| w == b"*/") {
                    Some(end) => &rest[end + 2..],
                    None => &[],
                }
            }
            // "--" starts a comment when followed by a space or control
            // character or the end (as the server's lexer; `--\x01` too).
            [b'-', b'-', rest @ ..]
                if rest
                    .first()
                    .is_none_or(|c| (1..=0x20).contains(c) || *c == 0x7f) =>
            {
                s = skip_line(rest)
            }
            [b'#', rest @ ..] => s = skip_line(rest),
            _ => return s,
        }
    }
}

fn skip_line(s: &[u8]) -> &[u8] {
    match s.iter().position(|b| *b == b'\n') {
        Some(i) => &s[i + 1..],
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_after_comments_and_case() {
        let cases: &[(&str, Class)] = &[
            ("SELECT 1", Class::Passthrough),
            ("alter table t add column c int", Class::AlterTable),
            (
                "  /* hi */ -- x\n # y\n ALTER\tONLINE IGNORE TABLE t FORCE",
                Class::AlterTable,
            ),
            (
                "/* ghostwire: async */ALTER TABLE t FORCE",
                Class::AlterTable,
            ),
            ("ALTER USER x", Class::Passthrough),
            ("ALTER TABLESPACE x", Class::Passthrough),
            ("alter migration 'x' cancel", Class::MigrationCommand),
            ("show migrations", Class::MigrationCommand),
            ("SHOW MIGRATION 'abc'", Class::MigrationCommand),
            ("SHOW MIGRATIONSX", Class::Passthrough),
            ("SHOW TABLES", Class::Passthrough),
            ("SET @GhostWire = 'async'", Class::SetHint),
            ("SET autocommit = 1", Class::Passthrough),
            ("use `shop`", Class::Use),
            ("CREATE INDEX i ON t (v)", Class::IndexDdl),
            ("create unique index i on t (v)", Class::IndexDdl),
            ("/* x */ CREATE\nFULLTEXT INDEX i ON t (v)", Class::IndexDdl),
            ("DROP INDEX i ON t", Class::IndexDdl),
            ("CREATE OR REPLACE INDEX i ON t (v)", Class::Passthrough),
            ("CREATE UNIQUE TABLE", Class::Passthrough),
            ("CREATE TABLE t (i INT)", Class::Passthrough),
            ("DROP TABLE t", Class::Passthrough),
            ("CREATE INDEXES", Class::Passthrough),
            ("--comment-like ALTER TABLE", Class::Passthrough),
            ("--\x01 x\nALTER TABLE t FORCE", Class::AlterTable),
            ("--\x7f\nALTER TABLE t FORCE", Class::AlterTable),
            ("/* unterminated ALTER TABLE", Class::Passthrough),
            ("", Class::Passthrough),
        ];
        for (sql, want) in cases {
            assert_eq!(classify(sql.as_bytes()), *want, "{sql:?}");
        }
    }
}
