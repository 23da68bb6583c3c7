//! A change to the migrated table that reaches the binlog as a statement
//! (a session with binlog_format STATEMENT, or TRUNCATE, which is a
//! statement in every format) cannot be replayed into the shadow: the
//! migration must stop with the table unchanged, even with the checksum
//! off, never complete without the change.

use crate::common::{await_status, fill_doubling, setup_with};
use crate::migration;
use mysql_async::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_logged_as_a_statement_stops_the_migration() {
    for (i, change) in [
        "SET SESSION binlog_format = 'STATEMENT'; UPDATE t SET k = k + 1 WHERE id <= 10",
        "SET SESSION binlog_format = 'MIXED'; DELETE FROM t WHERE id <= 10",
        "TRUNCATE TABLE t",
    ]
    .into_iter()
    .enumerate()
    {
        let schema = format!("stmt_logged_{i}");
        let ctx = setup_with(&schema, |c| c.migrations.checksum = false).await;
        let mut d = ctx.direct().await;
        d.query_drop(
            "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL)",
        )
        .await
        .unwrap();
        fill_doubling(&mut d, 20_000).await;
        let mut c = ctx.conn().await;
        let (id, _): (String, String) = c
            .query_first(
                "ALTER TABLE t /* ghostwire: async postpone */ ADD COLUMN x INT, ADD INDEX (k)",
            )
            .await
            .unwrap()
            .unwrap();
        // Postponed: copied and waiting, its binlog tail running, while the
        // change is made (it would not wait for a THROTTLE sent after it).
        await_status(&ctx, &id, "ready").await;
        let before: Vec<(u64, i64)> = d.query("SELECT id, k FROM t ORDER BY id").await.unwrap();
        // binlog_format is deprecated on MySQL 8+: its warning is expected.
        let mut m = ctx.direct().await;
        m.query_drop(change).await.unwrap();
        let after: Vec<(u64, i64)> = d.query("SELECT id, k FROM t ORDER BY id").await.unwrap();
        assert_ne!(before, after, "{change} changed the table");
        await_status(&ctx, &id, "failed").await;
        let shown = migration(&mut c, &id).await;
        assert!(
            shown["message"].contains("reached the binary log as a statement"),
            "{change}: {}",
            shown["message"]
        );
        // The table as the direct change left it, its definition unchanged,
        // no helper left.
        let now: Vec<(u64, i64)> = d.query("SELECT id, k FROM t ORDER BY id").await.unwrap();
        assert_eq!(now, after, "{change}");
        let columns: Vec<String> = d
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
                 AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION",
                (&schema,),
            )
            .await
            .unwrap();
        assert_eq!(columns, ["id", "k", "c"], "{change}");
        let tables: Vec<String> = d
            .exec(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
                (&schema,),
            )
            .await
            .unwrap();
        assert_eq!(tables, ["t"], "{change}");
    }
}
