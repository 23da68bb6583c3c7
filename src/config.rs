//! `proxy.toml`: typed configuration, environment overlay, validation.
//!
//! Every field is documented in the shipped `proxy.toml`. Secrets come from
//! the file, an environment variable or a file path, and never print:
//! [`Secret`] masks itself in `Debug` and when serialized.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod tls;
pub use tls::{BackendTls, BackendTlsMode, ClientCert, ListenTls, ListenTlsMode};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// A password: never shown in logs, `Debug` output or `check-config`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub listen: Listen,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(default)]
    pub runtime: Runtime,
    #[serde(default)]
    pub migrations: Migrations,
    #[serde(default)]
    pub cutover: Cutover,
    #[serde(default)]
    pub gate: Gate,
    #[serde(default)]
    pub throttle: Throttle,
}

/// The automatic throttler (see `throttle`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Throttle {
    /// Replicas whose lag holds the copy (`host:port`; read with the
    /// backend account).
    pub replicas: Vec<String>,
    /// Also watch the replicas the primary lists (`SHOW REPLICAS` /
    /// `SHOW SLAVE HOSTS`: their `report_host:report_port`).
    pub discover_replicas: bool,
    pub max_replica_lag_ms: u64,
    /// `Threads_running` on the primary above which the copy holds; 0 = off.
    pub max_threads_running: u64,
    /// The copy holds while the p99 of client statements exceeds this
    /// factor × its value before the copy started; 0 = off.
    pub max_client_p99_factor: f64,
    /// How often the checks run (and the heartbeat is written), ms.
    pub check_interval_ms: u64,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            replicas: Vec::new(),
            discover_replicas: false,
            max_replica_lag_ms: 1000,
            max_threads_running: 0,
            max_client_p99_factor: 0.0,
            check_interval_ms: 100,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    pub addr: SocketAddr,
    pub max_connections: usize,
    /// Connections still in the handshake / auth exchange at once (part of
    /// `max_connections`); a new one over it closes the oldest of them.
    pub max_unauthenticated: usize,
    /// The whole handshake and auth exchange must end within this (ms).
    pub handshake_timeout_ms: u64,
    pub client_read_timeout_ms: u64,
    /// A client that takes no byte of its response for this long is
    /// disconnected (ms).
    pub client_write_timeout_ms: u64,
    pub shutdown_timeout_ms: u64,
    /// PEM RSA private key ghostwire hands plain-text clients (its public
    /// half) for their passwords when `[backend.tls]` is on; absent: one
    /// generated at start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsa_key: Option<PathBuf>,
    /// TLS between clients and ghostwire.
    pub tls: ListenTls,
}

impl Default for Listen {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:6033".parse().unwrap(),
            max_connections: 1000,
            max_unauthenticated: 256,
            handshake_timeout_ms: 10_000,
            client_read_timeout_ms: 30_000,
            client_write_timeout_ms: 30_000,
            shutdown_timeout_ms: 30_000,
            rsa_key: None,
            tls: ListenTls::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backend {
    pub addr: String,
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    pub connect_timeout_ms: u64,
    pub tls: BackendTls,
}

impl Default for Backend {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:3306".into(),
            user: "ghostwire".into(),
            password: None,
            password_env: None,
            password_file: None,
            connect_timeout_ms: 5_000,
            tls: BackendTls::default(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Prometheus endpoint; absent = no endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Runtime {
    /// Tokio worker threads; 0 = one per core.
    pub worker_threads: usize,
}

/// Which `ALTER TABLE` statements become online migrations.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Intercept {
    /// Every ALTER TABLE, unless it says `/* ghostwire: direct */`.
    #[default]
    All,
    /// Only ALTERs tagged `online` (comment hint or `SET @ghostwire`).
    Tagged,
    /// None: every ALTER goes to the server unchanged.
    Off,
}

/// When an intercepted ALTER answers the client.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Wait {
    /// When the migration is complete (like a native ALTER).
    #[default]
    Complete,
    /// At once, with the migration id (same as the `async` hint).
    Submit,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Migrations {
    pub intercept: Intercept,
    pub wait: Wait,
    /// Migrations copying at once; more are queued.
    pub max_running: usize,
    /// Chunks of one migration copied in parallel.
    pub copy_workers: usize,
    /// Rows in the first chunk; later chunks are sized to `chunk_target_ms`.
    pub chunk_rows: u64,
    pub chunk_target_ms: u64,
    /// How often a client waiting for its ALTER pings its own backend
    /// connection so `wait_timeout` does not close it.
    pub keepalive_ms: u64,
    /// Compare both tables (chunked checksums in one consistent snapshot)
    /// before the cut-over; a difference fails the migration.
    pub checksum: bool,
    /// How long the old table is kept after a cut-over before ghostwire
    /// drops it ("0" drops it right away).
    pub retain_old_table: Retention,
    /// How long a migration's owner lock must be free before another
    /// instance takes the migration over (a live owner re-takes its lock
    /// within seconds of a server restart).
    pub adopt_after_ms: u64,
}

/// A retention: seconds, written as a number or as `"90s"`, `"30m"`,
/// `"24h"`, `"7d"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RetentionText", into = "String")]
pub struct Retention(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum RetentionText {
    Seconds(u64),
    Text(String),
}

impl TryFrom<RetentionText> for Retention {
    type Error = String;
    fn try_from(v: RetentionText) -> Result<Self, String> {
        let text = match v {
            RetentionText::Seconds(s) => return Ok(Retention(s)),
            RetentionText::Text(t) => t,
        };
        let t = text.trim();
        let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?}: expected a number of s, m, h or d (e.g. \"24h\")"))?;
        let scale = match unit.trim() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
        };
        Ok(Retention(n.saturating_mul(scale)))
    }
}

impl From<Retention> for String {
    fn from(r: Retention) -> String {
        format!("{}s", r.0)
    }
}

impl Default for Migrations {
    fn default() -> Self {
        Self {
            intercept: Intercept::All,
            wait: Wait::Complete,
            max_running: 2,
            copy_workers: 2,
            chunk_rows: 2_000,
            chunk_target_ms: 250,
            keepalive_ms: 30_000,
            checksum: true,
            retain_old_table: Retention(86_400),
            adopt_after_ms: 15_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cutover {
    /// `lock_wait_timeout` for the cut-over's LOCK TABLES and RENAME, and for
    /// the instant ALTER (seconds: the server's unit).
    pub lock_wait_timeout_s: u64,
    /// How long the gate waits for transactions that touched the table to
    /// end before the attempt is abandoned (ms).
    pub drain_timeout_ms: u64,
    /// Attempts before the migration fails.
    pub max_attempts: u32,
    /// Pause between attempts (ms).
    pub retry_backoff_ms: u64,
}

impl Default for Cutover {
    fn default() -> Self {
        Self {
            lock_wait_timeout_s: 2,
            drain_timeout_ms: 500,
            max_attempts: 10,
            retry_backoff_ms: 1_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gate {
    /// Hold statements on a table in the proxy during its cut-over.
    pub enabled: bool,
    /// Statements held at once across all tables; the next gets ERR 1205.
    pub max_held: usize,
    /// Longest a statement is held (ms); then it gets ERR 1205.
    pub max_wait_ms: u64,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            enabled: true,
            max_held: 10_000,
            max_wait_ms: 4_000,
        }
    }
}

impl Config {
    /// Reads `path`, applies the environment overlay and validates.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let mut cfg = Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.into(),
            message,
        })?;
        cfg.apply_env(env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML text; the error is one line naming the line and key.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1)
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            format!("{line}{}", e.message().replace('\n', " "))
        })
    }

    /// Environment overrides; a bad value fails loudly, naming the variable.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("GHOSTWIRE_LISTEN_ADDR") {
            self.listen.addr = v.parse().map_err(|e| {
                invalid(
                    "GHOSTWIRE_LISTEN_ADDR",
                    format!("{v:?} is not ip:port ({e})"),
                )
            })?;
        }
        if let Some(v) = env("GHOSTWIRE_BACKEND_ADDR") {
            check_host_port(&v).map_err(|r| invalid("GHOSTWIRE_BACKEND_ADDR", r))?;
            self.backend.addr = v;
        }
        if let Some(v) = env("GHOSTWIRE_BACKEND_PASSWORD") {
            self.backend.password = Some(Secret(v));
            self.backend.password_env = None;
            self.backend.password_file = None;
        }
        if let Some(var) = &self.backend.password_env {
            let v = env(var).ok_or_else(|| {
                invalid(
                    "backend.password_env",
                    format!("environment variable {var} is not set"),
                )
            })?;
            self.backend.password = Some(Secret(v));
        }
        if let Some(file) = &self.backend.password_file {
            let v = std::fs::read_to_string(file).map_err(|e| {
                invalid(
                    "backend.password_file",
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            self.backend.password = Some(Secret(v.trim_end_matches(['\r', '\n']).to_string()));
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.max_connections == 0 {
            return Err(invalid("listen.max_connections", "must be at least 1"));
        }
        check_host_port(&self.backend.addr).map_err(|r| invalid("backend.addr", r))?;
        if self.backend.user.is_empty() {
            return Err(invalid("backend.user", "must not be empty"));
        }
        let sources = [
            self.backend.password_env.is_some(),
            self.backend.password_file.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(invalid(
                "backend.password_env",
                "set at most one of password_env and password_file",
            ));
        }
        for (key, v) in [
            (
                "listen.max_unauthenticated",
                self.listen.max_unauthenticated as u64,
            ),
            (
                "listen.handshake_timeout_ms",
                self.listen.handshake_timeout_ms,
            ),
            (
                "listen.client_write_timeout_ms",
                self.listen.client_write_timeout_ms,
            ),
            (
                "listen.client_read_timeout_ms",
                self.listen.client_read_timeout_ms,
            ),
            (
                "listen.shutdown_timeout_ms",
                self.listen.shutdown_timeout_ms,
            ),
            (
                "backend.connect_timeout_ms",
                self.backend.connect_timeout_ms,
            ),
            ("migrations.max_running", self.migrations.max_running as u64),
            (
                "migrations.copy_workers",
                self.migrations.copy_workers as u64,
            ),
            ("migrations.chunk_rows", self.migrations.chunk_rows),
            (
                "migrations.chunk_target_ms",
                self.migrations.chunk_target_ms,
            ),
            ("migrations.keepalive_ms", self.migrations.keepalive_ms),
            (
                "cutover.lock_wait_timeout_s",
                self.cutover.lock_wait_timeout_s,
            ),
            ("cutover.max_attempts", self.cutover.max_attempts as u64),
            ("cutover.drain_timeout_ms", self.cutover.drain_timeout_ms),
            ("gate.max_held", self.gate.max_held as u64),
            ("gate.max_wait_ms", self.gate.max_wait_ms),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        self.validate_tls()
    }

    /// The effective configuration as TOML, secrets masked.
    pub fn to_masked_toml(&self) -> String {
        toml::to_string(self).expect("config serializes")
    }

    pub fn client_read_timeout(&self) -> Duration {
        Duration::from_millis(self.listen.client_read_timeout_ms)
    }
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.listen.handshake_timeout_ms)
    }
    pub fn client_write_timeout(&self) -> Duration {
        Duration::from_millis(self.listen.client_write_timeout_ms)
    }
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.listen.shutdown_timeout_ms)
    }
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.backend.connect_timeout_ms)
    }
}

fn check_host_port(v: &str) -> Result<(), String> {
    match v.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!("{v:?} is not host:port")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn unknown_key_is_one_line_naming_it() {
        let e =
            Config::parse("[listen]\naddr = \"127.0.0.1:1\"\nmax_conections = 3\n").unwrap_err();
        assert!(e.starts_with("line 3:"), "{e}");
        assert!(e.contains("max_conections") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn env_overrides_and_fails_loudly() {
        let mut c = Config::default();
        let env = |k: &str| match k {
            "GHOSTWIRE_LISTEN_ADDR" => Some("0.0.0.0:7000".to_string()),
            "GHOSTWIRE_BACKEND_PASSWORD" => Some("s3cret".to_string()),
            _ => None,
        };
        c.apply_env(&env).unwrap();
        assert_eq!(c.listen.addr.port(), 7000);
        assert_eq!(c.backend.password.as_ref().unwrap().expose(), "s3cret");
        assert!(!c.to_masked_toml().contains("s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let bad = |k: &str| (k == "GHOSTWIRE_BACKEND_ADDR").then(|| "nohost".to_string());
        let e = Config::default().apply_env(&bad).unwrap_err().to_string();
        assert!(e.contains("GHOSTWIRE_BACKEND_ADDR"), "{e}");
        Config::default().apply_env(&no_env).unwrap();
    }

    #[test]
    fn missing_password_env_is_an_error() {
        let mut c = Config::default();
        c.backend.password_env = Some("NOPE_NOT_SET".into());
        let e = c.apply_env(&no_env).unwrap_err().to_string();
        assert!(
            e.contains("backend.password_env") && e.contains("NOPE_NOT_SET"),
            "{e}"
        );
    }

    #[test]
    fn retention_forms() {
        let c = Config::parse("[migrations]\nretain_old_table = \"24h\"").unwrap();
        assert_eq!(c.migrations.retain_old_table, Retention(86_400));
        let c = Config::parse("[migrations]\nretain_old_table = 0").unwrap();
        assert_eq!(c.migrations.retain_old_table, Retention(0));
        assert!(Config::parse("[migrations]\nretain_old_table = \"1w\"").is_err());
    }

    #[test]
    fn shipped_proxy_toml_is_valid() {
        let text = include_str!("../proxy.toml");
        let c = Config::parse(text).unwrap();
        c.validate().unwrap();
    }
}
