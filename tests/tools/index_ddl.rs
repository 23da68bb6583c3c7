//! CREATE INDEX / DROP INDEX through ghostwire (run as the equivalent
//! online ALTER) against the same statements straight to the server: the
//! same answer (code and message) for each, the same table at the end.

use crate::common;
use crate::harness::{outcome, Pair};
use mysql_async::prelude::*;

const FIXTURE: &[&str] = &[
    "CREATE TABLE t (id INT PRIMARY KEY, v INT, w VARCHAR(20), doc TEXT, g INT) ENGINE=InnoDB",
    "INSERT INTO t VALUES (1, 10, 'a', 'red fox', 1), (2, 20, 'b', 'blue whale', 2), \
     (3, NULL, 'c', NULL, 3), (4, 40, 'd', 'green', NULL)",
];

/// Statements played in order on one connection; `{db}` is the schema.
fn statements() -> Vec<&'static str> {
    let mut s = vec![
        "CREATE INDEX iv ON t (v)",
        "CREATE INDEX iv ON t (w)",
        "CREATE UNIQUE INDEX uw USING BTREE ON t (w(10), id) COMMENT 'c;d'",
        "/* lead */ CREATE INDEX ig ON `{db}`.t (g) ALGORITHM=COPY LOCK=SHARED",
        "CREATE FULLTEXT INDEX fd ON t (doc)",
        "CREATE INDEX x ON nope (v)",
        "CREATE INDEX bad ON t (nope)",
        "DROP INDEX iv ON t",
        "DROP INDEX iv ON t",
        "DROP INDEX ig ON {db}.t",
        "CREATE INDEX /* ghostwire: direct */ d2 ON t (id, v)",
        "create index i3 on t (v, g) -- trailing\n;",
        "CREATE INDEX IF NOT EXISTS i3 ON t (v)",
        "CREATE OR REPLACE INDEX i3 ON t (g)",
        "DROP INDEX IF EXISTS nope ON t",
        // Only what the server can do instantly / without a copy: it
        // refuses to build an index instantly; MariaDB builds it in place
        // for NOCOPY (MySQL has no NOCOPY: its syntax error).
        "CREATE INDEX ii ON t (v) ALGORITHM=INSTANT",
        "CREATE INDEX ic ON t (g) ALGORITHM=NOCOPY",
        "DROP INDEX ic ON t",
        "CREATE INDEX `we``ird` ON t (`w`(5)) /*!99999 COMMENT 'skipped' */",
        "CREATE INDEX q1 ON t (v) /* ghostwire: sync */ COMMENT 'x'",
        "CREATE TEMPORARY TABLE tt (id INT PRIMARY KEY, v INT)",
        "CREATE INDEX tv ON tt (v)",
        "DROP INDEX tv ON tt",
    ];
    if common::is_mysql() {
        // Functional key parts (MySQL only).
        s.push("CREATE INDEX fx ON t ((v + 1))");
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_ddl_answers_and_tables_as_native() {
    let pair = Pair::new("tl_idx", FIXTURE).await;
    let mut answers = Vec::new();
    for (schema, mut c) in [
        (pair.native.clone(), pair.native_conn().await),
        (pair.via().to_string(), pair.via_conn().await),
    ] {
        let mut got = Vec::new();
        for s in statements() {
            let sql = s.replace("{db}", &schema);
            got.push((s, outcome(&mut c, &sql, &schema).await));
        }
        c.disconnect().await.ok();
        answers.push(got);
    }
    let (native, via) = (&answers[0], &answers[1]);
    for (n, v) in native.iter().zip(via) {
        assert_eq!(v, n, "through ghostwire (left) vs natively (right)");
    }
    pair.assert_same_tables(&["t"], "CREATE/DROP INDEX").await;
    // They ran as migrations, not relayed.
    let mut d = common::direct_conn_to("mysql").await;
    let recorded: Vec<Vec<u8>> = d
        .exec(
            "SELECT statement FROM _ghostwire.migrations WHERE table_schema = ? ORDER BY created_at",
            (pair.via(),),
        )
        .await
        .unwrap();
    d.disconnect().await.ok();
    let recorded: Vec<String> = recorded
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    for want in [
        "CREATE INDEX iv ON t (v)",
        "CREATE FULLTEXT INDEX fd ON t (doc)",
    ] {
        assert!(
            recorded.iter().any(|r| r == want),
            "{want:?} ran as a migration: {recorded:?}"
        );
    }
}

/// The hints and modes of an ALTER apply: `async` answers with the
/// migration id at once, `postpone` waits for `ALTER MIGRATION … COMPLETE`
/// (here prepared, as a driver that prepares everything sends it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_ddl_hints_and_modes() {
    let pair = Pair::new("tl_idxhint", FIXTURE).await;
    let mut c = pair.via_conn().await;
    let row: (String, String) = c
        .query_first("CREATE INDEX iv ON t (v) /* ghostwire: async postpone */")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.1, "queued");
    common::await_status(&pair.ctx, &row.0, "ready").await;
    c.exec_drop(format!("ALTER MIGRATION '{}' COMPLETE", row.0), ())
        .await
        .unwrap();
    common::await_status(&pair.ctx, &row.0, "complete").await;
    c.disconnect().await.ok();
    let mut n = pair.native_conn().await;
    n.query_drop("CREATE INDEX iv ON t (v)").await.unwrap();
    n.disconnect().await.ok();
    pair.assert_same_tables(&["t"], "CREATE INDEX async postpone")
        .await;
}
