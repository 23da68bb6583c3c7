//! Only the old table ghostwire kept is ever dropped: a table made at its
//! name since, even with the very same definition (re-created by hand,
//! restored from a dump), is someone's own and stays.

use crate::common::{eventually, setup_with};
use crate::{filled, id_in, run, shown};
use mysql_async::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_made_anew_at_the_old_tables_name_is_never_dropped() {
    let schema = "op_anew";
    let ctx = setup_with(schema, |c| {
        c.migrations.retain_old_table = ghostwire::config::Retention(3)
    })
    .await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let info = run(&mut c, "ALTER TABLE t ADD INDEX (k)").await.unwrap();
    let id = id_in(&info);
    let old = shown(&ctx, &id).await["old_table"].clone();
    let mut d = ctx.direct().await;
    let (_, create): (String, String) = d
        .query_first(format!("SHOW CREATE TABLE {old}"))
        .await
        .unwrap()
        .unwrap();
    // Made anew in a later second than the kept one (the server tells
    // creation times by the second).
    eventually(
        "the server's clock is past the old table's creation",
        || async {
            let mut d = ctx.direct().await;
            let later: Option<i64> = d
                .exec_first(
                    "SELECT NOW() > CREATE_TIME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                    (schema, &old),
                )
                .await
                .unwrap();
            later == Some(1)
        },
    )
    .await;
    d.query_drop(format!("DROP TABLE {old}")).await.unwrap();
    d.query_drop(create).await.unwrap();
    d.query_drop(format!("INSERT INTO {old} SELECT * FROM t WHERE id = 1"))
        .await
        .unwrap();
    eventually(
        "the dropper has looked at it after the retention",
        || async { shown(&ctx, &id).await["old_table"] == "NULL" },
    )
    .await;
    let rows: Option<i64> = d
        .query_first(format!("SELECT COUNT(*) FROM {old}"))
        .await
        .unwrap();
    assert_eq!(rows, Some(1), "the table made anew is untouched");
    ctx.shutdown().await;
}
