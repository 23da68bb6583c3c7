//! The `ghostwire` binary: config validation, secret masking, and graceful
//! shutdown on SIGTERM.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::raw::{base_caps, err_of, Raw};
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_ghostwire");

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn check_config_masks_secrets() {
    let f = config_file("[backend]\naddr = \"db:3306\"\npassword = \"supersecret\"\n");
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(f.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("addr = \"db:3306\"") && text.contains("***"),
        "{text}"
    );
    assert!(!text.contains("supersecret"), "{text}");

    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(f.path())
        .env("GHOSTWIRE_BACKEND_PASSWORD", "fromenv")
        .env("GHOSTWIRE_LISTEN_ADDR", "0.0.0.0:7777")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0.0.0.0:7777") && !text.contains("fromenv"),
        "{text}"
    );
}

#[test]
fn invalid_config_is_one_line_naming_the_key_and_exit_2() {
    let cases = [
        ("[listen]\nmax_conections = 5\n", vec![], "max_conections"),
        (
            "[listen]\nmax_connections = 0\n",
            vec![],
            "listen.max_connections",
        ),
        ("[backend]\naddr = \"nohost\"\n", vec![], "backend.addr"),
        (
            "",
            vec![("GHOSTWIRE_LISTEN_ADDR", "bogus")],
            "GHOSTWIRE_LISTEN_ADDR",
        ),
        (
            "",
            vec![("GHOSTWIRE_BACKEND_ADDR", "x")],
            "GHOSTWIRE_BACKEND_ADDR",
        ),
        (
            "[backend]\npassword_env = \"GW_TEST_UNSET_VAR\"\n",
            vec![],
            "GW_TEST_UNSET_VAR",
        ),
    ];
    for (text, env, key) in cases {
        let f = config_file(text);
        let out = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(f.path())
            .envs(env)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(key), "{key} named in: {err}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--config", "/nonexistent/proxy.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_open_transactions_finish_then_closes_with_1053() {
    let ctx = setup("cli_shutdown").await; // schema + server; we run the binary instead
    let port = free_port();
    let f = config_file(&format!(
        "[listen]\naddr = \"127.0.0.1:{port}\"\nshutdown_timeout_ms = 20000\n[backend]\naddr = \"{}\"\npassword = \"x\"\n",
        server().addr()
    ));
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(f.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    eventually("ghostwire listens", || async {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;

    let mut idle = Raw::login(addr, &ctx.schema, base_caps(), 0).await;
    let mut tx = Raw::login(addr, &ctx.schema, base_caps(), 0).await;
    for sql in [
        "CREATE TABLE t (a INT)",
        "BEGIN",
        "INSERT INTO t VALUES (1)",
    ] {
        tx.query(sql).await;
        assert_eq!(tx.read_packet().await.unwrap().1[0], 0, "{sql}");
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();

    // The idle session is closed with ERR 1053.
    let (_, p) = idle.read_packet().await.expect("ERR before close");
    assert_eq!(err_of(&p).0, 1053);
    assert!(idle.read_packet().await.is_none());
    // New connections are refused.
    eventually("listener closed", || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    // The open transaction may finish...
    for sql in ["INSERT INTO t VALUES (2)", "COMMIT"] {
        tx.query(sql).await;
        assert_eq!(tx.read_packet().await.unwrap().1[0], 0, "{sql}");
    }
    // ...then its session is closed too.
    let (_, p) = tx.read_packet().await.expect("ERR before close");
    assert_eq!(err_of(&p).0, 1053);

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "ghostwire did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    let mut d = ctx.direct().await;
    let n: Vec<i32> = mysql_async::prelude::Queryable::query(&mut d, "SELECT a FROM t ORDER BY a")
        .await
        .unwrap();
    assert_eq!(n, vec![1, 2], "the committed transaction is complete");
    ctx.shutdown().await;
}
