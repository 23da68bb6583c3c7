//! Item 10 with a backend that closes exactly when told: a scripted fake
//! server (a real one sends its own ERR when a running statement is
//! killed). An idle client whose backend closes reads a plain close; a
//! client whose command is in flight reads ERR 2013 in sequence.

use std::net::SocketAddr;

use super::common::raw::{base_caps, err_of, Raw};
use super::common::*;
use ghostwire::protocol::write_packet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A MySQL 5.7-style greeting (protocol 10, native password).
fn greeting() -> Vec<u8> {
    let caps: u32 = 0x0000_A20F | 0x0008_0000; // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, …
    let mut p = vec![10];
    p.extend_from_slice(b"5.7.99-fake\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(&[1; 8]);
    p.push(0);
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(&[2; 12]);
    p.push(0);
    p.extend_from_slice(b"mysql_native_password\0");
    p
}

/// Reads one frame's payload (None when the peer closed).
async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.ok()?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let mut p = vec![0; len];
    s.read_exact(&mut p).await.ok()?;
    Some(p)
}

async fn send(s: &mut TcpStream, seq: u8, payloads: &[&[u8]]) {
    let mut out = Vec::new();
    let mut seq = seq;
    for p in payloads {
        write_packet(&mut out, &mut seq, p);
    }
    s.write_all(&out).await.unwrap();
}

/// Greets and lets the test's client in (ghostwire's own engine connects
/// too, to check its grants: it is turned away), answers its first command
/// with a five-packet result set (so the response's sequence ids run to 5),
/// and then: `in_flight` — closes when the next command arrives; else
/// closes at once, with the client idle.
async fn fake_backend(listener: TcpListener, in_flight: bool) {
    loop {
        let (mut s, _) = listener.accept().await.unwrap();
        send(&mut s, 0, &[&greeting()]).await;
        let hello = read_frame(&mut s).await.unwrap_or_default();
        let user = hello.get(32..).unwrap_or_default();
        if !user.starts_with(NOPW_USER.as_bytes()) {
            continue;
        }
        send(&mut s, 2, &[&[0, 0, 0, 2, 0, 0, 0]]).await;
        read_frame(&mut s).await.expect("first command");
        let eof: &[u8] = &[0xFE, 0, 0, 2, 0];
        send(&mut s, 1, &[&[1], b"\x03def", eof, b"\x011", eof]).await;
        if in_flight {
            read_frame(&mut s).await.expect("second command");
        }
        return;
    }
}

async fn proxy_for(backend: SocketAddr) -> ghostwire::app::Proxy {
    let mut cfg = proxy_config();
    cfg.backend.addr = backend.to_string();
    cfg.metrics.addr = None;
    ghostwire::app::Proxy::start(cfg).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_closing_under_idle_and_busy_clients() {
    for in_flight in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend = listener.local_addr().unwrap();
        let fake = tokio::spawn(fake_backend(listener, in_flight));
        let proxy = proxy_for(backend).await;
        let mut r = Raw::login(proxy.addr, "d", base_caps(), 0).await;
        r.query("SELECT 1").await;
        for _ in 0..5 {
            r.read_packet().await.expect("the result set");
        }
        if in_flight {
            r.query("SELECT 2").await;
            let (seq, p) = r.read_packet().await.expect("an ERR");
            let (code, msg) = err_of(&p);
            assert_eq!((code, seq), (2013, 1), "{msg}");
            assert!(r.read_packet().await.is_none(), "then the close");
        } else {
            let rest = r.read_to_close().await;
            assert!(
                rest.is_empty(),
                "an idle client reads only the close: {rest:?}"
            );
        }
        fake.await.unwrap();
        eventually("the session ends", || async { proxy.open_sessions() == 0 }).await;
        assert_eq!(proxy.session_panics(), 0);
        proxy.shutdown().await;
    }
}
