//! Items 9 and 10: a client (or a replica reading the binlog) that never
//! reads its response, and a backend
//! connection that dies under an idle client.

use std::process::Stdio;

use super::common::raw::{base_caps, Raw};
use super::common::*;
use super::{assert_clean, complete_cuts_over, one_attempt, running_migration};
use mysql_async::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Whether the server still has connection `id`.
async fn server_has(id: u32) -> bool {
    let mut c = direct_conn_to("mysql").await;
    let n: Option<u64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?",
            (id,),
        )
        .await
        .unwrap();
    c.disconnect().await.ok();
    n != Some(0)
}

/// Runs `sql` on a raw session and returns its first packet.
async fn first_packet(r: &mut Raw, sql: &str) -> Vec<u8> {
    r.query(sql).await;
    r.read_packet().await.expect("an answer").1
}

/// The server-side connection id of a raw session (its CONNECTION_ID()).
/// The session uses old-style EOFs (`base_caps`).
async fn connection_id(r: &mut Raw) -> u32 {
    r.query("SELECT CONNECTION_ID()").await;
    let (_, count) = r.read_packet().await.unwrap();
    assert_eq!(count, [1], "one column");
    r.read_packet().await.unwrap(); // its definition
    assert_eq!(r.read_packet().await.unwrap().1[0], 0xFE);
    let (_, row) = r.read_packet().await.unwrap();
    assert_eq!(r.read_packet().await.unwrap().1[0], 0xFE);
    // One length-prefixed text value.
    std::str::from_utf8(&row[1..]).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off_and_frees_what_it_held() {
    let ctx = setup_with("hostile_noread", |c| {
        c.listen.client_write_timeout_ms = 300;
        one_attempt(c);
    })
    .await;
    let mut c = ctx.conn().await;
    let id = running_migration(&ctx, &mut c).await;

    // A client with a tiny receive buffer claims the migrating table in a
    // transaction, then asks for 32 MiB and reads none of it.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let sock = sock.connect(ctx.addr).await.unwrap();
    let mut r = Raw::login_on(sock, NOPW_USER, &ctx.schema, base_caps(), 0).await;
    let conn = connection_id(&mut r).await;
    assert_eq!(first_packet(&mut r, "BEGIN").await[0], 0);
    assert_eq!(first_packet(&mut r, "UPDATE t SET v = v + 1").await[0], 0);
    r.query(
        "WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 32) \
         SELECT n, REPEAT('x', 1048576) FROM s",
    )
    .await;

    // Cut off: its backend connection is closed (the server rolls its
    // transaction back) and its slot is freed.
    eventually("the server-side connection is gone", || async {
        !server_has(conn).await
    })
    .await;
    let proxy = ctx.proxy.as_ref().unwrap();
    eventually("its session ended", || async { proxy.open_sessions() == 1 }).await;
    assert!(ctx
        .metrics()
        .contains("ghostwire_client_write_timeouts_total"));
    // Its claim on `t` is gone with it: the cut-over drains at once.
    complete_cuts_over(&ctx, &mut c, &id).await;
    let v: Option<i64> = c.query_first("SELECT SUM(v) FROM t").await.unwrap();
    assert_eq!(v, Some(6), "its transaction was rolled back");
    drop(r);
    c.disconnect().await.unwrap();
    assert_clean(&ctx).await;
    ctx.shutdown().await;
}

/// A replica that asks for the binlog through ghostwire and never reads
/// it is cut off like any client that stops reading: its server-side dump
/// connection goes, its session ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_never_reads_its_binlog_stream_is_cut_off() {
    let ctx = setup_with("hostile_dump", |c| c.listen.client_write_timeout_ms = 300).await;
    // Enough binlog that the stream cannot fit in the socket buffers.
    let mut d = ctx.direct().await;
    d.query_drop("CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)")
        .await
        .unwrap();
    for i in 0..8 {
        d.exec_drop("INSERT INTO big VALUES (?, REPEAT('x', 1048576))", (i,))
            .await
            .unwrap();
    }
    let first: Vec<mysql_async::Row> = d.query("SHOW BINARY LOGS").await.unwrap();
    let file: String = first[0].get(0).unwrap();

    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let sock = sock.connect(ctx.addr).await.unwrap();
    let mut r = Raw::login_on(sock, NOPW_USER, &ctx.schema, base_caps(), 0).await;
    let conn = connection_id(&mut r).await;
    // Events as the server logs them, checksums included.
    let setup = "SET @master_binlog_checksum = @@global.binlog_checksum";
    assert_eq!(first_packet(&mut r, setup).await[0], 0);
    let mut dump = vec![0x12];
    dump.extend_from_slice(&4u32.to_le_bytes()); // position
    dump.extend_from_slice(&0u16.to_le_bytes()); // flags: block at the end
    dump.extend_from_slice(&0x7777_0001u32.to_le_bytes()); // server id
    dump.extend_from_slice(file.as_bytes());
    r.send(0, &dump).await;

    eventually("the server-side dump connection is gone", || async {
        !server_has(conn).await
    })
    .await;
    let proxy = ctx.proxy.as_ref().unwrap();
    eventually("its session ended", || async { proxy.open_sessions() == 0 }).await;
    assert!(ctx
        .metrics()
        .contains("ghostwire_client_write_timeouts_total"));
    drop(r);
    ctx.shutdown().await;
}

/// Everything a raw client reads until the connection closes.
async fn bytes_until_close(r: &mut Raw) -> Vec<Vec<u8>> {
    r.read_to_close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_client_whose_backend_dies_sees_the_connection_close() {
    let ctx = setup("hostile_killed").await;
    let mut admin = ctx.direct().await;
    // What the server itself sends an idle client it kills: compared, not
    // assumed (MariaDB 10.11 and MySQL 9.7 send nothing).
    let direct_addr = server().addr().parse().unwrap();
    let mut direct = Raw::login(direct_addr, &ctx.schema, base_caps(), 0).await;
    let direct_id = connection_id(&mut direct).await;
    admin.query_drop(format!("KILL {direct_id}")).await.unwrap();
    let want = bytes_until_close(&mut direct).await;

    let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    let id = connection_id(&mut r).await;
    admin.query_drop(format!("KILL {id}")).await.unwrap();
    let got = bytes_until_close(&mut r).await;
    assert_eq!(got, want, "an idle client reads what the server sends");
    assert!(got.is_empty(), "the server just closes: {got:?}");

    // PyMySQL's ping sees a lost connection it recognises.
    let mut py = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(PING_SCRIPT)
        .arg(ctx.port().to_string())
        .args([APP_USER.0, APP_USER.1, &ctx.schema])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3");
    let mut out = BufReader::new(py.stdout.take().unwrap()).lines();
    let id: u32 = out.next_line().await.unwrap().unwrap().parse().unwrap();
    admin.query_drop(format!("KILL {id}")).await.unwrap();
    eventually("the server-side connection is gone", || async {
        !server_has(id).await
    })
    .await;
    py.stdin.take().unwrap().write_all(b"go\n").await.unwrap();
    let verdict = out.next_line().await.unwrap().unwrap_or_default();
    let status = py.wait_with_output().await.unwrap();
    assert!(
        verdict == "2013" || verdict == "2006",
        "PyMySQL: {verdict} {}",
        String::from_utf8_lossy(&status.stderr)
    );
    admin.disconnect().await.unwrap();
    assert_clean(&ctx).await;
    ctx.shutdown().await;
}

/// Connects, prints its CONNECTION_ID(), waits for a line on stdin, then
/// pings without reconnecting and prints the error code it gets.
const PING_SCRIPT: &str = r#"
import sys, pymysql
port, user, pw, db = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = pymysql.connect(host="127.0.0.1", port=port, user=user, password=pw, database=db)
cur = c.cursor()
cur.execute("SELECT CONNECTION_ID()")
print(cur.fetchone()[0], flush=True)
sys.stdin.readline()
try:
    c.ping(reconnect=False)
    print("no error")
except pymysql.err.OperationalError as e:
    print(e.args[0])
except Exception as e:
    print("%s: %s" % (type(e).__name__, e))
"#;
