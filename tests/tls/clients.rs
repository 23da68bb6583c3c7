//! Real clients over TLS through ghostwire: the `mariadb` CLI and PyMySQL.

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_cli_and_pymysql_over_tls() {
    let ctx = tls_setup("tls_cli", ListenTlsMode::Required, BackendTlsMode::Required).await;
    let ca = certs().ca.display().to_string();
    // MySQL's generated certificate names no host: natively, the chain only.
    let cli = |port: u16, ca: &str, name: bool| {
        Command::new("mariadb")
            .args(["--protocol=TCP", "-h127.0.0.1", "--batch", "--ssl"])
            .arg(format!("--ssl-ca={ca}"))
            .arg(if name {
                "--ssl-verify-server-cert"
            } else {
                "--skip-ssl-verify-server-cert"
            })
            .arg(format!("-P{port}"))
            .arg(format!("-u{}", APP_USER.0))
            .arg(format!("-p{}", APP_USER.1))
            .args(["-e", "\\s", "-e", "SELECT CURRENT_USER(), 1 + 1"])
            .output()
            .expect("run the mariadb client")
    };
    let out = cli(ctx.port(), &ca, true);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Cipher in use"), "the CLI talks TLS: {text}");
    let native = cli(
        server().port,
        &server_ca().display().to_string(),
        !is_mysql(),
    );
    let native_text = String::from_utf8_lossy(&native.stdout);
    let last = |t: &str| t.lines().last().unwrap_or_default().to_string();
    assert_eq!(last(&text), last(&native_text));

    let script = r#"
import sys, ssl, pymysql
port, user, pw, ca, name = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
c = pymysql.connect(host="127.0.0.1", port=port, user=user, password=pw,
                    ssl={"ca": ca, "check_hostname": name == "1"})
assert c._sock.version().startswith("TLS"), c._sock.version()
cur = c.cursor()
cur.execute("SELECT CURRENT_USER(), 1 + 1")
print(cur.fetchone())
"#;
    let py = |port: u16, ca: &str, name: bool| {
        let name = if name { "1" } else { "0" };
        let out = Command::new("python3")
            .args([
                "-c",
                script,
                &port.to_string(),
                APP_USER.0,
                APP_USER.1,
                ca,
                name,
            ])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        py(ctx.port(), &ca, true),
        py(
            server().port,
            &server_ca().display().to_string(),
            !is_mysql()
        )
    );
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_gate_who_may_connect() {
    use ghostwire::config::ClientCert;
    use mysql_async::ClientIdentity;
    let dir = tempfile::tempdir().unwrap();
    // A certificate of no CA ghostwire knows.
    let stranger = rcgen::generate_simple_self_signed(vec!["stranger".to_string()]).unwrap();
    let (s_cert, s_key) = (dir.path().join("s.pem"), dir.path().join("s-key.pem"));
    std::fs::write(&s_cert, stranger.cert.pem()).unwrap();
    std::fs::write(&s_key, stranger.key_pair.serialize_pem()).unwrap();
    let me = format!("{}@%", APP_USER.0);
    for gate in [ClientCert::Required, ClientCert::Optional] {
        let mode = match gate {
            ClientCert::Required => ListenTlsMode::Required,
            _ => ListenTlsMode::Optional,
        };
        // TLS to the server too: with a plain backend, MySQL's
        // caching_sha2 full authentication of a TLS client is refused by
        // design (ERR 2061, see `auth_passthrough_in_every_tls_combination`),
        // and whether a login needs it depends on the server's password
        // cache, which other tests of this binary clear at random.
        let ctx = tls_setup_with("tls_client_cert", mode, BackendTlsMode::Required, |c| {
            c.listen.tls.client_cert = gate;
            c.listen.tls.ca = Some(certs().ca.clone());
        })
        .await;
        let with_cert = |cert: &std::path::Path, key: &std::path::Path| {
            let o = ctx.proxy_opts().db_name(None::<String>);
            o.ssl_opts(
                SslOpts::default()
                    .with_disable_built_in_roots(true)
                    .with_root_certs(vec![certs().ca.clone().into()])
                    .with_client_identity(Some(ClientIdentity::new(
                        cert.to_path_buf().into(),
                        key.to_path_buf().into(),
                    ))),
            )
        };
        let who = |o: OptsBuilder| async move {
            match mysql_async::Conn::new(o).await {
                Ok(mut c) => {
                    let u: String = c
                        .query_first("SELECT CURRENT_USER()")
                        .await
                        .unwrap()
                        .unwrap();
                    c.disconnect().await.ok();
                    u
                }
                Err(e) => format!("refused: {e}"),
            }
        };
        let case = format!("{gate:?}");
        // A certificate of the CA: served (the account still logs in with
        // its own password).
        let good = with_cert(&certs().client_cert, &certs().client_key);
        assert_eq!(who(good).await, me, "{case}");
        // One of another issuer: refused in the TLS handshake.
        let bad = with_cert(&s_cert, &s_key);
        assert!(who(bad).await.starts_with("refused"), "{case}");
        // None at all: refused only where required.
        let none = login(ctx.port(), Via::Ours, APP_USER.0, APP_USER.1).await;
        match gate {
            ClientCert::Required => assert!(none.starts_with("failed"), "{case}: {none}"),
            _ => assert_eq!(none, me, "{case}"),
        }
        ctx.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_client_may_pin_ghostwires_key_but_not_the_servers() {
    common::tls::server();
    if !is_mysql() {
        println!("caching_sha2_password is MySQL's: not tested on MariaDB");
        return;
    }
    // ghostwire's key from `[listen] rsa_key` (as an operator makes one).
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = (dir.path().join("rsa.pem"), dir.path().join("rsa-pub.pem"));
    let openssl = |args: &[&std::ffi::OsStr]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "genpkey".as_ref(),
        "-algorithm".as_ref(),
        "RSA".as_ref(),
        "-pkeyopt".as_ref(),
        "rsa_keygen_bits:2048".as_ref(),
        "-out".as_ref(),
        key.as_os_str(),
    ]);
    openssl(&[
        "pkey".as_ref(),
        "-in".as_ref(),
        key.as_os_str(),
        "-pubout".as_ref(),
        "-out".as_ref(),
        public.as_os_str(),
    ]);
    let server_key = server_ca().with_file_name("public_key.pem");
    let ctx = tls_setup_with(
        "tls_pinned_key",
        ListenTlsMode::Off,
        BackendTlsMode::Required,
        |c| c.listen.rsa_key = Some(key.clone()),
    )
    .await;
    let mut d = direct_conn_to("mysql").await;
    d.query_drop(
        "DROP USER IF EXISTS 'tls_pin'@'%'; \
         CREATE USER 'tls_pin'@'%' IDENTIFIED WITH caching_sha2_password BY 'pin-pw'",
    )
    .await
    .unwrap();
    // PyMySQL in plain text with a pinned key: it encrypts at once, without
    // asking for one. Nothing cached before each login: the full path.
    let script = r#"
import sys, pymysql
port, key = int(sys.argv[1]), open(sys.argv[2], "rb").read()
try:
    c = pymysql.connect(host="127.0.0.1", port=port, user="tls_pin", password="pin-pw",
                        ssl_disabled=True, server_public_key=key)
    print("ok")
except pymysql.err.MySQLError as e:
    print("err %d %s" % (e.args[0], e.args[1]))
"#;
    let pinned = |port: u16, key: &std::path::Path| {
        let out = Command::new("python3")
            .args(["-c", script, &port.to_string()])
            .arg(key)
            .output()
            .expect("python3");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let flush = || async {
        let mut d = direct_conn_to("mysql").await;
        d.query_drop("FLUSH PRIVILEGES").await.unwrap();
    };
    flush().await;
    assert_eq!(
        pinned(server().port, &server_key),
        "ok",
        "natively, the server's key"
    );
    flush().await;
    assert_eq!(
        pinned(ctx.port(), &public),
        "ok",
        "through ghostwire, its key"
    );
    flush().await;
    let refused = pinned(ctx.port(), &server_key);
    assert!(
        refused.starts_with("err 2061") && refused.contains("not ghostwire's"),
        "the server's key through ghostwire: {refused}"
    );
    d.disconnect().await.ok();
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mysql_cli_starting_with_sha256_password_logs_in_as_directly() {
    common::tls::server();
    if !is_mysql() {
        println!("sha256_password is MySQL's: not tested on MariaDB");
        return;
    }
    // A plain client whose own default plugin is sha256_password: its
    // handshake response already asks for the key (the bridge answers it
    // before the response goes on over TLS).
    let ctx = tls_setup(
        "tls_sha256_cli",
        ListenTlsMode::Off,
        BackendTlsMode::Required,
    )
    .await;
    let mut d = direct_conn_to("mysql").await;
    for (u, how) in [
        ("tls_s256", "sha256_password"),
        ("tls_s256_c2", "caching_sha2_password"),
    ] {
        d.query_drop(format!(
            "DROP USER IF EXISTS '{u}'@'%'; CREATE USER '{u}'@'%' IDENTIFIED WITH {how} BY 'pw-{u}'"
        ))
        .await
        .unwrap();
    }
    let cli = |port: u16, user: &str, pw: &str| {
        let out = Command::new("chroot")
            .arg("/var/tmp/ghostwire-mysql-rootfs")
            .args([
                "mysql",
                "--no-defaults",
                "--ssl-mode=DISABLED",
                "--protocol=TCP",
            ])
            .args(["--default-auth=sha256_password", "--get-server-public-key"])
            .args(["--batch", "--skip-column-names"])
            .arg(format!("-P{port}"))
            .args(["-h127.0.0.1", &format!("-u{user}"), &format!("-p{pw}")])
            .args(["-e", "SELECT CURRENT_USER()"])
            .output()
            .expect("the mysql CLI (scripts/mysql-up.sh --rootfs)");
        let err = String::from_utf8_lossy(&out.stderr);
        match err.split("ERROR ").nth(1) {
            Some(e) => format!("err {}", e.split_whitespace().next().unwrap_or_default()),
            None => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        }
    };
    let mut n = 0;
    let mut seen = Vec::new();
    for user in ["tls_s256", "tls_s256_c2"] {
        for pw in [format!("pw-{user}"), "wrong".to_string()] {
            let mut outcome = Vec::new();
            for port in [server().port, ctx.port()] {
                d.query_drop("FLUSH PRIVILEGES").await.unwrap();
                outcome.push(cli(port, user, &pw));
            }
            assert_eq!(
                outcome[0], outcome[1],
                "{user} / {pw}: direct, then through ghostwire"
            );
            n += usize::from(outcome[1] == format!("{user}@%"));
            seen.push(outcome.remove(1));
        }
    }
    assert_eq!(n, 2, "the right passwords log in: {seen:?}");
    d.disconnect().await.ok();
    ctx.shutdown().await;
}
