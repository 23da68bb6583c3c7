//! Raw TLS clients (rustls) against ghostwire: the pre-auth limits hold
//! after the TLS handshake.

use crate::*;

/// A raw client that asks for TLS and completes the TLS handshake with
/// ghostwire (checked against our CA), then is left to the caller.
pub(crate) async fn raw_tls_client(
    ctx: &Ctx,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(ctx.addr).await.unwrap();
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.unwrap();
    let mut greeting = vec![0; u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize];
    s.read_exact(&mut greeting).await.unwrap();
    assert!(offers_ssl(&greeting));
    // PROTOCOL_41 | SSL | SECURE_CONNECTION | PLUGIN_AUTH
    let caps: u32 = 0x0200 | 0x0800 | 0x8000 | 0x0008_0000;
    let mut req = vec![32, 0, 0, 1];
    req.extend_from_slice(&caps.to_le_bytes());
    req.extend_from_slice(&[0, 0, 0, 1, 45]);
    req.extend_from_slice(&[0; 23]);
    s.write_all(&req).await.unwrap();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&certs().ca).unwrap();
    let der = rustls::pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
    roots.add(der).unwrap();
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, s)
        .await
        .expect("TLS handshake with ghostwire")
}

/// The next packet over `s`: (sequence id, ERR code) of an ERR.
pub(crate) async fn read_err(s: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u8, u16) {
    use tokio::io::AsyncReadExt;
    let read = async {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).await.unwrap();
        let mut p = vec![0; u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize];
        s.read_exact(&mut p).await.unwrap();
        assert_eq!(p[0], 0xFF, "an ERR");
        (h[3], u16::from_le_bytes([p[1], p[2]]))
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), read)
        .await
        .expect("an answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preauth_limits_hold_over_tls() {
    use tokio::io::AsyncWriteExt;
    let ctx = tls_setup_with(
        "tls_preauth",
        ListenTlsMode::Optional,
        BackendTlsMode::Off,
        |c| c.listen.handshake_timeout_ms = 1_000,
    )
    .await;
    // Silent after the TLS handshake: the login timeout's ERR, over TLS,
    // as the answer to the (missing) handshake response (id 2).
    let mut silent = raw_tls_client(&ctx).await;
    assert_eq!(read_err(&mut silent).await, (3, 1159));
    // A handshake response announced too big for a login packet: refused
    // at its header, over TLS.
    let mut big = raw_tls_client(&ctx).await;
    big.write_all(&[0, 0, 2, 2]).await.unwrap();
    big.flush().await.unwrap();
    assert_eq!(read_err(&mut big).await, (3, 1153));
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleartext_first_response_over_tls_is_not_relayed_in_plain_text() {
    use tokio::io::AsyncWriteExt;
    // A handshake response whose auth data is the password itself
    // (mysql_clear_password as the client's first plugin), over TLS.
    let hello = |plugin: &str| {
        // PROTOCOL_41 | SSL | SECURE_CONNECTION | PLUGIN_AUTH
        let caps: u32 = 0x0200 | 0x0800 | 0x8000 | 0x0008_0000;
        let mut p = caps.to_le_bytes().to_vec();
        p.extend_from_slice(&[0, 0, 0, 1, 45]);
        p.extend_from_slice(&[0; 23]);
        p.extend_from_slice(format!("{}\0", APP_USER.0).as_bytes());
        let pw = format!("{}\0", APP_USER.1);
        p.push(pw.len() as u8);
        p.extend_from_slice(pw.as_bytes());
        p.extend_from_slice(format!("{plugin}\0").as_bytes());
        let mut f = (p.len() as u32).to_le_bytes()[..3].to_vec();
        f.push(2);
        f.extend_from_slice(&p);
        f
    };
    let ctx = tls_setup(
        "tls_clear_first",
        ListenTlsMode::Optional,
        BackendTlsMode::Off,
    )
    .await;
    let mut c = raw_tls_client(&ctx).await;
    c.write_all(&hello("mysql_clear_password")).await.unwrap();
    c.flush().await.unwrap();
    // Refused in place of the server's answer, before it is forwarded.
    // (The mariadb CLI with --default-auth=mysql_clear_password gets this
    // ERR too but reports it as 2027, malformed packet.)
    assert_eq!(read_err(&mut c).await, (3, 2061));
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_client_starting_with_sha256_password_gets_ghostwires_key() {
    // Its first response is a key request (0x01), which the server, over
    // TLS, would take for the password: ghostwire answers it with its own
    // key, before anything is forwarded; what comes next must be encrypted
    // with it (a password in clear is refused, as the server refuses it off
    // TLS), in sequence.
    let ctx = tls_setup(
        "tls_sha256_first",
        ListenTlsMode::Off,
        BackendTlsMode::Required,
    )
    .await;
    let mut s = std::net::TcpStream::connect(ctx.addr).unwrap();
    read_packet(&mut s);
    let caps: u32 = 0x0200 | 0x8000 | 0x0008_0000; // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH
    let mut hello = caps.to_le_bytes().to_vec();
    hello.extend_from_slice(&[0, 0, 0, 1, 45]);
    hello.extend_from_slice(&[0; 23]);
    hello.extend_from_slice(format!("{}\0\x01\x01sha256_password\0", APP_USER.0).as_bytes());
    let frame = |seq: u8, p: &[u8]| {
        let mut f = (p.len() as u32).to_le_bytes()[..3].to_vec();
        f.push(seq);
        f.extend_from_slice(p);
        f
    };
    std::io::Write::write_all(&mut s, &frame(1, &hello)).unwrap();
    let (seq, key) = read_packet(&mut s);
    assert_eq!(seq, 2);
    assert!(
        key.starts_with(b"\x01-----BEGIN PUBLIC KEY-----"),
        "{key:?}"
    );
    std::io::Write::write_all(&mut s, &frame(3, b"pw\0")).unwrap();
    let (seq, err) = read_packet(&mut s);
    assert_eq!(seq, 4);
    assert_eq!((err[0], u16::from_le_bytes([err[1], err[2]])), (0xFF, 1045));
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sha256_password_client_logs_in_through_the_bridge_packet_by_packet() {
    use rsa::pkcs8::DecodePublicKey;
    use std::io::Write;
    common::tls::server();
    if !is_mysql() {
        println!("sha256_password is MySQL's: not tested on MariaDB");
        return;
    }
    let ctx = tls_setup("tls_s256_raw", ListenTlsMode::Off, BackendTlsMode::Required).await;
    let mut d = ctx.direct().await;
    d.query_drop(
        "DROP USER IF EXISTS 'tls_s256_raw'@'%'; \
         CREATE USER 'tls_s256_raw'@'%' IDENTIFIED WITH sha256_password BY 'raw-pw'",
    )
    .await
    .unwrap();
    d.disconnect().await.ok();
    let frame = |seq: u8, p: &[u8]| {
        let mut f = (p.len() as u32).to_le_bytes()[..3].to_vec();
        f.push(seq);
        f.extend_from_slice(p);
        f
    };
    // What a plain client does with a key it was given.
    let encrypt = |pem: &[u8], nonce: &[u8]| {
        let pem = std::str::from_utf8(pem).unwrap();
        let key = rsa::PublicKey::from_public_key_pem(pem).unwrap();
        let mut p = b"raw-pw\0".to_vec();
        for (i, b) in p.iter_mut().enumerate() {
            *b ^= nonce[i % nonce.len()];
        }
        key.oaep_encrypt::<sha1::Sha1>(&p).unwrap()
    };
    let mut s = std::net::TcpStream::connect(ctx.addr).unwrap();
    let (_, g) = read_packet(&mut s);
    // The greeting's nonce: 8 bytes after the connection id, 12 after the
    // reserved bytes.
    let at = 1 + g[1..].iter().position(|b| *b == 0).unwrap() + 1 + 4;
    let mut nonce = g[at..at + 8].to_vec();
    let part2 = at + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    nonce.extend_from_slice(&g[part2..part2 + 12]);
    // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH; the key request first.
    let caps: u32 = 0x0200 | 0x8000 | 0x0008_0000;
    let mut hello = caps.to_le_bytes().to_vec();
    hello.extend_from_slice(&[0, 0, 0, 1, 45]);
    hello.extend_from_slice(&[0; 23]);
    hello.extend_from_slice(b"tls_s256_raw\0\x01\x01sha256_password\0");
    s.write_all(&frame(1, &hello)).unwrap();
    let (seq, key) = read_packet(&mut s);
    assert_eq!((seq, key[0]), (2, 0x01));
    s.write_all(&frame(3, &encrypt(&key[1..], &nonce))).unwrap();
    // MySQL 9.7 then switches to sha256_password with a nonce of its own
    // (the greeting named caching_sha2_password): the same again.
    let (seq, switch) = read_packet(&mut s);
    assert_eq!(seq, 4);
    assert!(switch.starts_with(b"\xFEsha256_password\0"), "{switch:?}");
    let nonce = switch[17..37].to_vec();
    s.write_all(&frame(5, &[0x01])).unwrap();
    let (seq, key) = read_packet(&mut s);
    assert_eq!((seq, key[0]), (6, 0x01));
    s.write_all(&frame(7, &encrypt(&key[1..], &nonce))).unwrap();
    let (seq, ok) = read_packet(&mut s);
    assert_eq!((seq, ok[0]), (8, 0x00), "OK: {ok:?}");
    ctx.shutdown().await;
}
