//! Test harness: one real server per test binary, one schema per test,
//! ghostwire started in-process on port 0.
//!
//! Which server: `GHOSTWIRE_TEST_MYSQL=mysql://root@host:port` uses that one
//! (`scripts/test.sh` starts one MySQL for all binaries this way); else
//! `GHOSTWIRE_TEST_FLAVOUR=mysql` starts a MySQL with `scripts/mysql-up.sh`
//! for this binary; else (`mariadb`, the default) a MariaDB from Debian's
//! packages in a temp dir.
#![allow(dead_code)]

pub mod child;
pub mod raw;
pub mod replica;
pub mod restartable;
pub mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ghostwire::app::Proxy;
use ghostwire::config::{Config, Secret};
use ghostwire::flavour::{Flavour, ServerInfo};
use mysql_async::prelude::*;

/// Accounts every test server has (created by `BOOTSTRAP_SQL`).
pub const APP_USER: (&str, &str) = ("app", "app-pass");
pub const NOPW_USER: &str = "nopw";
pub const GHOSTWIRE_USER: (&str, &str) = ("ghostwire", "gw-pass");
/// May read and write rows but not ALTER.
pub const LIMITED_USER: (&str, &str) = ("limited", "lim-pass");

const BOOTSTRAP_SQL: &str = "\
CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'app-pass';
GRANT ALL ON *.* TO 'app'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'nopw'@'%';
GRANT ALL ON *.* TO 'nopw'@'%';
CREATE USER IF NOT EXISTS 'ghostwire'@'%' IDENTIFIED BY 'gw-pass';
GRANT SELECT, INSERT, DELETE, CREATE, DROP, ALTER, LOCK TABLES, CREATE TEMPORARY TABLES ON *.* TO 'ghostwire'@'%';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'ghostwire'@'%';
GRANT ALL ON `_ghostwire`.* TO 'ghostwire'@'%';
CREATE USER IF NOT EXISTS 'limited'@'%' IDENTIFIED BY 'lim-pass';
GRANT SELECT, INSERT, UPDATE, DELETE ON *.* TO 'limited'@'%';
";

/// MySQL only: it shows a table's triggers only to accounts with TRIGGER on
/// it, and ghostwire must see them to refuse tables that have them
/// (`ServerInfo::triggers_need_trigger_privilege`).
const BOOTSTRAP_MYSQL_SQL: &str = "GRANT TRIGGER ON *.* TO 'ghostwire'@'%'";

/// The MariaDB server for this test binary.
pub struct Server {
    pub host: String,
    pub port: u16,
    /// Data directory of a server the harness started (for server logs).
    pub datadir: Option<PathBuf>,
    _keepalive: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

static SERVER: OnceLock<Server> = OnceLock::new();

pub fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("GHOSTWIRE_TEST_MYSQL") {
            return external_server(&url);
        }
        match std::env::var("GHOSTWIRE_TEST_FLAVOUR").as_deref() {
            Ok("mysql") => start_mysql(),
            Ok("mariadb") | Err(_) => start_mariadb(),
            Ok(other) => panic!("GHOSTWIRE_TEST_FLAVOUR={other}: mariadb or mysql"),
        }
    })
}

static SERVER_INFO: OnceLock<ServerInfo> = OnceLock::new();

/// The test server's flavour and version (read once).
pub fn server_info() -> ServerInfo {
    *SERVER_INFO.get_or_init(|| {
        let url = format!(
            "mysql://{}:{}@{}/?prefer_socket=false",
            APP_USER.0,
            APP_USER.1,
            server().addr()
        );
        let version = block_on_own_thread(async move {
            let mut c = mysql_async::Conn::from_url(url).await.unwrap();
            let v: String = c.query_first("SELECT VERSION()").await.unwrap().unwrap();
            c.disconnect().await.ok();
            v
        });
        ServerInfo::parse(&version)
    })
}

/// True when the tests run against MySQL (not MariaDB).
pub fn is_mysql() -> bool {
    server_info().flavour == Flavour::MySql
}

/// Runs `f` to completion on a runtime of its own (callers may be inside a
/// test's runtime, which cannot be blocked on).
fn block_on_own_thread<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .unwrap()
}

fn external_server(url: &str) -> Server {
    let opts = mysql_async::Opts::from_url(url).expect("GHOSTWIRE_TEST_MYSQL is a mysql:// URL");
    let (host, port) = (opts.ip_or_hostname().to_string(), opts.tcp_port());
    let url = url.to_string();
    block_on_own_thread(async move {
        let mut c = mysql_async::Conn::from_url(&url)
            .await
            .expect("connect GHOSTWIRE_TEST_MYSQL");
        c.query_drop(BOOTSTRAP_SQL).await.expect("bootstrap users");
        let version: String = c.query_first("SELECT VERSION()").await.unwrap().unwrap();
        if ServerInfo::parse(&version).flavour == Flavour::MySql {
            c.query_drop(BOOTSTRAP_MYSQL_SQL)
                .await
                .expect("bootstrap MySQL grants");
        }
        c.disconnect().await.ok();
    });
    Server {
        host,
        port,
        datadir: None,
        _keepalive: None,
        _dir: None,
    }
}

fn find_binary(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found: install mariadb-server (scripts/test.sh does)");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_mariadb() -> Server {
    start_mariadb_with(1)
}

/// A MariaDB of this test process with its own server id (a replica needs
/// one different from its primary's).
pub fn start_mariadb_with(server_id: u32) -> Server {
    let dir = tempfile::Builder::new()
        .prefix("ghostwire-mariadb-")
        .tempdir()
        .unwrap();
    let data = install_mariadb(dir.path());
    let port = free_port();
    let d = dir.path().display();
    let mariadbd = mariadbd_command(&d.to_string(), port, server_id, &format!("{d}/error.log"));
    // The server dies with this test process: the shell waits on our stdin,
    // which closes when we exit (however we exit), then kills the server and
    // removes its directory (statics are never dropped, so the TempDir
    // below would not).
    let child = in_shell(&format!(
        "{mariadbd} & pid=$!; read _; kill -9 $pid; wait $pid; rm -rf '{d}'"
    ));
    wait_ready(port, &dir.path().join("error.log"));
    Server {
        host: "127.0.0.1".into(),
        port,
        datadir: Some(data),
        _keepalive: Some(child),
        _dir: Some(dir),
    }
}

/// A MySQL for this test binary, by `scripts/mysql-up.sh` (its root
/// filesystem and pristine data directory are cached, so this is a copy and
/// a start), stopped and removed when this process exits.
pub fn start_mysql() -> Server {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mysql-up.sh");
    let port = free_port();
    let out = Command::new(&script)
        .args(["--fresh", &port.to_string()])
        .output()
        .expect("run scripts/mysql-up.sh");
    assert!(
        out.status.success(),
        "scripts/mysql-up.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // As for MariaDB: the shell waits on our stdin, which closes when this
    // process exits however it exits, then stops the server.
    let child = in_shell(&format!("read _; '{}' --stop {port}", script.display()));
    let server = external_server(&format!("mysql://root@127.0.0.1:{port}"));
    Server {
        _keepalive: Some(child),
        ..server
    }
}

/// A fresh data directory in `dir/data` and the accounts' `dir/init.sql`.
fn install_mariadb(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let out = Command::new(find_binary("mariadb-install-db"))
        .args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ])
        .arg(format!("--datadir={}", data.display()))
        // Its own temporary files, not the shared /tmp: other processes
        // on the machine may clean /tmp while the bootstrap runs.
        .env("TMPDIR", dir)
        .output()
        .expect("run mariadb-install-db");
    assert!(
        out.status.success(),
        "mariadb-install-db: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("init.sql"), BOOTSTRAP_SQL).unwrap();
    data
}

/// Runs `script` in a shell whose stdin is ours (kept open by the returned
/// child: it closes when this process exits, however it exits).
fn in_shell(script: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a shell")
}

/// The command line of a test MariaDB whose files live in `dir`. Each
/// reports its own address (`report_host`/`report_port`), so that a replica
/// of the test primary is found by `[throttle] discover_replicas`.
fn mariadbd_command(d: &str, port: u16, server_id: u32, log: &str) -> String {
    format!(
        "{} --no-defaults --user=root --datadir={d}/data --socket={d}/mysqld.sock --port={port} \
         --bind-address=127.0.0.1 --skip-name-resolve --log-bin={d}/data/binlog --binlog-format=ROW \
         --binlog-row-image=FULL --server-id={server_id} --init-file={d}/init.sql --log-error={log} \
         --pid-file={d}/mysqld.pid --max-allowed-packet=64M --max-connections=500 \
         --innodb-buffer-pool-size=256M --innodb-log-file-size=256M --innodb-flush-log-at-trx-commit=2 \
         --sync-binlog=0 --performance-schema=OFF --tmpdir={d} --report-host=127.0.0.1 --report-port={port}{}",
        find_binary("mariadbd").display(),
        tls::mariadbd_args()
    )
}

/// Waits until the server sends a real greeting (not an ERR).
fn wait_ready(port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        // Our own server's log must say it is ready: another process that
        // took the port between `free_port` and the start would greet too.
        let ours = std::fs::read_to_string(log).is_ok_and(|l| l.contains("ready for connections"));
        if let (true, Ok(mut s)) = (ours, TcpStream::connect(("127.0.0.1", port))) {
            let mut b = [0u8; 5];
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            if s.read_exact(&mut b).is_ok() && b[4] == 10 {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "mariadbd did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A proxy config pointing at the test server.
pub fn proxy_config() -> Config {
    let mut c = Config::default();
    c.listen.addr = "127.0.0.1:0".parse().unwrap();
    c.backend.addr = server().addr();
    c.backend.user = GHOSTWIRE_USER.0.into();
    c.backend.password = Some(Secret::new(GHOSTWIRE_USER.1));
    c.metrics.addr = Some("127.0.0.1:0".parse().unwrap());
    c
}

/// One test's world: its schema and its own proxy.
pub struct Ctx {
    pub schema: String,
    pub proxy: Option<Proxy>,
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
}

pub async fn setup(schema: &str) -> Ctx {
    setup_with(schema, |_| {}).await
}

pub async fn setup_with(schema: &str, tweak: impl FnOnce(&mut Config)) -> Ctx {
    let mut direct = direct_conn_to("mysql").await;
    direct
        .query_drop(format!(
            "DROP DATABASE IF EXISTS `{schema}`; CREATE DATABASE `{schema}`"
        ))
        .await
        .unwrap();
    direct.disconnect().await.ok();
    setup_existing(schema, tweak).await
}

/// A proxy for a schema the test has already made.
pub async fn setup_existing(schema: &str, tweak: impl FnOnce(&mut Config)) -> Ctx {
    // Proxy logs in test output (shown for failing tests): GHOSTWIRE_LOG=debug.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GHOSTWIRE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let mut cfg = proxy_config();
    tweak(&mut cfg);
    let proxy = Proxy::start(cfg).await.expect("start ghostwire");
    Ctx {
        schema: schema.into(),
        addr: proxy.addr,
        metrics_addr: proxy.metrics_addr,
        proxy: Some(proxy),
    }
}

pub fn opts(host: &str, port: u16, user: &str, pass: &str, db: &str) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(host.to_string())
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(pass))
        .db_name(Some(db))
        // With prefer_socket (the default) mysql_async silently switches to
        // the server's unix socket when it sees a local server: it would
        // bypass the proxy.
        .prefer_socket(false)
}

pub async fn direct_conn_to(db: &str) -> mysql_async::Conn {
    let s = server();
    mysql_async::Conn::new(opts(&s.host, s.port, APP_USER.0, APP_USER.1, db))
        .await
        .expect("direct connect")
}

impl Ctx {
    pub fn proxy_opts(&self) -> mysql_async::OptsBuilder {
        opts(
            "127.0.0.1",
            self.addr.port(),
            APP_USER.0,
            APP_USER.1,
            &self.schema,
        )
    }

    pub async fn conn(&self) -> mysql_async::Conn {
        mysql_async::Conn::new(self.proxy_opts())
            .await
            .expect("connect through ghostwire")
    }

    pub async fn direct(&self) -> mysql_async::Conn {
        direct_conn_to(&self.schema).await
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The Prometheus text of this process's metrics.
    pub fn metrics(&self) -> String {
        let mut s = TcpStream::connect(self.metrics_addr.expect("metrics enabled")).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    pub async fn shutdown(mut self) {
        if let Some(p) = self.proxy.take() {
            p.shutdown().await;
        }
    }
}

/// Backend connections seen directly in the processlist whose `column`
/// (`USER` or `DB`) equals `value`.
pub async fn backend_sessions(column: &str, value: &str) -> usize {
    assert!(matches!(column, "USER" | "DB"), "a processlist column");
    let mut c = direct_conn_to("mysql").await;
    let sql = format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE {column} = ?");
    let n: Option<usize> = c.exec_first(sql, (value,)).await.unwrap();
    c.disconnect().await.ok();
    n.unwrap_or(0)
}

/// Polls `check` until it holds (a condition, never a fixed sleep); panics
/// with `what` after 30 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition never held: {what}");
}

/// Status of migration `id` in the state table (None before it exists).
pub async fn migration_status(ctx: &Ctx, id: &str) -> Option<String> {
    let mut c = ctx.direct().await;
    let status = c
        .exec_first(
            "SELECT status FROM _ghostwire.migrations WHERE id = ?",
            (id,),
        )
        .await
        .ok()
        .flatten();
    c.disconnect().await.ok();
    status
}

/// Waits until migration `id` reaches `status`.
pub async fn await_status(ctx: &Ctx, id: &str, status: &str) {
    eventually(&format!("migration {id} is {status}"), || async {
        migration_status(ctx, id).await.as_deref() == Some(status)
    })
    .await;
}

/// Submits `ALTER TABLE <table> … <body>` as async + postponed through `c`
/// and waits until it is copied and waiting; returns its id.
pub async fn submit_postponed(
    ctx: &Ctx,
    c: &mut mysql_async::Conn,
    table: &str,
    body: &str,
) -> String {
    let row: (String, String) = c
        .query_first(format!(
            "ALTER TABLE {table} /* ghostwire: async postpone */ {body}"
        ))
        .await
        .unwrap()
        .unwrap();
    await_status(ctx, &row.0, "ready").await;
    row.0
}

/// Fills `t (id BIGINT PRIMARY KEY, k INT, c …)` with ids 1..=rows by
/// doubling, k = 0 and c = 'row-<id>' (portable: no sequence engine).
pub async fn fill_doubling(c: &mut mysql_async::Conn, rows: u64) {
    c.query_drop("INSERT INTO t (id, k, c) VALUES (1, 0, 'row-1')")
        .await
        .unwrap();
    loop {
        let max: u64 = c
            .query_first("SELECT MAX(id) FROM t")
            .await
            .unwrap()
            .unwrap();
        if max >= rows {
            return;
        }
        c.query_drop(format!(
            "INSERT INTO t (id, k, c) SELECT id + {max}, 0, CONCAT('row-', id + {max}) FROM t WHERE id <= {}",
            rows - max
        ))
        .await
        .unwrap();
    }
}

static TIME_ZONES: OnceLock<()> = OnceLock::new();

/// Loads the named time zones (`Europe/Berlin` …) into the test server's
/// `mysql.time_zone*` tables, once per process: `mariadb-install-db` leaves
/// them empty, so `SET time_zone = 'Europe/Berlin'` would fail. A MySQL from
/// `scripts/mysql-up.sh` has them already (loaded by MySQL's own
/// `mysql_tzinfo_to_sql` in its chroot); other servers must have them too.
pub fn load_time_zones() {
    TIME_ZONES.get_or_init(|| {
        if is_mysql() {
            let url = format!(
                "mysql://{}:{}@{}/?prefer_socket=false",
                APP_USER.0,
                APP_USER.1,
                server().addr()
            );
            let zones = block_on_own_thread(async move {
                let mut c = mysql_async::Conn::from_url(url).await.unwrap();
                let n: Option<u64> = c
                    .query_first("SELECT COUNT(*) FROM mysql.time_zone_name")
                    .await
                    .unwrap();
                c.disconnect().await.ok();
                n.unwrap_or(0)
            });
            assert!(
                zones > 0,
                "the MySQL test server has no time zones: load them with mysql_tzinfo_to_sql"
            );
            return;
        }
        let s = server();
        let load = format!(
            "{} /usr/share/zoneinfo 2>/dev/null | {} --protocol=TCP -h{} -P{} -u{} -p{} mysql",
            find_binary("mariadb-tzinfo-to-sql").display(),
            find_binary("mariadb").display(),
            s.host,
            s.port,
            APP_USER.0,
            APP_USER.1
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(load)
            .output()
            .expect("run mariadb-tzinfo-to-sql");
        assert!(
            out.status.success(),
            "loading time zones: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The old table the last completed migration of `table` (in the
/// connection's current database) left: `<table>_<8 hex of its id>_del`.
pub async fn old_table_of(c: &mut mysql_async::Conn, table: &str) -> Option<String> {
    let pattern = format!("{}\\_________\\_del", table.replace('_', "\\_"));
    c.exec_first(
        "SELECT TABLE_NAME FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ? ORDER BY CREATE_TIME DESC LIMIT 1",
        (pattern,),
    )
    .await
    .unwrap()
}

/// `SHOW MIGRATION '<id>'` through the proxy, as column → text (`NULL`).
pub async fn show_migration(ctx: &Ctx, id: &str) -> std::collections::BTreeMap<String, String> {
    let mut c = ctx.conn().await;
    let row: mysql_async::Row = c
        .query_first(format!("SHOW MIGRATION '{id}'"))
        .await
        .unwrap()
        .expect("migration listed");
    c.disconnect().await.ok();
    row_map(row)
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_else(|| "NULL".into())))
        .collect()
}

/// A row as column name → text (`None` for NULL).
pub fn row_map(row: mysql_async::Row) -> Vec<(String, Option<String>)> {
    use mysql_async::Value;
    let cols: Vec<String> = row
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    cols.into_iter()
        .zip(row.unwrap())
        .map(|(c, v)| {
            let s = match v {
                Value::NULL => None,
                Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                other => Some(format!("{other:?}")),
            };
            (c, s)
        })
        .collect()
}
