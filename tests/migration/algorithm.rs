//! The client's own `ALGORITHM=INSTANT` keeps its meaning through
//! ghostwire: what the server cannot do instantly it refuses, and so does
//! ghostwire, with the server's answer, instead of copying the table.

use crate::common::{is_mysql, setup, Ctx};
use mysql_async::prelude::*;
use mysql_async::Conn;

/// A schema of its own with twin tables `t` (for ghostwire) and `n` (for
/// the native ALTER), and a connection straight to the server.
pub(crate) async fn twins(schema: &str) -> (Ctx, Conn) {
    let ctx = setup(schema).await;
    let mut d = ctx.direct().await;
    for t in ["t", "n"] {
        d.query_drop(format!(
            "CREATE TABLE {t} (id INT PRIMARY KEY, v INT); INSERT INTO {t} VALUES (1, 1), (2, 2)"
        ))
        .await
        .unwrap();
    }
    (ctx, d)
}

/// Each instant ADD or DROP COLUMN gives a MySQL table a row version, and
/// their number is limited (64 on 8.0); then the server refuses
/// `ALGORITHM=INSTANT` (ERROR 4092 on 9.7) for that table only. A new
/// table, like ghostwire's shadow, has no versions and would accept it: here a copy would silently do what the
/// client said must not be done. Compared with the same history natively.
/// (MariaDB keeps no such count: there the instant ALTER simply succeeds,
/// on both tables alike.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_instant_is_refused_as_natively_when_the_table_cannot() {
    let (ctx, mut d) = twins("alg_instant").await;
    // As many instant changes as `n` takes (the limit differs between
    // versions: 64 on 8.0, more on 9.x), then the same history for `t`.
    let op = |t: &str, i: usize| match i % 2 {
        0 => format!("ALTER TABLE {t} ADD COLUMN a INT, ALGORITHM=INSTANT"),
        _ => format!("ALTER TABLE {t} DROP COLUMN a, ALGORITHM=INSTANT"),
    };
    let most = if is_mysql() { 1000 } else { 8 };
    let mut taken = 0;
    while taken < most && d.query_drop(op("n", taken)).await.is_ok() {
        taken += 1;
    }
    for i in 0..taken {
        d.query_drop(op("t", i)).await.unwrap();
    }
    let before = snapshot(&mut d, "t").await;
    let alter = "ADD COLUMN z INT, ALGORITHM=INSTANT";
    let native = d
        .query_drop(format!("ALTER TABLE n {alter}"))
        .await
        .map_err(code);
    let mut c = ctx.conn().await;
    let through = c
        .query_drop(format!("ALTER TABLE t {alter}"))
        .await
        .map_err(code);
    assert_eq!(
        through, native,
        "through ghostwire (left) vs natively (right)"
    );
    if is_mysql() {
        assert!(native.is_err(), "MySQL refuses: the row-version limit");
        assert_eq!(
            snapshot(&mut d, "t").await,
            before,
            "the table is unchanged"
        );
        let tables: Vec<String> = d.query("SHOW TABLES").await.unwrap();
        assert_eq!(tables, ["n", "t"], "no helper table");
    } else {
        assert_eq!(snapshot(&mut d, "t").await, snapshot(&mut d, "n").await);
    }
    ctx.shutdown().await;
}

pub(crate) fn code(e: mysql_async::Error) -> u16 {
    match e {
        mysql_async::Error::Server(e) => e.code,
        e => panic!("{e}"),
    }
}

/// A table's definition (named `x`) and rows.
pub(crate) async fn snapshot(d: &mut Conn, t: &str) -> (String, Vec<(i32, i32)>) {
    let create: (String, String) = d
        .query_first(format!("SHOW CREATE TABLE {t}"))
        .await
        .unwrap()
        .unwrap();
    let rows = d
        .query(format!("SELECT id, v FROM {t} ORDER BY id"))
        .await
        .unwrap();
    (
        create.1.replacen(&format!("TABLE `{t}`"), "TABLE `x`", 1),
        rows,
    )
}

/// `ALGORITHM=COPY` asks for a rebuild (to reset a table's instant row
/// versions, to defragment): ghostwire's copy, never an instant change,
/// with the table the native ALTER gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_copy_is_a_copy() {
    let (ctx, mut d) = twins("alg_copy").await;
    let alter = "ADD COLUMN z INT, ALGORITHM=COPY";
    d.query_drop(format!("ALTER TABLE n {alter}"))
        .await
        .unwrap();
    let mut c = ctx.conn().await;
    c.query_drop(format!("ALTER TABLE t {alter}"))
        .await
        .unwrap();
    let strategy: Option<String> = d
        .query_first(
            "SELECT strategy FROM _ghostwire.migrations WHERE table_schema = 'alg_copy' \
             AND table_name = 't'",
        )
        .await
        .unwrap();
    assert_eq!(strategy.as_deref(), Some("copy"));
    assert_eq!(snapshot(&mut d, "t").await, snapshot(&mut d, "n").await);
    ctx.shutdown().await;
}

/// MariaDB's `ALTER ONLINE` means `LOCK=NONE`: what the server cannot do
/// without locking is refused through ghostwire too (it was copied), and
/// what it can is done, online. (MySQL has no `ALTER ONLINE`: its syntax
/// error both ways.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_online_keeps_its_meaning() {
    let (ctx, mut d) = twins("alg_online").await;
    let mut c = ctx.conn().await;
    for body in ["MODIFY v BIGINT", "ADD INDEX (v)"] {
        let native = d
            .query_drop(format!("ALTER ONLINE TABLE n {body}"))
            .await
            .map_err(code);
        let through = c
            .query_drop(format!("ALTER ONLINE TABLE t {body}"))
            .await
            .map_err(code);
        assert_eq!(
            through, native,
            "{body}: through ghostwire (left) vs natively (right)"
        );
    }
    assert_eq!(snapshot(&mut d, "t").await, snapshot(&mut d, "n").await);
    ctx.shutdown().await;
}
