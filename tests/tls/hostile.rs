//! Odd and hostile clients around the TLS upgrade: each gets a clear ERR
//! or a clean close (never a panic or a hang), and everyone else is served.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::raw::{raw_tls_client, read_err};
use crate::common::raw::{err_of, Raw};
use crate::*;

/// An SSLRequest payload (PROTOCOL_41 | SSL | SECURE_CONNECTION | PLUGIN_AUTH).
fn ssl_request() -> Vec<u8> {
    let caps: u32 = 0x0200 | 0x0800 | 0x8000 | 0x0008_0000;
    let mut p = caps.to_le_bytes().to_vec();
    p.extend_from_slice(&[0, 0, 0, 1, 45]);
    p.extend_from_slice(&[0; 23]);
    p
}

fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    f.push(seq);
    f.extend_from_slice(payload);
    f
}

/// A plain socket that has read the greeting and sent an SSLRequest.
async fn after_ssl_request(ctx: &Ctx) -> Raw {
    let mut r = Raw::connect(ctx.addr).await;
    r.read_packet().await.expect("greeting");
    r.send(1, &ssl_request()).await;
    r
}

/// The connection ends without a MySQL packet (a TLS alert at most):
/// nothing the client could take for an answer in clear.
async fn closes_without_a_packet(mut r: Raw) {
    let replies = r.read_to_close().await;
    assert!(
        replies
            .iter()
            .all(|p: &Vec<u8>| !matches!(p.as_slice(), [0xFF | 0x00, ..])),
        "no OK/ERR in clear after an SSLRequest: {replies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_tls_clients_get_an_err_or_a_clean_close_and_others_are_served() {
    let ctx = tls_setup_with(
        "tls_hostile",
        ListenTlsMode::Optional,
        BackendTlsMode::Required,
        |c| c.listen.handshake_timeout_ms = 2_000,
    )
    .await;

    // SSLRequest twice in clear: the second is no TLS ClientHello, so the
    // TLS handshake fails on it.
    let mut r = after_ssl_request(&ctx).await;
    r.send(1, &ssl_request()).await;
    closes_without_a_packet(r).await;

    // Garbage after the SSLRequest.
    let mut r = after_ssl_request(&ctx).await;
    r.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    closes_without_a_packet(r).await;

    // A truncated ClientHello (a TLS record header promising more), then
    // the client goes away.
    let mut r = after_ssl_request(&ctx).await;
    r.send_raw(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await;
    drop(r);
    // The same, and the client stays silent: the login deadline closes it
    // (no ERR can be sent in the middle of a TLS handshake).
    let mut r = after_ssl_request(&ctx).await;
    r.send_raw(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await;
    closes_without_a_packet(r).await;

    // SSLRequest again once on TLS: a clear ERR, over TLS.
    let mut t = raw_tls_client(&ctx).await;
    t.write_all(&frame(2, &ssl_request())).await.unwrap();
    t.flush().await.unwrap();
    assert_eq!(read_err(&mut t).await, (3, 1043));

    // A whole login in clear that announces TLS (CLIENT_SSL) without an
    // SSLRequest: refused as a bad handshake, before any auth.
    let mut r = Raw::connect(ctx.addr).await;
    r.read_packet().await.expect("greeting");
    let mut hello = ssl_request();
    hello.extend_from_slice(format!("{}\0\0mysql_native_password\0", APP_USER.0).as_bytes());
    r.send(1, &hello).await;
    let replies = r.read_to_close().await;
    let (code, msg) = err_of(replies.first().expect("an ERR"));
    assert_eq!(code, 1043, "{msg}");
    assert!(msg.contains("CLIENT_SSL"), "{msg}");

    // A TLS 1.1-only client (OpenSSL's, its own floor lowered): rustls
    // speaks 1.2 and 1.3 only, so ghostwire ends the handshake with an
    // alert (handshake failure) and closes; the same client on 1.2 gets in.
    let s_client = |version: &str| {
        let out = Command::new("openssl")
            .args(["s_client", "-starttls", "mysql", version])
            .args(["-cipher", "DEFAULT:@SECLEVEL=0", "-connect"])
            .arg(ctx.addr.to_string())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("openssl");
        let said = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        (out.status.success(), said)
    };
    let (ok, said) = s_client("-tls1_1");
    assert!(!ok && said.contains("SSL alert number 40"), "{said}");
    let (ok, said) = s_client("-tls1_2");
    assert!(ok && said.contains("TLSv1.2"), "{said}");

    // Everyone else is served, on TLS and in plain text, and nothing
    // panicked or leaked.
    let me = format!("{}@%", APP_USER.0);
    assert_eq!(
        login(ctx.port(), Via::Ours, APP_USER.0, APP_USER.1).await,
        me
    );
    assert_eq!(
        login(ctx.port(), Via::Plain, APP_USER.0, APP_USER.1).await,
        me
    );
    let proxy = ctx.proxy.as_ref().unwrap();
    eventually("every session ended", || async {
        proxy.open_sessions() == 0
    })
    .await;
    assert_eq!(proxy.session_panics(), 0);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_that_stops_reading_mid_handshake_is_let_go() {
    // The TLS handshake has no deadline of its own: the login's bounds it.
    let ctx = tls_setup_with(
        "tls_hostile_stall",
        ListenTlsMode::Required,
        BackendTlsMode::Off,
        |c| c.listen.handshake_timeout_ms = 1_000,
    )
    .await;
    let mut s = tokio::net::TcpStream::connect(ctx.addr).await.unwrap();
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.unwrap();
    let mut g = vec![0; u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize];
    s.read_exact(&mut g).await.unwrap();
    s.write_all(&frame(1, &ssl_request())).await.unwrap();
    // Nothing more: ghostwire waits for a ClientHello, then lets go.
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "nothing in clear: {rest:?}");
    let proxy = ctx.proxy.as_ref().unwrap();
    eventually("the session ended", || async { proxy.open_sessions() == 0 }).await;
    assert_eq!(proxy.session_panics(), 0);
    ctx.shutdown().await;
}
