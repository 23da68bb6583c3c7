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
    /// Client-side TLS (`[listen.tls]`), when not off; replaced whole by a
    /// certificate reload (SIGHUP), so a handshake uses one or the other.
    pub(crate) tls_acceptor: arc_swap::ArcSwapOption<tokio_rustls::TlsAcceptor>,
    /// Backend-side TLS (`[backend.tls]`), when not off.
    pub(crate) backend_tls: Option<crate::tls::Backend>,
}
