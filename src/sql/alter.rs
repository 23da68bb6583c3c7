//! Reads a client's `ALTER TABLE`: the table it names, its body (a byte range
//! of the original text, never re-printed), the column operations, ghostwire
//! hints, and the forms an online migration cannot run.

use std::ops::Range;

use super::hints::{hints_in, Hints};
use super::lexer::{lex, Dialect, Lexed, Token, TokenKind};

/// Why an ALTER cannot be run online (each says what to do instead).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AlterError {
    #[error("ghostwire: send ALTER TABLE alone, not in a multi-statement query (or add /* ghostwire: direct */ to run it on the server as is)")]
    MultiStatement,
    #[error("ghostwire: this ALTER TABLE has an unterminated string, identifier or comment; fix it (or run it with /* ghostwire: direct */)")]
    Unterminated,
    #[error("ghostwire: this ALTER TABLE has text the server cannot read (a NUL byte or a malformed X'…'/B'…' literal); fix it (or run it with /* ghostwire: direct */)")]
    Malformed,
    #[error("ghostwire: cannot read how this ALTER TABLE starts (only comments may come before ALTER [ONLINE] [IGNORE] TABLE [db.]name); run it with /* ghostwire: direct */")]
    UnclearPrefix,
    #[error("ghostwire: ALTER TABLE … RENAME TO cannot run as an online migration; run it with /* ghostwire: direct */ (a rename is instant)")]
    RenameTable,
    #[error("ghostwire: partition and tablespace operations cannot run as an online migration; run them with /* ghostwire: direct */")]
    Partition,
    #[error("ghostwire: unknown hint '{0}' (known: online, direct, async, sync, postpone)")]
    UnknownHint(String),
    #[error("ghostwire: cannot read the table name of this ALTER TABLE; write it as name, `name` or db.name")]
    NoTable,
}

/// One top-level clause of the body, as far as columns go. Names are the
/// identifiers' bytes (unescaped) until `Op::decode` turns them into text.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Op<N = Vec<u8>> {
    AddColumn {
        name: N,
        if_not_exists: bool,
    },
    DropColumn {
        name: N,
        if_exists: bool,
    },
    Change {
        old: N,
        new: N,
    },
    Modify {
        name: N,
    },
    RenameColumn {
        old: N,
        new: N,
    },
    AlterColumn {
        name: N,
    },
    AddForeignKey,
    AddPrimaryKey,
    DropPrimaryKey,
    AutoIncrement(u64),
    ConvertCharset,
    /// Anything else, by its leading keyword(s), e.g. "ADD INDEX", "ENGINE".
    Other(String),
}

/// A parsed `ALTER TABLE`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alter {
    pub online: bool,
    pub ignore: bool,
    pub schema: Option<Vec<u8>>,
    pub table: Vec<u8>,
    /// The text after the table name: trimmed, without trailing `;` or
    /// trailing comments (so text appended after it is not commented out).
    pub body: Range<usize>,
    pub ops: Vec<Op>,
    /// The body names its own `ALGORITHM=`.
    pub algorithm_given: bool,
    /// Its value, upper-cased (the last one given).
    pub algorithm: Option<String>,
    /// `AUTO_INCREMENT = N` table option.
    pub auto_increment: Option<u64>,
    pub hints: Hints,
}

impl Alter {
    /// An ALTER with nothing after the table name: a no-op the server runs.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}

/// Words after ADD/DROP that name something other than a column.
const NOT_COLUMN: &[&str] = &[
    "INDEX",
    "KEY",
    "UNIQUE",
    "PRIMARY",
    "CONSTRAINT",
    "FULLTEXT",
    "SPATIAL",
    "CHECK",
    "PERIOD",
    "SYSTEM",
    "FOREIGN",
    "VECTOR",
];

/// Parses `ALTER [ONLINE] [IGNORE] TABLE [db.]name body`.
pub fn parse_alter(sql: &[u8], d: &Dialect) -> Result<Alter, AlterError> {
    let lexed = lex(sql, d);
    if lexed.unterminated {
        return Err(AlterError::Unterminated);
    }
    if lexed.malformed {
        return Err(AlterError::Malformed);
    }
    let hints = hints_in(sql, &lexed).map_err(|e| AlterError::UnknownHint(e.0))?;
    let r = Reader {
        sql,
        t: &lexed.tokens,
    };
    let mut a = Alter {
        hints,
        ..Alter::default()
    };
    let mut i = 0;
    if !r.word(i, "ALTER") {
        return Err(AlterError::UnclearPrefix);
    }
    i += 1;
    if r.word(i, "ONLINE") {
        a.online = true;
        i += 1;
    }
    if r.word(i, "IGNORE") {
        a.ignore = true;
        i += 1;
    }
    if !r.word(i, "TABLE") {
        return Err(AlterError::UnclearPrefix);
    }
    i += 1;
    let first = r.table_name(i)?;
    i += 1;
    if r.punct(i, b'.') {
        a.schema = Some(first);
        a.table = r.table_name(i + 1)?;
        i += 2;
    } else {
        a.table = first;
    }
    let name_end = r.t.get(i - 1).map_or(0, |t| t.span.end);
    // Whatever the server executed or skipped inside the prefix, we would
    // be guessing: only plain comments may sit there.
    if lexed.exec_comments.iter().any(|c| c.start < name_end) || r.t[..i].iter().any(|t| t.in_exec)
    {
        return Err(AlterError::UnclearPrefix);
    }
    let end = statement_end(&lexed, i)?;
    a.body = body_range(sql, &lexed, name_end, i, end);
    read_clauses(&r, i, end, &mut a)?;
    Ok(a)
}

/// Index of the first trailing `;` (or the token count). Any token after a
/// top-level `;` is a second statement; a `;` inside an executed comment is
/// refused too (both servers fail on `/*!40000 ; */`).
pub(super) fn statement_end(l: &Lexed, from: usize) -> Result<usize, AlterError> {
    let t = &l.tokens;
    let Some(first_semi) = (from..t.len()).find(|&k| t[k].kind == TokenKind::Punct(b';')) else {
        return Ok(t.len());
    };
    if t[first_semi..]
        .iter()
        .any(|x| x.kind != TokenKind::Punct(b';') || x.in_exec)
        || l.exec_closes.iter().any(|&c| c > t[first_semi].span.start)
    {
        return Err(AlterError::MultiStatement);
    }
    Ok(first_semi)
}

fn body_range(sql: &[u8], l: &Lexed, name_end: usize, from: usize, end: usize) -> Range<usize> {
    let Some(last) = l.tokens.get(from..end).and_then(<[Token]>::last) else {
        return name_end..name_end;
    };
    let mut stop = last.span.end;
    if last.in_exec {
        // Keep the `*/` that closes the executed comment holding the last token.
        if let Some(&c) = l.exec_closes.iter().find(|&&c| c > stop) {
            stop = c;
        }
    }
    let gap = sql.get(name_end..stop).unwrap_or_default();
    let lead = gap.len() - gap.trim_ascii_start().len();
    name_end + lead..stop
}

struct Reader<'a> {
    sql: &'a [u8],
    t: &'a [Token],
}

impl Reader<'_> {
    fn text(&self, i: usize) -> &[u8] {
        self.t
            .get(i)
            .and_then(|t| self.sql.get(t.span.clone()))
            .unwrap_or_default()
    }
    fn word(&self, i: usize, w: &str) -> bool {
        self.t.get(i).is_some_and(|t| t.kind == TokenKind::Word)
            && self.text(i).eq_ignore_ascii_case(w.as_bytes())
    }
    fn punct(&self, i: usize, c: u8) -> bool {
        self.t.get(i).is_some_and(|t| t.kind == TokenKind::Punct(c))
    }
    /// An identifier (plain word or quoted), unescaped.
    fn name(&self, i: usize) -> Option<Vec<u8>> {
        match &self.t.get(i)?.kind {
            TokenKind::Word => Some(self.text(i).to_vec()),
            TokenKind::QuotedIdent(v) => Some(v.clone()),
            _ => None,
        }
    }
    fn table_name(&self, i: usize) -> Result<Vec<u8>, AlterError> {
        // `IF EXISTS` (MariaDB) and other keywords are not names we can trust.
        if self.word(i, "IF") {
            return Err(AlterError::UnclearPrefix);
        }
        self.name(i).ok_or(AlterError::NoTable)
    }
    fn upper(&self, i: usize) -> String {
        String::from_utf8_lossy(self.text(i)).to_ascii_uppercase()
    }
    fn any_word(&self, i: usize, ws: &[&str]) -> bool {
        ws.iter().any(|w| self.word(i, w))
    }
}

/// Splits tokens `from..end` into top-level comma-separated clauses.
fn read_clauses(r: &Reader, from: usize, end: usize, a: &mut Alter) -> Result<(), AlterError> {
    let mut depth = 0i32;
    let mut start = from;
    for k in from..=end {
        if k == end || (depth == 0 && r.punct(k, b',')) {
            if k > start {
                clause(r, start, k, a)?;
            }
            start = k + 1;
            continue;
        }
        if r.punct(k, b'(') {
            depth += 1;
        } else if r.punct(k, b')') {
            depth -= 1;
        } else if depth == 0 && r.t[k].kind == TokenKind::Word {
            top_level_word(r, k, end, a)?;
        }
    }
    Ok(())
}

/// Whether the client's own `ALGORITHM` clause asks for an instant change
/// and nothing else: natively the server refuses rather than rebuild the
/// table, so ghostwire must not copy it either.
pub fn instant_only(algorithm: Option<&str>) -> bool {
    algorithm == Some("INSTANT")
}

/// Whether the client's own `ALGORITHM` clause is MariaDB's `NOCOPY`:
/// whatever the server can do without a table copy (instantly or in place),
/// which ghostwire's copy is not. Such an ALTER goes to the server as it is.
/// (MySQL has no `NOCOPY`: there it is the server's own syntax error.)
pub fn runs_in_place_only(algorithm: Option<&str>) -> bool {
    algorithm == Some("NOCOPY")
}

/// Keywords that matter wherever they stand at the top level (table options
/// and partition clauses need no comma before them).
fn top_level_word(r: &Reader, k: usize, end: usize, a: &mut Alter) -> Result<(), AlterError> {
    match r.upper(k).as_str() {
        "PARTITION" | "PARTITIONING" | "TABLESPACE" | "DISCARD" | "IMPORT" | "EXCHANGE" => {
            Err(AlterError::Partition)
        }
        "ALGORITHM" => {
            a.algorithm_given = true;
            let v = if r.punct(k + 1, b'=') { k + 2 } else { k + 1 };
            if v < end && r.t.get(v).is_some_and(|t| t.kind == TokenKind::Word) {
                a.algorithm = Some(r.upper(v));
            }
            Ok(())
        }
        "AUTO_INCREMENT" => {
            let v = if r.punct(k + 1, b'=') { k + 2 } else { k + 1 };
            if v < end && r.t.get(v).is_some_and(|t| t.kind == TokenKind::Number) {
                if let Some(n) = std::str::from_utf8(r.text(v))
                    .ok()
                    .and_then(|s| s.parse().ok())
                {
                    a.auto_increment = Some(n);
                    a.ops.push(Op::AutoIncrement(n));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Reads one clause `t[s..e]`.
fn clause(r: &Reader, s: usize, e: usize, a: &mut Alter) -> Result<(), AlterError> {
    let mut k = s + 1;
    let kw = r.upper(s);
    let column = |k: &mut usize| {
        if r.word(*k, "COLUMN") {
            *k += 1;
            true
        } else {
            false
        }
    };
    let if_exists = |k: &mut usize, not: bool| {
        let n = usize::from(not);
        let matches =
            r.word(*k, "IF") && (!not || r.word(*k + 1, "NOT")) && r.word(*k + 1 + n, "EXISTS");
        if matches {
            *k += 2 + n;
        }
        matches
    };
    let op = match kw.as_str() {
        "ADD" => {
            let col = column(&mut k);
            let ine = if_exists(&mut k, true);
            if !col && r.any_word(k, NOT_COLUMN) {
                not_column_add(r, k)
            } else if r.punct(k, b'(') {
                add_list(r, k + 1, e, ine, a);
                return Ok(());
            } else {
                match r.name(k) {
                    Some(name) => Op::AddColumn {
                        name,
                        if_not_exists: ine,
                    },
                    None => Op::Other("ADD".into()),
                }
            }
        }
        "DROP" => {
            let col = column(&mut k);
            let ie = if_exists(&mut k, false);
            if !col && r.word(k, "PRIMARY") {
                Op::DropPrimaryKey
            } else if !col && r.any_word(k, NOT_COLUMN) {
                Op::Other(format!("DROP {}", r.upper(k)))
            } else {
                match r.name(k) {
                    Some(name) => Op::DropColumn {
                        name,
                        if_exists: ie,
                    },
                    None => Op::Other("DROP".into()),
                }
            }
        }
        "CHANGE" => {
            column(&mut k);
            if_exists(&mut k, false);
            match (r.name(k), r.name(k + 1)) {
                (Some(old), Some(new)) => Op::Change { old, new },
                _ => Op::Other(kw),
            }
        }
        "MODIFY" => {
            column(&mut k);
            if_exists(&mut k, false);
            match r.name(k) {
                Some(name) => Op::Modify { name },
                None => Op::Other(kw),
            }
        }
        "RENAME" => {
            if r.word(k, "COLUMN") {
                k += 1;
                if_exists(&mut k, false);
                match (r.name(k), r.word(k + 1, "TO"), r.name(k + 2)) {
                    (Some(old), true, Some(new)) => Op::RenameColumn { old, new },
                    _ => Op::Other("RENAME COLUMN".into()),
                }
            } else if r.any_word(k, &["INDEX", "KEY"]) {
                Op::Other(format!("RENAME {}", r.upper(k)))
            } else {
                return Err(AlterError::RenameTable);
            }
        }
        "ALTER" => {
            let col = column(&mut k);
            if !col && r.any_word(k, &["INDEX", "KEY", "CHECK", "CONSTRAINT"]) {
                Op::Other(format!("ALTER {}", r.upper(k)))
            } else {
                if_exists(&mut k, false);
                match r.name(k) {
                    Some(name) => Op::AlterColumn { name },
                    None => Op::Other(kw),
                }
            }
        }
        "CONVERT" if r.word(k, "TO") => Op::ConvertCharset,
        // Table options are recorded by `top_level_word`.
        "AUTO_INCREMENT" => return Ok(()),
        _ => Op::Other(kw),
    };
    a.ops.push(op);
    Ok(())
}

/// `ADD INDEX/KEY/…`: which of the non-column additions this is.
fn not_column_add(r: &Reader, mut k: usize) -> Op {
    if r.word(k, "CONSTRAINT") {
        k += 1;
        if !r.any_word(k, &["PRIMARY", "FOREIGN", "UNIQUE", "CHECK"]) {
            k += 1; // the constraint's name
        }
    }
    if r.word(k, "PRIMARY") {
        Op::AddPrimaryKey
    } else if r.word(k, "FOREIGN") {
        Op::AddForeignKey
    } else {
        Op::Other(format!("ADD {}", r.upper(k)))
    }
}

/// `ADD [COLUMN] (a INT, b INT, INDEX (a))`: the elements up to the `)`.
fn add_list(r: &Reader, from: usize, e: usize, ine: bool, a: &mut Alter) {
    let mut depth = 0i32;
    let mut start = from;
    for k in from..e {
        let close = depth == 0 && r.punct(k, b')');
        if close || (depth == 0 && r.punct(k, b',')) {
            if r.any_word(start, NOT_COLUMN) {
                a.ops.push(not_column_add(r, start));
            } else if let Some(name) = r.name(start) {
                a.ops.push(Op::AddColumn {
                    name,
                    if_not_exists: ine,
                });
            }
            if close {
                return;
            }
            start = k + 1;
        } else if r.punct(k, b'(') {
            depth += 1;
        } else if r.punct(k, b')') {
            depth -= 1;
        }
    }
}

/// Whether every operation only drops or renames secondary indexes: a
/// change InnoDB makes in place by editing metadata (no copy, concurrent
/// writes allowed), which a copy would only make slower. The client's own
/// `ALGORITHM` (`algorithm`, see `Alter`) and `LOCK` clauses may come
/// with them, unless they ask for what in place is not: a `COPY` (a table
/// rebuild, which ghostwire runs as its online copy) or `INSTANT` (which
/// the server refuses for a dropped index; the copy stands as before).
pub fn metadata_only<N>(ops: &[Op<N>], algorithm: Option<&str>) -> bool {
    let index = |k: &str| matches!(k, "DROP INDEX" | "DROP KEY" | "RENAME INDEX" | "RENAME KEY");
    let clause = |k: &str| matches!(k, "ALGORITHM" | "LOCK");
    !matches!(algorithm, Some("COPY" | "INSTANT"))
        && ops.iter().any(|o| matches!(o, Op::Other(k) if index(k)))
        && ops
            .iter()
            .all(|o| matches!(o, Op::Other(k) if index(k) || clause(k)))
}
