//! A change to the migrated table that reaches the binlog as a statement
//! (a session with binlog_format STATEMENT, or TRUNCATE, which is a
//! statement in every format) cannot be replayed into the shadow: the
//! migration must stop with the table unchanged, even with the checksum
//! off, never complete without the change.

use crate::common::{await_status, fill_doubling, setup_with, Ctx};
use crate::{migration, tables};
use mysql_async::prelude::*;
use mysql_async::Conn;

/// A migration copied and waiting (postponed), its binlog tail running,
/// while a change is made (it would not wait for a THROTTLE sent after it).
struct Waiting {
    ctx: Ctx,
    /// Straight to the server.
    d: Conn,
    /// Through ghostwire.
    c: Conn,
    id: String,
}

/// `t (id, k, c)` with `rows` rows in a schema of its own, and an ALTER
/// adding a column and an index waiting for COMPLETE.
async fn waiting(schema: &str, rows: u64) -> Waiting {
    let ctx = setup_with(schema, |c| c.migrations.checksum = false).await;
    let mut d = ctx.direct().await;
    d.query_drop(
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL)",
    )
    .await
    .unwrap();
    fill_doubling(&mut d, rows).await;
    let mut c = ctx.conn().await;
    let (id, _): (String, String) = c
        .query_first(
            "ALTER TABLE t /* ghostwire: async postpone */ ADD COLUMN x INT, ADD INDEX (k)",
        )
        .await
        .unwrap()
        .unwrap();
    await_status(&ctx, &id, "ready").await;
    Waiting { ctx, d, c, id }
}

async fn columns(d: &mut Conn, schema: &str) -> Vec<String> {
    d.exec(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
         AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION",
        (schema,),
    )
    .await
    .unwrap()
}

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
        let Waiting {
            ctx,
            mut d,
            mut c,
            id,
        } = waiting(&schema, 20_000).await;
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
        assert_eq!(columns(&mut d, &schema).await, ["id", "k", "c"], "{change}");
        assert_eq!(tables(&mut d, &schema).await, ["t"], "{change}");
    }
}

/// A change to the table's definition made outside the migration while it
/// runs (an ALTER sent `direct` or straight to the server, a trigger, an
/// index dropped from the new table by hand) is not in the new table: the
/// cut-over would silently undo it. The migration stops instead, with the
/// table as that change left it. Logged changes stop it at once (the tail
/// sees them); unlogged ones (`sql_log_bin = 0`) at the cut-over, which
/// compares the definitions under its lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definition_change_made_outside_stops_the_migration() {
    let column = ["id", "k", "c", "z"].as_slice();
    let unchanged = ["id", "k", "c"].as_slice();
    for (i, (change, names, triggers)) in [
        (
            "ALTER TABLE t ADD COLUMN z INT NOT NULL DEFAULT 7",
            column,
            0,
        ),
        (
            "SET SESSION sql_log_bin = 0; ALTER TABLE t ADD COLUMN z INT NOT NULL DEFAULT 7",
            column,
            0,
        ),
        (
            "SET SESSION sql_log_bin = 0; ALTER TABLE t COMMENT 'kept'",
            unchanged,
            0,
        ),
        (
            "SET SESSION sql_log_bin = 0; CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW \
             SET NEW.k = NEW.k + 1",
            unchanged,
            1,
        ),
        ("ALTER TABLE t_gho DROP INDEX k", unchanged, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let schema = format!("redefined_{i}");
        let Waiting {
            ctx,
            mut d,
            mut c,
            id,
        } = waiting(&schema, 5_000).await;
        let before: Vec<(u64, i64, String)> =
            d.query("SELECT id, k, c FROM t ORDER BY id").await.unwrap();
        let mut m = ctx.direct().await;
        m.query_drop(change).await.unwrap();
        drop(m);
        // A logged change to the table stops the migration by itself; the
        // others are found by the cut-over.
        if change.contains("sql_log_bin") || change.contains("t_gho") {
            c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
                .await
                .unwrap();
        }
        await_status(&ctx, &id, "failed").await;
        let shown = migration(&mut c, &id).await;
        assert!(
            shown["message"].contains("changed while the migration ran"),
            "{change}: {}",
            shown["message"]
        );
        // The rows as they were, the definition as the change left it, no
        // helper table left.
        let now: Vec<(u64, i64, String)> =
            d.query("SELECT id, k, c FROM t ORDER BY id").await.unwrap();
        assert!(now == before, "{change}: rows changed");
        assert_eq!(columns(&mut d, &schema).await, names, "{change}");
        let create: (String, String) = d.query_first("SHOW CREATE TABLE t").await.unwrap().unwrap();
        assert_eq!(
            create.1.contains("'kept'"),
            change.contains("'kept'"),
            "{change}"
        );
        let on_t: Option<u64> = d
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? \
                 AND EVENT_OBJECT_TABLE = 't'",
                (&schema,),
            )
            .await
            .unwrap();
        assert_eq!(on_t, Some(triggers), "{change}");
        assert_eq!(tables(&mut d, &schema).await, ["t"], "{change}");
        ctx.shutdown().await;
    }
}
