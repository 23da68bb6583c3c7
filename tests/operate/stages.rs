//! Commands sent while a migration is in its checksum or cut-over stage.
//! A client's open transaction on the table holds the stage's drain (the
//! gate waits for it), so the command lands there for sure; then the
//! transaction ends and the stage goes on. Pinned: CANCEL and PAUSE win
//! over the cut-over up to the moment its RENAME is let through (the table
//! stays as it is; a paused cut-over waits for RESUME); THROTTLE holds only
//! the copy, so it does not hold these stages; every outcome is compared
//! with the native ALTER (or the table as it was).

use super::*;

const BODY: &str = "ADD COLUMN extra INT NOT NULL DEFAULT 7, FORCE";

/// A postponed migration of `t` (ROWS rows; `n` its twin), ready; then a
/// client's transaction that read `t`, then COMPLETE: the migration stops
/// in `stage`'s drain until the transaction ends. Returns the id, the
/// proxy connection and the open transaction.
async fn held_in(ctx: &Ctx, stage: &str) -> (String, Conn, Conn) {
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    filled(&mut c, "n").await;
    let (id, _): (String, String) = c
        .query_first(format!(
            "ALTER TABLE t /* ghostwire: async postpone */ {BODY}"
        ))
        .await
        .unwrap()
        .unwrap();
    await_status(ctx, &id, "ready").await;
    let mut tx = ctx.conn().await;
    tx.query_drop("BEGIN").await.unwrap();
    let _: Option<u64> = tx.query_first("SELECT COUNT(*) FROM t").await.unwrap();
    run(&mut c, &format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    eventually(
        &format!("the migration waits in its {stage} drain"),
        || async {
            let m = shown(ctx, &id).await;
            match stage {
                "cut-over" => m["status"] == "cutting_over",
                _ => m["stage"] == stage,
            }
        },
    )
    .await;
    (id, c, tx)
}

fn stages_config(c: &mut ghostwire::config::Config) {
    // Long enough for the test's transaction to be what ends the drain.
    c.cutover.drain_timeout_ms = 60_000;
    c.cutover.retry_backoff_ms = 50;
}

/// Without the checksum (whose drain would come first).
fn cut_over_config(c: &mut ghostwire::config::Config) {
    stages_config(c);
    c.migrations.checksum = false;
}

/// `t` is the native ALTER's outcome (`n` altered natively).
async fn assert_native_outcome(ctx: &Ctx) {
    let mut d = ctx.direct().await;
    d.query_drop(format!("ALTER TABLE n {BODY}")).await.unwrap();
    assert_eq!(
        show_create(&mut d, "t").await,
        show_create(&mut d, "n").await
    );
    type Rows = Vec<(u64, i64, String, i32)>;
    let rows = |t: &str| format!("SELECT id, k, c, extra FROM {t} ORDER BY id");
    let t: Rows = d.query(rows("t")).await.unwrap();
    let n: Rows = d.query(rows("n")).await.unwrap();
    assert_eq!(t, n);
}

/// `t` is as it was (`n` untouched) and no helper table is left.
async fn assert_unchanged(ctx: &Ctx) {
    let mut d = ctx.direct().await;
    assert_eq!(
        show_create(&mut d, "t").await,
        show_create(&mut d, "n").await
    );
    assert_eq!(contents(&mut d, "t").await, contents(&mut d, "n").await);
    assert_eq!(tables(ctx).await, ["n", "t"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_during_the_cut_over_holds_it_before_the_rename() {
    let ctx = setup_with("op_st_pause", cut_over_config).await;
    let (id, mut c, mut tx) = held_in(&ctx, "cut-over").await;
    let info = run(&mut c, &format!("ALTER MIGRATION '{id}' PAUSE"))
        .await
        .unwrap();
    assert!(info.contains("paused"), "{info}");
    tx.query_drop("COMMIT").await.unwrap();
    // The attempt locks and queues its RENAME, then stops it: paused.
    eventually("the cut-over stopped before its RENAME", || async {
        let m = shown(&ctx, &id).await;
        m["status"] == "running"
            && m["stage"] == "waiting to retry cut-over"
            && m["message"].contains("PAUSE")
    })
    .await;
    {
        let mut d = ctx.direct().await;
        assert_eq!(
            show_create(&mut d, "t").await,
            show_create(&mut d, "n").await,
            "the table is not renamed while paused"
        );
    }
    run(&mut c, &format!("ALTER MIGRATION '{id}' RESUME"))
        .await
        .unwrap();
    await_status(&ctx, &id, "complete").await;
    assert_native_outcome(&ctx).await;
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_the_cut_over_leaves_the_table() {
    let ctx = setup_with("op_st_cancel", cut_over_config).await;
    let (id, mut c, mut tx) = held_in(&ctx, "cut-over").await;
    let info = run(&mut c, &format!("ALTER MIGRATION '{id}' CANCEL"))
        .await
        .unwrap();
    assert!(info.contains("being cancelled"), "{info}");
    tx.query_drop("COMMIT").await.unwrap();
    await_status(&ctx, &id, "cancelled").await;
    assert_unchanged(&ctx).await;
    // Too late for anything now.
    let e = run(&mut c, &format!("ALTER MIGRATION '{id}' PAUSE"))
        .await
        .unwrap_err();
    assert_eq!(e.0, 1105, "{e:?}");
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_the_checksum_leaves_the_table() {
    let ctx = setup_with("op_st_sum_cancel", stages_config).await;
    let (id, mut c, mut tx) = held_in(&ctx, "checksum").await;
    run(&mut c, &format!("ALTER MIGRATION '{id}' CANCEL"))
        .await
        .unwrap();
    tx.query_drop("COMMIT").await.unwrap();
    await_status(&ctx, &id, "cancelled").await;
    assert_unchanged(&ctx).await;
    ctx.shutdown().await;
}

/// THROTTLE holds only the copy (done by now): the checksum and cut-over
/// go on under it. PAUSE there holds until RESUME.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_and_pause_during_the_checksum() {
    let ctx = setup_with("op_st_sum_pause", stages_config).await;
    let (id, mut c, mut tx) = held_in(&ctx, "checksum").await;
    let info = run(&mut c, &format!("ALTER MIGRATION '{id}' THROTTLE"))
        .await
        .unwrap();
    assert!(info.contains("holds only the copy"), "{info}");
    run(&mut c, &format!("ALTER MIGRATION '{id}' PAUSE"))
        .await
        .unwrap();
    tx.query_drop("COMMIT").await.unwrap();
    // Paused: whatever attempt comes next stops before any RENAME, so the
    // migration is still running once the checksum's attempt is counted.
    eventually("the checksum's lock attempt ran", || async {
        shown(&ctx, &id).await["cutover_attempts"] != "0"
    })
    .await;
    assert_ne!(shown(&ctx, &id).await["status"], "complete");
    {
        let mut d = ctx.direct().await;
        assert_eq!(
            show_create(&mut d, "t").await,
            show_create(&mut d, "n").await
        );
    }
    run(&mut c, &format!("ALTER MIGRATION '{id}' RESUME"))
        .await
        .unwrap();
    // Still throttled (never lifted): it completes all the same.
    await_status(&ctx, &id, "complete").await;
    assert_native_outcome(&ctx).await;
    ctx.shutdown().await;
}

/// A cut-over drain that times out says so in the migration's message, but
/// without the blocking session's connection id: everyone who sees the
/// table sees the message, and the server shows a connection's id only to
/// its own user (or with PROCESS). Then the transaction ends, and the
/// migration completes as natively.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_timeout_names_no_connection() {
    let ctx = setup_with("op_st_drain", |c| {
        c.cutover.drain_timeout_ms = 200;
        c.cutover.retry_backoff_ms = 50;
        c.cutover.max_attempts = 1000;
        c.migrations.checksum = false;
    })
    .await;
    let (id, _c, mut tx) = held_in(&ctx, "cut-over").await;
    let blocker: Option<u64> = tx.query_first("SELECT CONNECTION_ID()").await.unwrap();
    let blocker = blocker.unwrap().to_string();
    eventually("the drain timed out", || async {
        shown(&ctx, &id).await["message"].contains("did not end within")
    })
    .await;
    let message = shown(&ctx, &id).await["message"].clone();
    let rest = message.strip_prefix("1 open transaction");
    assert!(
        rest.is_some_and(|r| !r.split(|c: char| !c.is_ascii_digit()).any(|w| w == blocker)),
        "the message counts the blocking session without naming {blocker}: {message}"
    );
    tx.query_drop("COMMIT").await.unwrap();
    await_status(&ctx, &id, "complete").await;
    assert_native_outcome(&ctx).await;
    ctx.shutdown().await;
}
