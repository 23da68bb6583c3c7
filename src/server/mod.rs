//! Client-facing side: accept loop and per-client sessions.

pub mod io;
pub mod listener;
pub(crate) mod preauth;
pub mod session;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// What every session shares.
pub struct Shared {
    pub config: Arc<Config>,
    /// Soft shutdown: stop accepting; sessions close once outside a transaction.
    pub drain: CancellationToken,
    /// Hard shutdown: sessions close now, even inside a transaction.
    pub kill: CancellationToken,
    /// Sessions running now (tests check that none leak).
    pub open_sessions: AtomicUsize,
    /// Session tasks that panicked (a bug; tests check there are none).
    pub session_panics: AtomicUsize,
    /// The online migration engine.
    pub migrations: crate::migration::Handle,
    /// Cut-over gates (shared with the engine).
    pub gates: crate::gate::Gates,
    /// TLS on both sides (`[listen.tls]`, `[backend.tls]`), replaced whole
    /// by a reload (SIGHUP): a connection takes one snapshot at its start
    /// and keeps it.
    pub(crate) tls: arc_swap::ArcSwap<crate::tls::Contexts>,
    /// The RSA key for plain-text clients' passwords (see `password_key`).
    pub(crate) password_keys: crate::password_key::Keys,
}

impl Shared {
    /// With `[backend.tls]` on and no `[listen] rsa_key`: generates the
    /// password key in the background now, so no login waits for it.
    pub(crate) fn prepare_password_key(self: &std::sync::Arc<Self>) {
        if self.tls.load().backend.is_none() || self.password_keys.has_file_key() {
            return;
        }
        let shared = self.clone();
        tokio::spawn(async move {
            if let Err(e) = shared.password_keys.get().await {
                tracing::error!(error = %e, "cannot make the RSA key for plain-text clients' passwords");
            }
        });
    }
}
