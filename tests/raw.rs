//! Protocol edge cases and bad input, with a hand-driven client: exact
//! capability choices (old EOF, DEPRECATE_EOF, MariaDB metadata caching and
//! progress reports) and packets no driver would send.

mod common;

use common::raw::{base_caps, err_of, Raw};
use common::*;
use ghostwire::protocol::{CapabilityFlags as C, MariadbCapabilities as M};
use mysql_async::prelude::*;

const DEPRECATE_EOF: u32 = C::CLIENT_DEPRECATE_EOF.bits();

/// No session, task or backend connection outlives its client.
async fn assert_no_leaks(ctx: &Ctx) {
    let proxy = ctx.proxy.as_ref().unwrap();
    eventually("proxy sessions drop to 0", || async {
        proxy.open_sessions() == 0
    })
    .await;
    eventually("backend connections drop to 0", || async {
        backend_sessions("DB", &ctx.schema).await == 0
    })
    .await;
}

/// Checks the proxy still serves a normal client.
async fn still_serving(ctx: &Ctx) {
    let mut c = ctx.conn().await;
    let one: Option<i64> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    c.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_truncated_and_out_of_order_input() {
    let ctx = setup_with("raw_bad_input", |c| c.listen.client_read_timeout_ms = 300).await;

    // An HTTP request instead of a handshake response.
    let mut r = Raw::connect(ctx.addr).await;
    r.read_packet().await.expect("greeting");
    r.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let replies = r.read_to_close().await;
    assert_eq!(err_of(&replies[0]).0, 1156, "out-of-order ERR, then close");

    // A command with the wrong sequence id.
    let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    r.send(5, b"\x03SELECT 1").await;
    let replies = r.read_to_close().await;
    assert_eq!(err_of(&replies[0]).0, 1156);

    // A packet that announces 100 bytes and sends 10, then stalls: ERR 1159.
    let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    r.send_raw(&[
        100, 0, 0, 0, 3, b'S', b'E', b'L', b'E', b'C', b'T', b' ', b'1', b' ',
    ])
    .await;
    let replies = r.read_to_close().await;
    let (code, msg) = err_of(&replies[0]);
    assert_eq!(code, 1159, "{msg}");

    // The same, then the client disconnects mid-packet.
    let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    r.send_raw(&[100, 0, 0, 0, 3, b'S']).await;
    drop(r);

    // A truncated handshake response (shorter than its fixed part).
    let mut r = Raw::connect(ctx.addr).await;
    r.read_packet().await.expect("greeting");
    r.send(1, &[0x00, 0x02, 0, 0, 1, 2, 3]).await;
    let replies = r.read_to_close().await;
    assert!(
        replies.iter().any(|p| p[0] == 0xFF),
        "an ERR before close: {replies:?}"
    );

    // A client that asks for TLS gets a clear refusal, not a hang.
    let mut r = Raw::connect(ctx.addr).await;
    r.read_packet().await.expect("greeting");
    let mut ssl = (base_caps() | C::CLIENT_SSL.bits()).to_le_bytes().to_vec();
    ssl.resize(32, 0);
    r.send(1, &ssl).await;
    let replies = r.read_to_close().await;
    assert!(err_of(&replies[0]).1.contains("TLS"), "{replies:?}");

    still_serving(&ctx).await;
    assert_no_leaks(&ctx).await;
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_over_max_allowed_packet_gets_the_servers_error() {
    let ctx = setup("raw_max_packet").await;
    let mut d = ctx.direct().await;
    let max: Option<usize> = d.query_first("SELECT @@max_allowed_packet").await.unwrap();
    d.disconnect().await.unwrap();
    let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    let mut q = b"\x03SELECT '".to_vec();
    q.resize(max.unwrap() + 1024, b'a');
    q.push(b'\'');
    // The server may close before all is written: don't fail on our write.
    let _ = r.try_send(0, &q).await;
    let replies = r.read_to_close().await;
    let (code, msg) = err_of(replies.last().expect("an ERR before close"));
    assert!(code == 1153 || code == 2013, "{code} {msg}");
    still_serving(&ctx).await;
    assert_no_leaks(&ctx).await;
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_mid_command_closes_its_backend() {
    let ctx = setup("raw_disconnect").await;
    let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    r.query("SELECT SLEEP(1), 'x'").await;
    let schema = ctx.schema.clone();
    eventually("the query runs", || async {
        backend_sessions("DB", &schema).await == 1
    })
    .await;
    drop(r);
    still_serving(&ctx).await;
    assert_no_leaks(&ctx).await;
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_unreachable_and_connection_limit() {
    let dead = free_port();
    let ctx = setup_with("raw_limits", |c| {
        c.listen.max_connections = 2;
        c.backend.addr = format!("127.0.0.1:{dead}");
    })
    .await;
    let mut r = Raw::connect(ctx.addr).await;
    let (_, p) = r.read_packet().await.unwrap();
    let (code, msg) = err_of(&p);
    assert_eq!(code, 2003);
    assert!(
        msg.starts_with(&format!(
            "ghostwire: cannot reach backend 127.0.0.1:{dead}: "
        )),
        "{msg}"
    );
    ctx.shutdown().await;

    let ctx = setup_with("raw_limits", |c| c.listen.max_connections = 2).await;
    let a = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    let _b = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    let mut c = Raw::connect(ctx.addr).await;
    let (_, p) = c.read_packet().await.unwrap();
    assert_eq!(err_of(&p).0, 1040);
    drop(a);
    let proxy = ctx.proxy.as_ref().unwrap();
    eventually("slot freed", || async { proxy.open_sessions() == 1 }).await;
    Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    ctx.shutdown().await;
}

/// Reads one text/binary result set; returns (metadata_followed, rows).
async fn read_result(
    r: &mut Raw,
    deprecate_eof: bool,
    cache_metadata: bool,
) -> (bool, Vec<Vec<u8>>) {
    let (_, count) = r.read_packet().await.unwrap();
    assert_ne!(count[0], 0xFF, "{}", String::from_utf8_lossy(&count));
    let n = count[0] as usize;
    let follows = !cache_metadata || count[1] == 1;
    if follows {
        for _ in 0..n {
            let (_, def) = r.read_packet().await.unwrap();
            assert_eq!(&def[..4], b"\x03def", "column definition");
        }
    }
    if !deprecate_eof {
        let (_, eof) = r.read_packet().await.unwrap();
        assert_eq!(eof[0], 0xFE);
    }
    let mut rows = Vec::new();
    loop {
        let (_, p) = r.read_packet().await.unwrap();
        if p[0] == 0xFE && p.len() < 0xFF_FFFF {
            return (follows, rows);
        }
        rows.push(p);
    }
}

/// A statement command: command byte, statement id, then `rest`.
fn stmt_packet(cmd: u8, id: u32, rest: &[u8]) -> Vec<u8> {
    let mut p = vec![cmd];
    p.extend_from_slice(&id.to_le_bytes());
    p.extend_from_slice(rest);
    p
}

async fn ping_ok(r: &mut Raw) {
    r.send(0, &[0x0E]).await;
    let (seq, p) = r.read_packet().await.unwrap();
    assert_eq!(
        (seq, p[0]),
        (1, 0x00),
        "in sync: ping answered with OK seq 1"
    );
}

/// Prepares `sql`; returns the statement id after reading the whole reply.
async fn prepare(r: &mut Raw, sql: &str, deprecate_eof: bool) -> u32 {
    let mut p = vec![0x16];
    p.extend_from_slice(sql.as_bytes());
    r.send(0, &p).await;
    let (_, ok) = r.read_packet().await.unwrap();
    assert_eq!(ok[0], 0, "{}", String::from_utf8_lossy(&ok));
    let id = u32::from_le_bytes(ok[1..5].try_into().unwrap());
    let cols = u16::from_le_bytes([ok[5], ok[6]]);
    let params = u16::from_le_bytes([ok[7], ok[8]]);
    for n in [params, cols] {
        for _ in 0..n {
            r.read_packet().await.unwrap();
        }
        if n > 0 && !deprecate_eof {
            assert_eq!(r.read_packet().await.unwrap().1[0], 0xFE);
        }
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_data_reset_close_and_metadata_caching() {
    let ctx = setup("raw_stmt").await;
    let cache = M::MARIADB_CLIENT_CACHE_METADATA.bits();
    for (extra, mariadb) in [
        (0, 0),
        (DEPRECATE_EOF, 0),
        (0, cache),
        (DEPRECATE_EOF, cache),
    ] {
        let deprecate = extra != 0;
        // MySQL has no metadata caching: the proxy negotiates only what
        // the server offers.
        let cached = mariadb != 0 && !common::is_mysql();
        let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps() | extra, mariadb).await;
        // Result types must not depend on the parameter, or the server resends
        // metadata on every execute.
        // SHA2, not MD5: MySQL 9 has no MD5().
        let id = prepare(&mut r, "SELECT SHA2(?, 256), 'x'", deprecate).await;
        let execute = |types: bool| {
            let mut p = stmt_packet(0x17, id, &[]);
            p.push(0); // no cursor
            p.extend_from_slice(&1u32.to_le_bytes());
            p.push(0); // null bitmap
            p.push(types as u8);
            if types {
                p.extend_from_slice(&[0xFE, 0]); // MYSQL_TYPE_STRING
            }
            p
        };
        for chunk in [&b"hello "[..], b"world"] {
            // COM_STMT_SEND_LONG_DATA for parameter 0: no reply.
            r.send(
                0,
                &stmt_packet(0x18, id, &[&0u16.to_le_bytes(), chunk].concat()),
            )
            .await;
        }
        r.send(0, &execute(true)).await;
        let (follows, rows) = read_result(&mut r, deprecate, cached).await;
        assert_eq!(
            follows, !cached,
            "definitions skipped when cached (known since the prepare)"
        );
        let digest = |row: &[u8], hex: &[u8]| row.windows(hex.len()).any(|w| w == hex);
        assert!(
            digest(
                &rows[0],
                b"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
            ),
            "{:?}",
            rows[0]
        );
        // Second execute: with metadata caching the definitions are skipped.
        r.send(
            0,
            &stmt_packet(0x18, id, &[&0u16.to_le_bytes(), &b"again"[..]].concat()),
        )
        .await;
        r.send(0, &execute(false)).await;
        let (follows, rows) = read_result(&mut r, deprecate, cached).await;
        assert_eq!(follows, !cached, "metadata skipped only when cached");
        assert!(
            digest(
                &rows[0],
                b"b4c9e14061c2fd453b36700e3b0da008db2189c711ac629f0f583089164e267d"
            ),
            "{:?}",
            rows[0]
        );
        // COM_STMT_RESET: one OK.
        r.send(0, &stmt_packet(0x1A, id, &[])).await;
        assert_eq!(r.read_packet().await.unwrap().1[0], 0x00);
        // COM_STMT_CLOSE: no reply; the next command is answered in sync.
        r.send(0, &stmt_packet(0x19, id, &[])).await;
        ping_ok(&mut r).await;
    }
    assert_no_leaks(&ctx).await;
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_result_set_for_every_eof_and_metadata_style() {
    let ctx = setup("raw_synthetic").await;
    let ext = (M::MARIADB_CLIENT_EXTENDED_METADATA | M::MARIADB_CLIENT_CACHE_METADATA).bits();
    for (extra, mariadb) in [(0, 0), (DEPRECATE_EOF, 0), (0, ext), (DEPRECATE_EOF, ext)] {
        let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps() | extra, mariadb).await;
        // Reference: the server's own layout for a one-column text result.
        r.query("SELECT 'a' AS id").await;
        let (_, server_count) = r.read_packet().await.unwrap();
        let (_, server_def) = r.read_packet().await.unwrap();
        // Old-EOF clients get an EOF after the definitions and one at the end.
        for _ in 0..if extra == 0 { 2 } else { 1 } {
            while r.read_packet().await.unwrap().1[0] != 0xFE {}
        }
        r.query("SHOW MIGRATION 'no-such-migration'").await;
        let (seq, count) = r.read_packet().await.unwrap();
        assert_eq!(seq, 1);
        assert_eq!(count.len(), server_count.len(), "column count packet shape");
        let (_, def) = r.read_packet().await.unwrap();
        // Same fields up to the fixed part: catalog, schema, tables, names,
        // and MariaDB's extended metadata when negotiated.
        let fixed = |d: &[u8]| d.iter().rposition(|b| *b == 0x0C).map(|i| d.len() - i);
        assert_eq!(fixed(&def), fixed(&server_def), "fixed-length tail");
        assert!(def.windows(2).any(|w| w == b"id"));
        for _ in 1..ghostwire::admin::MIGRATION_COLUMNS.len() {
            r.read_packet().await.unwrap();
        }
        if extra == 0 {
            assert_eq!(
                r.read_packet().await.unwrap().1[0],
                0xFE,
                "EOF after definitions"
            );
        }
        let (_, end) = r.read_packet().await.unwrap();
        assert_eq!(end[0], 0xFE, "no rows, then the terminator");
        ping_ok(&mut r).await;
    }
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_progress_reports_pass_through() {
    if common::is_mysql() {
        eprintln!("MariaDB only: MySQL has no progress reports");
        return;
    }
    let ctx = setup("raw_progress").await;
    let mut d = ctx.direct().await;
    d.query_drop("CREATE TABLE t (id INT PRIMARY KEY, pad CHAR(200)) SELECT seq AS id, REPEAT('x', 200) AS pad FROM seq_1_to_200000")
        .await
        .unwrap();
    d.disconnect().await.unwrap();
    let progress = M::MARIADB_CLIENT_PROGRESS.bits();
    let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps() | DEPRECATE_EOF, progress).await;
    r.query("SET SESSION progress_report_time = 1").await;
    assert_eq!(r.read_packet().await.unwrap().1[0], 0);
    // Grow the copy until it runs long enough to report progress.
    let mut seen = 0;
    for round in 0..5 {
        // Run by the server itself: its progress reports are what is tested.
        r.query("/* ghostwire: direct */ ALTER TABLE t ENGINE=InnoDB, ALGORITHM=COPY")
            .await;
        loop {
            let (_, p) = r.read_packet().await.unwrap();
            if p[0] == 0xFF && p[1..3] == [0xFF, 0xFF] {
                seen += 1;
                continue;
            }
            assert_eq!(
                p[0], 0x00,
                "the ALTER's OK after its progress reports: {p:?}"
            );
            break;
        }
        ping_ok(&mut r).await;
        if seen > 0 {
            break;
        }
        r.query(&format!(
            "INSERT INTO t SELECT id + {}, pad FROM t",
            200_000 << round
        ))
        .await;
        assert_eq!(r.read_packet().await.unwrap().1[0], 0);
    }
    assert!(seen > 0, "no progress report came through");
    ctx.shutdown().await;
}

/// A cursor on a prepared SHOW MIGRATIONS (COM_STMT_EXECUTE with a cursor
/// type, then COM_STMT_FETCH) is refused with a clear ERR, never rows the
/// client's cursor code does not expect nor the server's "unknown
/// statement" for an id it never saw; the same statement then executes
/// without a cursor, and the connection stays in sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_on_proxy_statements_are_refused() {
    let ctx = setup("raw_cursor").await;
    let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    let id = prepare(&mut r, "SHOW MIGRATIONS", false).await;
    let execute = |flags: u8| {
        let mut p = stmt_packet(0x17, id, &[]);
        p.push(flags);
        p.extend_from_slice(&1u32.to_le_bytes());
        p
    };
    r.send(0, &execute(1)).await; // CURSOR_TYPE_READ_ONLY
    let (seq, p) = r.read_packet().await.unwrap();
    assert_eq!((seq, err_of(&p).0), (1, 1235), "{}", err_of(&p).1);
    assert!(
        err_of(&p).1.contains("without a cursor"),
        "{}",
        err_of(&p).1
    );
    r.send(0, &stmt_packet(0x1C, id, &10u32.to_le_bytes()))
        .await; // FETCH
    let (seq, p) = r.read_packet().await.unwrap();
    assert_eq!((seq, err_of(&p).0), (1, 1235), "{}", err_of(&p).1);
    ping_ok(&mut r).await;
    r.send(0, &execute(0)).await;
    read_result(&mut r, false, false).await;
    ping_ok(&mut r).await;
    drop(r);
    assert_no_leaks(&ctx).await;
    ctx.shutdown().await;
}
