//! An ALTER from a session that holds `LOCK TABLES` runs natively, in that
//! session's locks, as without ghostwire: ghostwire's own connections
//! would wait for those locks while the client waited for them.

use std::time::Duration;

use crate::common::setup;
use mysql_async::prelude::*;
use mysql_async::Conn;

/// The outcome (the error code, if any) of `sql` after `lock`, then the
/// locks released.
async fn under_lock(c: &mut Conn, lock: &str, sql: &str) -> Result<(), u16> {
    c.query_drop(lock).await.unwrap();
    // A hang is the failure this test is about: bounded, so it fails.
    let r = tokio::time::timeout(Duration::from_secs(120), c.query_drop(sql))
        .await
        .expect("the ALTER under LOCK TABLES came back");
    c.query_drop("UNLOCK TABLES").await.unwrap();
    r.map_err(|e| match e {
        mysql_async::Error::Server(e) => e.code,
        e => panic!("{e}"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alter_under_lock_tables_runs_as_natively() {
    let ctx = setup("mig_locked").await;
    let mut d = ctx.direct().await;
    for t in ["t", "n"] {
        d.query_drop(format!(
            "CREATE TABLE {t} (id INT PRIMARY KEY, v INT); INSERT INTO {t} VALUES (1, 1), (2, 2)"
        ))
        .await
        .unwrap();
    }
    let mut c = ctx.conn().await;
    for (lock, alter) in [
        ("LOCK TABLES {} WRITE", "ALTER TABLE {} ADD INDEX (v)"),
        ("LOCK TABLES {} WRITE", "ALTER TABLE {} MODIFY v BIGINT"),
        ("LOCK TABLES {} READ", "ALTER TABLE {} ADD COLUMN w INT"),
    ] {
        let native = under_lock(&mut d, &lock.replace("{}", "n"), &alter.replace("{}", "n")).await;
        let through = under_lock(&mut c, &lock.replace("{}", "t"), &alter.replace("{}", "t")).await;
        assert_eq!(
            through, native,
            "{alter}: through ghostwire (left) vs natively (right)"
        );
    }
    let show = async |d: &mut Conn, t: &str| {
        let (_, create): (String, String) = d
            .query_first(format!("SHOW CREATE TABLE {t}"))
            .await
            .unwrap()
            .unwrap();
        let rows: Vec<(i64, i64)> = d
            .query(format!("SELECT id, v FROM {t} ORDER BY id"))
            .await
            .unwrap();
        (
            create.replacen(&format!("TABLE `{t}`"), "TABLE `x`", 1),
            rows,
        )
    };
    assert_eq!(show(&mut d, "t").await, show(&mut d, "n").await);
    ctx.shutdown().await;
}
