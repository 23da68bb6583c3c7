//! Tables named like ghostwire's helpers (`<t>_gho`, `<t>_del`) that
//! belong to someone else: ghostwire may refuse to migrate next to them,
//! but must never drop or change a table it did not create.

use crate::world::{
    Case,
    Policy::{Same, SameOrRefused},
    World,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_helper_named_tables_survive() {
    let w = World::new(
        "atk_hlp",
        &[
            "ALTER, SELECT, INSERT, UPDATE, DELETE ON {db1}.t",
            "ALTER, SELECT, INSERT, UPDATE, DELETE ON {db1}.u",
        ],
        &[
            "CREATE TABLE {db1}.t_gho (id INT PRIMARY KEY, owner VARCHAR(20))",
            "INSERT INTO {db1}.t_gho VALUES (1, 'someone else')",
            "CREATE TABLE {db1}.t_del (id INT PRIMARY KEY, owner VARCHAR(20))",
            "INSERT INTO {db1}.t_del VALUES (1, 'someone else')",
            // A table that only looks like a cut-over sentry by its comment.
            "CREATE TABLE {db1}.u (id INT PRIMARY KEY, v INT)",
            "INSERT INTO {db1}.u VALUES (1, 1)",
            "CREATE TABLE {db1}.u_del (mark BIGINT NOT NULL PRIMARY KEY) COMMENT='ghostwire cut-over sentry'",
            "INSERT INTO {db1}.u_del VALUES (7)",
        ],
    )
    .await;
    let cases = [
        Case::new(
            "syntax error next to foreign t_gho/t_del",
            &["ALTER TABLE {db1}.t ADD COLUMN"],
            Same,
        ),
        Case::new(
            "unknown column next to foreign t_gho/t_del",
            &["ALTER TABLE {db1}.t DROP COLUMN nope"],
            Same,
        ),
        Case::new(
            "bad type next to foreign t_gho/t_del",
            &["ALTER TABLE {db1}.t MODIFY v NOSUCHTYPE"],
            Same,
        ),
        // Needs a copy, so a shadow t_gho: ghostwire may refuse.
        Case::new(
            "copy refused because t_gho exists",
            &["ALTER TABLE {db1}.t ADD INDEX (v)"],
            SameOrRefused,
        ),
        Case::new(
            "copy with ALGORITHM=COPY next to foreign t_gho",
            &["ALTER TABLE {db1}.t ADD c INT, ALGORITHM=COPY"],
            SameOrRefused,
        ),
        Case::new(
            "instant ALTER next to foreign t_gho/t_del",
            &["ALTER TABLE {db1}.t ADD c INT"],
            Same,
        ),
        Case::new(
            "syntax error next to a foreign sentry-looking u_del",
            &["ALTER TABLE {db1}.u ADD COLUMN"],
            Same,
        ),
        Case::new(
            "copy next to a foreign sentry-looking u_del",
            &["ALTER TABLE {db1}.u ADD INDEX (v)"],
            SameOrRefused,
        ),
    ];
    w.cases(&cases).await;
}
