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
