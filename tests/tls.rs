//! TLS on both sides of ghostwire (`[listen.tls]`, `[backend.tls]`), with
//! auth passthrough kept: every outcome is compared with the same thing
//! done directly against the server. This binary's MariaDB serves TLS with
//! certificates made by the harness (`common::tls`); MySQL serves its own.

mod common;
mod tls {
    pub mod clients;
    pub mod hostile;
    pub mod raw;
    pub mod reload;
}

use std::io::{Read, Write};
use std::process::Command;

use common::tls::{certs, server_ca};
use common::*;
use ghostwire::config::{BackendTlsMode, Config, ListenTlsMode};
use mysql_async::prelude::*;
use mysql_async::{OptsBuilder, SslOpts};

/// A proxy for `schema` with the given TLS modes (our certificate towards
/// clients; the server's CA towards the server).
async fn tls_setup(schema: &str, listen: ListenTlsMode, backend: BackendTlsMode) -> Ctx {
    tls_setup_with(schema, listen, backend, |_| {}).await
}

async fn tls_setup_with(
    schema: &str,
    listen: ListenTlsMode,
    backend: BackendTlsMode,
    tweak: impl FnOnce(&mut Config),
) -> Ctx {
    common::tls::server();
    let c = certs();
    let ca = server_ca();
    setup_with(schema, move |cfg| {
        cfg.listen.tls.mode = listen;
        cfg.listen.tls.cert = Some(c.server_cert.clone());
        cfg.listen.tls.key = Some(c.server_key.clone());
        cfg.backend.tls.mode = backend;
        cfg.backend.tls.ca = Some(ca);
        tweak(cfg);
    })
    .await
}

/// Client TLS checked against `ca` (by name too: our certificate names
/// 127.0.0.1).
fn with_tls(o: OptsBuilder, ca: std::path::PathBuf) -> OptsBuilder {
    o.ssl_opts(
        SslOpts::default()
            .with_disable_built_in_roots(true)
            .with_root_certs(vec![ca.into()]),
    )
}

/// A native TLS connection's options. MySQL's own certificate names no
/// host, and mysql_async 0.37.1 cannot check a chain without the name (its
/// `skip_domain_validation` misses rustls 0.23.48's error variant), so
/// against MySQL the native client only encrypts.
fn native_tls(o: OptsBuilder) -> OptsBuilder {
    if is_mysql() {
        o.ssl_opts(SslOpts::default().with_danger_accept_invalid_certs(true))
    } else {
        with_tls(o, server_ca())
    }
}

async fn ssl_cipher(c: &mut mysql_async::Conn) -> String {
    let row: Option<(String, String)> = c
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .unwrap();
    row.map(|r| r.1).unwrap_or_default()
}

const WHO: &str = "SELECT CURRENT_USER(), DATABASE(), 1 + 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_clients_through_the_proxy_see_what_they_see_natively() {
    for (i, backend) in [BackendTlsMode::Off, BackendTlsMode::Required]
        .into_iter()
        .enumerate()
    {
        let ctx = tls_setup(
            &format!("tls_clients_{i}"),
            ListenTlsMode::Optional,
            backend,
        )
        .await;
        let mut native = mysql_async::Conn::new(native_tls(opts(
            "127.0.0.1",
            server().port,
            APP_USER.0,
            APP_USER.1,
            &ctx.schema,
        )))
        .await
        .expect("native TLS connection");
        let expected: (String, String, i64) = native.query_first(WHO).await.unwrap().unwrap();
        assert!(
            !ssl_cipher(&mut native).await.is_empty(),
            "the server serves TLS"
        );

        // A TLS client (its handshake with ghostwire checked against our CA)
        // and a plain one: both served, the same as natively.
        let mut tls = mysql_async::Conn::new(with_tls(ctx.proxy_opts(), certs().ca.clone()))
            .await
            .expect("TLS client through ghostwire");
        let mut plain = ctx.conn().await;
        for c in [&mut tls, &mut plain] {
            let got: (String, String, i64) = c.query_first(WHO).await.unwrap().unwrap();
            assert_eq!(got, expected);
            // What the server sees of ghostwire's connection.
            let cipher = ssl_cipher(c).await;
            assert_eq!(
                cipher.is_empty(),
                backend == BackendTlsMode::Off,
                "backend {backend:?}: Ssl_cipher {cipher:?}"
            );
        }
        // A big result over TLS on both hops arrives whole.
        let big: (String,) = tls
            .query_first("SELECT REPEAT('x', 5000000)")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(big.0.len(), 5_000_000);
        for c in [tls, plain, native] {
            c.disconnect().await.unwrap();
        }
        ctx.shutdown().await;
    }
}

/// The login's outcome (CURRENT_USER or the error code) for `user` with
/// `pass`, through `port` in plain text, over TLS checked against our CA
/// (`Ours`: ghostwire's certificate), or natively over TLS.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Via {
    Plain,
    Ours,
    Native,
}

async fn login(port: u16, via: Via, user: &str, pass: &str) -> String {
    let o = opts("127.0.0.1", port, user, pass, "").db_name(None::<String>);
    let o = match via {
        Via::Plain => o,
        Via::Ours => with_tls(o, certs().ca.clone()),
        Via::Native => native_tls(o),
    };
    match mysql_async::Conn::new(o).await {
        Ok(mut c) => {
            let me: String = c
                .query_first("SELECT CURRENT_USER()")
                .await
                .unwrap()
                .unwrap();
            c.disconnect().await.ok();
            me
        }
        Err(mysql_async::Error::Server(e)) => format!("ERR {}", e.code),
        Err(e) => format!("failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_passthrough_in_every_tls_combination() {
    let mut n = 0;
    for backend in [BackendTlsMode::Off, BackendTlsMode::Required] {
        let ctx = tls_setup("tls_auth", ListenTlsMode::Optional, backend).await;
        let mut d = ctx.direct().await;
        for client_tls in [false, true] {
            // A fresh account each time: on MySQL its first login is
            // caching_sha2's full authentication (nothing cached yet).
            n += 1;
            let user = format!("tls_auth_{n}");
            d.query_drop(format!(
                "DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%' IDENTIFIED BY 'pw{n}'"
            ))
            .await
            .unwrap();
            let via = if client_tls { Via::Ours } else { Via::Plain };
            let case = format!("client TLS {client_tls}, backend {backend:?}");
            let through = login(ctx.port(), via, &user, &format!("pw{n}")).await;
            // The same client directly: on TLS if it is on TLS.
            let native_via = if client_tls { Via::Native } else { Via::Plain };
            let native = login(server().port, native_via, &user, &format!("pw{n}")).await;
            if is_mysql() && client_tls && backend == BackendTlsMode::Off {
                // caching_sha2's full authentication of a TLS client over
                // a plain backend connection: the client would send its
                // password in clear, to go on in plain text. Refused with
                // a clear ERR instead.
                assert_eq!(through, "ERR 2061", "{case}");
                // Once the server has the password cached (a login over
                // TLS to it), fast authentication needs no cleartext.
                assert_eq!(
                    login(server().port, Via::Native, &user, &format!("pw{n}")).await,
                    native
                );
                let again = login(ctx.port(), via, &user, &format!("pw{n}")).await;
                assert_eq!(again, native, "{case}, cached");
                continue;
            }
            // A plain client over a TLS backend connection: on MySQL, its
            // RSA-encrypted password is decrypted with ghostwire's key and
            // sent over TLS (the bridge); the full path ran (nothing cached).
            assert_eq!(through, native, "{case}");
            assert_eq!(through, format!("{user}@%"), "{case}");
            let wrong_through = login(ctx.port(), via, &user, "wrong").await;
            let wrong_native = login(server().port, native_via, &user, "wrong").await;
            assert_eq!(wrong_through, wrong_native, "{case}");
            assert_eq!(wrong_through, "ERR 1045", "{case}");
        }
        d.disconnect().await.ok();
        ctx.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_ssl_account_logs_in_only_over_backend_tls() {
    let ctx = tls_setup(
        "tls_require_ssl",
        ListenTlsMode::Optional,
        BackendTlsMode::Off,
    )
    .await;
    let mut d = ctx.direct().await;
    d.query_drop(
        "DROP USER IF EXISTS 'tls_only'@'%'; \
         CREATE USER 'tls_only'@'%' IDENTIFIED BY 'tls-pw' REQUIRE SSL",
    )
    .await
    .unwrap();
    d.disconnect().await.ok();
    // Natively: refused in plain text, served over TLS.
    let plain = login(server().port, Via::Plain, "tls_only", "tls-pw").await;
    assert_eq!(plain, "ERR 1045");
    let secure = login(server().port, Via::Native, "tls_only", "tls-pw").await;
    assert_eq!(secure, "tls_only@%");
    // Through ghostwire the server judges ghostwire's connection, whatever
    // the client's own: refused while it is plain...
    for via in [Via::Plain, Via::Ours] {
        assert_eq!(login(ctx.port(), via, "tls_only", "tls-pw").await, plain);
    }
    ctx.shutdown().await;
    // ...served once it is TLS, whatever the client's.
    let ctx = tls_setup(
        "tls_require_ssl",
        ListenTlsMode::Optional,
        BackendTlsMode::Required,
    )
    .await;
    // ...served once it is TLS, to a client on TLS; a plain client is
    // refused as the server refuses it directly (the server judged
    // ghostwire's connection; ghostwire asks it for the account's rule).
    assert_eq!(
        login(ctx.port(), Via::Ours, "tls_only", "tls-pw").await,
        secure
    );
    assert_eq!(
        login(ctx.port(), Via::Plain, "tls_only", "tls-pw").await,
        plain
    );
    // Also by COM_CHANGE_USER from a plain session.
    let mut c = mysql_async::Conn::new(ctx.proxy_opts()).await.unwrap();
    let changed = c
        .change_user(
            mysql_async::ChangeUserOpts::default()
                .with_user(Some("tls_only".into()))
                .with_pass(Some("tls-pw".into()))
                .with_db_name(None),
        )
        .await;
    assert!(
        matches!(&changed, Err(mysql_async::Error::Server(e)) if e.code == 1045),
        "{changed:?}"
    );
    ctx.shutdown().await;
}

/// Reads one packet from a raw socket: (sequence id, payload).
fn read_packet(s: &mut std::net::TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).unwrap();
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    let mut p = vec![0; len];
    s.read_exact(&mut p).unwrap();
    (h[3], p)
}

/// Whether a greeting offers CLIENT_SSL (bit 11 of the low capabilities).
fn offers_ssl(greeting: &[u8]) -> bool {
    let nul = greeting[1..].iter().position(|b| *b == 0).unwrap();
    let at = 1 + nul + 1 + 4 + 8 + 1;
    u16::from_le_bytes([greeting[at], greeting[at + 1]]) & 0x0800 != 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_mode_refuses_a_plain_client_before_auth() {
    let ctx = tls_setup("tls_required", ListenTlsMode::Required, BackendTlsMode::Off).await;
    // Refused with MySQL's own error for insecure transport...
    match mysql_async::Conn::new(ctx.proxy_opts()).await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!((e.code, e.state.as_str()), (3159, "08004"), "{e:?}");
            assert!(e.message.contains("insecure transport"), "{e:?}");
        }
        other => panic!("a plain client must be refused: {other:?}"),
    }
    // ...before auth: a raw handshake response with a valid user gets the
    // ERR as the server's answer (sequence id 2), not an auth exchange.
    let mut s = std::net::TcpStream::connect(ctx.addr).unwrap();
    let (_, greeting) = read_packet(&mut s);
    assert!(offers_ssl(&greeting), "TLS is offered");
    let caps: u32 = 0x0000_0200 | 0x0000_8000 | 0x0008_0000; // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH
    let mut hello = caps.to_le_bytes().to_vec();
    hello.extend_from_slice(&[0, 0, 0, 1, 45]);
    hello.extend_from_slice(&[0; 23]);
    hello.extend_from_slice(b"app\0\0mysql_native_password\0");
    let mut frame = (hello.len() as u32).to_le_bytes()[..3].to_vec();
    frame.push(1);
    frame.extend_from_slice(&hello);
    s.write_all(&frame).unwrap();
    let (seq, err) = read_packet(&mut s);
    assert_eq!(seq, 2);
    assert_eq!((err[0], u16::from_le_bytes([err[1], err[2]])), (0xFF, 3159));
    // A TLS client is served, as natively.
    let tls = login(ctx.port(), Via::Ours, APP_USER.0, APP_USER.1).await;
    assert_eq!(
        tls,
        login(server().port, Via::Plain, APP_USER.0, APP_USER.1).await
    );
    ctx.shutdown().await;
    // With TLS off, the greeting does not offer it (unchanged behaviour).
    let ctx = setup("tls_required_off").await;
    let mut s = std::net::TcpStream::connect(ctx.addr).unwrap();
    assert!(!offers_ssl(&read_packet(&mut s).1));
    ctx.shutdown().await;
}

/// Whether OpenSSL's own client accepts the server's certificate with `ca`
/// (and, with `name`, for 127.0.0.1): the native reference for
/// `verify_ca` / `verify_identity` (`-starttls mysql` sends the SSLRequest).
fn openssl_accepts(ca: &std::path::Path, name: bool) -> bool {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-starttls",
        "mysql",
        "-verify_return_error",
        "-brief",
    ])
    .arg("-connect")
    .arg(server().addr())
    .arg("-CAfile")
    .arg(ca);
    if name {
        cmd.args(["-verify_ip", "127.0.0.1"]);
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl");
    out.status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_certificate_checks_match_the_native_client() {
    common::tls::server();
    let cases = [
        (BackendTlsMode::VerifyCa, server_ca(), false),
        (BackendTlsMode::VerifyCa, certs().other_ca.clone(), false),
        (BackendTlsMode::VerifyIdentity, server_ca(), true),
        (
            BackendTlsMode::VerifyIdentity,
            certs().other_ca.clone(),
            true,
        ),
    ];
    let mut accepted = 0;
    for (mode, ca, name) in cases {
        let ctx = tls_setup_with("tls_verify", ListenTlsMode::Off, mode, |c| {
            c.backend.tls.ca = Some(ca.clone());
        })
        .await;
        let native = openssl_accepts(&ca, name);
        let through = mysql_async::Conn::new(ctx.proxy_opts()).await;
        let case = format!("{mode:?} with {} (OpenSSL accepts: {native})", ca.display());
        match through {
            Ok(mut t) if native => {
                assert!(!ssl_cipher(&mut t).await.is_empty(), "{case}");
                t.disconnect().await.ok();
                accepted += 1;
            }
            Err(mysql_async::Error::Server(e)) if !native => {
                // Refused as the native client refuses, with the cause named.
                assert_eq!(e.code, 2026, "{case}: {e:?}");
                assert!(
                    e.message.contains("TLS to backend") && e.message.contains("certificate"),
                    "{case}: {e:?}"
                );
            }
            t => panic!("{case}: through ghostwire {t:?}"),
        }
        ctx.shutdown().await;
    }
    // MariaDB's certificate names 127.0.0.1, MySQL's generated one no host.
    assert_eq!(accepted, if is_mysql() { 1 } else { 2 });
}

/// A counter's value in this process's metrics (0 when not shown).
fn counter(ctx: &Ctx, series: &str) -> f64 {
    ctx.metrics()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshakes_are_counted_by_side_and_result() {
    let series = |side: &str, result: &str| {
        format!("ghostwire_tls_handshakes_total{{side=\"{side}\",result=\"{result}\"}}")
    };
    let ctx = tls_setup_with(
        "tls_metrics",
        ListenTlsMode::Optional,
        BackendTlsMode::VerifyCa,
        |c| c.backend.tls.ca = Some(certs().other_ca.clone()),
    )
    .await;
    let before = counter(&ctx, &series("backend", "failed"));
    let refused = login(ctx.port(), Via::Ours, APP_USER.0, APP_USER.1).await;
    assert_eq!(refused, "ERR 2026");
    // Other tests of this binary count too: at least ours.
    assert!(counter(&ctx, &series("backend", "failed")) >= before + 1.0);
    assert!(counter(&ctx, &series("client", "ok")) >= 1.0);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_alter_with_tls_on_both_sides_equals_native() {
    common::tls::server();
    // MySQL's generated certificate names no host, and mysql_async (the
    // engine's connections) cannot check a chain without the name: there
    // the backend side encrypts only.
    let mode = if is_mysql() {
        BackendTlsMode::Required
    } else {
        BackendTlsMode::VerifyIdentity
    };
    // ghostwire's own account can log in over TLS only: the migration
    // completes only if the engine's admin, binlog and copy connections
    // are TLS too.
    let mut d = direct_conn_to("mysql").await;
    d.query_drop(
        "DROP USER IF EXISTS 'gw_tls'@'%'; \
         CREATE USER 'gw_tls'@'%' IDENTIFIED BY 'gw-tls-pw' REQUIRE SSL; \
         GRANT ALL ON *.* TO 'gw_tls'@'%'",
    )
    .await
    .unwrap();
    d.disconnect().await.ok();
    let ctx = tls_setup_with("tls_alter", ListenTlsMode::Required, mode, |c| {
        c.backend.user = "gw_tls".into();
        c.backend.password = Some(ghostwire::config::Secret::new("gw-tls-pw"));
    })
    .await;
    let mut d = ctx.direct().await;
    // Twins with the same history (the same statements).
    for t in ["t", "n"] {
        d.query_drop(format!(
            "CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20), n INT); \
             INSERT INTO {t} (v, n) WITH RECURSIVE s(i) AS \
               (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 900) \
               SELECT CONCAT('r', i), i % 7 FROM s"
        ))
        .await
        .unwrap();
    }
    let mut c = mysql_async::Conn::new(with_tls(ctx.proxy_opts(), certs().ca.clone()))
        .await
        .unwrap();
    assert!(!ssl_cipher(&mut c).await.is_empty());
    let body = "ADD COLUMN w INT NOT NULL DEFAULT 5, ADD INDEX (n), MODIFY v VARCHAR(40)";
    c.query_drop(format!("ALTER TABLE t {body}")).await.unwrap();
    let info = c.info().into_owned();
    assert!(info.contains("complete (copy)"), "{info}");
    d.query_drop(format!("ALTER TABLE n {body}")).await.unwrap();
    let create = |t: &'static str| {
        let q = format!("SHOW CREATE TABLE {t}");
        async move {
            let mut d = direct_conn_to("tls_alter").await;
            let r: (String, String) = d.query_first(q).await.unwrap().unwrap();
            r.1
        }
    };
    assert_eq!(
        create("t").await.replacen("`t`", "`n`", 1),
        create("n").await
    );
    let rows = |t: &str| format!("SELECT id, v, n, w FROM {t} ORDER BY id");
    type Row = (i64, String, i64, i64);
    let got: Vec<Row> = d.query(rows("t")).await.unwrap();
    let want: Vec<Row> = d.query(rows("n")).await.unwrap();
    assert_eq!(got.len(), 900);
    assert_eq!(got, want);
    c.disconnect().await.ok();
    d.disconnect().await.ok();
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_user_keeps_the_cleartext_guard() {
    use mysql_async::ChangeUserOpts;
    let mut n = 0;
    for backend in [BackendTlsMode::Off, BackendTlsMode::Required] {
        let ctx = tls_setup("tls_change_user", ListenTlsMode::Optional, backend).await;
        let mut d = ctx.direct().await;
        for client_tls in [false, true] {
            n += 1;
            let user = format!("tls_cu_{n}");
            d.query_drop(format!(
                "DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'"
            ))
            .await
            .unwrap();
            let o = if client_tls {
                with_tls(ctx.proxy_opts(), certs().ca.clone())
            } else {
                ctx.proxy_opts()
            };
            let mut c = mysql_async::Conn::new(o).await.unwrap();
            let to = ChangeUserOpts::default()
                .with_user(Some(user.clone()))
                .with_pass(Some("pw".into()))
                .with_db_name(None);
            let case = format!("client TLS {client_tls}, backend {backend:?}");
            // A TLS client over a plain backend connection (the other way
            // round, the bridge translates).
            let differ = client_tls && backend == BackendTlsMode::Off;
            match c.change_user(to).await {
                // A fresh caching_sha2 account needs full authentication:
                // refused, as at login.
                Err(mysql_async::Error::Server(e)) if is_mysql() && differ => {
                    assert_eq!(e.code, 2061, "{case}: {e:?}");
                }
                Ok(()) if !(is_mysql() && differ) => {
                    let me: String = c
                        .query_first("SELECT CURRENT_USER()")
                        .await
                        .unwrap()
                        .unwrap();
                    assert_eq!(me, format!("{user}@%"), "{case}");
                    c.disconnect().await.ok();
                }
                r => panic!("{case}: {r:?}"),
            }
        }
        d.disconnect().await.ok();
        ctx.shutdown().await;
    }
}
