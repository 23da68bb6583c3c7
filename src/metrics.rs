//! Metric names (the one documented list) and the Prometheus endpoint.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `ghostwire_client_connections` | gauge | — | client sessions open now |
//! | `ghostwire_client_connections_total` | counter | — | client connections accepted |
//! | `ghostwire_client_connections_unauthenticated` | gauge | — | client connections still in the handshake / login now |
//! | `ghostwire_client_connections_rejected_total` | counter | `reason` (`max_connections`, `shutdown`, `max_unauthenticated`: closed while logging in to make room under `max_unauthenticated`, `handshake_timeout`: login not done within `handshake_timeout_ms`, `preauth_too_large`: a packet over 72 KiB before login; `shutdown` also counts logins cut short by a shutdown) | connections refused before or during login |
//! | `ghostwire_client_write_timeouts_total` | counter | — | sessions ended because the client took no bytes for `client_write_timeout_ms` |
//! | `ghostwire_session_panics_total` | counter | — | session tasks that panicked (a bug: the session was closed and cleaned up; the log has the message) |
//! | `ghostwire_accept_errors_total` | counter | — | failed `accept()` calls (e.g. out of file descriptors); the listener backs off and goes on |
//! | `ghostwire_backend_connect_errors_total` | counter | — | failed connects to the backend |
//! | `ghostwire_tls_handshakes_total` | counter | `side` (`client`: a client's TLS to ghostwire, `backend`: ghostwire's to the server), `result` (`ok`, `failed`) | TLS handshakes (`[listen.tls]`, `[backend.tls]`; the engine's own connections are not counted) |
//! | `ghostwire_commands_total` | counter | `kind` (see [`CommandKind`]) | client commands relayed or answered |
//! | `ghostwire_bytes_total` | counter | `direction` (`client_to_backend`, `backend_to_client`) | bytes relayed |
//! | `ghostwire_command_duration_seconds` | histogram | — | command received → response fully relayed |
//! | `ghostwire_migrations_total` | counter | `strategy` (`instant`, `inplace`, `copy`, `none`), `outcome` (`complete`, `failed`, `cancelled`) | migrations finished |
//! | `ghostwire_migration_rows_copied_total` | counter | — | rows copied into shadow tables |
//! | `ghostwire_migration_keys_replayed_total` | counter | — | changed keys replayed from the binlog |
//! | `ghostwire_cutover_attempts_total` | counter | `result` (`ok`, `retry`) | cut-over (or instant ALTER) attempts |
//! | `ghostwire_cutover_stall_seconds` | histogram | — | time the table was locked by a successful cut-over |
//! | `ghostwire_cutover_aborted_total` | counter | `reason` (`drain_timeout`, `lock_timeout`, `paused`, `other`) | cut-over attempts given up |
//! | `ghostwire_migration_commands_total` | counter | `action` (`complete`, `cancel`, `pause`, `resume`, `throttle`, `unthrottle`, `retry`, `cleanup`), `result` (`ok`, `refused`; `denied`: the client may not change the migration) | `ALTER MIGRATION` commands |
//! | `ghostwire_old_tables_dropped_total` | counter | — | old tables dropped after their retention |
//! | `ghostwire_old_table_drop_seconds` | histogram | — | how long one old table's `DROP TABLE` took |
//! | `ghostwire_throttled` | gauge | `reason` (`replica_lag`, `replica_unreachable`, `threads_running`, `client_latency`) | 1 while the automatic throttler holds copies for that reason |
//! | `ghostwire_replica_lag_seconds` | gauge | `replica` (`host:port`) | lag measured by the throttler's heartbeat while a migration copies |
//! | `ghostwire_gate_closures_total` | counter | — | gates closed for a cut-over attempt |
//! | `ghostwire_gate_held` | gauge | — | statements held in the proxy now |
//! | `ghostwire_gate_hold_seconds` | histogram | — | how long a held statement waited |
//!
//! Handles are resolved once into [`Handles`] so the hot path only does an
//! atomic add, not a registry lookup.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const CLIENT_CONNECTIONS: &str = "ghostwire_client_connections";
pub const CLIENT_CONNECTIONS_TOTAL: &str = "ghostwire_client_connections_total";
pub const CLIENT_CONNECTIONS_REJECTED: &str = "ghostwire_client_connections_rejected_total";
pub const CLIENT_CONNECTIONS_UNAUTHENTICATED: &str = "ghostwire_client_connections_unauthenticated";
pub const CLIENT_WRITE_TIMEOUTS: &str = "ghostwire_client_write_timeouts_total";
pub const SESSION_PANICS: &str = "ghostwire_session_panics_total";
pub const ACCEPT_ERRORS: &str = "ghostwire_accept_errors_total";
pub const BACKEND_CONNECT_ERRORS: &str = "ghostwire_backend_connect_errors_total";
pub const TLS_HANDSHAKES: &str = "ghostwire_tls_handshakes_total";
pub const COMMANDS: &str = "ghostwire_commands_total";
pub const BYTES: &str = "ghostwire_bytes_total";
pub const COMMAND_DURATION: &str = "ghostwire_command_duration_seconds";
pub const MIGRATIONS: &str = "ghostwire_migrations_total";
pub const MIGRATION_ROWS_COPIED: &str = "ghostwire_migration_rows_copied_total";
pub const MIGRATION_KEYS_REPLAYED: &str = "ghostwire_migration_keys_replayed_total";
pub const CUTOVER_ATTEMPTS: &str = "ghostwire_cutover_attempts_total";
pub const CUTOVER_STALL: &str = "ghostwire_cutover_stall_seconds";
pub const CUTOVER_ABORTED: &str = "ghostwire_cutover_aborted_total";
pub const MIGRATION_COMMANDS: &str = "ghostwire_migration_commands_total";
pub const OLD_TABLES_DROPPED: &str = "ghostwire_old_tables_dropped_total";
pub const OLD_TABLE_DROP_SECONDS: &str = "ghostwire_old_table_drop_seconds";
pub const THROTTLED: &str = "ghostwire_throttled";
pub const REPLICA_LAG: &str = "ghostwire_replica_lag_seconds";
pub const GATE_CLOSURES: &str = "ghostwire_gate_closures_total";
pub const GATE_HELD: &str = "ghostwire_gate_held";
pub const GATE_HOLD_SECONDS: &str = "ghostwire_gate_hold_seconds";

/// Command kinds counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandKind {
    Query,
    Prepare,
    Execute,
    Alter,
    Migration,
    Other,
}

impl CommandKind {
    const ALL: [CommandKind; 6] = [
        CommandKind::Query,
        CommandKind::Prepare,
        CommandKind::Execute,
        CommandKind::Alter,
        CommandKind::Migration,
        CommandKind::Other,
    ];
    fn label(self) -> &'static str {
        match self {
            CommandKind::Query => "query",
            CommandKind::Prepare => "prepare",
            CommandKind::Execute => "execute",
            CommandKind::Alter => "alter",
            CommandKind::Migration => "migration",
            CommandKind::Other => "other",
        }
    }
}

/// Pre-resolved metric handles.
pub struct Handles {
    pub connections: Gauge,
    pub connections_total: Counter,
    pub rejected_max_connections: Counter,
    pub rejected_shutdown: Counter,
    pub rejected_max_unauthenticated: Counter,
    pub rejected_handshake_timeout: Counter,
    pub rejected_preauth_too_large: Counter,
    pub unauthenticated: Gauge,
    pub write_timeouts: Counter,
    pub session_panics: Counter,
    pub accept_errors: Counter,
    pub backend_connect_errors: Counter,
    pub tls_client_ok: Counter,
    pub tls_client_failed: Counter,
    pub tls_backend_ok: Counter,
    pub tls_backend_failed: Counter,
    commands: [Counter; CommandKind::ALL.len()],
    pub bytes_to_backend: Counter,
    pub bytes_to_client: Counter,
    pub command_duration: Histogram,
}

impl Handles {
    #[inline]
    pub fn command(&self, kind: CommandKind) -> &Counter {
        &self.commands[kind as usize]
    }
}

struct Installed {
    handles: Handles,
    prometheus: Option<PrometheusHandle>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// The process-wide handles; installs the Prometheus recorder on first use.
pub fn handles() -> &'static Handles {
    &installed().handles
}

fn installed() -> &'static Installed {
    INSTALLED.get_or_init(|| {
        let buckets = [
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5, 5.0, 10.0,
        ];
        let recorder = PrometheusBuilder::new()
            .set_buckets(&buckets)
            .expect("non-empty buckets")
            .build_recorder();
        let prometheus = recorder.handle();
        // Another recorder may already be installed (embedding applications);
        // then our handles report into it and we serve no endpoint of our own.
        let prometheus = metrics::set_global_recorder(recorder)
            .ok()
            .map(|_| prometheus);
        describe();
        Installed {
            handles: resolve(),
            prometheus,
        }
    })
}

fn describe() {
    metrics::describe_gauge!(CLIENT_CONNECTIONS, "client sessions open now");
    metrics::describe_counter!(CLIENT_CONNECTIONS_TOTAL, "client connections accepted");
    metrics::describe_counter!(
        CLIENT_CONNECTIONS_REJECTED,
        "connections refused before relaying"
    );
    metrics::describe_gauge!(
        CLIENT_CONNECTIONS_UNAUTHENTICATED,
        "client connections still logging in"
    );
    metrics::describe_counter!(
        CLIENT_WRITE_TIMEOUTS,
        "sessions ended because the client took no bytes for client_write_timeout_ms"
    );
    metrics::describe_counter!(SESSION_PANICS, "session tasks that panicked (a bug)");
    metrics::describe_counter!(ACCEPT_ERRORS, "failed accept() calls");
    metrics::describe_counter!(BACKEND_CONNECT_ERRORS, "failed connects to the backend");
    metrics::describe_counter!(COMMANDS, "client commands by kind");
    metrics::describe_counter!(BYTES, "bytes relayed by direction");
    metrics::describe_histogram!(
        COMMAND_DURATION,
        metrics::Unit::Seconds,
        "command received to response relayed"
    );
}

fn resolve() -> Handles {
    Handles {
        connections: metrics::gauge!(CLIENT_CONNECTIONS),
        connections_total: metrics::counter!(CLIENT_CONNECTIONS_TOTAL),
        rejected_max_connections: metrics::counter!(CLIENT_CONNECTIONS_REJECTED, "reason" => "max_connections"),
        rejected_shutdown: metrics::counter!(CLIENT_CONNECTIONS_REJECTED, "reason" => "shutdown"),
        rejected_max_unauthenticated: metrics::counter!(CLIENT_CONNECTIONS_REJECTED, "reason" => "max_unauthenticated"),
        rejected_handshake_timeout: metrics::counter!(CLIENT_CONNECTIONS_REJECTED, "reason" => "handshake_timeout"),
        rejected_preauth_too_large: metrics::counter!(CLIENT_CONNECTIONS_REJECTED, "reason" => "preauth_too_large"),
        unauthenticated: metrics::gauge!(CLIENT_CONNECTIONS_UNAUTHENTICATED),
        write_timeouts: metrics::counter!(CLIENT_WRITE_TIMEOUTS),
        session_panics: metrics::counter!(SESSION_PANICS),
        accept_errors: metrics::counter!(ACCEPT_ERRORS),
        backend_connect_errors: metrics::counter!(BACKEND_CONNECT_ERRORS),
        tls_client_ok: metrics::counter!(TLS_HANDSHAKES, "side" => "client", "result" => "ok"),
        tls_client_failed: metrics::counter!(TLS_HANDSHAKES, "side" => "client", "result" => "failed"),
        tls_backend_ok: metrics::counter!(TLS_HANDSHAKES, "side" => "backend", "result" => "ok"),
        tls_backend_failed: metrics::counter!(TLS_HANDSHAKES, "side" => "backend", "result" => "failed"),
        commands: CommandKind::ALL.map(|k| metrics::counter!(COMMANDS, "kind" => k.label())),
        bytes_to_backend: metrics::counter!(BYTES, "direction" => "client_to_backend"),
        bytes_to_client: metrics::counter!(BYTES, "direction" => "backend_to_client"),
        command_duration: metrics::histogram!(COMMAND_DURATION),
    }
}

/// Renders the current metrics in Prometheus text format.
pub fn render() -> String {
    installed()
        .prometheus
        .as_ref()
        .map(|p| p.render())
        .unwrap_or_default()
}

/// Serves `GET /metrics` on `listener` until `stop`. Hand-written (a dozen
/// lines) instead of the exporter's hyper listener so the endpoint can bind
/// port 0 in tests and share our shutdown token. Also drains histogram
/// buckets periodically, which the exporter leaves to its own listener.
pub async fn serve(listener: TcpListener, stop: CancellationToken) {
    let mut upkeep = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = upkeep.tick() => {
                if let Some(p) = &installed().prometheus { p.run_upkeep() }
            }
            accepted = listener.accept() => {
                let Ok((mut sock, _)) = accepted else { continue };
                tokio::spawn(async move {
                    let mut req = [0u8; 1024];
                    let _ = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut req)).await;
                    let body = render();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(body.as_bytes()).await;
                });
            }
        }
    }
}

/// Binds the metrics endpoint.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    handles();
    TcpListener::bind(addr).await
}
