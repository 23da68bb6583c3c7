//! Items 6 and 7: connections that never finish logging in, and login
//! packets too big to be one.

use super::assert_clean;
use super::common::raw::{base_caps, err_of, hello, Raw};
use super::common::*;
use mysql_async::prelude::*;

/// Backend connections still logging in (the proxy's, for half-open
/// clients; other tests' logins pass through in milliseconds).
async fn unauthenticated_backends() -> usize {
    let mut c = direct_conn_to("mysql").await;
    let n: Option<usize> = c
        .query_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE USER = 'unauthenticated user'",
        )
        .await
        .unwrap();
    c.disconnect().await.ok();
    n.unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_logins_do_not_lock_clients_out() {
    const HALF_OPEN: usize = 300;
    const MAX_UNAUTH: usize = 40;
    let ctx = setup_with("hostile_slowloris", |c| {
        c.listen.max_unauthenticated = MAX_UNAUTH;
        c.listen.handshake_timeout_ms = 1500;
    })
    .await;
    // Each reads the greeting, sends two bytes of its handshake response
    // and stops there.
    let mut half_open = Vec::new();
    for _ in 0..HALF_OPEN {
        let mut r = Raw::connect(ctx.addr).await;
        r.send_raw(&[0x20, 0x00]).await;
        half_open.push(r);
    }
    // Their backend connections are bounded by max_unauthenticated: the
    // newest ones are left (other tests' logins may pass by meanwhile).
    eventually("only the newest half-open logins hold backends", || async {
        (MAX_UNAUTH..MAX_UNAUTH + 10).contains(&unauthenticated_backends().await)
    })
    .await;

    // A real client logs in and queries meanwhile.
    let mut c = ctx.conn().await;
    let one: Option<i64> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));

    // Every half-open connection is closed with an ERR naming its reason:
    // the oldest to make room (1040, naming the limit), the rest when
    // their time is up (1159).
    let (mut evicted, mut timed_out) = (0, 0);
    for mut r in half_open {
        let packets = r.read_to_close().await;
        let err = packets.last().expect("an ERR before close");
        let (code, msg) = err_of(err);
        match code {
            1040 => {
                assert!(msg.contains("max_unauthenticated = 40"), "{msg}");
                evicted += 1;
            }
            1159 => {
                assert!(msg.contains("handshake_timeout_ms = 1500"), "{msg}");
                timed_out += 1;
            }
            _ => panic!("unexpected ERR {code}: {msg}"),
        }
    }
    assert!(
        evicted >= HALF_OPEN - MAX_UNAUTH,
        "{evicted} evicted, {timed_out} timed out"
    );
    assert!(timed_out > 0, "the newest waited for their timeout");
    eventually("no backend connection is left logging in", || async {
        unauthenticated_backends().await == 0
    })
    .await;
    let text = ctx.metrics();
    for reason in ["max_unauthenticated", "handshake_timeout"] {
        assert!(
            text.contains(&format!(
                "ghostwire_client_connections_rejected_total{{reason=\"{reason}\"}}"
            )),
            "{reason} counted"
        );
    }
    // The real client was served throughout and still is.
    let two: Option<i64> = c.query_first("SELECT 2").await.unwrap();
    assert_eq!(two, Some(2));
    c.disconnect().await.unwrap();
    assert_clean(&ctx).await;
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_login_packets_are_refused_at_the_header() {
    let ctx = setup("hostile_preauth").await;
    // A handshake response announcing 16 MiB: refused after its header,
    // before any body is buffered (the handshake timeout is 10 s: an ERR
    // that comes at once did not wait for the body).
    let mut r = Raw::connect(ctx.addr).await;
    r.read_packet().await.expect("greeting");
    r.send_raw(&[0xFF, 0xFF, 0xFF, 0x01, 0x85, 0xA2]).await;
    let packets = r.read_to_close().await;
    let (code, msg) = err_of(&packets[0]);
    assert_eq!(code, 1153, "{msg}");
    assert!(
        msg.contains("16777215-byte packet before authentication"),
        "{msg}"
    );

    // The same in the middle of the auth exchange: the client names a
    // plugin the server does not use, the server asks it to switch, and
    // the client's answer announces 1 MiB.
    let mut r = Raw::connect(ctx.addr).await;
    r.read_packet().await.expect("greeting");
    let caps = base_caps() | ghostwire::protocol::CapabilityFlags::CLIENT_LONG_PASSWORD.bits();
    r.send(1, &hello(caps, 0, NOPW_USER, &ctx.schema, "no_such_plugin"))
        .await;
    let (seq, switch) = r.read_packet().await.expect("auth switch");
    assert_eq!(switch[0], 0xFE, "auth switch request: {switch:?}");
    r.send_raw(&[0x00, 0x00, 0x10, seq + 1, 1, 2, 3]).await;
    let packets = r.read_to_close().await;
    let (code, msg) = err_of(&packets[0]);
    assert_eq!(code, 1153, "{msg}");
    assert!(msg.contains("1048576-byte packet"), "{msg}");

    // An empty handshake response: a bad handshake, answered and closed.
    let mut r = Raw::connect(ctx.addr).await;
    r.read_packet().await.expect("greeting");
    r.send_raw(&[0, 0, 0, 1]).await;
    let packets = r.read_to_close().await;
    assert_eq!(err_of(&packets[0]).0, 1043);

    // A big packet after login is no login packet: it is relayed.
    let mut r = Raw::login(ctx.addr, &ctx.schema, base_caps(), 0).await;
    let mut q = b"\x03SELECT LENGTH('".to_vec();
    q.resize(q.len() + 200_000, b'a');
    q.extend_from_slice(b"')");
    r.send(0, &q).await;
    let (_, first) = r.read_packet().await.unwrap();
    assert_eq!(first[0], 1, "a one-column result set");
    drop(r);
    assert!(ctx
        .metrics()
        .contains("ghostwire_client_connections_rejected_total{reason=\"preauth_too_large\"}"));
    assert_clean(&ctx).await;
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_logins() {
    let ctx = setup_with("hostile_login_shutdown", |c| {
        c.listen.handshake_timeout_ms = 120_000;
    })
    .await;
    let mut r = Raw::connect(ctx.addr).await;
    r.read_packet().await.expect("greeting");
    r.send_raw(&[0x20, 0x00]).await;
    let proxy = ctx.proxy.as_ref().unwrap();
    eventually("the login has its backend connection", || async {
        proxy.open_sessions() == 1
    })
    .await;
    let stopping = tokio::spawn(ctx.shutdown());
    // Closed with ERR 1053 at once: not after its (long) login timeout.
    let packets = r.read_to_close().await;
    let (code, msg) = err_of(packets.last().expect("an ERR before close"));
    assert_eq!(code, 1053, "{msg}");
    stopping.await.unwrap();
}
