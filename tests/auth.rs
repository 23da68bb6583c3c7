//! Auth passthrough, client × plugin × cache state, on the test server's
//! flavour: every login is made twice, directly and through ghostwire, with
//! the same client and the same options, and both must end the same way
//! (success as the same user, or the same error code). Each case's outcome
//! is pinned too (`expected`), so the matrix cannot pass by failing on both
//! sides.
//!
//! Clients (`auth/clients.rs`): the `mariadb` CLI, MySQL 9.7's `mysql` CLI,
//! PyMySQL, mysql-connector-python, node's mysql2, Go's go-sql-driver.
//!
//! TLS, three ways (`Tls`), each through its own ghostwire: none (a plugin
//! that must send the password protected uses the server's RSA public key);
//! ghostwire to the server only (the client in plain text, directly too:
//! such a client RSA-encrypts its password, with ghostwire's key through
//! ghostwire, which sends it to the server over TLS: `session::bridge`);
//! both sides (the client on TLS, directly too: the password goes in clear
//! inside TLS, no key needed). The reference for each is what the same
//! client gets directly with the same TLS towards the server.
//!
//! Plugins, per flavour (what the server has):
//! - MariaDB 10.11: `mysql_native_password`, `ed25519`, and an account
//!   `VIA mysql_native_password … OR ed25519 …` whose native attempt fails
//!   (two auth switches in one login). No caching_sha2 or sha256 plugins on
//!   the server.
//! - MySQL 9.7: `caching_sha2_password` and `sha256_password` (still there in
//!   9.7, deprecated); `mysql_native_password` is gone from the 9.x server
//!   (its `.so` is the client side only), so it is tested only on a MySQL
//!   that has it loaded (8.x).
//! - Both: an account without a password (MariaDB's default plugin, MySQL's
//!   caching_sha2), logged in without one and with one (1045); an unknown
//!   user (the server's decoy exchange, see `expected_any`).
//!
//! Each login asks for a database (`auth_matrix`) and reports
//! `CURRENT_USER(), DATABASE()`. Clients that can (Connector/Python, mysql2)
//! also run every case as a COM_CHANGE_USER from a password-less login: the
//! server then restarts the auth exchange (switch, fast/full path, key) on a
//! connection the proxy already relays commands on.
//!
//! Cache state: `cold` cases flush the server's caches (`FLUSH PRIVILEGES`,
//! which empties caching_sha2's) before each login, so caching_sha2 takes its
//! full path (RSA key request, encrypted password); `warm` cases
//! (caching_sha2 only) log in once directly first, so the fast path (scramble
//! only) answers. A client that refuses the key fails the full path and
//! passes the fast one: that pair proves which path ran.
//!
//! What is each client's own, not ghostwire's (and the same directly):
//! - Connector/Python (pure mode) cannot use RSA: on the full path it sends
//!   the password in clear, which MySQL refuses off TLS (1045), and it refuses
//!   sha256_password off TLS in the client; its fast path works.
//! - The mysql CLI fetches sha256_password's key without being asked
//!   (`--get-server-public-key` is caching_sha2's switch).
//! - ed25519 is spoken by the mariadb CLI and PyMySQL (with PyNaCl); the
//!   mysql CLI lacks the client plugin (2059), and Go 1.5, mysql2 and
//!   Connector/Python do not know it.
//!
//! One server for the whole binary; each client has its own accounts and
//! runs its cases in order, the clients in parallel. The cold phase ends for
//! every client before the warm one starts, so no flush lands between a
//! warm-up and its login.

mod common;

/// The schema every login asks for (and the test's schema).
const DB: &str = "auth_matrix";

#[path = "auth/clients.rs"]
mod clients;

use clients::{Client, Login, Runner, Tools};
use common::*;
use ghostwire::config::{BackendTlsMode, ListenTlsMode};
use mysql_async::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plugin {
    Native,
    Ed25519,
    Sha2,
    Sha256,
    /// An account without a password.
    NoPassword,
    /// MariaDB: `VIA mysql_native_password … OR ed25519 …` with different
    /// passwords; the right one is ed25519's, so the server switches plugins
    /// twice (native fails, then ed25519).
    NativeOrEd25519,
    /// No such account (the server still runs a decoy exchange).
    NoSuchUser,
}

impl Plugin {
    fn tag(self) -> &'static str {
        match self {
            Plugin::Native => "native",
            Plugin::Ed25519 => "ed",
            Plugin::Sha2 => "sha2",
            Plugin::Sha256 => "sha256",
            Plugin::NoPassword => "nopw",
            Plugin::NativeOrEd25519 => "nat_or_ed",
            Plugin::NoSuchUser => "nouser",
        }
    }

    /// Whether logging in without TLS may need the server's RSA key.
    fn uses_key(self) -> bool {
        matches!(self, Plugin::Sha2 | Plugin::Sha256) || (self == Plugin::NoSuchUser && is_mysql())
    }

    fn needs_ed25519(self) -> bool {
        matches!(self, Plugin::Ed25519 | Plugin::NativeOrEd25519)
    }
}

/// Where TLS is on the proxied login; the direct one has the client's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tls {
    /// Neither side.
    Off,
    /// ghostwire to the server only: the client talks plain text.
    Backend,
    /// Both: the client on TLS too.
    Both,
}

impl Tls {
    fn client(self) -> bool {
        self == Tls::Both
    }

    fn tag(self) -> &'static str {
        match self {
            Tls::Off => "plain",
            Tls::Backend => "tls-backend",
            Tls::Both => "tls-both",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cache {
    Cold,
    Warm,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    plugin: Plugin,
    cache: Cache,
    right_password: bool,
    key: bool,
    /// Become the user with COM_CHANGE_USER from a password-less login,
    /// instead of logging in as it.
    change_user: bool,
}

impl Case {
    fn label(&self) -> String {
        format!(
            "{}{} {:?} {} {}",
            if self.change_user { "change-user " } else { "" },
            self.plugin.tag(),
            self.cache,
            if self.right_password {
                "right"
            } else {
                "wrong"
            },
            if self.key { "key" } else { "nokey" }
        )
    }
}

fn user(client: Client, plugin: Plugin) -> String {
    format!("au_{}_{}", plugin.tag(), client.tag())
}

fn password(client: Client, plugin: Plugin, right: bool) -> String {
    match (plugin, right) {
        (Plugin::NoPassword, true) => String::new(),
        (Plugin::NoPassword, false) => "not-empty".into(),
        (_, true) => format!("pw-{}", user(client, plugin)),
        (_, false) => "wrong-password".into(),
    }
}

/// Every case a client runs for a plugin.
fn cases(client: Client, plugin: Plugin) -> Vec<Case> {
    let case = |cache, right_password, key, change_user| Case {
        plugin,
        cache,
        right_password,
        key,
        change_user,
    };
    let mut v = Vec::new();
    let changes: &[bool] = match (client.can_change_user(), plugin) {
        // The first login is the password-less account itself.
        (true, Plugin::NoPassword) | (false, _) => &[false],
        (true, _) => &[false, true],
    };
    // No account: every password is wrong.
    let right = plugin != Plugin::NoSuchUser;
    for &change in changes {
        if right {
            v.push(case(Cache::Cold, true, true, change));
        }
        v.push(case(Cache::Cold, false, true, change));
        if plugin.uses_key() && client.can_refuse_key() {
            v.push(case(Cache::Cold, right, false, change));
        }
        if plugin == Plugin::Sha2 {
            v.push(case(Cache::Warm, true, true, change));
            if client.can_refuse_key() {
                v.push(case(Cache::Warm, true, false, change));
            }
        }
    }
    v
}

/// How a client without ed25519 fails when the server switches to it.
fn no_ed25519(client: Client, case: &Case) -> Option<&'static str> {
    match client {
        // PyMySQL: with PyNaCl (scripts/deps.sh installs it).
        Client::MariadbCli | Client::PyMySql => None,
        Client::MysqlCli => Some("err 2059"),
        // After a failed native attempt, in COM_CHANGE_USER's code path.
        Client::Connector if case.change_user && case.plugin == Plugin::NativeOrEd25519 => {
            Some("err client:InterfaceError")
        }
        Client::Connector => Some("err client:NotSupportedError"),
        Client::Mysql2 => Some("err client:AUTH_SWITCH_PLUGIN_ERROR"),
        Client::Go => Some("err client:this_authentication_plugin_is_not_supported"),
    }
}

/// The outcomes a case may have (one, but for unknown users), directly and
/// through ghostwire, with the client's TLS of `tls`.
fn expected_any(client: Client, case: &Case, tls: Tls, plugins: &[Plugin]) -> Vec<String> {
    if case.plugin != Plugin::NoSuchUser {
        return vec![expected(client, case, tls)];
    }
    // Both servers answer an unknown user with a decoy exchange (so as not
    // to tell that it does not exist): MySQL with a plugin drawn at random
    // once per name and remembered, MariaDB with the plugin of an account
    // picked by a hash of the name. Direct and proxied logins meet the same
    // decoy; which one it is differs from server to server, so any password
    // plugin the server has is a valid outcome.
    let mut v: Vec<String> = plugins
        .iter()
        .filter(|p| !matches!(p, Plugin::NoSuchUser | Plugin::NoPassword))
        .map(|&plugin| expected(client, &Case { plugin, ..*case }, tls))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The one outcome a case (of a real account) must have.
fn expected(client: Client, case: &Case, tls: Tls) -> String {
    let ok = format!("ok {}@% {DB}", user(client, case.plugin));
    let denied = "err 1045".to_string();
    // Clients without ed25519 fail the same way whatever the password.
    if case.plugin.needs_ed25519() {
        if let Some(e) = no_ed25519(client, case) {
            return e.into();
        }
    }
    if tls.client() {
        // On TLS every client sends the password itself when asked: no
        // RSA key, so neither refusing it nor lacking RSA matters.
        return if case.right_password { ok } else { denied };
    }
    if client == Client::Connector {
        match (case.plugin, case.cache) {
            // Pure Connector/Python never encrypts: it refuses
            // sha256_password off TLS, and on caching_sha2's full path sends
            // the password in clear, which the server refuses off TLS.
            (Plugin::Sha256, _) => return "err client:InterfaceError".into(),
            (Plugin::Sha2, Cache::Cold) => return denied,
            _ => {}
        }
    }
    if !case.key && case.cache == Cache::Cold && case.plugin.uses_key() {
        // The key is needed (on the full path a wrong password needs it too)
        // and refused. The mysql CLI fetches sha256_password's regardless.
        match (client, case.plugin) {
            (Client::MysqlCli, Plugin::Sha256) => {}
            (Client::MysqlCli, _) => return "err 2061".into(),
            (Client::Mysql2, _) => return "err client:PUBLIC_KEY_RETRIEVAL_NOT_ALLOWED".into(),
            _ => {}
        }
    }
    if !case.right_password {
        return denied;
    }
    ok
}

/// The kinds of account to test on this server: the password plugins it
/// has, then the password-less and the unknown user.
async fn plugins(admin: &mut mysql_async::Conn) -> Vec<Plugin> {
    let active: Vec<String> = admin
        .query(
            "SELECT PLUGIN_NAME FROM information_schema.PLUGINS \
             WHERE PLUGIN_TYPE = 'AUTHENTICATION' AND PLUGIN_STATUS = 'ACTIVE'",
        )
        .await
        .unwrap();
    let has = |p: &str| active.iter().any(|a| a == p);
    let mut v = Vec::new();
    if is_mysql() {
        // Built in on MySQL 8 and 9 (the assert guards the matrix from
        // shrinking unnoticed); native only where still loaded.
        assert!(
            has("caching_sha2_password") && has("sha256_password"),
            "{active:?}"
        );
        if has("mysql_native_password") {
            v.push(Plugin::Native);
        } else {
            println!("mysql_native_password: not on this server (gone in MySQL 9), not tested");
        }
        v.extend([Plugin::Sha2, Plugin::Sha256]);
    } else {
        assert!(has("mysql_native_password"), "{active:?}");
        v.extend([Plugin::Native, Plugin::Ed25519, Plugin::NativeOrEd25519]);
    }
    v.extend([Plugin::NoPassword, Plugin::NoSuchUser]);
    v
}

async fn create_user(admin: &mut mysql_async::Conn, client: Client, plugin: Plugin) {
    let u = user(client, plugin);
    let pw = password(client, plugin, true);
    let how = match (plugin, is_mysql()) {
        (Plugin::Native, true) => format!("IDENTIFIED WITH mysql_native_password BY '{pw}'"),
        (Plugin::Native, false) => {
            format!("IDENTIFIED VIA mysql_native_password USING PASSWORD('{pw}')")
        }
        (Plugin::Ed25519, _) => format!("IDENTIFIED VIA ed25519 USING PASSWORD('{pw}')"),
        (Plugin::Sha2, _) => format!("IDENTIFIED WITH caching_sha2_password BY '{pw}'"),
        (Plugin::Sha256, _) => format!("IDENTIFIED WITH sha256_password BY '{pw}'"),
        (Plugin::NoPassword, true) => "IDENTIFIED WITH caching_sha2_password".into(),
        (Plugin::NoPassword, false) => String::new(),
        (Plugin::NativeOrEd25519, _) => format!(
            "IDENTIFIED VIA mysql_native_password USING PASSWORD('native-{pw}') \
             OR ed25519 USING PASSWORD('{pw}')"
        ),
        (Plugin::NoSuchUser, _) => String::new(),
    };
    admin
        .query_drop(format!("DROP USER IF EXISTS '{u}'@'%'"))
        .await
        .unwrap();
    if plugin == Plugin::NoSuchUser {
        return;
    }
    admin
        .query_drop(format!("CREATE USER '{u}'@'%' {how}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE USER {u} {how}: {e}"));
    admin
        .query_drop(format!("GRANT SELECT ON `{DB}`.* TO '{u}'@'%'"))
        .await
        .unwrap();
}

struct Row {
    client: Client,
    case: Case,
    tls: Tls,
    direct: String,
    proxy: String,
}

/// Runs one client's cases of one cache state, each directly then through
/// ghostwire, in each TLS arrangement (`proxies`: the ghostwire of each),
/// flushing before each cold login and warming up (a direct mysql_async
/// login, which does the RSA exchange itself) before each warm one.
async fn run_phase(
    mut runner: Runner,
    plugins: Vec<Plugin>,
    cache: Cache,
    proxies: Vec<(Tls, u16)>,
) -> (Runner, Vec<Row>) {
    let client = runner.client();
    let s = server();
    let mut admin = direct_conn_to("mysql").await;
    let mut rows = Vec::new();
    for plugin in plugins {
        let cases: Vec<Case> = cases(client, plugin)
            .into_iter()
            .filter(|c| c.cache == cache)
            .collect();
        let runs: Vec<(Case, Tls, u16)> = cases
            .iter()
            .flat_map(|c| proxies.iter().map(|&(t, p)| (*c, t, p)))
            .collect();
        for (case, tls, proxy_port) in runs {
            if !tls_case(tls, &case) {
                continue;
            }
            let u = user(client, plugin);
            let pw = password(client, plugin, case.right_password);
            let mut outcome = Vec::new();
            for (host, port) in [(s.host.as_str(), s.port), ("127.0.0.1", proxy_port)] {
                match cache {
                    Cache::Cold => admin.query_drop("FLUSH PRIVILEGES").await.unwrap(),
                    Cache::Warm => {
                        let right = password(client, plugin, true);
                        let warm = mysql_async::OptsBuilder::default()
                            .ip_or_hostname(s.host.clone())
                            .tcp_port(s.port)
                            .user(Some(&u))
                            .pass(Some(right))
                            .prefer_socket(false);
                        mysql_async::Conn::new(warm)
                            .await
                            .expect("warm-up login")
                            .disconnect()
                            .await
                            .unwrap();
                    }
                }
                let first = match case.change_user {
                    true => user(client, Plugin::NoPassword),
                    false => String::new(),
                };
                let login = Login {
                    host,
                    port,
                    user: &u,
                    password: &pw,
                    key: case.key,
                    db: DB,
                    first: &first,
                    tls: tls.client(),
                };
                outcome.push(runner.login(&login).await);
            }
            let proxy = outcome.pop().unwrap();
            let direct = outcome.pop().unwrap();
            rows.push(Row {
                client,
                case,
                tls,
                direct,
                proxy,
            });
        }
    }
    admin.disconnect().await.ok();
    (runner, rows)
}

/// Whether a case runs in a TLS arrangement.
fn tls_case(tls: Tls, _case: &Case) -> bool {
    let _ = tls;
    true
}

/// A counter's value in this process's metrics (0 when not shown).
fn counter(ctx: &Ctx, series: &str) -> f64 {
    ctx.metrics()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_plugin_and_client_logs_in_through_ghostwire_as_directly() {
    let started = std::time::Instant::now();
    // MariaDB serving TLS (MySQL does by default).
    common::tls::server();
    let ctx = setup(DB).await;
    let certs = common::tls::certs();
    let backend_only = setup_existing(DB, |c| {
        c.backend.tls.mode = BackendTlsMode::Required;
    })
    .await;
    let both = setup_existing(DB, |c| {
        c.listen.tls.mode = ListenTlsMode::Required;
        c.listen.tls.cert = Some(certs.server_cert.clone());
        c.listen.tls.key = Some(certs.server_key.clone());
        c.backend.tls.mode = BackendTlsMode::Required;
    })
    .await;
    let proxies = vec![
        (Tls::Off, ctx.port()),
        (Tls::Backend, backend_only.port()),
        (Tls::Both, both.port()),
    ];
    let tools = Tools::prepare().await;
    let mut admin = ctx.direct().await;
    if !is_mysql() {
        // Not loaded by default; a second INSTALL fails harmlessly.
        admin.query_drop("INSTALL SONAME 'auth_ed25519'").await.ok();
    }
    let plugins = plugins(&mut admin).await;
    for client in Client::ALL {
        for &plugin in &plugins {
            create_user(&mut admin, client, plugin).await;
        }
    }
    admin.disconnect().await.ok();
    let handshakes = |side: &str| {
        counter(
            &ctx,
            &format!("ghostwire_tls_handshakes_total{{side=\"{side}\",result=\"ok\"}}"),
        )
    };
    let (client_before, backend_before) = (handshakes("client"), handshakes("backend"));

    let mut runners: Vec<Runner> = Client::ALL
        .iter()
        .map(|c| Runner::start(*c, &tools))
        .collect();
    let mut rows = Vec::new();
    // Cold for every client, then warm: a flush never lands in a warm case.
    for cache in [Cache::Cold, Cache::Warm] {
        let mut tasks = tokio::task::JoinSet::new();
        for runner in runners.drain(..) {
            tasks.spawn(run_phase(runner, plugins.clone(), cache, proxies.clone()));
        }
        while let Some(done) = tasks.join_next().await {
            let (runner, r) = done.unwrap();
            runners.push(runner);
            rows.extend(r);
        }
    }
    rows.sort_by_key(|r| (r.client as u8, r.tls as u8, r.case.label()));

    let mut report = String::new();
    let mut bad = 0;
    for r in &rows {
        let want = expected_any(r.client, &r.case, r.tls, &plugins);
        let fine = r.direct == r.proxy && want.contains(&r.direct);
        let want = want.join(" | ");
        bad += usize::from(!fine);
        report.push_str(&format!(
            "{} {:<10} {:<11} {:<26} direct: {:<40} proxy: {:<40} expected: {want}\n",
            if fine { "  " } else { "!!" },
            r.client.tag(),
            r.tls.tag(),
            r.case.label(),
            r.direct,
            r.proxy,
        ));
    }
    println!(
        "{report}{} logins in {:?}",
        rows.len() * 2,
        started.elapsed()
    );
    assert_eq!(bad, 0, "{bad} case(s) differ (!!):\n{report}");
    // The TLS arrangements were the ones meant: every proxied login of
    // `Both` was a TLS handshake with ghostwire, and every proxied login
    // of `Backend` and `Both` one with the server.
    let count = |t: &[Tls]| rows.iter().filter(|r| t.contains(&r.tls)).count() as f64;
    assert_eq!(handshakes("client") - client_before, count(&[Tls::Both]));
    assert!(handshakes("backend") - backend_before >= count(&[Tls::Backend, Tls::Both]));
    for c in [ctx, backend_only, both] {
        c.shutdown().await;
    }
}
