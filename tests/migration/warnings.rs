//! What the client's session shows after its ALTER: `SHOW WARNINGS` and
//! `SHOW COUNT(*) WARNINGS` equal those after the same ALTER natively. The
//! instant probe's refusal (1846 "cannot be instant"), run on the client's
//! connection, is ghostwire's question, not the client's outcome.

use crate::common::setup;
use mysql_async::prelude::*;
use mysql_async::Conn;

type Warnings = (Vec<(String, u32, String)>, Option<u64>);

/// The ALTER's OK info, and the warnings the session shows after it.
async fn alter_and_warnings(c: &mut Conn, table: &str, body: &str) -> (String, Warnings) {
    c.query_drop(format!("ALTER TABLE {table} {body}"))
        .await
        .unwrap_or_else(|e| panic!("ALTER TABLE {table} {body}: {e}"));
    let info = c.info().into_owned();
    let shown: Vec<(String, u32, String)> = c.query("SHOW WARNINGS").await.unwrap();
    let count: Option<u64> = c.query_first("SHOW COUNT(*) WARNINGS").await.unwrap();
    (info, (shown, count))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_warnings_after_an_alter_is_the_native_one() {
    let ctx = setup("mig_warnings").await;
    let mut c = ctx.conn().await;
    c.query_drop(
        "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2); \
         CREATE TABLE n LIKE t; INSERT INTO n SELECT * FROM t",
    )
    .await
    .unwrap();
    let mut d = ctx.direct().await;
    let mut copies = 0;
    for body in [
        // A copy (the probe was refused with 1846), an instant change, a
        // copy of an index, a metadata-only index drop (second probe).
        "MODIFY v BIGINT",
        "ADD COLUMN w INT",
        "ADD INDEX iv (v)",
        "DROP INDEX iv",
    ] {
        let (info, via) = alter_and_warnings(&mut c, "t", body).await;
        let (_, native) = alter_and_warnings(&mut d, "n", body).await;
        assert_eq!(
            via, native,
            "SHOW WARNINGS after ALTER TABLE … {body} ({info})"
        );
        copies += info.contains("(copy)") as u32;
    }
    assert!(copies >= 1, "at least one ALTER was copied");
    ctx.shutdown().await;
}
