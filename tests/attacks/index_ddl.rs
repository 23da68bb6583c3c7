//! CREATE INDEX / DROP INDEX through ghostwire become online migrations run
//! by its own account. Natively they need the INDEX right, not ALTER (and
//! `ALTER TABLE … ADD INDEX` needs ALTER, not INDEX): whoever has one but
//! not the other must get exactly the server's answer either way.

use crate::common;
use crate::world::{Case, Policy::Same, World};
use mysql_async::prelude::*;

/// The statements ghostwire ran as migrations of tables in `schema`.
async fn migrated(schema: &str) -> Vec<String> {
    let mut c = common::direct_conn_to("mysql").await;
    let rows: Vec<Vec<u8>> = c
        .exec(
            "SELECT statement FROM _ghostwire.migrations WHERE table_schema = ? ORDER BY created_at",
            (schema,),
        )
        .await
        .unwrap_or_default();
    c.disconnect().await.ok();
    rows.into_iter()
        .map(|s| String::from_utf8_lossy(&s).into_owned())
        .collect()
}

/// The user's table already has an index `iw` to drop.
const WITH_INDEX: &str = "CREATE INDEX iw ON {db1}.t (v)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_right_without_alter() {
    let w = World::new(
        "atk_idx",
        &["SELECT, INSERT, UPDATE, DELETE, INDEX ON {db1}.t"],
        &[WITH_INDEX],
    )
    .await;
    let cases = [
        Case::new(
            "CREATE INDEX with INDEX only (copy)",
            &["CREATE INDEX iv ON {db1}.t (v, id)"],
            Same,
        ),
        Case::new(
            "CREATE UNIQUE INDEX with INDEX only",
            &["CREATE UNIQUE INDEX uv ON {db1}.t (v)"],
            Same,
        ),
        Case::new(
            "DROP INDEX with INDEX only",
            &["DROP INDEX iw ON {db1}.t"],
            Same,
        ),
        Case::new(
            "ALTER … ADD INDEX needs ALTER",
            &["ALTER TABLE {db1}.t ADD INDEX iv (v, id)"],
            Same,
        ),
        Case::new(
            "CREATE INDEX on secret.cards",
            &["CREATE INDEX ip ON {secret}.cards (pan)"],
            Same,
        ),
        Case::new(
            "DROP INDEX on secret.cards",
            &["DROP INDEX `PRIMARY` ON {secret}.cards"],
            Same,
        ),
        Case::new(
            "CREATE INDEX on db2.other",
            &["CREATE INDEX iw ON {db2}.other (w)"],
            Same,
        ),
        Case::new(
            "CREATE INDEX with a smuggled statement",
            &["CREATE INDEX iv ON {db1}.t (v) COMMENT 'x' /*!99999 ' */ ; DROP TABLE {secret}.cards; -- '"],
            Same,
        ),
    ];
    w.cases(&cases).await;
    // They ran as migrations (not relayed): one each for the allowed ones
    // (MariaDB's DROP INDEX has no ALGORITHM clause to probe rights with,
    // so it is relayed there).
    let mut want = vec![
        w.sql("CREATE INDEX iv ON {db1}.t (v, id)"),
        w.sql("CREATE UNIQUE INDEX uv ON {db1}.t (v)"),
    ];
    if common::is_mysql() {
        want.push(w.sql("DROP INDEX iw ON {db1}.t"));
    }
    assert_eq!(migrated(&w.db1).await, want);
    assert!(migrated(&w.secret).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_right_without_index() {
    let w = World::new(
        "atk_noidx",
        &["SELECT, INSERT, UPDATE, DELETE, ALTER ON {db1}.t"],
        &[WITH_INDEX],
    )
    .await;
    let cases = [
        Case::new(
            "CREATE INDEX needs INDEX",
            &["CREATE INDEX iv ON {db1}.t (v, id)"],
            Same,
        ),
        Case::new(
            "CREATE INDEX … ALGORITHM, LOCK needs INDEX",
            &["CREATE INDEX iv ON {db1}.t (v) ALGORITHM=COPY LOCK=SHARED"],
            Same,
        ),
        Case::new(
            "DROP INDEX needs INDEX",
            &["DROP INDEX iw ON {db1}.t"],
            Same,
        ),
        Case::new(
            "ALTER … ADD INDEX with ALTER only",
            &["ALTER TABLE {db1}.t ADD INDEX iv (v, id)"],
            Same,
        ),
    ];
    w.cases(&cases).await;
}
