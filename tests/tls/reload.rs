//! Reloading ghostwire's client-side certificate: in process
//! (`Proxy::reload_tls`) and by SIGHUP to the binary.

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_reload_takes_effect_for_new_handshakes() {
    common::tls::server();
    // ghostwire's certificate and key at paths of their own, replaced below.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(&certs().server_cert, &cert).unwrap();
    std::fs::copy(&certs().server_key, &key).unwrap();
    let (c2, k2) = (cert.clone(), key.clone());
    let ctx = setup_with("tls_reload", move |c| {
        c.listen.tls.mode = ListenTlsMode::Optional;
        c.listen.tls.cert = Some(c2);
        c.listen.tls.key = Some(k2);
    })
    .await;
    let proxy = ctx.proxy.as_ref().unwrap();
    let mut kept = mysql_async::Conn::new(with_tls(ctx.proxy_opts(), certs().ca.clone()))
        .await
        .expect("served with the first certificate");
    // A new self-signed certificate for 127.0.0.1 in place of the old one.
    let fresh = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let fresh_pem = dir.path().join("fresh.pem");
    std::fs::write(&fresh_pem, fresh.cert.pem()).unwrap();
    std::fs::write(&cert, fresh.cert.pem()).unwrap();
    std::fs::write(&key, fresh.key_pair.serialize_pem()).unwrap();
    proxy.reload_tls().expect("reloaded");
    // New handshakes present the new certificate: trusted by its own pin,
    // no longer by the old CA.
    let new = login(ctx.port(), Via::Plain, APP_USER.0, APP_USER.1).await;
    let o = ctx.proxy_opts();
    assert!(
        mysql_async::Conn::new(with_tls(o.clone(), certs().ca.clone()))
            .await
            .is_err()
    );
    let mut c = mysql_async::Conn::new(with_tls(o.clone(), fresh_pem.clone()))
        .await
        .expect("served with the new certificate");
    let who: (String, String, i64) = c.query_first(WHO).await.unwrap().unwrap();
    assert_eq!(who.0, new);
    // A broken file: refused, the certificate in use stays.
    std::fs::write(&key, "not a key").unwrap();
    assert!(proxy.reload_tls().is_err());
    mysql_async::Conn::new(with_tls(o, fresh_pem))
        .await
        .expect("still served with the last good certificate")
        .disconnect()
        .await
        .unwrap();
    // The session opened before the reload goes on.
    let still: (String, String, i64) = kept.query_first(WHO).await.unwrap().unwrap();
    assert_eq!(still, who);
    for conn in [kept, c] {
        conn.disconnect().await.unwrap();
    }
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_client_certificate_of_the_binary() {
    common::tls::server();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(&certs().server_cert, &cert).unwrap();
    std::fs::copy(&certs().server_key, &key).unwrap();
    let port = free_port();
    let conf = dir.path().join("proxy.toml");
    let write_conf = |mode: &str| {
        std::fs::write(
            &conf,
            format!(
                "[listen]\naddr = \"127.0.0.1:{port}\"\n[listen.tls]\nmode = \"{mode}\"\n\
                 cert = \"{}\"\nkey = \"{}\"\n[backend]\naddr = \"{}\"\npassword = \"x\"\n",
                cert.display(),
                key.display(),
                server().addr()
            ),
        )
        .unwrap()
    };
    write_conf("required");
    let log = dir.path().join("ghostwire.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ghostwire"))
        .args(["serve", "--config"])
        .arg(&conf)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let o = opts("127.0.0.1", port, APP_USER.0, APP_USER.1, "").db_name(None::<String>);
    let trusted_by = |ca: std::path::PathBuf| {
        let o = with_tls(o.clone(), ca);
        async move {
            match mysql_async::Conn::new(o).await {
                Ok(c) => c.disconnect().await.is_ok(),
                Err(_) => false,
            }
        }
    };
    eventually("ghostwire serves TLS with the first certificate", || {
        trusted_by(certs().ca.clone())
    })
    .await;
    let fresh = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let pin = dir.path().join("fresh.pem");
    std::fs::write(&pin, fresh.cert.pem()).unwrap();
    std::fs::write(&cert, fresh.cert.pem()).unwrap();
    std::fs::write(&key, fresh.key_pair.serialize_pem()).unwrap();
    assert!(Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    eventually("the new certificate is served", || trusted_by(pin.clone())).await;
    assert!(!trusted_by(certs().ca.clone()).await);
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP does not stop it"
    );
    // The mode, from the file: `required` refuses a plain client...
    let plain = || async {
        let o = opts("127.0.0.1", port, APP_USER.0, APP_USER.1, "").db_name(None::<String>);
        match mysql_async::Conn::new(o).await {
            Ok(c) => c.disconnect().await.is_ok(),
            Err(_) => false,
        }
    };
    assert!(!plain().await);
    let hup = || {
        assert!(Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap()
            .success())
    };
    // ...`optional` after a SIGHUP serves it.
    write_conf("optional");
    hup();
    eventually("a plain client is served", plain).await;
    // A file that does not parse: logged, the settings in use stay.
    std::fs::write(&conf, "[listen.tls\nmode = ").unwrap();
    hup();
    let logged = || async {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("configuration not reloaded")
    };
    eventually("the bad file is logged", logged).await;
    assert!(plain().await, "still optional");
    assert!(trusted_by(pin.clone()).await);
    assert!(
        child.try_wait().unwrap().is_none(),
        "a bad file does not stop it"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_modes_and_backend_settings_to_new_connections_only() {
    common::tls::server();
    let ctx = setup("tls_reload_modes").await;
    let proxy = ctx.proxy.as_ref().unwrap();
    let with = |tweak: &dyn Fn(&mut Config)| {
        let mut c = proxy_config();
        c.listen.addr = ctx.addr;
        tweak(&mut c);
        c
    };
    let tls_both = with(&|c| {
        c.listen.tls.mode = ListenTlsMode::Required;
        c.listen.tls.cert = Some(certs().server_cert.clone());
        c.listen.tls.key = Some(certs().server_key.clone());
        c.backend.tls.mode = BackendTlsMode::VerifyCa;
        c.backend.tls.ca = Some(server_ca());
    });
    // Opened before: plain on both sides, and stays so.
    let mut kept = ctx.conn().await;
    assert_eq!(ssl_cipher(&mut kept).await, "");

    proxy.reload(&tls_both).expect("reloaded");
    let me = format!("{}@%", APP_USER.0);
    // `required` now: a plain client is refused, a TLS one served, and the
    // server sees TLS on ghostwire's new connection.
    assert_eq!(
        login(ctx.port(), Via::Plain, APP_USER.0, APP_USER.1).await,
        "ERR 3159"
    );
    let mut tls = mysql_async::Conn::new(with_tls(ctx.proxy_opts(), certs().ca.clone()))
        .await
        .expect("a TLS client after the reload");
    assert!(!ssl_cipher(&mut tls).await.is_empty());
    assert_eq!(
        ssl_cipher(&mut kept).await,
        "",
        "the old session keeps its connection"
    );

    // A CA file that cannot be read: nothing changes, not even the modes.
    let mut broken = tls_both.clone();
    broken.listen.tls.mode = ListenTlsMode::Off;
    broken.backend.tls.ca = Some("/nonexistent/ca.pem".into());
    let e = proxy.reload(&broken).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    assert_eq!(
        login(ctx.port(), Via::Plain, APP_USER.0, APP_USER.1).await,
        "ERR 3159",
        "still required"
    );
    assert_eq!(
        login(ctx.port(), Via::Ours, APP_USER.0, APP_USER.1).await,
        me
    );

    // The backend CA reloaded: a CA that did not sign the server's
    // certificate fails new logins, naming the cause.
    let mut other = tls_both.clone();
    other.backend.tls.ca = Some(certs().other_ca.clone());
    proxy.reload(&other).expect("reloaded");
    assert_eq!(
        login(ctx.port(), Via::Ours, APP_USER.0, APP_USER.1).await,
        "ERR 2026"
    );

    // Back to plain text on both sides.
    proxy.reload(&with(&|_| {})).expect("reloaded");
    let mut plain = ctx.conn().await;
    assert_eq!(ssl_cipher(&mut plain).await, "");
    let mut s = std::net::TcpStream::connect(ctx.addr).unwrap();
    assert!(!offers_ssl(&read_packet(&mut s).1), "TLS no longer offered");
    // Sessions of every generation still work.
    for c in [&mut kept, &mut tls, &mut plain] {
        let who: (String, String, i64) = c.query_first(WHO).await.unwrap().unwrap();
        assert_eq!(who.0, me);
    }
    for c in [kept, tls, plain] {
        c.disconnect().await.unwrap();
    }
    ctx.shutdown().await;
}
