//! ALTER TABLE reader cases.

use super::alter::*;
use super::lexer::{Dialect, Flavour};

const MARIA: Dialect = Dialect {
    flavour: Flavour::MariaDb,
    version: 101106,
    ansi_quotes: false,
    no_backslash_escapes: false,
    charset: super::lexer::Charset::Utf8,
};
const MYSQL: Dialect = Dialect {
    flavour: Flavour::MySql,
    version: 90704,
    ..MARIA
};
const MYSQL_80: Dialect = Dialect {
    version: 80040,
    ..MYSQL
};

fn body<'a>(sql: &'a str, a: &Alter) -> &'a str {
    &sql[a.body.clone()]
}

fn p(sql: &str) -> Result<Alter, AlterError> {
    parse_alter(sql.as_bytes(), &MARIA)
}

fn n(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[test]
fn table_body_and_hints() {
    let sql = "/* ghostwire: async postpone */ ALTER TABLE `shop`.`or``ders` ADD COLUMN c INT, ENGINE=InnoDB ;";
    let a = p(sql).unwrap();
    assert_eq!(a.schema, Some(n("shop")));
    assert_eq!(a.table, n("or`ders"));
    assert_eq!(body(sql, &a), "ADD COLUMN c INT, ENGINE=InnoDB");
    assert!(a.hints.async_ && a.hints.postpone && !a.hints.direct);
    let sql = "alter online ignore table t /*+ GhostWire:direct */ force";
    let a = p(sql).unwrap();
    assert!(a.ignore && a.online && a.hints.direct);
    assert_eq!(body(sql, &a), "/*+ GhostWire:direct */ force");
    assert_eq!((a.schema, a.table), (None, n("t")));
    assert!(p("ALTER TABLE t").unwrap().is_empty());
    assert!(p("ALTER TABLE t ; ;").unwrap().is_empty());
    assert_eq!(
        p("ALTER TABLE t /* ghostwire: fast */ FORCE"),
        Err(AlterError::UnknownHint("fast".into()))
    );
    // Names may be separated by comments and whitespace.
    let a = p("ALTER /* a */ TABLE -- b\n db /* c */ . # d\n `t` FORCE").unwrap();
    assert_eq!((a.schema, a.table), (Some(n("db")), n("t")));
}

#[test]
fn body_ends_before_trailing_comments() {
    // A trailing line comment stays out of the body, so text appended to the
    // body (`, ALGORITHM=…`) is not commented out.
    let sql = "ALTER TABLE t ADD c INT -- x";
    assert_eq!(body(sql, &p(sql).unwrap()), "ADD c INT");
    let sql = "ALTER TABLE t ADD c INT /* x */ ; -- y";
    assert_eq!(body(sql, &p(sql).unwrap()), "ADD c INT");
    // Unless the last token is inside an executed comment: keep its `*/`.
    let sql = "ALTER TABLE t ADD c INT /*!40000 , ADD d INT */ -- z";
    let a = p(sql).unwrap();
    assert_eq!(body(sql, &a), "ADD c INT /*!40000 , ADD d INT */");
    assert_eq!(a.ops.len(), 2);
    // Skipped ones do not count for ops (MariaDB skips /*!80000).
    let sql = "ALTER TABLE t ADD c INT /*!80000 , ADD d INT */";
    assert_eq!(parse_alter(sql.as_bytes(), &MARIA).unwrap().ops.len(), 1);
    assert_eq!(parse_alter(sql.as_bytes(), &MYSQL).unwrap().ops.len(), 2);
}

#[test]
fn strict_prefix() {
    use AlterError::*;
    for (sql, want) in [
        ("/*!40000 ALTER TABLE t */ FORCE", UnclearPrefix),
        ("ALTER /*!99999 IGNORE */ TABLE t FORCE", UnclearPrefix),
        ("ALTER TABLE /*!40000 db.*/t FORCE", UnclearPrefix),
        ("ALTER TABLE db/*!40000 .u*/ FORCE", UnclearPrefix),
        ("ALTER TABLE /*M!100000 x */ t FORCE", UnclearPrefix),
        ("ALTER TABLE 't' FORCE", NoTable),
        ("ALTER TABLE IF EXISTS t FORCE", UnclearPrefix),
        ("SELECT 1", UnclearPrefix),
        ("ALTER TABLESPACE x", UnclearPrefix),
        ("ALTER TABLE", NoTable),
        ("ALTER TABLE db.", NoTable),
        ("ALTER TABLE 12 FORCE", NoTable),
    ] {
        assert_eq!(p(sql), Err(want.clone()), "{sql}");
        assert_eq!(parse_alter(sql.as_bytes(), &MYSQL), Err(want), "{sql}");
    }
    // A plain comment of MySQL that looks like MariaDB's executable one.
    assert_eq!(
        parse_alter(b"ALTER /*M!40000 IGNORE */ TABLE t FORCE", &MYSQL),
        Err(UnclearPrefix)
    );
}

#[test]
fn refusals() {
    use AlterError::*;
    for (sql, want) in [
        ("ALTER TABLE t ADD c INT; SELECT 1", MultiStatement),
        ("ALTER TABLE t ADD c INT /*!40000 ; */", MultiStatement),
        (
            "ALTER TABLE t ADD c INT /*!40000 ; SELECT 1 */",
            MultiStatement,
        ),
        ("ALTER TABLE t RENAME TO u", RenameTable),
        ("ALTER TABLE t RENAME u", RenameTable),
        ("ALTER TABLE t ADD c INT, RENAME AS u", RenameTable),
        (
            "ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 4",
            Partition,
        ),
        ("ALTER TABLE t ADD c INT PARTITION BY KEY()", Partition),
        ("ALTER TABLE t REMOVE PARTITIONING", Partition),
        (
            "ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (30))",
            Partition,
        ),
        ("ALTER TABLE t DROP PARTITION p1", Partition),
        ("ALTER TABLE t EXCHANGE PARTITION p WITH TABLE u", Partition),
        ("ALTER TABLE t /*!50100 PARTITION BY KEY() */", Partition),
        ("ALTER TABLE t DISCARD TABLESPACE", Partition),
        ("ALTER TABLE t IMPORT TABLESPACE", Partition),
        ("ALTER TABLE t COMMENT 'x", Unterminated),
        ("ALTER TABLE t COMMENT X'4G'", Malformed),
        ("ALTER TABLE t FORCE /* x", Unterminated),
    ] {
        assert_eq!(p(sql), Err(want), "{sql}");
    }
    // Keywords inside strings, parentheses, comments or skipped executable
    // comments do not count.
    let sql = "ALTER TABLE t ADD c INT COMMENT 'rename; partition', ADD d INT DEFAULT (1) /*!99999 PARTITION BY KEY() */ -- partition\n";
    let a = p(sql).unwrap();
    // The skipped comment at the end is a no-op here, so it may stay out.
    assert_eq!(
        body(sql, &a),
        "ADD c INT COMMENT 'rename; partition', ADD d INT DEFAULT (1)"
    );
    assert!(
        p("ALTER TABLE t RENAME INDEX a TO b, RENAME KEY c TO d, RENAME COLUMN e TO f").is_ok()
    );
}

#[test]
fn smuggling_attempts() {
    // MariaDB skips /*!80000, so the server sees `; DROP TABLE …`.
    let sql = "ALTER TABLE db1.t COMMENT='x' /*!80000 ' */ ; DROP TABLE secretdb.cards; -- '";
    assert_eq!(p(sql), Err(AlterError::MultiStatement));
    // MySQL executes it: the quote opens a string and the comment never
    // closes, which the server refuses (syntax error) and so do we.
    assert_eq!(
        parse_alter(sql.as_bytes(), &MYSQL),
        Err(AlterError::Unterminated)
    );
    assert_eq!(
        parse_alter(sql.as_bytes(), &MYSQL_80),
        Err(AlterError::Unterminated)
    );
    let sql =
        "ALTER TABLE db1.t COMMENT='y' --\x01 '\n; INSERT INTO secretdb.cards VALUES (1); -- '";
    for d in [MARIA, MYSQL, MYSQL_80] {
        assert_eq!(
            parse_alter(sql.as_bytes(), &d),
            Err(AlterError::MultiStatement)
        );
    }
    // NO_BACKSLASH_ESCAPES changes where the string ends.
    let sql = r"ALTER TABLE t COMMENT 'a\'; DROP TABLE u; -- '";
    let a = p(sql).unwrap();
    assert_eq!(body(sql, &a), r"COMMENT 'a\'; DROP TABLE u; -- '");
    let nbe = Dialect {
        no_backslash_escapes: true,
        ..MARIA
    };
    assert_eq!(
        parse_alter(sql.as_bytes(), &nbe),
        Err(AlterError::MultiStatement)
    );
    // ANSI_QUOTES: "…" is an identifier, backslash is not an escape in it.
    let sql = r#"ALTER TABLE t COMMENT "a\"; DROP TABLE u; -- ""#;
    assert!(p(sql).is_ok());
    let ansi = Dialect {
        ansi_quotes: true,
        ..MARIA
    };
    assert_eq!(
        parse_alter(sql.as_bytes(), &ansi),
        Err(AlterError::MultiStatement)
    );
    let a = parse_alter(br#"ALTER TABLE "db"."t" FORCE"#, &ansi).unwrap();
    assert_eq!((a.schema, a.table), (Some(n("db")), n("t")));
}

#[test]
fn column_ops() {
    let a = p("ALTER TABLE t ADD c INT, ADD COLUMN `d e` TEXT AFTER c, ADD IF NOT EXISTS f INT, \
               ADD COLUMN IF NOT EXISTS (g INT, h INT, INDEX (g)), ADD (i INT), \
               DROP j, DROP COLUMN k, DROP COLUMN IF EXISTS l, DROP INDEX m, DROP KEY n, DROP FOREIGN KEY o, \
               DROP CONSTRAINT p, DROP CHECK q, DROP PRIMARY KEY, \
               CHANGE a b INT, CHANGE COLUMN `x` `y` TEXT, MODIFY z BIGINT, MODIFY COLUMN w INT, \
               RENAME COLUMN f TO g, ALTER COLUMN c SET DEFAULT 1, ALTER v DROP DEFAULT, ALTER INDEX i2 INVISIBLE")
        .unwrap();
    let add = |s: &str, ine: bool| Op::AddColumn {
        name: n(s),
        if_not_exists: ine,
    };
    let drop = |s: &str, ie: bool| Op::DropColumn {
        name: n(s),
        if_exists: ie,
    };
    assert_eq!(
        a.ops,
        vec![
            add("c", false),
            add("d e", false),
            add("f", true),
            add("g", true),
            add("h", true),
            Op::Other("ADD INDEX".into()),
            add("i", false),
            drop("j", false),
            drop("k", false),
            drop("l", true),
            Op::Other("DROP INDEX".into()),
            Op::Other("DROP KEY".into()),
            Op::Other("DROP FOREIGN".into()),
            Op::Other("DROP CONSTRAINT".into()),
            Op::Other("DROP CHECK".into()),
            Op::DropPrimaryKey,
            Op::Change {
                old: n("a"),
                new: n("b")
            },
            Op::Change {
                old: n("x"),
                new: n("y")
            },
            Op::Modify { name: n("z") },
            Op::Modify { name: n("w") },
            Op::RenameColumn {
                old: n("f"),
                new: n("g")
            },
            Op::AlterColumn { name: n("c") },
            Op::AlterColumn { name: n("v") },
            Op::Other("ALTER INDEX".into()),
        ]
    );
    let a = p("ALTER TABLE t ADD INDEX i (a), ADD UNIQUE KEY u (b), ADD PRIMARY KEY (id), \
               ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES p (id), ADD FOREIGN KEY (b) REFERENCES p (id), \
               ADD CONSTRAINT pk PRIMARY KEY (x), ADD FULLTEXT (c), ADD SPATIAL (g), ADD CHECK (a > 0), \
               ADD PERIOD FOR p(s, e), ADD SYSTEM VERSIONING, \
               CONVERT TO CHARACTER SET utf8mb4, ENGINE=InnoDB AUTO_INCREMENT = 47, ALGORITHM=INPLACE, LOCK=NONE, FORCE")
    .unwrap();
    assert_eq!(
        a.ops,
        vec![
            Op::Other("ADD INDEX".into()),
            Op::Other("ADD UNIQUE".into()),
            Op::AddPrimaryKey,
            Op::AddForeignKey,
            Op::AddForeignKey,
            Op::AddPrimaryKey,
            Op::Other("ADD FULLTEXT".into()),
            Op::Other("ADD SPATIAL".into()),
            Op::Other("ADD CHECK".into()),
            Op::Other("ADD PERIOD".into()),
            Op::Other("ADD SYSTEM".into()),
            Op::ConvertCharset,
            Op::AutoIncrement(47),
            Op::Other("ENGINE".into()),
            Op::Other("ALGORITHM".into()),
            Op::Other("LOCK".into()),
            Op::Other("FORCE".into()),
        ]
    );
    assert!(a.algorithm_given);
    assert_eq!(a.auto_increment, Some(47));
    // AUTO_INCREMENT as a column attribute is not the table option.
    let a = p("ALTER TABLE t MODIFY id BIGINT AUTO_INCREMENT, AUTO_INCREMENT=5").unwrap();
    assert_eq!(
        a.ops,
        vec![Op::Modify { name: n("id") }, Op::AutoIncrement(5)]
    );
    assert_eq!(a.auto_increment, Some(5));
    assert!(!p("ALTER TABLE t FORCE").unwrap().algorithm_given);
    // Case-insensitive keywords, MariaDB's IF EXISTS on CHANGE/MODIFY.
    let a = p("alter table t change if exists a b int, modify column if exists c int").unwrap();
    assert_eq!(
        a.ops,
        vec![
            Op::Change {
                old: n("a"),
                new: n("b")
            },
            Op::Modify { name: n("c") }
        ]
    );
}

#[test]
fn dropping_indexes_with_the_clients_own_algorithm_is_metadata_only() {
    let meta = |sql: &str| {
        let a = p(sql).unwrap();
        metadata_only(&a.ops, a.algorithm.as_deref())
    };
    assert!(meta("ALTER TABLE t DROP INDEX a, RENAME KEY b TO c"));
    assert!(meta(
        "ALTER TABLE t DROP INDEX a, ALGORITHM=INPLACE, LOCK=NONE"
    ));
    assert!(meta("ALTER TABLE t DROP KEY a, ALGORITHM = DEFAULT"));
    assert!(meta(
        "ALTER TABLE t DROP INDEX a, ALGORITHM=NOCOPY, LOCK=SHARED"
    ));
    // A rebuild asked for, or INSTANT (refused natively): not in place.
    assert!(!meta("ALTER TABLE t DROP INDEX a, ALGORITHM=COPY"));
    assert!(!meta("ALTER TABLE t DROP INDEX a, algorithm=instant"));
    // Clauses alone, or with anything else: not metadata only.
    assert!(!meta("ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE"));
    assert!(!meta("ALTER TABLE t DROP INDEX a, ADD INDEX (b)"));
    assert!(!meta("ALTER TABLE t DROP INDEX a, FORCE"));
}
