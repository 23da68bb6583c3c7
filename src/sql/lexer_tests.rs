//! Lexer cases. "Verified" marks behaviour checked against MariaDB 10.11.19
//! and MySQL 9.7.4 with `SELECT` probes (e.g. `SELECT 1 /*!50700 +1*/` → 1 on
//! MariaDB, 2 on MySQL).

use super::lexer::*;

const MARIA: Dialect = Dialect {
    flavour: Flavour::MariaDb,
    version: 101106,
    ansi_quotes: false,
    no_backslash_escapes: false,
    charset: Charset::Utf8,
};
const MARIA_105: Dialect = Dialect {
    version: 100500,
    ..MARIA
};
const MYSQL_80: Dialect = Dialect {
    flavour: Flavour::MySql,
    version: 80040,
    ..MARIA
};
const MYSQL_97: Dialect = Dialect {
    flavour: Flavour::MySql,
    version: 90704,
    ..MARIA
};

/// Tokens rendered compactly: words as is, strings in '', quoted
/// identifiers in ``, punctuation as the character.
fn toks(sql: &[u8], d: &Dialect) -> String {
    let l = lex(sql, d);
    let mut out: Vec<String> = l
        .tokens
        .iter()
        .map(|t| {
            let text = String::from_utf8_lossy(&sql[t.span.clone()]).into_owned();
            match &t.kind {
                TokenKind::Str(v) => format!("'{}'", String::from_utf8_lossy(v)),
                TokenKind::QuotedIdent(v) => format!("`{}`", String::from_utf8_lossy(v)),
                _ => text,
            }
        })
        .collect();
    if l.unterminated {
        out.push("<UNTERMINATED>".into());
    }
    if l.malformed {
        out.push("<MALFORMED>".into());
    }
    out.join(" ")
}

fn t(sql: &str, d: &Dialect) -> String {
    toks(sql.as_bytes(), d)
}

#[test]
fn dash_dash_needs_space_or_control() {
    // Verified on both servers, utf8mb4 and latin1: `--` then any of
    // 0x01..=0x20 or 0x7F is a comment (latin1 adds 0xA0); NUL is not.
    for d in [MARIA, MARIA_105, MYSQL_80, MYSQL_97] {
        for b in (1u8..=0x20).chain([0x7f]).filter(|&b| b != b'\n') {
            let sql = [&b"SELECT 1 --"[..], &[b], b" x\n+2"].concat();
            assert_eq!(toks(&sql, &d), "SELECT 1 + 2", "byte {b:#x}");
        }
        assert_eq!(t("SELECT 1 --x", &d), "SELECT 1 - - x");
        assert_eq!(t("SELECT 1 ---5", &d), "SELECT 1 - - - 5");
        // `--- x`: the second and third dashes start the comment (verified: 1 - +1 = 0).
        assert_eq!(t("SELECT 1 --- +5\n+1", &d), "SELECT 1 - + 1");
        assert_eq!(t("SELECT 1 --", &d), "SELECT 1");
        assert_eq!(t("SELECT 1 --\u{a0}x", &d), "SELECT 1 - - \u{a0}x");
        assert_eq!(toks(b"SELECT 1 --\0", &d), "SELECT 1 - - \0 <MALFORMED>");
        // Only \n ends a line comment (verified: `# x\r+1` → 1).
        assert_eq!(t("SELECT 1 # x\r+1\n+2", &d), "SELECT 1 + 2");
        assert_eq!(t("SELECT 1 #--\n+1", &d), "SELECT 1 + 1");
    }
    let latin1 = Dialect {
        charset: Charset::Latin1,
        ..MARIA
    };
    assert_eq!(toks(b"SELECT 1 --\xa0x\n+2", &latin1), "SELECT 1 + 2");
    assert_eq!(toks(b"SELECT 1\xa0+2", &latin1), "SELECT 1 + 2");
}

#[test]
fn plain_and_hint_comments() {
    for d in [MARIA, MYSQL_97] {
        let sql = b"SELECT /* a */ 1 /*+ BKA(t) */ /**/";
        let l = lex(sql, &d);
        let texts: Vec<(&[u8], bool)> = l
            .comments
            .iter()
            .map(|c| (&sql[c.text.clone()], c.hint))
            .collect();
        assert_eq!(
            texts,
            vec![(&b" a "[..], false), (b" BKA(t) ", true), (b"", false)]
        );
        // Not nested, even with quotes inside (verified: `SELECT /*+ "*/ 2` → 2).
        assert_eq!(t("SELECT /* a /* b */ 1 */", &d), "SELECT 1 * /");
        assert_eq!(t("SELECT /*+ \"*/ 2", &d), "SELECT 2");
        assert_eq!(t("SELECT /* x", &d), "SELECT <UNTERMINATED>");
        // A stray `*/` is two operators (verified: `SELECT 1 */` is an error).
        assert_eq!(t("SELECT 1 */", &d), "SELECT 1 * /");
    }
}

#[test]
fn executable_comments_mariadb() {
    // Verified on MariaDB 10.11.19: 5 digits, a 6th when present; 50700..=99999
    // is MySQL's and skipped; above our version skipped.
    for d in [MARIA, MARIA_105] {
        assert_eq!(t("SELECT 1 /*!+1*/", &d), "SELECT 1 + 1");
        assert_eq!(t("SELECT 1 /*!40000 +1*/", &d), "SELECT 1 + 1");
        assert_eq!(t("SELECT 1 /*!50699 +1*/", &d), "SELECT 1 + 1");
        assert_eq!(t("SELECT 1 /*!50700 +1*/", &d), "SELECT 1");
        assert_eq!(t("SELECT 1 /*!80000 +1*/", &d), "SELECT 1");
        assert_eq!(t("SELECT 1 /*!99999 +1*/", &d), "SELECT 1");
        assert_eq!(t("SELECT 1 /*!100000 +1*/", &d), "SELECT 1 + 1");
        assert_eq!(t("SELECT 1 /*!080000 +1*/", &d), "SELECT 1");
        assert_eq!(t("SELECT 1 /*!999999 +1*/", &d), "SELECT 1");
        // 7 digits: the 7th is content (verified: `1 + /*!0000012*/` → 3).
        assert_eq!(t("SELECT 1 + /*!0000012*/", &d), "SELECT 1 + 2");
        // Fewer than 5 digits: not a version, the digits are content.
        assert_eq!(t("SELECT 5 - /*!1234*/", &d), "SELECT 5 - 1234");
        assert_eq!(t("SELECT 1 /*M!+1*/", &d), "SELECT 1 + 1");
        // /*M! has no MySQL range (verified: `/*M!50700 +1*/` → 2).
        assert_eq!(t("SELECT 1 /*M!50700 +1*/", &d), "SELECT 1 + 1");
        assert_eq!(t("SELECT 1 /*M!999999 +1*/", &d), "SELECT 1");
        assert_eq!(t("SELECT 1 /*m!+1*/", &d), "SELECT 1");
    }
    assert_eq!(t("SELECT 1 /*!101106 +1*/", &MARIA), "SELECT 1 + 1");
    assert_eq!(t("SELECT 1 /*!101107 +1*/", &MARIA), "SELECT 1");
    assert_eq!(t("SELECT 1 /*!101106 +1*/", &MARIA_105), "SELECT 1");
    assert_eq!(t("SELECT 1 /*M!101106 +1*/", &MARIA_105), "SELECT 1");
    // No whitespace needed after 6 digits (verified: `/*!1000002*/` → 3).
    assert_eq!(t("SELECT 1 + /*!1000002*/", &MARIA), "SELECT 1 + 2");
    let l = lex(b"SELECT 1 /*!50700 +1*/ /*!+2*/", &MARIA);
    let e: Vec<bool> = l.exec_comments.iter().map(|c| c.executed).collect();
    assert_eq!(e, vec![false, true]);
}

#[test]
fn executable_comments_mysql() {
    // Verified on MySQL 9.7.4. MySQL executes every version <= its own.
    for d in [MYSQL_80, MYSQL_97] {
        assert_eq!(t("SELECT 1 /*!+1*/", &d), "SELECT 1 + 1");
        assert_eq!(t("SELECT 1 /*!50700 +1*/", &d), "SELECT 1 + 1");
        assert_eq!(t("SELECT 1 /*!80000 +1*/", &d), "SELECT 1 + 1");
        assert_eq!(t("SELECT 1 /*!90705 +1*/", &d), "SELECT 1");
        // MariaDB's marker is a plain comment on MySQL.
        assert_eq!(t("SELECT 1 /*M!+1*/", &d), "SELECT 1");
        assert_eq!(
            t("SELECT 1 /*M!40000 /*!40000 +1 */ +2", &d),
            "SELECT 1 + 2"
        );
        // 5 digits then a non-space: the rest is content (verified: `/*!000001*/` → 2).
        assert_eq!(t("SELECT 1 + /*!000001*/", &d), "SELECT 1 + 1");
        assert_eq!(t("SELECT 1 + /*!123456*/", &d), "SELECT 1 + 6");
    }
    // 8.1+: 6 digits followed by whitespace are a 6-digit version (verified
    // on 9.7: `/*!100000 2*/` skipped, `/*!090704 +1*/` executed).
    assert_eq!(t("SELECT 1 /*!100000 +1*/", &MYSQL_97), "SELECT 1");
    assert_eq!(t("SELECT 1 /*!090704 +1*/", &MYSQL_97), "SELECT 1 + 1");
    assert_eq!(t("SELECT 1 /*!090705\t+1*/", &MYSQL_97), "SELECT 1");
    // 8.0 reads 5 digits only (from the MySQL 8.1 change notes; not run here).
    assert_eq!(t("SELECT 1 /*!100000 +1*/", &MYSQL_80), "SELECT 1 0 + 1");
    assert_eq!(t("SELECT 1 /*!90704 +1*/", &MYSQL_80), "SELECT 1");
    assert_eq!(t("SELECT 1 /*!90704 +1*/", &MYSQL_97), "SELECT 1 + 1");
    let latin1 = Dialect {
        charset: Charset::Latin1,
        ..MYSQL_97
    };
    // 0xA0 is whitespace in latin1 (verified: `1 + /*!000001\xa02*/` → 3).
    assert_eq!(
        toks(b"SELECT 1 + /*!000001\xa02*/", &latin1),
        "SELECT 1 + 2"
    );
}

#[test]
fn inside_executed_comments() {
    for d in [MARIA, MYSQL_80, MYSQL_97] {
        // Content is SQL: strings and line comments hide `*/` (verified).
        assert_eq!(t("SELECT 1 /*!40000 + '*/' */", &d), "SELECT 1 + '*/'");
        assert_eq!(
            t("SELECT 1 /*!40000 +1 -- x */ +2\n +4 */", &d),
            "SELECT 1 + 1 + 4"
        );
        assert_eq!(
            t("SELECT 1 /*!40000 +1 # */ +2\n +4 */", &d),
            "SELECT 1 + 1 + 4"
        );
        // A nested plain comment ends at its first `*/` (verified: → 4).
        assert_eq!(
            t("SELECT 1 /*!40000 +1 /* /* x */ +2 */", &d),
            "SELECT 1 + 1 + 2"
        );
        // A skipped version comment may nest one plain comment (verified: → 6, → 5).
        assert_eq!(
            t("SELECT 1 /*!40000 +1 /*!99999 /* x */ +2 */ +4 */", &d),
            "SELECT 1 + 1 + 4"
        );
        assert_eq!(
            t("SELECT 1 /*!99999 /*!40000 +1 */ +2 */ +4", &d),
            "SELECT 1 + 4"
        );
        assert_eq!(
            t("SELECT 1 /*!99999 +1 /* /* x */ */ */ +4", &d),
            "SELECT 1 * / + 4"
        );
        // Nested executed comments share one flag: the first `*/` closes (verified: → 4).
        assert_eq!(
            t("SELECT 1 /*!40000 /*!40000 +1 */ +2", &d),
            "SELECT 1 + 1 + 2"
        );
        assert_eq!(t("SELECT 1 /*!40000 +1 **/", &d), "SELECT 1 + 1 *");
        assert_eq!(t("SELECT 1 /*!40000 +1", &d), "SELECT 1 + 1 <UNTERMINATED>");
        assert_eq!(t("SELECT 1 /*!99999 +1", &d), "SELECT 1 <UNTERMINATED>");
        assert_eq!(
            t("SELECT 1 /*!40000 +1 /* x */ +2", &d),
            "SELECT 1 + 1 + 2 <UNTERMINATED>"
        );
        assert_eq!(
            t("SELECT 1 /*!40000 + 'a */", &d),
            "SELECT 1 + 'a */' <UNTERMINATED>"
        );
        let l = lex(b"SELECT 1 /*!40000 +1 */ +2", &d);
        let inside: Vec<bool> = l.tokens.iter().map(|t| t.in_exec).collect();
        assert_eq!(inside, vec![false, false, true, true, false, false]);
        assert_eq!(l.exec_closes, vec![23]);
    }
    // MariaDB's /*M! nests too (verified: → 4 on MariaDB, 3 on MySQL).
    assert_eq!(
        t("SELECT 1 /*M!40000 /*M!40000 +1 */ +2", &MARIA),
        "SELECT 1 + 1 + 2"
    );
}

#[test]
fn strings_and_identifiers() {
    for d in [MARIA, MYSQL_97] {
        assert_eq!(
            t(r"SELECT 'a\'b', 'a''b', 'x\\' 'y'", &d),
            r"SELECT 'a'b' , 'a'b' , 'x\' 'y'"
        );
        assert_eq!(t(r#"SELECT "a""b", "a\"b""#, &d), r#"SELECT 'a"b' , 'a"b'"#);
        assert_eq!(t("SELECT 'a\\nb\\%'", &d), "SELECT 'a\nb\\%'");
        assert_eq!(t("SELECT `a``b`, `a\\`", &d), "SELECT `a`b` , `a\\`");
        assert_eq!(t("SELECT 'a\\", &d), "SELECT 'a' <UNTERMINATED>");
        assert_eq!(t("SELECT `a", &d), "SELECT `a` <UNTERMINATED>");
        assert_eq!(t("SELECT \"a", &d), "SELECT 'a' <UNTERMINATED>");
        // Introducers lex as word + string (verified: N'a\'b' → a'b).
        assert_eq!(
            t(r"SELECT N'a\'b', _latin1'c'", &d),
            "SELECT N 'a'b' , _latin1 'c'"
        );
        assert_eq!(
            t("SELECT X'41', b'01', x'', ax'41'", &d),
            "SELECT '41' , '01' , '' , ax '41'"
        );
        // X'…' holds hex digits only (verified: X'4\'1' is a syntax error).
        assert_eq!(t(r"SELECT X'4\'1'", &d), "SELECT '' <MALFORMED>");
        assert_eq!(t("SELECT X'4", &d), "SELECT '' <UNTERMINATED>");
        assert_eq!(
            t(
                "SELECT 0x41, 0b1, 1e2, 1.5e1, .5, 1.e1, 1abc, 0x4G, 1e+5",
                &d
            ),
            "SELECT 0x41 , 0b1 , 1e2 , 1.5e1 , . 5 , 1.e1 , 1abc , 0x4G , 1e+5"
        );
        assert_eq!(
            t("SET @`a`:=1, @'b':=2", &d),
            "SET @ `a` : = 1 , @ 'b' : = 2"
        );
        let kinds: Vec<TokenKind> = lex(b"1abc 12 0x1f", &d)
            .tokens
            .into_iter()
            .map(|t| t.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![TokenKind::Word, TokenKind::Number, TokenKind::Number]
        );
    }
}

#[test]
fn sql_modes() {
    // Verified on both: with NO_BACKSLASH_ESCAPES `'a\'; SELECT 2; -- '`
    // runs two statements; without it, one string.
    for base in [MARIA, MYSQL_80, MYSQL_97] {
        let nbe = Dialect {
            no_backslash_escapes: true,
            ..base
        };
        assert_eq!(
            t(r"SELECT 'a\'; SELECT 2; -- '", &base),
            r"SELECT 'a'; SELECT 2; -- '"
        );
        assert_eq!(
            t(r"SELECT 'a\'; SELECT 2; -- '", &nbe),
            r"SELECT 'a\' ; SELECT 2 ;"
        );
        assert_eq!(
            t(r#"SELECT "a\"; SELECT 2; -- ""#, &nbe),
            r#"SELECT 'a\' ; SELECT 2 ;"#
        );
        let ansi = Dialect {
            ansi_quotes: true,
            ..base
        };
        // ANSI_QUOTES: "…" is an identifier, where backslash never escapes.
        assert_eq!(
            t(r#"SELECT "a\"; SELECT 2; -- ""#, &ansi),
            r#"SELECT `a\` ; SELECT 2 ;"#
        );
        assert_eq!(t(r#"SELECT "a""b", 'c'"#, &ansi), r#"SELECT `a"b` , 'c'"#);
    }
}

#[test]
fn smuggling_attempts() {
    // Verified: MariaDB skips /*!80000 (MySQL's range) so `;` ends the
    // statement; MySQL 8+/9 executes it, the quote opens a string, and the
    // comment never closes (syntax error).
    let sql = "ALTER TABLE db1.t COMMENT='x' /*!80000 ' */ ; DROP TABLE secretdb.cards; -- '";
    assert_eq!(
        t(sql, &MARIA),
        "ALTER TABLE db1 . t COMMENT = 'x' ; DROP TABLE secretdb . cards ;"
    );
    assert_eq!(
        t(sql, &MYSQL_97),
        "ALTER TABLE db1 . t COMMENT = 'x' ' */ ; DROP TABLE secretdb.cards; -- ' <UNTERMINATED>"
    );
    // Verified on both: `--\x01` is a comment, so the quote is inside it.
    let sql = "ALTER TABLE db1.t COMMENT='y' --\x01 '\n; INSERT INTO x VALUES (1); -- '";
    for d in [MARIA, MYSQL_80, MYSQL_97] {
        assert_eq!(
            t(sql, &d),
            "ALTER TABLE db1 . t COMMENT = 'y' ; INSERT INTO x VALUES ( 1 ) ;"
        );
    }
}

#[test]
fn charsets() {
    for ok in ["utf8mb4", "UTF8", "utf8mb3", "latin1", "ascii", "binary"] {
        assert!(lexable_charset(ok), "{ok}");
    }
    for bad in [
        "sjis", "cp932", "big5", "gbk", "gb18030", "swe7", "cp1250", "ucs2", "utf16",
    ] {
        assert!(!lexable_charset(bad), "{bad}");
    }
    assert_eq!(lex_charset("latin1"), Some(Charset::Latin1));
    let latin1 = Dialect {
        charset: Charset::Latin1,
        ..MYSQL_97
    };
    // latin1 symbols are operators, letters continue identifiers.
    assert_eq!(
        toks(b"SELECT a\xd7b, \xe9t\xe9", &latin1),
        "SELECT a \u{fffd} b , \u{fffd}t\u{fffd}"
    );
}

/// xorshift, so the test needs no dependency and is reproducible.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_bytes_never_panic() {
    let alphabet = b"/*!M+-#'\"`\\;xX01234567895 \n\t\x01\xa0(),.=@:aT";
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    for n in 0..20_000 {
        let len = (rng(&mut seed) % 40) as usize;
        let sql: Vec<u8> = (0..len)
            .map(|_| {
                let r = rng(&mut seed);
                if n % 3 == 0 {
                    r as u8
                } else {
                    alphabet[(r % alphabet.len() as u64) as usize]
                }
            })
            .collect();
        for d in [MARIA, MYSQL_80, MYSQL_97] {
            for (ansi, nbe) in [(false, false), (true, true)] {
                let d = Dialect {
                    ansi_quotes: ansi,
                    no_backslash_escapes: nbe,
                    charset: if n % 2 == 0 {
                        Charset::Latin1
                    } else {
                        Charset::Utf8
                    },
                    ..d
                };
                let l = lex(&sql, &d);
                for t in &l.tokens {
                    assert!(t.span.start < t.span.end && t.span.end <= sql.len());
                }
                let _ = super::parse_alter(&sql, &d);
                let _ = super::session_hint_value(&sql, &d);
                let with_prefix = [&b"ALTER TABLE t "[..], &sql].concat();
                let _ = super::parse_alter(&with_prefix, &d);
            }
        }
    }
}
