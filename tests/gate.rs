//! The cut-over gate against a real MariaDB: a steady load through the proxy
//! sees no error during an online ALTER and loses nothing; a long
//! transaction makes attempts abort and retry without deadlock; the bounds
//! answer ERR 1205; held clients that leave free their slot.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::{await_status, eventually, fill_doubling, setup_with, submit_postponed, Ctx};
use mysql_async::prelude::*;
use mysql_async::{Conn, Row};

const ROWS: u64 = 20_000;

async fn seed(c: &mut Conn) {
    c.query_drop(
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL)",
    )
    .await
    .unwrap();
    fill_doubling(c, ROWS).await;
}

fn gates(ctx: &Ctx) -> &ghostwire::gate::Gates {
    ctx.proxy.as_ref().expect("running").gates()
}

/// A value from the process-wide metrics (shared by the tests in this binary).
fn metric(ctx: &Ctx, name: &str) -> f64 {
    ctx.metrics()
        .lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// A load worker through the proxy: prepared autocommit updates and
/// two-statement transactions in text protocol on the ids it owns.
/// Returns its model (id → c) and the number of errors.
async fn worker(
    mut conn: Conn,
    w: u64,
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
) -> (BTreeMap<u64, String>, u64) {
    let mut model = BTreeMap::new();
    let mut errors = 0;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let id = (n * 7919 % (ROWS / 4)) * 4 + w + 1;
        let c = format!("w{w}-{n}");
        let r = if n.is_multiple_of(3) {
            // Text protocol, multi-statement transaction.
            let mut tx = conn.start_transaction(Default::default()).await.unwrap();
            let r1 = tx
                .query_drop(format!("UPDATE t SET c = '{c}' WHERE id = {id}"))
                .await;
            let r2 = tx
                .query_drop(format!("SELECT k FROM t WHERE id = {id}"))
                .await;
            let r3 = tx.commit().await;
            r1.and(r2).and(r3)
        } else {
            conn.exec_drop("UPDATE t SET c = ? WHERE id = ?", (&c, id))
                .await
        };
        match r {
            Ok(()) => {
                model.insert(id, c);
            }
            Err(e) => {
                eprintln!("worker {w}: {e}");
                errors += 1;
            }
        }
        ops.fetch_add(1, Ordering::Relaxed);
    }
    (model, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_load_sees_no_error_and_loses_nothing() {
    let ctx = setup_with("gate_load", |c| {
        c.gate.max_wait_ms = 10_000;
    })
    .await;
    let mut c = ctx.conn().await;
    seed(&mut c).await;
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        workers.push(tokio::spawn(worker(
            ctx.conn().await,
            w,
            stop.clone(),
            ops.clone(),
        )));
    }
    eventually("the load runs", || async {
        ops.load(Ordering::Relaxed) > 200
    })
    .await;
    let (started, ops0) = (std::time::Instant::now(), ops.load(Ordering::Relaxed));
    c.query_drop("ALTER TABLE t ADD INDEX k_idx (k), ADD COLUMN extra INT NOT NULL DEFAULT 1")
        .await
        .unwrap();
    let rate = (ops.load(Ordering::Relaxed) - ops0) as f64 / started.elapsed().as_secs_f64();
    eprintln!("load during the ALTER: {rate:.0} statements/s");
    assert!(c.info().contains("complete (copy)"), "{}", c.info());
    let after = ops.load(Ordering::Relaxed);
    eventually("the load goes on after the cut-over", || async {
        ops.load(Ordering::Relaxed) > after + 200
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut model = BTreeMap::new();
    for w in workers {
        let (m, errors) = w.await.unwrap();
        assert_eq!(errors, 0, "client errors during the migration");
        model.extend(m);
    }
    let rows: Vec<(u64, String)> = c.query("SELECT id, c FROM t ORDER BY id").await.unwrap();
    assert_eq!(rows.len() as u64, ROWS);
    for (id, cv) in rows {
        let want = model
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("row-{id}"));
        assert_eq!(cv, want, "row {id}");
    }
    assert!(metric(&ctx, "ghostwire_gate_closures_total") >= 1.0);
    assert!(
        gates(&ctx).held_total() > 0,
        "statements were held at the cut-over"
    );
    assert_eq!(gates(&ctx).held(), 0, "no held slot left");
    ctx.shutdown().await;
}

async fn migration_row(c: &mut Conn) -> Option<BTreeMap<String, String>> {
    let row: Option<Row> = c
        .query_first("SELECT status, cutover_attempts, message FROM _ghostwire.migrations WHERE table_schema = DATABASE() ORDER BY created_at DESC LIMIT 1")
        .await
        .ok()
        .flatten();
    row.map(|r| {
        let (s, a, m): (String, u64, Option<String>) = mysql_async::from_row(r);
        BTreeMap::from([
            ("status".to_string(), s),
            ("attempts".to_string(), a.to_string()),
            ("message".to_string(), m.unwrap_or_default()),
        ])
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_transaction_aborts_attempts_until_it_commits() {
    let ctx = setup_with("gate_long", |c| {
        c.cutover.drain_timeout_ms = 300;
        c.cutover.retry_backoff_ms = 100;
        c.cutover.max_attempts = 1000;
    })
    .await;
    let mut c = ctx.conn().await;
    seed(&mut c).await;
    // Copied and waiting (postponed), so the table is watched from here on.
    let id = submit_postponed(&ctx, &mut c, "t", "ADD INDEX k_idx (k)").await;
    // A transaction that uses the table and stays open.
    let mut long = ctx.conn().await;
    let long_id = long.id();
    long.query_drop("BEGIN").await.unwrap();
    long.query_drop("UPDATE t SET c = 'long' WHERE id = 1")
        .await
        .unwrap();
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    eventually(
        "an attempt was abandoned because of the transaction",
        || {
            let ctx = &ctx;
            async move {
                let mut c = ctx.conn().await;
                migration_row(&mut c).await.is_some_and(|m| {
                    m["attempts"].parse::<u64>().unwrap_or(0) >= 2
                        && m["message"].contains("did not end")
                })
            }
        },
    )
    .await;
    // It counts the session but does not name it: everyone who sees the
    // table sees the message, while the server shows a connection's id
    // only to its user (ghostwire's log names it).
    let m = migration_row(&mut c).await.unwrap();
    let rest = m["message"].strip_prefix("1 open transaction");
    assert!(
        rest.is_some_and(|r| !r
            .split(|ch: char| !ch.is_ascii_digit())
            .any(|w| w == long_id.to_string())),
        "counts the session without naming it: {m:?}"
    );
    // The transaction keeps working during the drain, and others get through
    // between attempts.
    long.query_drop("UPDATE t SET c = 'long2' WHERE id = 2")
        .await
        .unwrap();
    let mut other = ctx.conn().await;
    other
        .query_drop("UPDATE t SET c = 'other' WHERE id = 3")
        .await
        .unwrap();
    long.query_drop("COMMIT").await.unwrap();
    eventually("the next attempt succeeds", || {
        let ctx = &ctx;
        async move {
            let mut c = ctx.conn().await;
            migration_row(&mut c)
                .await
                .is_some_and(|m| m["status"] == "complete")
        }
    })
    .await;
    let got: Vec<String> = c
        .query("SELECT c FROM t WHERE id IN (1, 2, 3) ORDER BY id")
        .await
        .unwrap();
    assert_eq!(got, ["long", "long2", "other"]);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounds_answer_1205_and_leaving_frees_the_slot() {
    let ctx = setup_with("gate_bounds", |c| {
        c.cutover.drain_timeout_ms = 60_000;
        c.gate.max_held = 1;
        c.gate.max_wait_ms = 1_500;
    })
    .await;
    let mut c = ctx.conn().await;
    seed(&mut c).await;
    let id = submit_postponed(&ctx, &mut c, "t", "ADD INDEX k_idx (k)").await;
    let mut long = ctx.conn().await;
    long.query_drop("BEGIN").await.unwrap();
    long.query_drop("SELECT * FROM t WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    eventually(
        "the gate is closing (the drain waits for the transaction)",
        || async { gates(&ctx).any_closed() },
    )
    .await;
    // A held statement that waits past max_wait: 1205.
    let mut a = ctx.conn().await;
    match a.exec_drop("SELECT c FROM t WHERE id = ?", (5,)).await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!((e.code, e.state.as_str()), (1205, "HY000"));
            assert!(
                e.message.contains("being cut over") && e.message.contains("retry"),
                "{}",
                e.message
            );
        }
        other => panic!("expected ERR 1205, got {other:?}"),
    }
    // One statement holds the only slot; the next is refused at once.
    let opts = ctx.proxy_opts();
    let held = tokio::spawn(async move {
        let mut h = Conn::new(opts).await.unwrap();
        h.query_drop("SELECT c FROM t WHERE id = 6").await
    });
    eventually("one statement is held", || async {
        gates(&ctx).held() == 1
    })
    .await;
    let mut b = ctx.conn().await;
    let (code, msg) = match b.query_drop("UPDATE t SET c = 'x' WHERE id = 7").await {
        Err(mysql_async::Error::Server(e)) => (e.code, e.message),
        other => panic!("expected ERR 1205, got {other:?}"),
    };
    assert_eq!(code, 1205, "{msg}");
    assert!(msg.contains("already held"), "{msg}");
    // Unrelated statements and tables are not held.
    b.query_drop("SELECT 1").await.unwrap();
    // The held client leaves: its slot is free at once.
    held.abort();
    let _ = held.await;
    eventually("the slot is freed", || async { gates(&ctx).held() == 0 }).await;
    long.query_drop("COMMIT").await.unwrap();
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tables_and_the_current_database() {
    let ctx = setup_with("gate_two", |c| {
        c.cutover.drain_timeout_ms = 60_000;
        c.gate.max_wait_ms = 1_000;
    })
    .await;
    let mut c = ctx.conn().await;
    c.query_drop(
        "CREATE TABLE a (id INT PRIMARY KEY, v INT); INSERT INTO a VALUES (1, 1);
         CREATE TABLE b (id INT PRIMARY KEY, v INT); INSERT INTO b VALUES (1, 1);
         DROP DATABASE IF EXISTS gate_two_other; CREATE DATABASE gate_two_other;
         CREATE TABLE gate_two_other.a (id INT PRIMARY KEY); INSERT INTO gate_two_other.a VALUES (1)",
    )
    .await
    .unwrap();
    let id = submit_postponed(&ctx, &mut c, "a", "ADD INDEX (v)").await;
    // A transaction on `a` keeps the gate closing.
    let mut long = ctx.conn().await;
    long.query_drop("BEGIN").await.unwrap();
    long.query_drop("UPDATE a SET v = 2 WHERE id = 1")
        .await
        .unwrap();
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    eventually("a's gate is closing", || async { gates(&ctx).any_closed() }).await;
    // A statement on a and b waits for a's gate, and is refused after max_wait.
    let mut s = ctx.conn().await;
    match s.query_drop("SELECT * FROM a JOIN b USING (id)").await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 1205);
            assert!(e.message.contains("gate_two.a"), "{}", e.message);
        }
        other => panic!("expected ERR 1205, got {other:?}"),
    }
    // `b` alone, and a table `a` in another database, are not held.
    s.query_drop("SELECT * FROM b").await.unwrap();
    s.query_drop("USE gate_two_other").await.unwrap();
    s.query_drop("SELECT * FROM a").await.unwrap();
    // The transaction on `a` still works, and once it ends the cut-over runs.
    long.query_drop("UPDATE a SET v = 3 WHERE id = 1")
        .await
        .unwrap();
    long.query_drop("COMMIT").await.unwrap();
    await_status(&ctx, &id, "complete").await;
    let v: u32 = c
        .query_first("SELECT v FROM a WHERE id = 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v, 3);
    assert_eq!(gates(&ctx).held(), 0);
    ctx.shutdown().await;
}
