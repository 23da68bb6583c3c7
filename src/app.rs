//! Wiring: binds the listeners, runs the accept loop and metrics endpoint,
//! and shuts everything down in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Config;
use crate::metrics;
use crate::server::{listener, Shared};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("{0}")]
    PasswordKey(#[from] crate::password_key::KeyError),
    #[error("cannot install signal handler: {0}")]
    Signal(std::io::Error),
}

/// A running proxy.
pub struct Proxy {
    /// Where clients connect (the bound address, useful with port 0).
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    tasks: TaskTracker,
    stop_metrics: CancellationToken,
}

impl Proxy {
    /// Binds and starts serving in the background of the current runtime.
    pub async fn start(config: Config) -> Result<Proxy, AppError> {
        let config = Arc::new(config);
        // Certificates are read now: a bad path fails the start, not the
        // first client.
        let tls = crate::tls::Contexts::build(&config)?;
        let password_keys = crate::password_key::Keys::default();
        password_keys.load(config.listen.rsa_key.as_deref())?;
        let bind = |addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| AppError::Bind { addr, source })
        };
        let listener = bind(config.listen.addr).await?;
        let addr = listener.local_addr().expect("bound socket has an address");
        let stop_metrics = CancellationToken::new();
        let metrics_addr = match config.metrics.addr {
            Some(a) => {
                if !a.ip().is_loopback() {
                    // Anyone who reaches it reads the metrics: table names,
                    // migration states, traffic.
                    warn!(
                        addr = %a,
                        "[metrics] addr is not a loopback address: the endpoint has no \
                         authentication; bind it to 127.0.0.1 or a private interface"
                    );
                }
                metrics::handles();
                let l = bind(a).await?;
                let bound = l.local_addr().ok();
                tokio::spawn(metrics::serve(l, stop_metrics.clone()));
                bound
            }
            None => None,
        };
        let g = &config.gate;
        let gates =
            crate::gate::Gates::new(g.enabled, g.max_held, Duration::from_millis(g.max_wait_ms));
        let shared = Arc::new(Shared {
            migrations: crate::migration::Handle::new(config.clone(), gates.clone()),
            gates,
            config,
            drain: CancellationToken::new(),
            kill: CancellationToken::new(),
            open_sessions: Default::default(),
            session_panics: Default::default(),
            tls: arc_swap::ArcSwap::from_pointee(tls),
            password_keys,
        });
        shared.prepare_password_key();
        let tasks = TaskTracker::new();
        tasks.spawn(listener::run(listener, shared.clone(), tasks.clone()));
        // The engine's state, lock and reconciler come up in the
        // background (retrying while the primary is away).
        shared.migrations.start();
        // Once, in the background: what ghostwire's own account may do.
        let engine = shared.migrations.clone();
        tokio::spawn(async move {
            let check = engine.check_own_rights();
            let _ = tokio::time::timeout(Duration::from_secs(10), check).await;
        });
        info!(%addr, backend = %shared.config.backend.addr, "ghostwire listening");
        Ok(Proxy {
            addr,
            metrics_addr,
            shared,
            tasks,
            stop_metrics,
        })
    }

    /// Reads the TLS files of the configuration in use again (its
    /// certificates, keys and CA): see [`Proxy::reload`].
    pub fn reload_tls(&self) -> Result<(), ReloadError> {
        let config = self.shared.config.clone();
        self.reload(&config)
    }

    /// Applies `new`'s `[listen.tls]`, `[listen] rsa_key` and
    /// `[backend.tls]` (modes and files) to new connections (SIGHUP);
    /// sessions already running keep what they started with. All or
    /// nothing: when a file cannot be read, everything in use stays.
    /// Other keys (and the engine's own connections) need a restart.
    pub fn reload(&self, new: &Config) -> Result<(), ReloadError> {
        let built = crate::tls::Contexts::build(new).map_err(ReloadError::from);
        let key = built.and_then(|tls| {
            // Read before anything is swapped; stored only if all is good.
            let key = match &new.listen.rsa_key {
                Some(p) => Some(crate::password_key::PasswordKey::load(p)?),
                None => None,
            };
            Ok((tls, key))
        });
        match key {
            Ok((tls, key)) => {
                self.shared.tls.store(Arc::new(tls));
                self.shared.password_keys.set(key);
                self.shared.prepare_password_key();
                info!(
                    listen = ?new.listen.tls.mode,
                    backend = ?new.backend.tls.mode,
                    "TLS settings reloaded (new connections use them)"
                );
                Ok(())
            }
            Err(e) => {
                warn!(error = %e, "TLS settings not reloaded: the ones in use stay");
                Err(e)
            }
        }
    }

    /// The cut-over gates (for tests and embedding applications).
    pub fn gates(&self) -> &crate::gate::Gates {
        &self.shared.gates
    }

    /// Client sessions running now.
    pub fn open_sessions(&self) -> usize {
        self.shared
            .open_sessions
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Session tasks that panicked so far (0 unless ghostwire has a bug).
    pub fn session_panics(&self) -> usize {
        self.shared
            .session_panics
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Graceful shutdown: stop accepting, let sessions finish their command
    /// and open transaction (up to `shutdown_timeout_ms`), then close the
    /// rest with ERR 1053.
    pub async fn shutdown(self) {
        self.shared.drain.cancel();
        // Running migrations are cancelled (their tables left unchanged), so
        // clients waiting for them get an answer instead of blocking the drain.
        self.shared.migrations.shutdown().await;
        self.tasks.close();
        let timeout = self.shared.config.shutdown_timeout();
        if tokio::time::timeout(timeout, self.tasks.wait())
            .await
            .is_err()
        {
            warn!(
                sessions = self.tasks.len(),
                "shutdown timeout: closing remaining sessions"
            );
            self.shared.kill.cancel();
            // Sessions in the middle of a command get a moment to notice.
            let _ = tokio::time::timeout(Duration::from_secs(2), self.tasks.wait()).await;
        }
        self.stop_metrics.cancel();
        info!("ghostwire stopped");
    }
}

/// Why a reload was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("{0}")]
    PasswordKey(#[from] crate::password_key::KeyError),
}

/// Serves until SIGTERM or SIGINT, then shuts down gracefully. SIGHUP reads
/// the configuration file again (`reload`: its TLS settings), or, without a
/// file, the TLS files of the configuration in use.
pub async fn run(config: Config, path: Option<std::path::PathBuf>) -> Result<(), AppError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(AppError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(AppError::Signal)?;
    let mut hup = signal(SignalKind::hangup()).map_err(AppError::Signal)?;
    let proxy = Proxy::start(config).await?;
    loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { info!("SIGINT: shutting down"); break; }
            // The outcome is logged by reload.
            _ = hup.recv() => { let _ = reload_from(&proxy, path.as_deref()); }
        }
    }
    proxy.shutdown().await;
    Ok(())
}

/// SIGHUP: the configuration file again, validated as at start (and with the
/// same environment overrides), then its TLS settings applied.
fn reload_from(proxy: &Proxy, path: Option<&std::path::Path>) -> Result<(), ReloadError> {
    let Some(path) = path else {
        return proxy.reload_tls();
    };
    match Config::load(path, &|k| std::env::var(k).ok()) {
        Ok(new) => {
            if other_keys_differ(&proxy.shared.config, &new) {
                warn!(
                    "SIGHUP: keys other than [listen.tls], [listen] rsa_key and [backend.tls] \
                     differ from the running configuration: restart ghostwire to apply them"
                );
            }
            proxy.reload(&new)
        }
        Err(e) => {
            warn!(error = %e, "SIGHUP: configuration not reloaded: the TLS settings in use stay");
            Err(e.into())
        }
    }
}

/// Whether `new` changes anything a reload does not apply.
fn other_keys_differ(running: &Config, new: &Config) -> bool {
    let rest = |c: &Config| {
        let mut c = c.clone();
        c.listen.tls = Default::default();
        c.listen.rsa_key = None;
        c.backend.tls = Default::default();
        c.to_masked_toml()
    };
    rest(running) != rest(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_tells_which_changes_it_leaves_for_a_restart() {
        let running = Config::default();
        let mut new = running.clone();
        new.listen.tls.mode = crate::config::ListenTlsMode::Required;
        new.backend.tls.mode = crate::config::BackendTlsMode::Required;
        new.listen.rsa_key = Some("k.pem".into());
        assert!(!other_keys_differ(&running, &new), "TLS keys are reloaded");
        new.listen.max_connections += 1;
        assert!(other_keys_differ(&running, &new));
    }
}
