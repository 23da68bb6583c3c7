//! Changes that reach the binlog as statements, not rows.
//!
//! The tail replays row events only. A change to the migrated table logged
//! as a statement (a session with `binlog_format = STATEMENT` or `MIXED`,
//! which a user with the right may set for itself, or a `TRUNCATE`, which
//! is logged as a statement in every format) would never reach the shadow:
//! the new table would silently lack it (and with `checksum = false`
//! nothing would notice). Such a statement stops the migration instead,
//! with the table unchanged.
//!
//! The test is deliberately wide, on the statement's bytes: a data-changing
//! verb first (after spaces and comments), and the table's name anywhere as
//! a whole identifier (in backquotes or not, any case) — and, for a
//! statement run in another default database, the schema's name too. A
//! statement that only mentions the names (reads the table, or has them in
//! a string) stops the migration as well: a needless stop is safe, a missed
//! change is not.

/// Verbs of statements that change rows (`WITH` may lead an UPDATE or
/// DELETE on MySQL 8).
const CHANGING: [&str; 7] = [
    "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD", "TRUNCATE", "WITH",
];

/// Whether `query` (a binlog Query event's text, run with `default_db` as
/// its session's database) may change `schema.table`.
pub(super) fn may_change(query: &[u8], default_db: &[u8], schema: &str, table: &str) -> bool {
    about(query, &CHANGING, default_db, schema, table)
}

/// Verbs of statements that change a table's definition (`CREATE INDEX`,
/// `CREATE TRIGGER … ON t`, `DROP …`, `RENAME TABLE`, `ALTER TABLE`).
const REDEFINING: [&str; 4] = ["ALTER", "CREATE", "DROP", "RENAME"];

/// Whether `query` may change the definition of `schema.table` (or drop
/// its database: the migration would wait for a table that is gone, and
/// hold the name of one made anew) without
/// being this migration's own: its cut-over's RENAME and its sentry's
/// CREATE and DROP all name `own` (the migration's old-table name), which
/// nobody else has a reason to. Such a change would be undone by the
/// cut-over (the new table was made before it); the cut-over checks the
/// definitions under its lock in any case, this only stops the migration
/// as soon as the change is made instead of at its end.
pub(super) fn may_redefine(
    query: &[u8],
    default_db: &[u8],
    schema: &str,
    table: &str,
    own: &str,
) -> bool {
    let drops_schema = first_word(query).eq_ignore_ascii_case(b"DROP")
        && (mentions(query, "DATABASE") || mentions(query, "SCHEMA"))
        && mentions(query, schema);
    (about(query, &REDEFINING, default_db, schema, table) || drops_schema) && !mentions(query, own)
}

/// Whether `query` starts with one of `verbs` and names `schema.table`.
fn about(query: &[u8], verbs: &[&str], default_db: &[u8], schema: &str, table: &str) -> bool {
    let verb = first_word(query);
    verbs
        .iter()
        .any(|v| verb.eq_ignore_ascii_case(v.as_bytes()))
        && mentions(query, table)
        && (default_db == schema.as_bytes() || mentions(query, schema))
}

/// The first word after spaces and `/* … */`, `-- …` and `# …` comments.
fn first_word(q: &[u8]) -> &[u8] {
    let mut i = 0;
    loop {
        while q.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let rest = q.get(i..).unwrap_or_default();
        if rest.starts_with(b"/*") {
            i = match find(rest, b"*/") {
                Some(end) => i + end + 2,
                None => return &[],
            };
        } else if rest.starts_with(b"--") || rest.starts_with(b"#") {
            i = match rest.iter().position(|&b| b == b'\n') {
                Some(end) => i + end + 1,
                None => return &[],
            };
        } else {
            let len = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            return rest.get(..len).unwrap_or_default();
        }
    }
}

/// Whether `name` occurs in `q` as a whole identifier (ASCII case
/// ignored; a byte that may be part of an identifier on either side makes
/// it part of a longer name).
fn mentions(q: &[u8], name: &str) -> bool {
    let name = name.as_bytes();
    if name.is_empty() || q.len() < name.len() {
        return false;
    }
    let ident = |b: Option<&u8>| {
        b.is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80)
    };
    (0..=q.len() - name.len()).any(|i| {
        q.get(i..i + name.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(name))
            && !ident(i.checked_sub(1).and_then(|p| q.get(p)))
            && !ident(q.get(i + name.len()))
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::may_change as may_change_in;
    use super::may_redefine;

    /// A statement run in database `d` about `d.t`.
    fn may_change(q: &[u8], t: &str) -> bool {
        may_change_in(q, b"d", "d", t)
    }

    #[test]
    fn other_databases_count_only_when_named() {
        assert!(may_change_in(b"UPDATE d.t SET k = 1", b"other", "d", "t"));
        assert!(may_change_in(b"UPDATE `d`.`t` SET k = 1", b"", "d", "t"));
        assert!(!may_change_in(b"UPDATE t SET k = 1", b"other", "d", "t"));
        assert!(!may_change_in(b"UPDATE e.t SET k = 1", b"other", "d", "t"));
    }

    #[test]
    fn data_changing_statements_that_name_the_table_are_caught() {
        for q in [
            "UPDATE t SET k = 1",
            "update `t` set k = 1",
            "/* app */ DELETE FROM d.t WHERE id = 1",
            "-- x\nINSERT INTO `d`.`t` VALUES (1)",
            "# x\nREPLACE INTO T VALUES (1)",
            "TRUNCATE TABLE t",
            "WITH c AS (SELECT 1) UPDATE t JOIN c SET k = 2",
            "LOAD DATA INFILE 'f' INTO TABLE t",
            "INSERT INTO other SELECT * FROM t",
        ] {
            assert!(may_change(q.as_bytes(), "t"), "{q}");
        }
    }

    #[test]
    fn definition_changes_that_name_the_table_are_caught() {
        for q in [
            "ALTER TABLE t ADD COLUMN z INT",
            "/* ghostwire: direct */ alter table `d`.`t` add index (v)",
            "CREATE INDEX i ON t (v)",
            "CREATE DEFINER=`u`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @x = 1",
            "DROP INDEX i ON t",
            "DROP TABLE `t` /* generated by server */",
            "RENAME TABLE t TO t2",
            "DROP DATABASE d",
            "drop schema if exists `d`",
        ] {
            assert!(
                may_redefine(q.as_bytes(), b"d", "d", "t", "t_1234abcd_del"),
                "{q}"
            );
        }
        assert!(may_redefine(
            b"ALTER TABLE d.t FORCE",
            b"",
            "d",
            "t",
            "t_1_del"
        ));
        assert!(!may_redefine(
            b"ALTER TABLE t FORCE",
            b"e",
            "d",
            "t",
            "t_1_del"
        ));
    }

    #[test]
    fn this_migrations_own_statements_and_others_pass() {
        for q in [
            "RENAME TABLE `d`.`t` TO `d`.`t_1234abcd_del`, `d`.`t_gho` TO `d`.`t`",
            "CREATE TABLE `d`.`t_1234abcd_del` (mark BIGINT) COMMENT 'ghostwire cut-over sentry'",
            "DROP TABLE `d`.`t_1234abcd_del`",
            "ALTER TABLE `d`.`t_gho` AUTO_INCREMENT = 7",
            "ALTER TABLE t2 ADD COLUMN z INT",
            "ANALYZE TABLE t",
            "OPTIMIZE TABLE t",
            "UPDATE t SET k = 1",
            "DROP DATABASE e",
        ] {
            assert!(
                !may_redefine(q.as_bytes(), b"d", "d", "t", "t_1234abcd_del"),
                "{q}"
            );
        }
    }

    #[test]
    fn other_statements_and_other_tables_pass() {
        for q in [
            "BEGIN",
            "COMMIT",
            "UPDATE t2 SET k = 1",
            "UPDATE tt SET k = 1",
            "DELETE FROM t_gho WHERE id = 1",
            "DELETE FROM `t$x` WHERE id = 1",
            "CREATE TABLE `d`.`t_1234abcd_del` (mark BIGINT)",
            "RENAME TABLE `d`.`t` TO `d`.`t_1_del`, `d`.`t_gho` TO `d`.`t`",
            "DROP TABLE `d`.`t_gho`",
            "/* unterminated",
            "",
        ] {
            assert!(!may_change(q.as_bytes(), "t"), "{q}");
        }
    }
}
