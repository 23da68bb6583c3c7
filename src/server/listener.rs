//! Accept loop: connection limit, one task per session.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::warn;

use super::{session, Shared};
use crate::metrics;
use crate::protocol::packets::errors;

/// Accepts clients until soft shutdown, spawning sessions on `tasks`.
pub async fn run(listener: TcpListener, shared: Arc<Shared>, tasks: TaskTracker) {
    let slots = Arc::new(Semaphore::new(shared.config.listen.max_connections));
    loop {
        let accepted = tokio::select! {
            _ = shared.drain.cancelled() => return,
            a = listener.accept() => a,
        };
        let sock = match accepted {
            Ok((sock, _)) => sock,
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let shared = shared.clone();
                tasks.spawn(async move {
                    session::run(sock, shared).await;
                    drop(permit);
                });
            }
            Err(_) => {
                metrics::handles().rejected_max_connections.increment(1);
                tasks.spawn(reject(sock));
            }
        }
    }
}

/// Answers a connection over the limit the way MySQL does: an ERR instead
/// of the greeting.
async fn reject(mut sock: TcpStream) {
    let frame = errors::too_many_connections().frame(0);
    let _ = tokio::time::timeout(Duration::from_secs(1), sock.write_all(&frame)).await;
}
