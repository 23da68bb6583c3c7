//! Connections still logging in: bounded in number (`max_unauthenticated`),
//! in time (`handshake_timeout_ms`) and in what they may send
//! ([`MAX_PREAUTH_PACKET`]).
//!
//! When a new connection would go over `max_unauthenticated`, the one that
//! has been logging in the longest is closed, not the newcomer: a legitimate
//! client logs in within milliseconds, so under a flood of half-open
//! connections it gets in as long as fewer than `max_unauthenticated` new
//! connections arrive during its own login. Refusing the newcomer instead
//! would lock every legitimate client out for as long as the flood lasts.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics;

/// Largest packet a client may send before it is authenticated. A login
/// packet is a few hundred bytes; the biggest legitimate one carries
/// connection attributes, which the server itself refuses over 64 KiB.
/// With room for every other field at its largest (user, database, plugin
/// name, an RSA-encrypted password: well under 8 KiB together) this bounds
/// what one unauthenticated connection makes ghostwire buffer.
pub(crate) const MAX_PREAUTH_PACKET: usize = 64 * 1024 + 8 * 1024;

/// The connections logging in now, oldest first.
pub(crate) struct Authenticating {
    max: usize,
    timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next: u64,
    pending: BTreeMap<u64, CancellationToken>,
}

/// One connection's place among those logging in; gives it up when dropped
/// (login done, or the session ended however it ended).
pub(crate) struct Ticket {
    registry: Arc<Authenticating>,
    id: u64,
    /// Cancelled when a newer connection needs the place.
    pub(crate) evicted: CancellationToken,
    /// When the login must be done.
    pub(crate) deadline: Instant,
    /// Sequence id an ERR to the client would carry now (followed through
    /// the login exchange, so the client reads the ERR as an answer).
    pub(crate) seq: Arc<AtomicU8>,
}

impl Authenticating {
    pub(crate) fn new(max: usize, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            max,
            timeout,
            state: Mutex::default(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a new connection, closing the oldest one logging in when
    /// all places are taken.
    pub(crate) fn admit(self: &Arc<Self>) -> Ticket {
        let evicted = CancellationToken::new();
        let mut state = self.state();
        while state.pending.len() >= self.max {
            match state.pending.pop_first() {
                Some((_, oldest)) => oldest.cancel(),
                None => break,
            }
        }
        let id = state.next;
        state.next += 1;
        state.pending.insert(id, evicted.clone());
        metrics::handles()
            .unauthenticated
            .set(state.pending.len() as f64);
        drop(state);
        Ticket {
            registry: self.clone(),
            id,
            evicted,
            deadline: Instant::now() + self.timeout,
            seq: Arc::new(AtomicU8::new(0)),
        }
    }

    /// Connections logging in now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state().pending.len()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.registry.state();
        state.pending.remove(&self.id);
        metrics::handles()
            .unauthenticated
            .set(state.pending.len() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn oldest_is_evicted_and_places_are_given_back() {
        let reg = Authenticating::new(2, Duration::from_secs(1));
        let a = reg.admit();
        let b = reg.admit();
        assert_eq!(reg.len(), 2);
        let c = reg.admit();
        assert!(a.evicted.is_cancelled(), "the oldest makes room");
        assert!(!b.evicted.is_cancelled() && !c.evicted.is_cancelled());
        assert_eq!(reg.len(), 2);
        drop(a);
        assert_eq!(reg.len(), 2, "an evicted ticket had no place left");
        drop(b);
        assert_eq!(reg.len(), 1);
        // A ticket dropped while its task unwinds gives its place back too.
        let reg2 = reg.clone();
        let r = tokio::spawn(async move {
            let _t = reg2.admit();
            panic!("boom");
        })
        .await;
        assert!(r.unwrap_err().is_panic());
        assert_eq!(reg.len(), 1);
        drop(c);
        assert_eq!(reg.len(), 0);
    }
}
