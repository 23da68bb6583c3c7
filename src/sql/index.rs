//! Reads a client's `CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX … ON t (…)` or
//! `DROP INDEX … ON t` and writes the equivalent `ALTER TABLE` body from the
//! client's own bytes (never re-printed), plus the text of the instant probe
//! the server checks the client's rights with.
//!
//! Only the plain forms are read: anything else (`CREATE OR REPLACE`,
//! `IF [NOT] EXISTS`, MariaDB's `WAIT`/`NOWAIT`, an executable comment
//! anywhere, options after an `ALGORITHM`/`LOCK` clause, several
//! statements) is `None`, and the session relays the statement unchanged:
//! the server runs it natively, as this client.

use std::ops::Range;

use super::alter::statement_end;
use super::hints::{hints_in, Hints};
use super::lexer::{lex, Dialect, Flavour, Token, TokenKind};

/// A `CREATE INDEX` / `DROP INDEX` read as its equivalent `ALTER TABLE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDdl {
    pub create: bool,
    /// Where `[db.]table` stands in the text (replaced by the qualified
    /// name in the probe).
    pub table_span: Range<usize>,
    /// `ADD [UNIQUE|FULLTEXT|SPATIAL] INDEX name … (key parts) …[, ALGORITHM=…]`
    /// or `DROP INDEX name[, ALGORITHM=…]`: spans of the client's text
    /// joined by `ADD `, spaces and commas.
    pub body: Vec<u8>,
    /// Spans of the text that make the probe (the statement without its
    /// `ALGORITHM`/`LOCK` clauses, the table name cut out between the
    /// first two).
    probe_spans: Vec<Range<usize>>,
    pub hints: Hints,
}

impl IndexDdl {
    /// The client's own statement, with the table as `qualified`, its own
    /// `ALGORITHM`/`LOCK` clauses left out (each may be given only once, so
    /// the probe's `ALGORITHM=INSTANT` could not override them) and
    /// ` ALGORITHM=INSTANT` appended. Run on the client's connection it
    /// checks the rights the native statement needs (INDEX, not ALTER)
    /// before the algorithm.
    pub fn probe(&self, sql: &[u8], qualified: &[u8]) -> Vec<u8> {
        self.probe_with(sql, qualified, b"ALGORITHM=INSTANT")
    }

    /// The probe with other algorithm/lock clauses (`ALGORITHM=INPLACE
    /// LOCK=NONE` for a metadata-only change).
    pub fn probe_with(&self, sql: &[u8], qualified: &[u8], clauses: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(sql.len() + 32);
        for (k, span) in self.probe_spans.iter().enumerate() {
            if k == 1 {
                out.extend_from_slice(qualified);
            }
            out.extend_from_slice(sql.get(span.clone()).unwrap_or_default());
        }
        out.push(b' ');
        out.extend_from_slice(clauses);
        out
    }
}

/// Reads `sql` as CREATE INDEX / DROP INDEX; `None`: not a form ghostwire
/// reads exactly (relay it). MariaDB's DROP INDEX takes no `ALGORITHM`
/// clause, so its rights cannot be probed with the client's own statement:
/// it is `None` there too.
pub fn parse_index_ddl(sql: &[u8], d: &Dialect) -> Option<IndexDdl> {
    let lexed = lex(sql, d);
    if lexed.refused() || !lexed.exec_comments.is_empty() {
        return None;
    }
    let hints = hints_in(sql, &lexed).ok()?;
    let t = &lexed.tokens;
    let end = statement_end(&lexed, 0).ok()?;
    let r = Toks { sql, t, end };
    let create = if r.word(0, "CREATE") {
        true
    } else if r.word(0, "DROP") && d.flavour == Flavour::MySql {
        false
    } else {
        return None;
    };
    let mut i = 1;
    let kind_start = r.start(i)?;
    if create && r.any_word(i, &["UNIQUE", "FULLTEXT", "SPATIAL"]) {
        i += 1;
    }
    if !r.word(i, "INDEX") {
        return None;
    }
    i += 1;
    // The index name: `IF [NOT] EXISTS` and a missing name are not read.
    if r.word(i, "IF") || r.word(i, "ON") || r.name(i).is_none() {
        return None;
    }
    i += 1;
    if create && r.word(i, "USING") && r.word_kind(i + 1) {
        i += 2;
    }
    let head_end = r.t.get(i - 1)?.span.end;
    if !r.word(i, "ON") {
        return None;
    }
    i += 1;
    let table_start = r.start(i)?;
    r.name(i)?;
    i += 1;
    if r.punct(i, b'.') {
        r.name(i + 1)?;
        i += 2;
    }
    let table_end = r.t.get(i - 1)?.span.end;
    // The last token before any trailing `;` (trailing comments left out,
    // so the probe's appended clause is not commented out).
    let stmt_end = r.get(end.checked_sub(1)?)?.span.end;
    let mut body = Vec::new();
    body.extend_from_slice(if create { b"ADD " } else { b"DROP " });
    body.extend_from_slice(sql.get(kind_start..head_end)?);
    let rest_start;
    if create {
        if !r.punct(i, b'(') {
            return None;
        }
        rest_start = r.start(i)?;
        i = r.after_parens(i)?;
        body.push(b' ');
    } else {
        rest_start = table_end;
    }
    // After the key parts: index options, then ALGORITHM / LOCK clauses,
    // which become comma-separated ALTER clauses. An option after such a
    // clause would become a table option in an ALTER: not read.
    let mut clauses = Vec::new();
    while i < end {
        if r.any_word(i, &["ALGORITHM", "LOCK"]) {
            let s = r.start(i)?;
            let v = if r.punct(i + 1, b'=') { i + 2 } else { i + 1 };
            if v >= end || !r.word_kind(v) {
                return None;
            }
            clauses.push(s..r.t.get(v)?.span.end);
            i = v + 1;
        } else if !clauses.is_empty() || !create || r.any_word(i, &["WAIT", "NOWAIT"]) {
            return None;
        } else {
            i += 1;
        }
    }
    let mut cursor = rest_start;
    let mut probe_spans: Vec<Range<usize>> = Vec::with_capacity(clauses.len() + 2);
    probe_spans.push(0..table_start);
    let mut probe_cursor = table_end;
    for c in &clauses {
        body.extend_from_slice(sql.get(cursor..c.start)?);
        body.extend_from_slice(b", ");
        body.extend_from_slice(sql.get(c.clone())?);
        cursor = c.end;
        probe_spans.push(probe_cursor..c.start);
        probe_cursor = c.end;
    }
    if cursor < stmt_end {
        body.extend_from_slice(sql.get(cursor..stmt_end)?);
    }
    if probe_cursor < stmt_end {
        probe_spans.push(probe_cursor..stmt_end);
    }
    if probe_spans.len() == 1 {
        probe_spans.push(table_end..table_end);
    }
    Some(IndexDdl {
        create,
        table_span: table_start..table_end,
        body,
        probe_spans,
        hints,
    })
}

struct Toks<'a> {
    sql: &'a [u8],
    t: &'a [Token],
    /// Tokens from here on are the trailing `;`s.
    end: usize,
}

impl Toks<'_> {
    fn get(&self, i: usize) -> Option<&Token> {
        self.t.get(..self.end)?.get(i)
    }
    fn start(&self, i: usize) -> Option<usize> {
        Some(self.get(i)?.span.start)
    }
    fn text(&self, i: usize) -> &[u8] {
        self.get(i)
            .and_then(|t| self.sql.get(t.span.clone()))
            .unwrap_or_default()
    }
    fn word_kind(&self, i: usize) -> bool {
        self.get(i).is_some_and(|t| t.kind == TokenKind::Word)
    }
    fn word(&self, i: usize, w: &str) -> bool {
        self.word_kind(i) && self.text(i).eq_ignore_ascii_case(w.as_bytes())
    }
    fn any_word(&self, i: usize, ws: &[&str]) -> bool {
        ws.iter().any(|w| self.word(i, w))
    }
    fn punct(&self, i: usize, c: u8) -> bool {
        self.get(i).is_some_and(|t| t.kind == TokenKind::Punct(c))
    }
    fn name(&self, i: usize) -> Option<()> {
        match self.get(i)?.kind {
            TokenKind::Word | TokenKind::QuotedIdent(_) => Some(()),
            _ => None,
        }
    }
    /// The index after the `)` matching the `(` at `i`.
    fn after_parens(&self, mut i: usize) -> Option<usize> {
        let mut depth = 0usize;
        while i < self.end {
            if self.punct(i, b'(') {
                depth += 1;
            } else if self.punct(i, b')') {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            i += 1;
        }
        None
    }
}
