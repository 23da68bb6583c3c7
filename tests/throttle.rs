//! The automatic throttler against a real replica (a second server of the
//! test's flavour, replicating from the test primary): replica lag holds
//! the copy and says why, for a configured replica and for one found with
//! `discover_replicas` (the primary's `SHOW REPLICAS` / `SHOW SLAVE
//! HOSTS`); the copy goes on when the replica catches up; the replica ends
//! with the primary's data. And client latency: statements on the table
//! made slow hold the copy until they are fast again.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::replica::Replica;
use common::*;
use mysql_async::prelude::*;
use mysql_async::Conn;

async fn shown(ctx: &Ctx, id: &str) -> BTreeMap<String, String> {
    show_migration(ctx, id).await
}

async fn contents(c: &mut Conn) -> (String, Vec<(u64, i64, String)>) {
    let (_, create): (String, String) =
        c.query_first("SHOW CREATE TABLE t").await.unwrap().unwrap();
    let rows = c.query("SELECT id, k, c FROM t ORDER BY id").await.unwrap();
    (create, rows)
}

/// No rows copied over a stretch of reports (a chunk in flight when the
/// hold began may still land, so the first reading waits a report).
async fn copy_stands_still(ctx: &Ctx, id: &str, rows: u64) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = shown(ctx, id).await["rows_copied"].clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        shown(ctx, id).await["rows_copied"],
        before,
        "the copy holds"
    );
    let copied: u64 = before.parse().unwrap();
    assert!(
        copied < rows,
        "held from the start, yet all {copied} rows copied"
    );
}

/// `t` with 4096 rows through the proxy, and its twin `n` for the native
/// ALTER to compare with.
async fn table_and_twin(ctx: &Ctx) -> Conn {
    let mut c = ctx.conn().await;
    c.query_drop(
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL)",
    )
    .await
    .unwrap();
    fill_doubling(&mut c, 1 << 12).await;
    c.query_drop("CREATE TABLE n LIKE t; INSERT INTO n SELECT * FROM t")
        .await
        .unwrap();
    c
}

/// The throttler holds the copy for a reason that says each of `reason`
/// (seen in SHOW MIGRATION), and once resumed the copy stands still
/// (`rows` in the table).
async fn held_for(ctx: &Ctx, c: &mut Conn, id: &str, reason: &[&str], rows: u64) {
    eventually(
        &format!("the migration shows it is throttled: {reason:?}"),
        || async {
            let m = shown(ctx, id).await;
            m["throttled"] == "1" && reason.iter().all(|r| m["throttle_reason"].contains(r))
        },
    )
    .await;
    c.query_drop(format!("ALTER MIGRATION '{id}' RESUME"))
        .await
        .unwrap();
    copy_stands_still(ctx, id, rows).await;
}

/// The table is small and the copy fast: it is paused at once so that the
/// throttler's verdict is seen before the copy could end; RESUME then
/// leaves only the throttler holding it.
async fn hold_until_seen(c: &mut Conn, id: &str) {
    c.query_drop(format!("ALTER MIGRATION '{id}' PAUSE"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_lag_holds_the_copy_until_the_replica_catches_up() {
    lag_holds_the_copy("thr_lag", false).await;
}

/// The same with no replica configured: ghostwire finds it on the primary
/// (the replica reports its address: `--report-host`/`--report-port`).
/// Other tests' replicas of this primary may be found too: the reason must
/// name this one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovered_replica_lagging_holds_the_copy() {
    lag_holds_the_copy("thr_discover", true).await;
}

/// On MariaDB, listing replicas needs REPLICATION MASTER ADMIN: an account
/// like ghostwire's with that right too, on the primary and (to read the
/// heartbeat) on `replica`.
async fn discovering_account(replica: &Replica) -> &'static str {
    if is_mysql() {
        // SHOW REPLICAS needs REPLICATION SLAVE, which it has.
        return GHOSTWIRE_USER.0;
    }
    let mut d = direct_conn_to("mysql").await;
    let mut r = replica.conn("mysql").await;
    for c in [&mut d, &mut r] {
        let grants: Vec<String> = c.query("SHOW GRANTS FOR 'ghostwire'@'%'").await.unwrap();
        c.query_drop(format!(
            "CREATE USER IF NOT EXISTS 'gw_discover'@'%' IDENTIFIED BY '{}'",
            GHOSTWIRE_USER.1
        ))
        .await
        .unwrap();
        for g in grants {
            c.query_drop(g.replace("`ghostwire`@`%`", "`gw_discover`@`%`"))
                .await
                .unwrap();
        }
    }
    d.query_drop("GRANT REPLICATION MASTER ADMIN ON *.* TO 'gw_discover'@'%'")
        .await
        .unwrap();
    "gw_discover"
}

async fn lag_holds_the_copy(schema: &str, discover: bool) {
    let mut d = direct_conn_to("mysql").await;
    d.query_drop(format!(
        "DROP DATABASE IF EXISTS {schema}; CREATE DATABASE {schema}; \
         CREATE TABLE {schema}.t (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL)"
    ))
    .await
    .unwrap();
    d.query_drop(format!("USE {schema}")).await.unwrap();
    fill_doubling(&mut d, 1 << 14).await;
    let replica = Replica::start(schema, &["t"]).await;
    let addr = replica.addr();
    let account = if discover {
        discovering_account(&replica).await
    } else {
        GHOSTWIRE_USER.0
    };
    let ctx = setup_existing(schema, |c| {
        if discover {
            c.throttle.discover_replicas = true;
            c.backend.user = account.into();
        } else {
            c.throttle.replicas = vec![addr.clone()];
        }
        c.throttle.max_replica_lag_ms = 300;
        c.migrations.chunk_rows = 200;
        c.migrations.chunk_target_ms = 5;
    })
    .await;
    let mut c = ctx.conn().await;
    // The replica stops applying: its lag grows from now on.
    replica.sql_thread(false).await;
    let (id, _): (String, String) = c
        .query_first(
            "ALTER TABLE t /* ghostwire: async */ ADD COLUMN extra INT NOT NULL DEFAULT 7, FORCE",
        )
        .await
        .unwrap()
        .unwrap();
    hold_until_seen(&mut c, &id).await;
    let on = format!("on {addr} ");
    held_for(&ctx, &mut c, &id, &["replica lag", &on], 1 << 14).await;
    // (one recorder per test binary, shared with the other test's proxy:
    // the gauge exists; its value is that of whichever proxy set it last)
    assert!(ctx
        .metrics()
        .contains("ghostwire_throttled{reason=\"replica_lag\"}"));
    // The replica catches up: the copy goes on and completes.
    replica.sql_thread(true).await;
    await_status(&ctx, &id, "complete").await;
    assert_eq!(shown(&ctx, &id).await["throttled"], "0");
    // The replica ends with the primary's table, row for row.
    replica.catch_up().await;
    let mut r = replica.conn(schema).await;
    let mut p = ctx.direct().await;
    let (primary, replicated) = (contents(&mut p).await, contents(&mut r).await);
    assert!(primary.0.contains("`extra`"), "{}", primary.0);
    assert_eq!(primary, replicated);
    ctx.shutdown().await;
}

/// MariaDB: without REPLICATION MASTER ADMIN ghostwire cannot list the
/// replicas; it holds the copy and says which right is missing, rather than
/// copying blind. (MySQL's SHOW REPLICAS needs only REPLICATION SLAVE,
/// which the account has for the binlog.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_without_the_right_holds_the_copy() {
    if is_mysql() {
        return;
    }
    let ctx = setup_with("thr_nodisc", |c| {
        c.throttle.discover_replicas = true;
    })
    .await;
    let mut c = table_and_twin(&ctx).await;
    let (id, _): (String, String) = c
        .query_first("ALTER TABLE t /* ghostwire: async */ ADD INDEX (k)")
        .await
        .unwrap()
        .unwrap();
    hold_until_seen(&mut c, &id).await;
    held_for(
        &ctx,
        &mut c,
        &id,
        &["replica discovery failed", "REPLICATION MASTER ADMIN"],
        1 << 12,
    )
    .await;
    c.query_drop(format!("ALTER MIGRATION '{id}' UNTHROTTLE"))
        .await
        .unwrap();
    await_status(&ctx, &id, "complete").await;
    assert_same_as_native_index(&ctx).await;
    ctx.shutdown().await;
}

/// `t` (after ghostwire's `ADD INDEX (k)`) equals `n` after the native one.
async fn assert_same_as_native_index(ctx: &Ctx) {
    let mut d = ctx.direct().await;
    d.query_drop("ALTER TABLE n ADD INDEX (k)").await.unwrap();
    let (t, n) = (contents(&mut d).await, {
        let (_, create): (String, String) =
            d.query_first("SHOW CREATE TABLE n").await.unwrap().unwrap();
        let rows = d.query("SELECT id, k, c FROM n ORDER BY id").await.unwrap();
        (create.replacen("`n`", "`t`", 1), rows)
    });
    assert_eq!(t, n, "the same table as the native ALTER's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_replica_holds_the_copy() {
    let ctx = setup_with("thr_gone", |c| {
        c.throttle.replicas = vec![format!("127.0.0.1:{}", free_port())];
    })
    .await;
    let mut c = table_and_twin(&ctx).await;
    let (id, _): (String, String) = c
        .query_first("ALTER TABLE t /* ghostwire: async */ ADD INDEX (k)")
        .await
        .unwrap()
        .unwrap();
    hold_until_seen(&mut c, &id).await;
    held_for(&ctx, &mut c, &id, &["unreachable"], 1 << 12).await;
    // The operator overrides it; the ALTER completes as native would.
    c.query_drop(format!("ALTER MIGRATION '{id}' UNTHROTTLE"))
        .await
        .unwrap();
    await_status(&ctx, &id, "complete").await;
    assert_same_as_native_index(&ctx).await;
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_client_statements_hold_the_copy_until_they_are_fast_again() {
    let ctx = setup_with("thr_latency", |c| {
        c.throttle.max_client_p99_factor = 3.0;
    })
    .await;
    let mut c = table_and_twin(&ctx).await;
    // The application: point reads through the proxy, from before the
    // migration (its latency then is the baseline).
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let app = tokio::spawn({
        let (opts, stop, reads) = (ctx.proxy_opts(), stop.clone(), reads.clone());
        async move {
            let mut a = Conn::new(opts).await.unwrap();
            while !stop.load(Ordering::Relaxed) {
                let id = reads.fetch_add(1, Ordering::Relaxed) % 4096 + 1;
                let _: Option<String> = a
                    .exec_first("SELECT c FROM t WHERE id = ?", (id,))
                    .await
                    .unwrap();
            }
        }
    });
    // Two full seconds of baseline.
    let started = std::time::Instant::now();
    eventually("a baseline of the application's latency", || async {
        started.elapsed() > Duration::from_millis(2100) && reads.load(Ordering::Relaxed) > 200
    })
    .await;
    let (id, _): (String, String) = c
        .query_first("ALTER TABLE t /* ghostwire: async */ ADD INDEX (k)")
        .await
        .unwrap()
        .unwrap();
    hold_until_seen(&mut c, &id).await;
    // Someone holds the table's lock briefly and often: reads wait.
    let locking = Arc::new(AtomicBool::new(true));
    let locker = tokio::spawn({
        let (mut d, locking) = (ctx.direct().await, locking.clone());
        async move {
            while locking.load(Ordering::Relaxed) {
                d.query_drop("LOCK TABLES t WRITE; DO SLEEP(0.04); UNLOCK TABLES")
                    .await
                    .unwrap();
            }
        }
    });
    held_for(&ctx, &mut c, &id, &["client latency"], 1 << 12).await;
    // The lock holder stops: latency is back, the copy goes on.
    locking.store(false, Ordering::Relaxed);
    locker.await.unwrap();
    await_status(&ctx, &id, "complete").await;
    stop.store(true, Ordering::Relaxed);
    app.await.unwrap();
    let mut d = ctx.direct().await;
    d.query_drop("ALTER TABLE n ADD INDEX (k)").await.unwrap();
    let (_, n): (String, String) = d.query_first("SHOW CREATE TABLE n").await.unwrap().unwrap();
    let n_rows: Vec<(u64, i64, String)> =
        d.query("SELECT id, k, c FROM n ORDER BY id").await.unwrap();
    assert_eq!(
        contents(&mut d).await,
        (n.replacen("`n`", "`t`", 1), n_rows)
    );
    ctx.shutdown().await;
}
