//! ghostwire hints: words in `/* ghostwire: … */` comments of a statement and
//! the session variable `@ghostwire`.

use super::lexer::{lex, Dialect, Lexed, TokenKind};

/// Words a client can give in `/* ghostwire: … */` or `SET @ghostwire`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hints {
    pub online: bool,
    pub direct: bool,
    pub async_: bool,
    pub postpone: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ghostwire: unknown hint '{0}' (known: online, direct, async, sync, postpone)")]
pub struct UnknownHint(pub String);

impl Hints {
    /// Hint words separated by spaces or commas.
    pub fn parse(words: &str) -> Result<Hints, UnknownHint> {
        let mut h = Hints::default();
        for w in words
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
        {
            match w.to_ascii_lowercase().as_str() {
                "online" => h.online = true,
                "direct" => h.direct = true,
                "async" => h.async_ = true,
                "sync" => h.async_ = false,
                "postpone" => h.postpone = true,
                _ => return Err(UnknownHint(w.to_string())),
            }
        }
        Ok(h)
    }

    /// The one place session hints (`SET @ghostwire`) and a statement's
    /// comment hints come together: a word given either way counts.
    pub fn merged(session: Hints, statement: Hints) -> Hints {
        let mut h = session;
        h.merge(statement);
        h
    }

    pub fn merge(&mut self, o: Hints) {
        self.online |= o.online;
        self.direct |= o.direct;
        self.async_ |= o.async_;
        self.postpone |= o.postpone;
    }
}

/// The hint words of one comment's text, or None when it is not a ghostwire
/// comment (`ghostwire` in any case, optional spaces, then `:`).
fn comment_hints(text: &[u8]) -> Option<Result<Hints, UnknownHint>> {
    let t = text.trim_ascii();
    let rest = t
        .get(..9)
        .filter(|p| p.eq_ignore_ascii_case(b"ghostwire"))
        .and(t.get(9..))?;
    let words = rest.trim_ascii_start().strip_prefix(b":")?;
    Some(Hints::parse(&String::from_utf8_lossy(words)))
}

/// Hints in the plain and `/*+` comments the server does not execute.
pub fn hints_in(sql: &[u8], lexed: &Lexed) -> Result<Hints, UnknownHint> {
    let mut hints = Hints::default();
    for c in &lexed.comments {
        if let Some(h) = sql.get(c.text.clone()).and_then(comment_hints) {
            hints.merge(h?);
        }
    }
    Ok(hints)
}

/// Hints in a statement's comments.
pub fn hints_in_statement(sql: &[u8], d: &Dialect) -> Result<Hints, UnknownHint> {
    hints_in(sql, &lex(sql, d))
}

/// The value a `SET` statement assigns to `@ghostwire` (also `` @`ghostwire` ``):
/// the string's content, or empty for NULL. None when it assigns none.
pub fn session_hint_value(sql: &[u8], d: &Dialect) -> Option<Vec<u8>> {
    let t = lex(sql, d).tokens;
    let is_name = |i: usize| {
        t.get(i).is_some_and(|tok| match &tok.kind {
            TokenKind::Word => sql
                .get(tok.span.clone())
                .is_some_and(|w| w.eq_ignore_ascii_case(b"ghostwire")),
            TokenKind::QuotedIdent(v) | TokenKind::Str(v) => v.eq_ignore_ascii_case(b"ghostwire"),
            _ => false,
        })
    };
    let punct = |i: usize, c: u8| t.get(i).is_some_and(|tok| tok.kind == TokenKind::Punct(c));
    let adjacent = |a: usize, b: usize| match (t.get(a), t.get(b)) {
        (Some(x), Some(y)) => x.span.end == y.span.start,
        _ => false,
    };
    let at = (0..t.len()).find(|&i| {
        punct(i, b'@')
            && is_name(i + 1)
            && adjacent(i, i + 1)
            // `@@ghostwire` is a system variable.
            && !(i > 0 && punct(i - 1, b'@') && adjacent(i - 1, i))
    })?;
    let mut i = at + 2;
    if punct(i, b':') {
        i += 1;
    }
    if !punct(i, b'=') {
        return None;
    }
    let tok = t.get(i + 1)?;
    match &tok.kind {
        TokenKind::Str(v) => Some(v.clone()),
        TokenKind::Word if sql.get(tok.span.clone())?.eq_ignore_ascii_case(b"NULL") => {
            Some(Vec::new())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::Flavour;
    use super::*;

    fn d() -> Dialect {
        Dialect::new(Flavour::MariaDb, 101106)
    }

    #[test]
    fn comment_words() {
        let h = hints_in_statement(b"/* ghostwire: async postpone */ ALTER TABLE t FORCE", &d())
            .unwrap();
        assert!(h.async_ && h.postpone && !h.direct && !h.online);
        let h = hints_in_statement(b"ALTER TABLE t /*+ GhostWire :direct,online */ FORCE", &d())
            .unwrap();
        assert!(h.direct && h.online);
        // Not ghostwire comments: another word, no colon, inside a string.
        for sql in [
            &b"ALTER TABLE t /* ghostwirex: direct */ FORCE"[..],
            b"ALTER TABLE t /* ghostwire direct */ FORCE",
            b"ALTER TABLE t COMMENT '/* ghostwire: direct */'",
            // Executed comments are SQL, skipped ones are not hints either.
            b"ALTER TABLE t /*!99999 ghostwire: direct */ FORCE",
        ] {
            assert_eq!(
                hints_in_statement(sql, &d()),
                Ok(Hints::default()),
                "{sql:?}"
            );
        }
        assert_eq!(
            hints_in_statement(b"ALTER TABLE t /* ghostwire: fast */ FORCE", &d()),
            Err(UnknownHint("fast".into()))
        );
        assert!(Hints::parse("async sync").is_ok_and(|h| !h.async_));
    }

    #[test]
    fn session_variable() {
        let v =
            |s: &str| session_hint_value(s.as_bytes(), &d()).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(
            v("SET @ghostwire = 'online async'").as_deref(),
            Some("online async")
        );
        assert_eq!(
            v("set @a=1, @GhostWire:=\"direct\"").as_deref(),
            Some("direct")
        );
        assert_eq!(v("SET @`ghostwire` = 'async'").as_deref(), Some("async"));
        assert_eq!(v("SET @ghostwire = NULL").as_deref(), Some(""));
        assert_eq!(v("SET @ghostwire = 'it''s'").as_deref(), Some("it's"));
        assert_eq!(v("SET @@ghostwire = 1"), None);
        assert_eq!(v("SET @ghostwirex = 'a'"), None);
        assert_eq!(v("SET @a = '@ghostwire = 1'"), None);
        assert_eq!(v("SET /* @ghostwire = 'x' */ @a = 1"), None);
        let ansi = Dialect {
            ansi_quotes: true,
            ..d()
        };
        // Under ANSI_QUOTES "direct" is an identifier, not a value.
        assert_eq!(
            session_hint_value(b"SET @ghostwire = \"direct\"", &ansi),
            None
        );
    }
}
