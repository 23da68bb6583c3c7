//! Rights the server checks on the client's own connection but ghostwire's
//! privileged account would not: other tables, REFERENCES, temporary
//! tables shadowing base tables, MERGE unions, hints.

use crate::common;
use crate::world::{
    Case,
    Policy::{Same, SameOrRefused},
    World,
};
use mysql_async::prelude::*;

const OWN_TABLE: &str = "ALTER, SELECT, INSERT, UPDATE, DELETE ON {db1}.t";

/// Migrations ghostwire recorded for tables of `schema`.
async fn recorded(schema: &str) -> Vec<(String, String)> {
    let mut c = common::direct_conn_to("mysql").await;
    let rows = c
        .exec(
            "SELECT table_name, statement FROM _ghostwire.migrations WHERE table_schema = ?",
            (schema,),
        )
        .await
        .unwrap_or_default();
    c.disconnect().await.ok();
    rows
}

async fn assert_nothing_recorded(w: &World, schema: &str) {
    let rows = recorded(schema).await;
    assert!(
        rows.is_empty(),
        "ATTACK SUCCEEDED [{}]: ghostwire recorded migrations of tables the user may not \
         alter (their text is readable via SHOW MIGRATIONS): {rows:?}",
        w.user
    );
}

/// On the same connection a temporary table hides the base table of the
/// same name: natively the ALTER changes only the temporary one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_table_shadowing_a_foreign_table() {
    let w = World::new(
        "atk_tmp",
        &[OWN_TABLE, "SELECT, CREATE TEMPORARY TABLES ON {secret}.*"],
        &[],
    )
    .await;
    let create = "CREATE TEMPORARY TABLE {secret}.cards (id INT PRIMARY KEY, pan VARCHAR(20))";
    let mut cases = vec![
        Case::new(
            "temporary table shadows secret.cards: DROP COLUMN pan",
            &[create, "ALTER TABLE {secret}.cards DROP COLUMN pan"],
            Same,
        ),
        Case::new(
            "temporary table shadows secret.cards: ADD INDEX (copy path)",
            &[create, "ALTER TABLE {secret}.cards ADD INDEX (pan)"],
            Same,
        ),
    ];
    let mut unqualified = Case::new(
        "temporary table shadows secret.cards, unqualified",
        &[
            "CREATE TEMPORARY TABLE cards (id INT PRIMARY KEY, pan VARCHAR(20))",
            "ALTER TABLE cards DROP COLUMN pan, ADD nothing INT",
        ],
        Same,
    );
    unqualified.db = Some(&w.secret);
    cases.push(unqualified);
    w.cases(&cases).await;
}

/// ADD FOREIGN KEY needs REFERENCES on the parent: natively ERR 1142
/// before anything is looked at. Through ghostwire neither an FK nor an
/// answer that tells whether parent rows exist (ERR 1452) may come out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_without_the_privilege() {
    let w = World::new("atk_ref", &[OWN_TABLE], &[]).await;
    let fk = "ALTER TABLE {db1}.t ADD FOREIGN KEY (v) REFERENCES {secret}.cards(id)";
    // Parent rows exist for every child: the FK itself would be created.
    let matching = [
        "DELETE FROM {db1}.t WHERE id = 3",
        "UPDATE {db1}.t SET v = id",
        fk,
    ];
    let cases = [
        Case::new("FK to secret.cards, no parent rows", &[fk], Same),
        Case::new("FK to secret.cards, parent rows exist", &matching, Same),
        Case::new(
            "FK to secret.cards via CONSTRAINT, copy path",
            &["ALTER TABLE {db1}.t ADD INDEX (v), ADD CONSTRAINT f FOREIGN KEY (v) REFERENCES {secret}.cards(id)"],
            Same,
        ),
        Case::new(
            "FK to a missing secret table",
            &["ALTER TABLE {db1}.t ADD FOREIGN KEY (v) REFERENCES {secret}.nope(id)"],
            Same,
        ),
    ];
    w.cases(&cases).await;
}

/// ALTER on db1.t only: ALTER of db2.other is the server's ERR 1142 and
/// leaves no trace in ghostwire's state (which SHOW MIGRATIONS shows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_of_a_table_without_the_privilege() {
    // SELECT on db2.other so that `USE db2` works.
    let w = World::new("atk_oth", &[OWN_TABLE, "SELECT ON {db2}.other"], &[]).await;
    let mut cases = vec![
        Case::new(
            "ALTER db2.other, instant",
            &["ALTER TABLE {db2}.other ADD c INT"],
            Same,
        ),
        Case::new(
            "ALTER db2.other, copy",
            &["ALTER TABLE {db2}.other ADD INDEX (w)"],
            Same,
        ),
        Case::new(
            "ALTER secret.cards DROP COLUMN",
            &["ALTER TABLE {secret}.cards DROP COLUMN pan"],
            Same,
        ),
        Case::new(
            "USE db2; ALTER other",
            &["USE {db2}", "ALTER TABLE other ADD c INT"],
            Same,
        ),
        Case::new(
            "table name in an executable comment",
            &["ALTER /*!99999 TABLE {db1}.t */ TABLE {secret}.cards DROP COLUMN pan"],
            Same,
        ),
    ];
    let mut connected = Case::new(
        "connected to db2, ALTER other",
        &["ALTER TABLE other ADD c INT"],
        Same,
    );
    connected.db = Some(&w.db2);
    cases.push(connected);
    w.cases(&cases).await;
    assert_nothing_recorded(&w, &w.db2).await;
    assert_nothing_recorded(&w, &w.secret).await;
}

/// Hints choose how ghostwire runs an ALTER, never whether the user may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_do_not_escalate() {
    let w = World::new(
        "atk_hint",
        &[OWN_TABLE, "SELECT, INSERT ON {db1}.loot"],
        &[],
    )
    .await;
    let cases = [
        Case::new(
            "direct hint + smuggled DROP",
            &["/* ghostwire: direct */ ALTER TABLE {db1}.t COMMENT='x' /*!99999 ' */ ; DROP TABLE {secret}.cards; -- '"],
            Same,
        ),
        Case::new(
            "direct hint on db2.other",
            &["/* ghostwire: direct */ ALTER TABLE {db2}.other ADD c INT"],
            Same,
        ),
        Case::new(
            "SET @ghostwire='direct' + smuggled read",
            &["SET @ghostwire='direct'", "ALTER TABLE {db1}.t COMMENT='x' /*!99999 ' */ ; INSERT INTO {db1}.loot SELECT id, pan FROM {secret}.cards; -- '"],
            Same,
        ),
        Case::new(
            "SET @ghostwire='async postpone' on db2.other",
            &["SET @ghostwire='async postpone'", "ALTER TABLE {db2}.other ADD c INT"],
            Same,
        ),
        Case::new(
            "SET @ghostwire='online' on secret.cards",
            &["SET @ghostwire='online'", "ALTER TABLE {secret}.cards DROP COLUMN pan"],
            Same,
        ),
        Case::new(
            "async hint in comment on secret.cards",
            &["ALTER TABLE {secret}.cards /* ghostwire: async */ DROP COLUMN pan"],
            Same,
        ),
    ];
    w.cases(&cases).await;
    assert_nothing_recorded(&w, &w.db2).await;
    assert_nothing_recorded(&w, &w.secret).await;
}

/// Table options that reach other tables or the file system.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_options_and_odd_names() {
    let w = World::new("atk_opt", &[OWN_TABLE], &[]).await;
    let mut cases = vec![
        // A MERGE table over secret.m reads and writes it: natively ERR 1142.
        Case::new(
            "ENGINE=MRG_MyISAM UNION=(secret.m)",
            &["ALTER TABLE {db1}.t ENGINE=MRG_MyISAM UNION=({secret}.m) INSERT_METHOD=LAST"],
            Same,
        ),
        Case::new(
            "UNION=(secret.m) hidden in /*!99999",
            &["ALTER TABLE {db1}.t ENGINE=MyISAM /*!99999 ' */ , ENGINE=MRG_MyISAM UNION=({secret}.m) -- '"],
            SameOrRefused,
        ),
        Case::new(
            "DATA/INDEX DIRECTORY (needs FILE)",
            &["ALTER TABLE {db1}.t ENGINE=MyISAM DATA DIRECTORY='/tmp' INDEX DIRECTORY='/tmp'"],
            Same,
        ),
        Case::new("ENGINE=Aria", &["ALTER TABLE {db1}.t ENGINE=Aria"], Same),
        Case::new(
            "partitions in an executable comment",
            &["ALTER TABLE {db1}.t /*!50100 PARTITION BY HASH(id) PARTITIONS 2 */"],
            SameOrRefused,
        ),
        Case::new(
            "backquoted names",
            &["ALTER TABLE `{db1}`.`t` ADD `c``d` INT COMMENT 'q''\"'"],
            Same,
        ),
        Case::new(
            "unicode names",
            &["ALTER TABLE {db1}.t ADD `çé€` INT COMMENT 'ü'"],
            Same,
        ),
        Case::new(
            "4-byte characters in a comment",
            &["ALTER TABLE {db1}.t ADD c INT COMMENT 'ü😀'"],
            Same,
        ),
        Case::new(
            "ANSI_QUOTES names",
            &["SET sql_mode='ANSI_QUOTES'", "ALTER TABLE \"{db1}\".\"t\" ADD c INT"],
            SameOrRefused,
        ),
        Case::new(
            "ANSI_QUOTES name of a foreign table",
            &["SET sql_mode='ANSI_QUOTES'", "ALTER TABLE \"{secret}\".\"cards\" DROP COLUMN pan"],
            Same,
        ),
    ];
    let long = format!(
        "ALTER TABLE {{db1}}.t ADD c INT {}",
        "/* pad */ ".repeat(200_000)
    );
    cases.push(Case::new("a 2 MB statement", &[long.as_str()], Same));
    if crate::common::is_mysql() {
        // Known gap on MySQL with GTIDs: a copy to MyISAM fails with ERR
        // 1785 (the table is left as it was, nothing escalates); see
        // KNOWN_MYSQL in tests/fidelity.rs.
        cases.retain(|c| c.label != "DATA/INDEX DIRECTORY (needs FILE)");
    }
    w.cases(&cases).await;
}
