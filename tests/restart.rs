//! Restarts: the primary crashing under a migration, and instances that
//! stop. A live instance keeps (re-takes) its lock across a server restart,
//! so no other instance takes over its migrations; a migration nobody runs
//! any more is failed and its helper tables dropped, with a message saying
//! so, by whichever instance sees it first; nothing is left that blocks the
//! next ALTER.

mod common;

use std::time::Duration;

use common::restartable::Restartable;
use common::*;
use mysql_async::prelude::*;
use mysql_async::Conn;

async fn status(c: &mut Conn, id: &str) -> Option<(String, String)> {
    c.exec_first(
        "SELECT status, COALESCE(message, '') FROM _ghostwire.migrations WHERE id = ?",
        (id,),
    )
    .await
    .ok()
    .flatten()
}

async fn tables(c: &mut Conn, schema: &str) -> Vec<String> {
    c.exec(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
        (schema,),
    )
    .await
    .unwrap()
}

/// A connection to the restartable server, once it answers.
async fn connect(db: &Restartable, schema: &str) -> Conn {
    let mut last = None;
    for _ in 0..300 {
        match Conn::new(db.opts(schema)).await {
            Ok(c) => return c,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server does not answer: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_crash_is_resumed_by_its_own_instance_and_no_other_takes_it() {
    let mut db = tokio::task::spawn_blocking(Restartable::start)
        .await
        .unwrap();
    let schema = "rs_crash";
    let mut d = connect(&db, "mysql").await;
    d.query_drop(format!(
        "CREATE DATABASE {schema}; CREATE TABLE {schema}.t (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL); \
         CREATE TABLE {schema}.n LIKE {schema}.t"
    ))
    .await
    .unwrap();
    d.query_drop(format!("USE {schema}")).await.unwrap();
    fill_doubling(&mut d, 1 << 12).await;
    d.query_drop("INSERT INTO n SELECT * FROM t").await.unwrap();
    let dm = tokio::sync::Mutex::new(d);
    let addr = db.addr();
    let tweak = |c: &mut ghostwire::config::Config| {
        c.backend.addr = addr.clone();
        c.migrations.adopt_after_ms = 1500;
    };
    let first = setup_existing(schema, tweak).await;
    let second = setup_existing(schema, tweak).await;

    // A postponed migration of the first instance, copied and waiting.
    let mut c = first.conn().await;
    let (id, _): (String, String) = c
        .query_first("ALTER TABLE t /* ghostwire: async postpone */ ADD INDEX (k)")
        .await
        .unwrap()
        .unwrap();
    eventually("the migration is ready", || async {
        status(&mut *dm.lock().await, &id)
            .await
            .is_some_and(|s| s.0 == "ready")
    })
    .await;
    let owner: String = dm
        .lock()
        .await
        .exec_first(
            "SELECT owner FROM _ghostwire.migrations WHERE id = ?",
            (&id,),
        )
        .await
        .unwrap()
        .unwrap();
    drop((c, dm));

    // The primary crashes and comes back.
    let db = tokio::task::spawn_blocking(move || {
        db.kill();
        db.restart();
        db
    })
    .await
    .unwrap();
    let dm = tokio::sync::Mutex::new(connect(&db, schema).await);
    eventually("the first instance takes its lock again", || async {
        let holder: Option<Option<u64>> = dm
            .lock()
            .await
            .exec_first("SELECT IS_USED_LOCK(?)", (format!("ghostwire.{owner}"),))
            .await
            .unwrap();
        holder.flatten().is_some()
    })
    .await;
    // Its migration lost its binlog stream: the first instance, holding
    // its lock again, resumes it from the checkpoint (postponed, it waits
    // for COMPLETE again); the second never takes it.
    eventually("the migration is resumed and waits again", || async {
        let mut d = dm.lock().await;
        let s = status(&mut d, &id).await;
        s.is_some_and(|s| s.0 == "ready" && s.1.starts_with("resumed"))
    })
    .await;
    // Long enough for the second instance to have looked several times.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let now: String = dm
        .lock()
        .await
        .exec_first(
            "SELECT owner FROM _ghostwire.migrations WHERE id = ?",
            (&id,),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        now, owner,
        "another instance took over a live instance's migration"
    );
    let mut c = first.conn().await;
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    eventually("the migration completes", || async {
        status(&mut *dm.lock().await, &id)
            .await
            .is_some_and(|s| s.0 == "complete")
    })
    .await;
    let mut d = dm.into_inner();
    let left = tables(&mut d, schema).await;
    assert!(
        left.iter()
            .all(|t| t == "n" || t == "t" || t.ends_with("_del")),
        "helper tables left: {left:?}"
    );
    // It ends as the native ALTER does.
    d.query_drop("ALTER TABLE n ADD INDEX (k)").await.unwrap();
    let show = |t: &'static str| format!("SHOW CREATE TABLE {t}");
    let (_, t): (String, String) = d.query_first(show("t")).await.unwrap().unwrap();
    let (_, n): (String, String) = d.query_first(show("n")).await.unwrap().unwrap();
    assert_eq!(t, n.replacen("`n`", "`t`", 1));
    let rows = |t: &'static str| format!("SELECT id, k, c FROM {t} ORDER BY id");
    let a: Vec<(u64, i64, String)> = d.query(rows("t")).await.unwrap();
    let b: Vec<(u64, i64, String)> = d.query(rows("n")).await.unwrap();
    assert_eq!(a, b);
    drop((c, d));
    first.shutdown().await;
    second.shutdown().await;
    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_of_a_stopped_instance_is_failed_and_cleaned_up() {
    let schema = "rs_orphan";
    let mut d = direct_conn_to("mysql").await;
    d.query_drop(format!(
        "DROP DATABASE IF EXISTS {schema}; CREATE DATABASE {schema}; \
         CREATE TABLE {schema}.t (id INT PRIMARY KEY, v INT); CREATE TABLE {schema}.t_gho LIKE {schema}.t"
    ))
    .await
    .unwrap();
    let dm = tokio::sync::Mutex::new(d);
    // What a killed instance left: its migration copying, its shadow made.
    let ctx = setup_existing(schema, |c| c.migrations.adopt_after_ms = 500).await;
    let id = "0badc0de-0000-4000-8000-000000000001";
    let mut c = ctx.conn().await;
    c.query_drop("SHOW MIGRATIONS").await.unwrap(); // the state table exists at startup
    eventually("the state table exists", || async {
        dm.lock()
            .await
            .query_drop("SELECT 1 FROM _ghostwire.migrations LIMIT 1")
            .await
            .is_ok()
    })
    .await;
    dm.lock()
        .await
        .exec_drop(
            "INSERT INTO _ghostwire.migrations (id, owner, table_schema, table_name, statement, \
         submitted_by, shadow_created, strategy, status, stage, created_at, started_at) \
         VALUES (?, 'a-stopped-instance', ?, 't', 'ALTER TABLE t ADD INDEX (v)', 'app@%', 1, \
         'copy', 'running', 'copying', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
            (id, schema),
        )
        .await
        .unwrap();
    eventually("the migration is failed", || async {
        status(&mut *dm.lock().await, id)
            .await
            .is_some_and(|s| s.0 == "failed")
    })
    .await;
    // (the record is failed first, then the shadow dropped)
    eventually("its shadow is dropped", || async {
        tables(&mut *dm.lock().await, schema).await == ["t"]
    })
    .await;
    let mut d = dm.into_inner();
    let (_, message) = status(&mut d, id).await.unwrap();
    assert!(message.contains("instance running it stopped"), "{message}");
    // The next ALTER of the table works.
    c.query_drop("ALTER TABLE t ADD INDEX (v)").await.unwrap();
    ctx.shutdown().await;
}
