//! The server's lexer, as far as statement boundaries, comments, quotes and
//! executable comments go. It must agree with the server byte for byte: a
//! disagreement about where a string or comment ends is how statements get
//! smuggled past a reader (`COMMENT='x' /*!80000 ' */ ; DROP …`).
//!
//! Rules verified on MariaDB 10.11.19 and MySQL 9.7.4 (see lexer_tests.rs).

use std::ops::Range;

pub use crate::flavour::Flavour;

/// How high bytes (>= 0x80) lex in the connection's `character_set_client`.
/// ASCII bytes lex the same in every charset `lex_charset` accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Charset {
    /// utf8mb3/utf8mb4/ascii/binary: no high byte is whitespace or a
    /// control character.
    #[default]
    Utf8,
    /// latin1: 0xA0 is whitespace (so `--\xA0` starts a comment), and some
    /// high bytes are punctuation rather than identifier characters.
    Latin1,
}

/// What the server's lexer depends on besides the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    pub flavour: Flavour,
    /// major*10000 + minor*100 + patch, as in `/*!NNNNN` (101106, 80400, 90704).
    pub version: u32,
    /// sql_mode ANSI_QUOTES: `"…"` is an identifier.
    pub ansi_quotes: bool,
    /// sql_mode NO_BACKSLASH_ESCAPES: `\` is an ordinary character in strings.
    pub no_backslash_escapes: bool,
    pub charset: Charset,
}

impl Dialect {
    /// The dialect of a session: the server's flavour and version, the SQL
    /// modes that change how text is read, and its `character_set_client`
    /// (None when ghostwire cannot lex that character set).
    pub fn of_session(
        server: crate::flavour::ServerInfo,
        sql_mode: &str,
        charset_client: &str,
    ) -> Option<Dialect> {
        let has = |m: &str| sql_mode.split(',').any(|x| x.eq_ignore_ascii_case(m));
        Some(Dialect {
            flavour: server.flavour,
            version: server.version,
            ansi_quotes: has("ANSI_QUOTES"),
            no_backslash_escapes: has("NO_BACKSLASH_ESCAPES"),
            charset: lex_charset(charset_client)?,
        })
    }

    /// `of_session`, or where ghostwire cannot lex the character set, the
    /// session's modes over a UTF-8 reading: for the proxy's own commands,
    /// whose words, ids and column names are ASCII.
    pub fn of_session_or_ascii(
        server: crate::flavour::ServerInfo,
        sql_mode: &str,
        charset_client: &str,
    ) -> Dialect {
        Dialect::of_session(server, sql_mode, charset_client).unwrap_or_else(|| {
            let mut d = Dialect::of_session(server, sql_mode, "utf8mb4")
                .unwrap_or_else(|| Dialect::new(server.flavour, server.version));
            d.charset = Charset::Utf8;
            d
        })
    }

    pub fn new(flavour: Flavour, version: u32) -> Dialect {
        Dialect {
            flavour,
            version,
            ansi_quotes: false,
            no_backslash_escapes: false,
            charset: Charset::Utf8,
        }
    }
}

/// How a `character_set_client` lexes, or None when it cannot be lexed
/// bytewise: in sjis/cp932/big5/gbk/gb18030 a `\` or quote byte can be the
/// second byte of a character, and other single-byte charsets (swe7, cp1250…)
/// turn ASCII punctuation into letters or high bytes into spaces.
pub fn lex_charset(name: &str) -> Option<Charset> {
    match name.to_ascii_lowercase().as_str() {
        "utf8" | "utf8mb3" | "utf8mb4" | "ascii" | "binary" => Some(Charset::Utf8),
        "latin1" => Some(Charset::Latin1),
        _ => None,
    }
}

/// Whether statements in this `character_set_client` can be read at all.
pub fn lexable_charset(name: &str) -> bool {
    lex_charset(name).is_some()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Unquoted identifier or keyword.
    Word,
    /// `` `…` `` (or `"…"` under ANSI_QUOTES), unescaped.
    QuotedIdent(Vec<u8>),
    /// String literal (also `X'…'`, `B'…'`), unescaped.
    Str(Vec<u8>),
    Number,
    Punct(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
    /// Inside an executable comment the server runs.
    pub in_exec: bool,
}

/// A plain `/* … */` or hint `/*+ … */` comment (the server ignores both for
/// an ALTER); `text` is what lies between the markers (after the `+`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub text: Range<usize>,
    pub hint: bool,
}

/// A `/*!…` (or `/*M!…`) comment, executed or skipped by the server. MySQL's
/// plain `/*M!…*/` is listed too (skipped), since it looks executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecComment {
    pub start: usize,
    pub executed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub comments: Vec<Comment>,
    pub exec_comments: Vec<ExecComment>,
    /// End offsets of the `*/` that closed executed comments.
    pub exec_closes: Vec<usize>,
    /// A string, quoted identifier or comment runs to the end of the input.
    pub unterminated: bool,
    /// Something the server refuses to lex (a NUL byte, `X'4G'`).
    pub malformed: bool,
}

impl Lexed {
    /// Whether the server would refuse the text before parsing it.
    pub fn refused(&self) -> bool {
        self.unterminated || self.malformed
    }
}

/// Lexes `sql` as the server would.
pub fn lex(sql: &[u8], d: &Dialect) -> Lexed {
    Lexer {
        s: sql,
        d,
        i: 0,
        in_exec: false,
        out: Lexed::default(),
    }
    .run()
}

struct Lexer<'a> {
    s: &'a [u8],
    d: &'a Dialect,
    i: usize,
    in_exec: bool,
    out: Lexed,
}

fn at(s: &[u8], i: usize) -> u8 {
    // NUL past the end matches the server, which reads a terminating NUL.
    s.get(i).copied().unwrap_or(0)
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> u8 {
        at(self.s, self.i + k)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.out.tokens.push(Token {
            kind,
            span: start..self.i,
            in_exec: self.in_exec,
        });
    }

    fn run(mut self) -> Lexed {
        while self.i < self.s.len() {
            let c = self.peek(0);
            let start = self.i;
            if is_space(c, self.d.charset) {
                self.i += 1;
            } else if c == b'#' || (c == b'-' && self.peek(1) == b'-' && self.dash_comment()) {
                self.i = match self.s[self.i..].iter().position(|&b| b == b'\n') {
                    Some(n) => self.i + n + 1,
                    None => self.s.len(),
                };
            } else if c == b'/' && self.peek(1) == b'*' {
                self.block_comment();
            } else if c == b'*' && self.peek(1) == b'/' && self.in_exec {
                self.i += 2;
                self.in_exec = false;
                self.out.exec_closes.push(self.i);
            } else if c == b'\'' || (c == b'"' && !self.d.ansi_quotes) {
                let v = self.string(c);
                self.push(TokenKind::Str(v), start);
            } else if c == b'`' || c == b'"' {
                let v = self.quoted_ident(c);
                self.push(TokenKind::QuotedIdent(v), start);
            } else if matches!(c, b'x' | b'X' | b'b' | b'B') && self.peek(1) == b'\'' {
                let v = self.hex_or_bit(c);
                self.push(TokenKind::Str(v), start);
            } else if c.is_ascii_digit() {
                let kind = self.number();
                self.push(kind, start);
            } else if is_ident(c, self.d.charset) {
                while self.i < self.s.len() && is_ident(self.peek(0), self.d.charset) {
                    self.i += 1;
                }
                self.push(TokenKind::Word, start);
            } else {
                // A NUL inside a statement is a syntax error on both servers.
                self.out.malformed |= c == 0;
                self.i += 1;
                self.push(TokenKind::Punct(c), start);
            }
        }
        self.out.unterminated |= self.in_exec;
        self.out
    }

    /// `--` starts a comment when followed by a space or control character
    /// (`my_isspace || my_iscntrl`) or the end; NUL inside the text is not.
    fn dash_comment(&self) -> bool {
        let Some(&b) = self.s.get(self.i + 2) else {
            return true;
        };
        (1..=0x20).contains(&b) || b == 0x7f || (self.d.charset == Charset::Latin1 && b == 0xa0)
    }

    fn block_comment(&mut self) {
        let start = self.i;
        let maria = self.d.flavour == Flavour::MariaDb;
        let m_bang = self.peek(2) == b'M' && self.peek(3) == b'!';
        if self.peek(2) == b'!' || (maria && m_bang) {
            self.i += if m_bang { 4 } else { 3 };
            let executed = match self.version_number() {
                None => true,
                Some(v) => {
                    v <= self.d.version
                        && (self.d.flavour == Flavour::MySql
                            || m_bang
                            || !(50700..=99999).contains(&v))
                }
            };
            self.out.exec_comments.push(ExecComment { start, executed });
            if executed {
                self.in_exec = true;
            } else {
                // A skipped version comment may hold one nested `/* */`.
                self.skip_comment_body(1);
            }
            return;
        }
        if m_bang {
            // MySQL: a plain comment that reads like MariaDB's executable one.
            self.out.exec_comments.push(ExecComment {
                start,
                executed: false,
            });
        }
        let hint = self.peek(2) == b'+';
        self.i += if hint { 3 } else { 2 };
        let text_start = self.i;
        if let Some(text_end) = self.skip_comment_body(0) {
            self.out.comments.push(Comment {
                text: text_start..text_end,
                hint,
            });
        }
    }

    /// The version of `/*!NNNNN`, consuming its digits. MariaDB reads 5 digits
    /// and a 6th when present. MySQL reads 5, and from 8.1 on reads 6 when a
    /// 6th digit is followed by whitespace; other digits are content.
    fn version_number(&mut self) -> Option<u32> {
        let digits = (0..7)
            .take_while(|&k| self.peek(k).is_ascii_digit())
            .count();
        if digits < 5 {
            return None;
        }
        let six = digits >= 6
            && match self.d.flavour {
                Flavour::MariaDb => true,
                Flavour::MySql => self.d.version >= 80100 && is_space(self.peek(6), self.d.charset),
            };
        let n = if six { 6 } else { 5 };
        let v = self.s[self.i..self.i + n]
            .iter()
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
        self.i += n;
        Some(v)
    }

    /// Skips to the `*/` that ends a comment whose opener was consumed,
    /// allowing `nest` levels of nested `/* */`; returns where the text ends.
    fn skip_comment_body(&mut self, nest: u32) -> Option<usize> {
        while self.i < self.s.len() {
            let c = self.peek(0);
            self.i += 1;
            if nest > 0 && c == b'/' && self.peek(0) == b'*' {
                self.i += 1;
                self.skip_comment_body(nest - 1)?;
                continue;
            }
            if c == b'*' && self.peek(0) == b'/' {
                self.i += 1;
                return Some(self.i - 2);
            }
        }
        self.out.unterminated = true;
        None
    }

    fn string(&mut self, q: u8) -> Vec<u8> {
        self.i += 1;
        let mut v = Vec::new();
        while self.i < self.s.len() {
            let c = self.peek(0);
            if c == q {
                if self.s.get(self.i + 1) == Some(&q) {
                    v.push(q);
                    self.i += 2;
                    continue;
                }
                self.i += 1;
                return v;
            }
            if c == b'\\' && !self.d.no_backslash_escapes {
                let Some(&e) = self.s.get(self.i + 1) else {
                    break;
                };
                match unescape(e) {
                    Some(u) => v.push(u),
                    // `\%` and `\_` keep their backslash (LIKE patterns).
                    None => v.extend_from_slice(&[b'\\', e]),
                }
                self.i += 2;
                continue;
            }
            v.push(c);
            self.i += 1;
        }
        self.i = self.s.len();
        self.out.unterminated = true;
        v
    }

    fn quoted_ident(&mut self, q: u8) -> Vec<u8> {
        self.i += 1;
        let mut v = Vec::new();
        while self.i < self.s.len() {
            let c = self.peek(0);
            self.i += 1;
            if c == q {
                if self.peek(0) != q || self.i >= self.s.len() {
                    return v;
                }
                self.i += 1;
            }
            v.push(c);
        }
        self.out.unterminated = true;
        v
    }

    /// `X'…'` holds hex digits only and `B'…'` binary digits only; anything
    /// else before the closing quote is a syntax error on the server.
    fn hex_or_bit(&mut self, c: u8) -> Vec<u8> {
        let hex = c.eq_ignore_ascii_case(&b'x');
        self.i += 2;
        let from = self.i;
        while self.i < self.s.len() {
            let b = self.peek(0);
            if b == b'\'' {
                self.i += 1;
                return self.s[from..self.i - 1].to_vec();
            }
            let ok = if hex {
                b.is_ascii_hexdigit()
            } else {
                b == b'0' || b == b'1'
            };
            if !ok {
                // The server stops here; so do we (the rest is unreadable).
                self.out.malformed = true;
                self.i = self.s.len();
                return Vec::new();
            }
            self.i += 1;
        }
        self.out.unterminated = true;
        Vec::new()
    }

    /// Numbers, or identifiers that start with digits (`1abc`).
    fn number(&mut self) -> TokenKind {
        let start = self.i;
        let digits =
            |l: &Self, k: usize| (k..).take_while(|&j| at(l.s, j).is_ascii_digit()).count();
        self.i += digits(self, self.i);
        let mut real = false;
        if self.peek(0) == b'.' {
            self.i += 1;
            self.i += digits(self, self.i);
            real = true;
        }
        if matches!(self.peek(0), b'e' | b'E') {
            let sign = usize::from(matches!(self.peek(1), b'+' | b'-'));
            let n = digits(self, self.i + 1 + sign);
            if n > 0 {
                self.i += 1 + sign + n;
                real = true;
            }
        }
        if !real && is_ident(self.peek(0), self.d.charset) && self.i < self.s.len() {
            let hex =
                self.s.get(start..self.i) == Some(b"0") && matches!(self.peek(0), b'x' | b'b');
            while self.i < self.s.len() && is_ident(self.peek(0), self.d.charset) {
                self.i += 1;
            }
            let body = self.s.get(start + 2..self.i).unwrap_or_default();
            let is_num = hex
                && !body.is_empty()
                && if at(self.s, start + 1) == b'x' {
                    body.iter().all(u8::is_ascii_hexdigit)
                } else {
                    body.iter().all(|b| *b == b'0' || *b == b'1')
                };
            return if is_num {
                TokenKind::Number
            } else {
                TokenKind::Word
            };
        }
        TokenKind::Number
    }
}

fn unescape(e: u8) -> Option<u8> {
    Some(match e {
        b'0' => 0,
        b'b' => 8,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'Z' => 26,
        b'%' | b'_' => return None,
        x => x,
    })
}

/// `my_isspace` of the client charset (verified byte by byte on both servers).
pub(crate) fn is_space(b: u8, cs: Charset) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') || (cs == Charset::Latin1 && b == 0xa0)
}

/// Bytes that continue an unquoted identifier.
pub(crate) fn is_ident(b: u8, cs: Charset) -> bool {
    if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' {
        return true;
    }
    match cs {
        Charset::Utf8 => b >= 0x80,
        // latin1's letters (Windows-1252); its symbols lex as punctuation.
        Charset::Latin1 => {
            matches!(b, 0x83 | 0x8a | 0x8c | 0x8e | 0x9a | 0x9c | 0x9e | 0x9f | 0xc0..=0xd6 | 0xd8..=0xf6 | 0xf8..=0xff)
        }
    }
}
