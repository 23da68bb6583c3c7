//! The old table's name: a table already standing at `<t>_<id8>_del` (made
//! by someone, or an old table of an earlier migration whose id starts
//! alike) does not fail the migration; the old table takes the next name
//! of the migration's own, which still sorts after the table's.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_at_the_old_table_name_is_left_alone() {
    let ctx = setup_with("op_delname", |c| {
        c.migrations.max_running = 1;
        c.migrations.chunk_rows = 200;
        c.migrations.chunk_target_ms = 5;
    })
    .await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    filled(&mut c, "b").await;
    filled(&mut c, "n").await;
    // b's migration holds the only slot (paused while copying), so t's
    // waits before it looks at any name: its id is known by then.
    let (blocker, _): (String, String) = c
        .query_first("ALTER TABLE b /* ghostwire: async */ ADD INDEX (k)")
        .await
        .unwrap()
        .unwrap();
    run(&mut c, &format!("ALTER MIGRATION '{blocker}' PAUSE"))
        .await
        .unwrap();
    eventually("the blocker is paused while copying", || async {
        let m = shown(&ctx, &blocker).await;
        m["paused"] == "1" && m["stage"] == "copying"
    })
    .await;
    let body = "ADD COLUMN extra INT NOT NULL DEFAULT 7, FORCE";
    let (id, _): (String, String) = c
        .query_first(format!("ALTER TABLE t /* ghostwire: async */ {body}"))
        .await
        .unwrap()
        .unwrap();
    eventually("t's migration waits for a slot", || async {
        shown(&ctx, &id).await["message"].contains("waiting for a free migration slot")
    })
    .await;
    // Someone's table at the name t's old table would have had.
    let taken = format!("t_{}_del", &id[..8]);
    let mut d = ctx.direct().await;
    d.query_drop(format!(
        "CREATE TABLE `{taken}` (x INT PRIMARY KEY); INSERT INTO `{taken}` VALUES (42)"
    ))
    .await
    .unwrap();
    let theirs = show_create(&mut d, &taken).await;
    run(&mut c, &format!("ALTER MIGRATION '{blocker}' RESUME"))
        .await
        .unwrap();
    await_status(&ctx, &blocker, "complete").await;
    await_status(&ctx, &id, "complete").await;
    let old = shown(&ctx, &id).await["old_table"].clone();
    assert!(
        old != taken && old.starts_with(&format!("t_{}", &id[..8])) && old.ends_with("_del"),
        "the old table went to another name of its own: {old}"
    );
    assert!(old.as_bytes() > b"t".as_slice(), "{old} sorts after t");
    // Their table is as it was.
    assert_eq!(show_create(&mut d, &taken).await, theirs);
    let x: Vec<i32> = d.query(format!("SELECT x FROM `{taken}`")).await.unwrap();
    assert_eq!(x, [42]);
    // The old table is t as it was (n's rows), and t is the native outcome.
    assert_eq!(contents(&mut d, &old).await, contents(&mut d, "n").await);
    d.query_drop(format!("ALTER TABLE n {body}")).await.unwrap();
    assert_eq!(
        show_create(&mut d, "t").await,
        show_create(&mut d, "n").await
    );
    type Rows = Vec<(u64, i64, String, i32)>;
    let rows = |t: &'static str| format!("SELECT id, k, c, extra FROM {t} ORDER BY id");
    let tr: Rows = d.query(rows("t")).await.unwrap();
    let nr: Rows = d.query(rows("n")).await.unwrap();
    assert_eq!(tr, nr);
    ctx.shutdown().await;
}
