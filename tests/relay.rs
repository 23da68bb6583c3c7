//! Relay fidelity with a real driver (mysql_async, CLIENT_DEPRECATE_EOF)
//! against real MariaDB, through ghostwire.

mod common;

use common::*;
use mysql_async::prelude::*;
use mysql_async::{ChangeUserOpts, Row, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_binary_protocol_and_transactions() {
    let ctx = setup("relay_basic").await;
    let mut c = ctx.conn().await;
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(10,2), at DATETIME(6))")
        .await
        .unwrap();
    c.exec_batch(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        (1..=50).map(|i| {
            (
                i,
                format!("n{i}"),
                format!("{i}.25"),
                "2024-01-02 03:04:05.678901",
            )
        }),
    )
    .await
    .unwrap();
    let text: Vec<(i32, String, String)> = c
        .query("SELECT id, name, CAST(price AS CHAR) FROM t ORDER BY id")
        .await
        .unwrap();
    assert_eq!(text.len(), 50);
    assert_eq!(text[49], (50, "n50".into(), "50.25".into()));
    let bin: Vec<(i32, String)> = c
        .exec("SELECT id, name FROM t WHERE id > ? ORDER BY id", (45,))
        .await
        .unwrap();
    assert_eq!(
        bin.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![46, 47, 48, 49, 50]
    );

    // A transaction rolled back through the proxy leaves nothing behind.
    let mut tx = c.start_transaction(Default::default()).await.unwrap();
    tx.query_drop("DELETE FROM t").await.unwrap();
    tx.rollback().await.unwrap();
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM t").await.unwrap();
    assert_eq!(n, Some(50));
    c.query_drop("BEGIN; UPDATE t SET name = 'x' WHERE id = 1; COMMIT")
        .await
        .unwrap();
    let mut d = ctx.direct().await;
    let name: Option<String> = d
        .query_first("SELECT name FROM t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("x"));
    // Errors come back as the server's own.
    let e = c.query_drop("SELEC 1").await.unwrap_err();
    assert!(
        matches!(e, mysql_async::Error::Server(ref s) if s.code == 1064),
        "{e:?}"
    );
    c.disconnect().await.unwrap();
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_statements_multi_results_and_procedures() {
    let ctx = setup("relay_multi").await;
    let mut c = ctx.conn().await;
    c.query_drop("CREATE TABLE t (a INT)").await.unwrap();
    let mut r = c
        .query_iter(
            "SELECT 1 AS x; INSERT INTO t VALUES (1),(2); SELECT a FROM t ORDER BY a; SELECT 'end'",
        )
        .await
        .unwrap();
    let mut sets: Vec<Vec<Row>> = Vec::new();
    while !r.is_empty() {
        sets.push(r.collect().await.unwrap());
    }
    drop(r);
    assert_eq!(sets.len(), 4, "one entry per statement");
    assert_eq!(sets[2].len(), 2);
    assert_eq!(sets[3][0].get::<String, _>(0).as_deref(), Some("end"));

    c.query_drop(
        "CREATE PROCEDURE p(IN n INT) BEGIN SELECT n AS first; SELECT a FROM t WHERE a <= n ORDER BY a; END",
    )
    .await
    .unwrap();
    let mut r = c.query_iter("CALL p(2)").await.unwrap();
    let first: Vec<i64> = r.collect().await.unwrap();
    let second: Vec<i64> = r.collect().await.unwrap();
    drop(r);
    assert_eq!((first, second), (vec![2], vec![1, 2]));
    // The connection is still in sync after the procedure's trailing OK.
    let one: Option<i64> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    let via_exec: Vec<i64> = c.exec("CALL p(?)", (1,)).await.unwrap();
    assert_eq!(via_exec, vec![1]);
    c.disconnect().await.unwrap();
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_over_16_mib_both_ways_and_long_data() {
    let ctx = setup("relay_big").await;
    let mut c = ctx.conn().await;
    c.query_drop("CREATE TABLE b (id INT PRIMARY KEY, v LONGBLOB)")
        .await
        .unwrap();
    let big: Vec<u8> = (0..20 * 1024 * 1024 + 7).map(|i| (i % 251) as u8).collect();
    // > 16 MiB of params: mysql_async sends them with COM_STMT_SEND_LONG_DATA.
    c.exec_drop("INSERT INTO b VALUES (1, ?)", (big.clone(),))
        .await
        .unwrap();
    // > 16 MiB COM_QUERY text: continuation frames from the client.
    let hex: String = big.iter().map(|b| format!("{b:02x}")).collect();
    c.query_drop(format!("INSERT INTO b VALUES (2, x'{hex}')"))
        .await
        .unwrap();
    // > 16 MiB rows from the server, text and binary protocol.
    let text: Option<Vec<u8>> = c.query_first("SELECT v FROM b WHERE id = 2").await.unwrap();
    assert!(text.as_deref() == Some(&big[..]), "text row differs");
    let bin: Option<Vec<u8>> = c
        .exec_first("SELECT v FROM b WHERE id = ?", (1,))
        .await
        .unwrap();
    assert!(bin.as_deref() == Some(&big[..]), "binary row differs");
    let after: Option<i64> = c.query_first("SELECT COUNT(*) FROM b").await.unwrap();
    assert_eq!(after, Some(2));
    c.disconnect().await.unwrap();
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_user_reset_ping_quit() {
    let ctx = setup("relay_admin_cmds").await;
    let mut c = ctx.conn().await;
    c.ping().await.unwrap();
    c.query_drop("SET @v = 42").await.unwrap();
    // COM_RESET_CONNECTION clears session state.
    c.reset().await.unwrap();
    let v: Option<Value> = c.query_first("SELECT @v").await.unwrap();
    assert_eq!(v, Some(Value::NULL));

    // COM_CHANGE_USER with a wrong password is rejected by the server.
    let bad = ChangeUserOpts::default()
        .with_user(Some(GHOSTWIRE_USER.0.into()))
        .with_pass(Some("wrong".into()));
    let e = c.change_user(bad).await.unwrap_err();
    assert!(format!("{e:?}").contains("1045"), "{e:?}");

    let mut c = ctx.conn().await;
    let good = ChangeUserOpts::default()
        .with_user(Some(GHOSTWIRE_USER.0.into()))
        .with_pass(Some(GHOSTWIRE_USER.1.into()))
        .with_db_name(Some(ctx.schema.clone()));
    c.change_user(good).await.unwrap();
    let who: Option<String> = c
        .query_first("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
        .await
        .unwrap();
    assert_eq!(who.as_deref(), Some(GHOSTWIRE_USER.0));
    let backend_id: Option<u64> = c.query_first("SELECT CONNECTION_ID()").await.unwrap();
    c.disconnect().await.unwrap(); // COM_QUIT
                                   // (by id: the engine's own connections use the same account)
    eventually("backend session of the quit client is closed", || async {
        let mut d = direct_conn_to("mysql").await;
        let n: Option<u64> = d
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?",
                (backend_id,),
            )
            .await
            .unwrap();
        d.disconnect().await.ok();
        n == Some(0)
    })
    .await;
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_gets_the_servers_1045() {
    let ctx = setup("relay_auth").await;
    let e = mysql_async::Conn::new(ctx.proxy_opts().pass(Some("nope")))
        .await
        .unwrap_err();
    match e {
        mysql_async::Error::Server(s) => {
            assert_eq!((s.code, s.state.as_str()), (1045, "28000"));
            assert!(s.message.contains("Access denied"), "{}", s.message);
        }
        other => panic!("expected ERR 1045, got {other:?}"),
    }
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_migrations_is_an_empty_synthetic_result() {
    let ctx = setup("relay_show_migrations").await;
    let mut c = ctx.conn().await;
    let mut r = c.query_iter("SHOW MIGRATIONS").await.unwrap();
    let cols: Vec<String> = r
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    let rows: Vec<Row> = r.collect().await.unwrap();
    drop(r);
    // None of this test's schema (a server shared by all test binaries,
    // as scripts/test.sh runs MySQL, lists the others' migrations).
    assert!(rows
        .iter()
        .all(|r| r.get::<String, _>(1).as_deref() != Some(ctx.schema.as_str())));
    assert_eq!(cols[0], "id");
    assert_eq!(cols.len(), ghostwire::admin::MIGRATION_COLUMNS.len());
    assert!(cols.contains(&"stall_ms".to_string()) && cols.contains(&"message".to_string()));
    // Inside a transaction too, and the session stays usable afterwards.
    c.query_drop("BEGIN").await.unwrap();
    let none: Vec<Row> = c
        .query("/* dashboards */ show migration 'nope'")
        .await
        .unwrap();
    assert!(none.is_empty());
    c.query_drop("COMMIT").await.unwrap();
    // Prepared (drivers that prepare everything): the same columns.
    let stmt = c.prep("SHOW MIGRATIONS").await.unwrap();
    assert_eq!(stmt.columns().len(), cols.len());
    let _: Vec<Row> = c.exec(&stmt, ()).await.unwrap();
    let e = c
        .query_drop("ALTER MIGRATION 'x' CANCEL")
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("no migration 'x'"), "{e:?}");
    let one: Option<i64> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    let m = ctx.metrics();
    assert!(
        m.contains("ghostwire_commands_total{kind=\"migration\"}"),
        "{m}"
    );
    c.disconnect().await.unwrap();
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_lists_every_documented_metric() {
    let ctx = setup("relay_metrics").await;
    let mut c = ctx.conn().await;
    c.query_drop("SELECT 1").await.unwrap();
    c.disconnect().await.unwrap();
    let m = ctx.metrics();
    for name in [
        ghostwire::metrics::CLIENT_CONNECTIONS,
        ghostwire::metrics::CLIENT_CONNECTIONS_TOTAL,
        ghostwire::metrics::CLIENT_CONNECTIONS_REJECTED,
        ghostwire::metrics::BACKEND_CONNECT_ERRORS,
        ghostwire::metrics::COMMANDS,
        ghostwire::metrics::BYTES,
        ghostwire::metrics::COMMAND_DURATION,
    ] {
        assert!(m.contains(name), "{name} missing from:\n{m}");
    }
    assert!(
        m.contains("ghostwire_command_duration_seconds_bucket"),
        "histogram buckets:\n{m}"
    );
    ctx.shutdown().await;
}

/// `[backend.tls]` against this binary's server, which serves TLS only on
/// MySQL (MariaDB here is started without certificates; tests/tls.rs has
/// one that serves TLS): `preferred` falls back to plain text as a native
/// client with `--ssl-mode=PREFERRED` does, `required` refuses clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_tls_preferred_and_required_follow_what_the_server_offers() {
    use ghostwire::config::BackendTlsMode;
    // Whether the server's own greeting offers CLIENT_SSL (0x0800).
    let offers = {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(server().addr()).unwrap();
        let mut h = [0u8; 4];
        s.read_exact(&mut h).unwrap();
        let mut g = vec![0; u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize];
        s.read_exact(&mut g).unwrap();
        let at = 1 + g[1..].iter().position(|b| *b == 0).unwrap() + 1 + 4 + 8 + 1;
        u16::from_le_bytes([g[at], g[at + 1]]) & 0x0800 != 0
    };
    assert_eq!(
        offers,
        is_mysql(),
        "MySQL has TLS on by default, this MariaDB not"
    );
    for mode in [BackendTlsMode::Preferred, BackendTlsMode::Required] {
        let ctx = setup_with("relay_backend_tls", |c| c.backend.tls.mode = mode).await;
        match mysql_async::Conn::new(ctx.proxy_opts()).await {
            Ok(mut c) => {
                assert!(offers || mode == BackendTlsMode::Preferred, "{mode:?}");
                let cipher: Option<(String, String)> = c
                    .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                    .await
                    .unwrap();
                let cipher = cipher.map(|r| r.1).unwrap_or_default();
                assert_eq!(!cipher.is_empty(), offers, "{mode:?}: {cipher:?}");
                c.disconnect().await.ok();
            }
            Err(mysql_async::Error::Server(e)) => {
                assert!(
                    !offers && mode == BackendTlsMode::Required,
                    "{mode:?}: {e:?}"
                );
                assert_eq!(e.code, 2026);
                assert!(e.message.contains("does not offer TLS"), "{e:?}");
            }
            Err(e) => panic!("{mode:?}: {e}"),
        }
        ctx.shutdown().await;
    }
}
