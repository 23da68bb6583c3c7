//! The clients of the auth matrix, each behind one call: log in once, run
//! `SELECT CURRENT_USER(), DATABASE()`, and say `ok <user> <db>` or `err <code>` (the error
//! number, or `client:<name>` for a client-side failure that has none).
//!
//! The two CLIs run once per login (they are C programs: cheap to start).
//! The others are long-lived helper processes (`login.py`, `login.js`,
//! `login.go` beside this file) that read one login per stdin line, so the
//! matrix pays Python's and node's start-up once per client, not per login.
//! A login is in plain text or over TLS (the certificate not checked: the
//! matrix tests authentication, `tests/tls.rs` the certificates); the direct
//! login uses the same options as the proxied one.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// Debian's `mariadb` CLI (libmariadb / Connector/C).
    MariadbCli,
    /// MySQL 9.7's `mysql` CLI (libmysqlclient), in MySQL's root filesystem.
    MysqlCli,
    PyMySql,
    /// mysql-connector-python, pure-Python mode (the PyPI package's C
    /// extension is not built for this Python).
    Connector,
    /// node's mysql2.
    Mysql2,
    /// Go's github.com/go-sql-driver/mysql (Debian's, 1.5).
    Go,
}

impl Client {
    pub const ALL: [Client; 6] = [
        Client::MariadbCli,
        Client::MysqlCli,
        Client::PyMySql,
        Client::Connector,
        Client::Mysql2,
        Client::Go,
    ];

    /// Short name, part of the matrix's user names.
    pub fn tag(self) -> &'static str {
        match self {
            Client::MariadbCli => "mdbcli",
            Client::MysqlCli => "mycli",
            Client::PyMySql => "pymysql",
            Client::Connector => "connpy",
            Client::Mysql2 => "mysql2",
            Client::Go => "go",
        }
    }

    /// Whether the client has a switch to refuse fetching the server's RSA
    /// public key over plain text (`--get-server-public-key` left out;
    /// mysql2's `allowPublicKeyRetrieval: false`). The others always fetch
    /// it (libmariadb, PyMySQL, Go 1.5) or never can (Connector/Python).
    pub fn can_refuse_key(self) -> bool {
        matches!(self, Client::MysqlCli | Client::Mysql2)
    }

    /// Whether the client can send COM_CHANGE_USER (the CLIs, PyMySQL and
    /// Go's database/sql cannot).
    pub fn can_change_user(self) -> bool {
        matches!(self, Client::Connector | Client::Mysql2)
    }
}

/// One login's target and options.
pub struct Login<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: &'a str,
    /// May the client fetch the server's RSA public key (where it has a
    /// switch for that)?
    pub key: bool,
    pub db: &'a str,
    /// When not empty: log in as this password-less account first, then
    /// become `user` with COM_CHANGE_USER (clients with `can_change_user`).
    pub first: &'a str,
    /// Connect with TLS (else TLS off).
    pub tls: bool,
}

/// What the clients need that is made once per test run.
pub struct Tools {
    /// MySQL's root filesystem (scripts/mysql-up.sh), for the `mysql` CLI.
    pub rootfs: PathBuf,
    /// The built Go helper.
    go_login: PathBuf,
    _dir: tempfile::TempDir,
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/auth")
}

async fn must_run(what: &str, cmd: &mut Command) {
    let out = cmd
        .output()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e} (scripts/deps.sh installs it)"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Tools {
    /// Builds the Go helper (once per run, against Debian's driver in
    /// GOPATH mode: the Go module proxy is not reachable from here) and makes
    /// sure MySQL's root filesystem, with its client, is there (built and
    /// cached by scripts/mysql-up.sh, also when this run is on MariaDB).
    pub async fn prepare() -> Tools {
        let dir = tempfile::Builder::new()
            .prefix("ghostwire-auth-")
            .tempdir()
            .unwrap();
        let go_login = dir.path().join("login");
        let mut go = Command::new("go");
        go.arg("build")
            .arg("-o")
            .arg(&go_login)
            .arg(here().join("login.go"))
            .env("GOPATH", "/usr/share/gocode")
            .env("GO111MODULE", "off")
            .env("GOFLAGS", "")
            // Compiled packages cached across runs (the driver takes seconds).
            .env("GOCACHE", "/var/tmp/ghostwire-go-cache");
        let mut rootfs =
            Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mysql-up.sh"));
        rootfs.arg("--rootfs");
        tokio::join!(
            must_run("go build tests/auth/login.go", &mut go),
            must_run("scripts/mysql-up.sh --rootfs", &mut rootfs),
        );
        Tools {
            rootfs: std::env::var_os("GHOSTWIRE_MYSQL_ROOTFS")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/var/tmp/ghostwire-mysql-rootfs".into()),
            go_login,
            _dir: dir,
        }
    }
}

/// A client ready to log in.
pub enum Runner {
    Cli(Client, PathBuf),
    Helper(Client, Box<Helper>),
}

pub struct Helper {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Runner {
    pub fn start(client: Client, tools: &Tools) -> Runner {
        let mut cmd = match client {
            Client::MariadbCli | Client::MysqlCli => {
                return Runner::Cli(client, tools.rootfs.clone())
            }
            Client::PyMySql | Client::Connector => {
                let mut c = Command::new("python3");
                c.arg(here().join("login.py")).arg(match client {
                    Client::PyMySql => "pymysql",
                    _ => "connector",
                });
                c
            }
            Client::Mysql2 => {
                let mut c = Command::new("node");
                c.arg(here().join("login.js"));
                c
            }
            Client::Go => Command::new(&tools.go_login),
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{client:?} helper: {e} (scripts/deps.sh installs it)"));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Runner::Helper(
            client,
            Box::new(Helper {
                _child: child,
                stdin,
                stdout,
            }),
        )
    }

    pub fn client(&self) -> Client {
        match self {
            Runner::Cli(c, _) | Runner::Helper(c, _) => *c,
        }
    }

    pub async fn login(&mut self, l: &Login<'_>) -> String {
        assert!(l.first.is_empty() || self.client().can_change_user());
        match self {
            Runner::Cli(client, rootfs) => cli_login(*client, rootfs, l).await,
            Runner::Helper(client, h) => {
                let line = format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    l.host,
                    l.port,
                    l.user,
                    l.password,
                    if l.key { "key" } else { "nokey" },
                    l.db,
                    l.first,
                    if l.tls { "tls" } else { "plain" },
                );
                h.stdin.write_all(line.as_bytes()).await.unwrap();
                h.stdin.flush().await.unwrap();
                match h.stdout.next_line().await {
                    Ok(Some(out)) => out,
                    other => panic!("{client:?} helper ended: {other:?}"),
                }
            }
        }
    }
}

async fn cli_login(client: Client, rootfs: &Path, l: &Login<'_>) -> String {
    let mut cmd = match client {
        Client::MariadbCli => {
            let mut c = Command::new("mariadb");
            c.arg("--no-defaults");
            match l.tls {
                true => c.args(["--ssl", "--skip-ssl-verify-server-cert"]),
                false => c.arg("--skip-ssl"),
            };
            c
        }
        _ => {
            // Host networking: 127.0.0.1 in the chroot is the host's.
            let mut c = Command::new("chroot");
            c.arg(rootfs)
                .args(["mysql", "--no-defaults"])
                .arg(match l.tls {
                    true => "--ssl-mode=REQUIRED",
                    false => "--ssl-mode=DISABLED",
                });
            if l.key {
                c.arg("--get-server-public-key");
            }
            c
        }
    };
    cmd.args(["--protocol=TCP", "--batch", "--skip-column-names"])
        .arg(format!("-h{}", l.host))
        .arg(format!("-P{}", l.port))
        .arg(format!("-u{}", l.user))
        .arg(format!("-D{}", l.db));
    // No -p at all for the empty password: a bare -p would prompt.
    if !l.password.is_empty() {
        cmd.arg(format!("-p{}", l.password));
    }
    let out = cmd
        .args(["-e", "SELECT CURRENT_USER(), DATABASE()"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{client:?}: {e} (scripts/deps.sh installs it)"));
    if out.status.success() {
        let row = String::from_utf8_lossy(&out.stdout)
            .trim()
            .replace('\t', " ");
        return format!("ok {row}");
    }
    // "ERROR 1045 (28000): Access denied …"
    let err = String::from_utf8_lossy(&out.stderr);
    let code = err
        .split("ERROR ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .filter(|c| c.chars().all(|ch| ch.is_ascii_digit()));
    match code {
        Some(code) => format!("err {code}"),
        None => format!("err client:{}", err.trim().replace(' ', "_")),
    }
}
