//! Accept loop: connection limits, one task per session.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::{error, warn};

use super::preauth::Authenticating;
use super::{session, Shared};
use crate::metrics;
use crate::protocol::errors;

/// Pause after a failed accept (typically EMFILE: out of file descriptors).
/// The pending connection stays in the backlog, so retrying at once would
/// spin; a short pause lets sessions end and give descriptors back.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts clients until soft shutdown, spawning sessions on `tasks`.
pub async fn run(listener: TcpListener, shared: Arc<Shared>, tasks: TaskTracker) {
    let listen = &shared.config.listen;
    let slots = Arc::new(Semaphore::new(listen.max_connections));
    let logging_in = Authenticating::new(
        listen.max_unauthenticated,
        shared.config.handshake_timeout(),
    );
    let m = metrics::handles();
    let mut failing = false;
    loop {
        let accepted = tokio::select! {
            _ = shared.drain.cancelled() => return,
            a = listener.accept() => a,
        };
        let sock = match accepted {
            Ok((sock, _)) => {
                failing = false;
                sock
            }
            Err(e) => {
                m.accept_errors.increment(1);
                // Once per run of failures: the log must not flood either.
                if !failing {
                    warn!(error = %e, "accept failed; backing off (counted in ghostwire_accept_errors_total)");
                }
                failing = true;
                tokio::select! {
                    _ = shared.drain.cancelled() => return,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let shared = shared.clone();
                let ticket = logging_in.admit();
                tasks.spawn(async move {
                    // A panic is a bug, never an answer to input: the
                    // session's guards have cleaned up while unwinding;
                    // here it is counted and logged, and the slot freed.
                    let session =
                        std::panic::AssertUnwindSafe(session::run(sock, shared.clone(), ticket));
                    if let Err(panic) = session.catch_unwind().await {
                        shared
                            .session_panics
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        metrics::handles().session_panics.increment(1);
                        error!(
                            panic = panic_message(&*panic),
                            "session task panicked (a bug): connection closed"
                        );
                    }
                    drop(permit);
                });
            }
            Err(_) => {
                m.rejected_max_connections.increment(1);
                tasks.spawn(reject(sock));
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(|s| s.as_str()))
        .unwrap_or("(not a string)")
}

/// Answers a connection over the limit the way MySQL does: an ERR instead
/// of the greeting.
async fn reject(mut sock: TcpStream) {
    let frame = errors::too_many_connections().frame(0);
    let _ = tokio::time::timeout(Duration::from_secs(1), sock.write_all(&frame)).await;
}
