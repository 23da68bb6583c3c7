//! How migration commands are read: in the client's SQL mode (a string
//! means what it would mean in any statement of that session), and the
//! one form refused outright, `ALTER MIGRATION ALL RETRY`.

use super::*;

/// With `NO_BACKSLASH_ESCAPES` a backslash is an ordinary character: `SHOW
/// MIGRATIONS` filters find what the same predicates find natively in that
/// session, and a string ending in a backslash is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_migrations_reads_strings_in_the_sessions_sql_mode() {
    let ctx = setup("op_nbe").await;
    let mut c = ctx.conn().await;
    for t in [r"`a\b`", "`ab`", "`a_b`"] {
        c.query_drop(format!("CREATE TABLE {t} (id INT PRIMARY KEY, v INT)"))
            .await
            .unwrap();
        c.query_drop(format!("ALTER TABLE {t} ADD COLUMN w INT"))
            .await
            .unwrap();
    }
    let mode = "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')";
    c.query_drop(mode).await.unwrap();
    let mut d = ctx.direct().await;
    d.query_drop(mode).await.unwrap();
    let mut matched = 0;
    for (show, predicate) in [
        (r"WHERE table_name = 'a\b'", r"table_name = 'a\b'"),
        (
            r"LIKE 'a\\b'",
            r"(id LIKE 'a\\b' OR table_name LIKE 'a\\b')",
        ),
        (
            r"LIKE 'a\_b'",
            r"(id LIKE 'a\_b' OR table_name LIKE 'a\_b')",
        ),
        (r"LIKE 'a\b'", r"(id LIKE 'a\b' OR table_name LIKE 'a\b')"),
    ] {
        let rows: Vec<Row> = c
            .query(format!("SHOW MIGRATIONS {show}"))
            .await
            .unwrap_or_else(|e| panic!("SHOW MIGRATIONS {show}: {e}"));
        let mut via: Vec<String> = rows
            .into_iter()
            .map(as_map)
            .filter(|m| m["table_schema"] == "op_nbe")
            .map(|m| m["table_name"].clone())
            .collect();
        via.sort();
        let native: Vec<String> = d
            .query(format!(
                "SELECT table_name FROM _ghostwire.migrations \
                 WHERE table_schema = 'op_nbe' AND {predicate} ORDER BY 1"
            ))
            .await
            .unwrap();
        assert_eq!(via, native, "SHOW MIGRATIONS {show} vs natively");
        matched += via.len();
    }
    // (MySQL: `LIKE 'a\\b'` has no escape character there, so it finds nothing.)
    assert!(matched >= 2, "the filters found the migrations ({matched})");
    // A string ending in a backslash is complete: an id no migration has.
    let none: Vec<Row> = c.query(r"SHOW MIGRATION 'x\'").await.unwrap();
    assert!(none.is_empty());
    let e = run(&mut c, r"ALTER MIGRATION 'x\' PAUSE")
        .await
        .unwrap_err();
    assert_eq!(e.0, 1105, "{e:?}");
    assert!(e.1.contains(r"no migration 'x\'"), "{e:?}");
    // In the default mode the same text never ends: a syntax error.
    let mut p = ctx.conn().await;
    let e = run(&mut p, r"SHOW MIGRATION 'x\'").await.unwrap_err();
    assert_eq!(e.0, 1064, "{e:?}");
    ctx.shutdown().await;
}

/// `ALTER MIGRATION ALL RETRY` is refused (it would run every failed or
/// cancelled ALTER of the history again); nothing is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_retry_is_refused_and_retries_nothing() {
    let ctx = setup("op_allretry").await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let mut d = ctx.direct().await;
    let before = show_create(&mut d, "t").await;
    let (id, _): (String, String) = c
        .query_first("ALTER TABLE t /* ghostwire: async postpone */ ADD INDEX (k)")
        .await
        .unwrap()
        .unwrap();
    await_status(&ctx, &id, "ready").await;
    run(&mut c, &format!("ALTER MIGRATION '{id}' CANCEL"))
        .await
        .unwrap();
    await_status(&ctx, &id, "cancelled").await;
    let e = run(&mut c, "ALTER MIGRATION ALL RETRY").await.unwrap_err();
    assert_eq!(e.0, 1235, "{e:?}");
    assert!(e.1.contains("ALTER MIGRATION '<id>' RETRY"), "{e:?}");
    let count: Option<u64> = d
        .query_first(
            "SELECT COUNT(*) FROM _ghostwire.migrations WHERE table_schema = 'op_allretry'",
        )
        .await
        .unwrap();
    assert_eq!(count, Some(1), "no migration was started");
    assert_eq!(shown(&ctx, &id).await["status"], "cancelled");
    assert_eq!(show_create(&mut d, "t").await, before);
    assert_eq!(tables(&ctx).await, ["t"]);
    ctx.shutdown().await;
}

/// A command from someone other than the submitter is allowed when the
/// server lets them ALTER the table, which is checked on their connection
/// without running anything: no ALTER reaches the binlog (replicas would
/// apply a no-op ALTER and wait for its lock), and their SHOW WARNINGS
/// stays empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_command_writes_nothing_to_the_binlog() {
    let ctx = setup("op_nobinlog").await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    filled(&mut c, "n").await;
    let (id, _): (String, String) = c
        .query_first("ALTER TABLE t /* ghostwire: async postpone */ ADD INDEX (k)")
        .await
        .unwrap()
        .unwrap();
    await_status(&ctx, &id, "ready").await;
    let mut d = ctx.direct().await;
    d.query_drop(
        "CREATE USER IF NOT EXISTS 'op_alterer'@'%' IDENTIFIED BY 'alt-pass'; \
         GRANT SELECT, ALTER ON op_nobinlog.* TO 'op_alterer'@'%'",
    )
    .await
    .unwrap();
    let status = if is_mysql() {
        "SHOW BINARY LOG STATUS"
    } else {
        "SHOW MASTER STATUS"
    };
    let at: Row = d.query_first(status).await.unwrap().unwrap();
    let (file, pos): (String, u64) = (at.get(0).unwrap(), at.get(1).unwrap());
    let mut other = Conn::new(opts(
        "127.0.0.1",
        ctx.port(),
        "op_alterer",
        "alt-pass",
        "op_nobinlog",
    ))
    .await
    .unwrap();
    // Someone's transaction has written to the table: the check must not
    // wait for its metadata lock (it would end in 1205 here).
    let mut writer = ctx.direct().await;
    writer
        .query_drop("BEGIN; UPDATE t SET k = k WHERE id = 1")
        .await
        .unwrap();
    other
        .query_drop("SET SESSION lock_wait_timeout = 5")
        .await
        .unwrap();
    let info = run(&mut other, &format!("ALTER MIGRATION '{id}' PAUSE"))
        .await
        .unwrap();
    assert!(info.contains("paused"), "{info}");
    writer.query_drop("ROLLBACK").await.unwrap();
    let warnings: Vec<Row> = other.query("SHOW WARNINGS").await.unwrap();
    assert!(warnings.is_empty(), "{:?}", warnings.len());
    let events: Vec<Row> = d
        .query(format!("SHOW BINLOG EVENTS IN '{file}' FROM {pos}"))
        .await
        .unwrap();
    let alters: Vec<String> = events
        .into_iter()
        .filter_map(|e| e.get::<String, _>(5))
        .filter(|info| info.contains("op_nobinlog") && info.to_uppercase().contains("ALTER"))
        .collect();
    assert!(alters.is_empty(), "ALTERs in the binlog: {alters:?}");
    run(&mut other, &format!("ALTER MIGRATION '{id}' RESUME"))
        .await
        .unwrap();
    run(&mut c, &format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    await_status(&ctx, &id, "complete").await;
    d.query_drop("ALTER TABLE n ADD INDEX (k)").await.unwrap();
    assert_eq!(
        show_create(&mut d, "t").await,
        show_create(&mut d, "n").await
    );
    assert_eq!(contents(&mut d, "t").await, contents(&mut d, "n").await);
    ctx.shutdown().await;
}
