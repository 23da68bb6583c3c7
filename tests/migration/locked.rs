//! An ALTER from a session that holds `LOCK TABLES` runs natively, in that
//! session's locks, as without ghostwire: ghostwire's own connections
//! would wait for those locks while the client waited for them.

use std::time::Duration;

use crate::algorithm::{code, snapshot, twins};
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
    r.map_err(code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alter_under_lock_tables_runs_as_natively() {
    let (ctx, mut d) = twins("mig_locked").await;
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
    assert_eq!(snapshot(&mut d, "t").await, snapshot(&mut d, "n").await);
    ctx.shutdown().await;
}
