//! Cut-over gates: hold new statements on a table in the proxy while its
//! migration locks and renames it, instead of letting them pile up on the
//! server's metadata locks.
//!
//! A table is *watched* for the whole migration. While any table is
//! watched, sessions look for its name in their statements (a word search,
//! no parse) and *claim* the table for their current transaction (or their
//! single autocommit statement); the claim ends when the server reports the
//! session outside a transaction. A gate is open, closing or closed:
//!
//! - open: statements flow; claims are taken;
//! - closing: sessions holding a claim go on (holding them would deadlock:
//!   the cut-over waits for their transaction, their transaction would wait
//!   for the gate); any other statement on the table waits in the proxy.
//!   The engine waits until no claim is left (the drain), bounded;
//! - closed: drained; the engine locks and renames. Then it opens the gate
//!   and the held statements go to the server, in order per session.
//!
//! With nothing watched, a session's cost is one atomic load.
//! `gate` never imports `migration`: the engine drives gates through
//! [`Gates`].

#[cfg(test)]
mod model_tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::protocol::packets::ErrPacket;

const OPEN: u8 = 0;
const CLOSING: u8 = 1;
const CLOSED: u8 = 2;

/// One watched table.
pub struct Gate {
    pub schema: String,
    pub table: String,
    /// Lower-cased table name, for the word search.
    needle: Vec<u8>,
    state: AtomicU8,
    /// Opened after each cut-over attempt; held statements wait on it.
    opened: watch::Sender<u64>,
    /// Connection id → number of claims (a session claims at most once).
    claims: Mutex<BTreeMap<u32, usize>>,
    /// Signalled whenever a claim ends.
    released: tokio::sync::Notify,
}

impl Gate {
    fn new(schema: &str, table: &str) -> Gate {
        Gate {
            schema: schema.to_string(),
            table: table.to_string(),
            needle: table.to_ascii_lowercase().into_bytes(),
            state: AtomicU8::new(OPEN),
            opened: watch::channel(0).0,
            claims: Mutex::default(),
            released: tokio::sync::Notify::new(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.state.load(Ordering::SeqCst) == OPEN
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, usize>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a claim unless the gate is closing or closed. The claim is
    /// registered before the state is read (and the engine sets the state
    /// before counting claims), so one of the two always sees the other.
    fn try_claim(&self, conn: u32) -> bool {
        *self.claims().entry(conn).or_default() += 1;
        if self.is_open() {
            return true;
        }
        self.release(conn);
        false
    }

    fn release(&self, conn: u32) {
        let mut claims = self.claims();
        if let Some(n) = claims.get_mut(&conn) {
            *n -= 1;
            if *n == 0 {
                claims.remove(&conn);
            }
        }
        drop(claims);
        self.released.notify_waiters();
    }

    /// Starts a cut-over attempt: new statements on the table wait.
    pub fn close(&self) {
        self.state.store(CLOSING, Ordering::SeqCst);
        metrics::counter!(crate::metrics::GATE_CLOSURES).increment(1);
    }

    /// Waits until no session holds a claim; on timeout, returns the
    /// connection ids that still do.
    pub async fn drain(&self, timeout: Duration) -> Result<(), Vec<u32>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let released = self.released.notified();
            let holders: Vec<u32> = self.claims().keys().copied().collect();
            if holders.is_empty() {
                self.state.store(CLOSED, Ordering::SeqCst);
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(holders);
            }
        }
    }

    /// Ends a cut-over attempt: held statements go on.
    pub fn open(&self) {
        self.state.store(OPEN, Ordering::SeqCst);
        self.opened.send_modify(|n| *n += 1);
    }

    /// Whether `sql` names this table as a whole word (any case).
    fn mentioned_in(&self, sql: &[u8]) -> bool {
        crate::sql::tables::mentions_word(sql, &self.needle)
    }
}

/// All gates, shared by sessions and the migration engine.
#[derive(Clone)]
pub struct Gates {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    /// Watched tables; replaced as a whole (rarely), read lock-free.
    watched: ArcSwap<Vec<Arc<Gate>>>,
    /// `watched.len()`, for the one-load idle check on the hot path.
    count: AtomicUsize,
    /// Statements held now, across all gates.
    held: AtomicUsize,
    /// Statements ever held.
    held_total: AtomicUsize,
    max_held: usize,
    max_wait: Duration,
    lock: Mutex<()>,
}

impl Gates {
    pub fn new(enabled: bool, max_held: usize, max_wait: Duration) -> Gates {
        Gates {
            inner: Arc::new(Inner {
                enabled,
                watched: ArcSwap::from_pointee(Vec::new()),
                count: AtomicUsize::new(0),
                held: AtomicUsize::new(0),
                held_total: AtomicUsize::new(0),
                max_held,
                max_wait,
                lock: Mutex::new(()),
            }),
        }
    }

    /// True when no table is watched: sessions skip every gate check.
    #[inline]
    pub fn idle(&self) -> bool {
        self.inner.count.load(Ordering::Relaxed) == 0
    }

    /// Starts watching a table for a migration; stops when the guard drops.
    /// With gates disabled the gate exists but nobody claims or waits.
    pub fn watch(&self, schema: &str, table: &str) -> Watched {
        let gate = Arc::new(Gate::new(schema, table));
        if self.inner.enabled {
            let _l = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut list = Vec::clone(&self.inner.watched.load());
            list.push(gate.clone());
            self.inner.count.store(list.len(), Ordering::SeqCst);
            self.inner.watched.store(Arc::new(list));
        }
        Watched {
            gates: self.clone(),
            gate,
        }
    }

    fn unwatch(&self, gate: &Arc<Gate>) {
        let _l = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = Vec::clone(&self.inner.watched.load());
        list.retain(|g| !Arc::ptr_eq(g, gate));
        self.inner.count.store(list.len(), Ordering::SeqCst);
        self.inner.watched.store(Arc::new(list));
        gate.open();
    }

    /// Watched tables whose name `sql` mentions.
    pub fn mentioned(&self, sql: &[u8]) -> Vec<Arc<Gate>> {
        self.inner
            .watched
            .load()
            .iter()
            .filter(|g| g.mentioned_in(sql))
            .cloned()
            .collect()
    }
}

/// A table watched for the life of a migration.
pub struct Watched {
    gates: Gates,
    pub gate: Arc<Gate>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        if self.gates.inner.enabled {
            self.gates.unwatch(&self.gate);
        }
    }
}

/// The gates a session's current transaction holds claims on. Released
/// when the transaction ends or the session goes.
#[derive(Default)]
pub struct Claims {
    held: Vec<Arc<Gate>>,
}

impl Claims {
    pub fn holds(&self, gate: &Arc<Gate>) -> bool {
        self.held.iter().any(|g| Arc::ptr_eq(g, gate))
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Releases every claim (the transaction ended).
    pub fn release_all(&mut self, conn: u32) {
        for g in self.held.drain(..) {
            g.release(conn);
        }
    }
}

/// Why a statement could not wait for a gate.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("gate full")]
    Full { table: String, held: usize },
    #[error("waited too long")]
    Timeout { table: String, waited: Duration },
}

impl GateError {
    /// ERR 1205 (HY000), as the server answers a lock wait that ran out.
    pub fn to_packet(&self) -> ErrPacket {
        let msg = match self {
            GateError::Full { table, held } => format!(
                "ghostwire: table {table} is being cut over and {held} statements are already held; retry"
            ),
            GateError::Timeout { table, waited } => format!(
                "ghostwire: table {table} is being cut over; statement held for {} ms — retry",
                waited.as_millis()
            ),
        };
        crate::protocol::errors::gate_wait_timeout(msg)
    }
}

impl Gates {
    /// Admits a statement that mentions `touched` for connection `conn`:
    /// claims open gates, passes gates this transaction already claimed,
    /// and waits (bounded) for the others to open. `confirm` says whether
    /// the statement really uses a table (a parse); it runs only when a
    /// gate is not open.
    pub async fn admit(
        &self,
        conn: u32,
        claims: &mut Claims,
        touched: Vec<Arc<Gate>>,
        confirm: impl Fn(&Gate) -> bool,
    ) -> Result<(), GateError> {
        for gate in touched {
            if claims.holds(&gate) {
                continue;
            }
            let started = Instant::now();
            let mut waited = false;
            loop {
                if gate.try_claim(conn) {
                    claims.held.push(gate.clone());
                    break;
                }
                if !waited && !confirm(&gate) {
                    break;
                }
                waited = true;
                self.hold(&gate, started).await?;
            }
            if waited {
                metrics::histogram!(crate::metrics::GATE_HOLD_SECONDS)
                    .record(started.elapsed().as_secs_f64());
            }
        }
        Ok(())
    }

    /// Waits for `gate` to open, within the slot and time bounds.
    async fn hold(&self, gate: &Gate, started: Instant) -> Result<(), GateError> {
        let name = format!("{}.{}", gate.schema, gate.table);
        let slot = Slot::take(self).ok_or_else(|| GateError::Full {
            table: name.clone(),
            held: self.inner.max_held,
        })?;
        let mut opened = gate.opened.subscribe();
        let left = self.inner.max_wait.saturating_sub(started.elapsed());
        let r = tokio::time::timeout(left, async {
            while !gate.is_open() {
                if opened.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        drop(slot);
        r.map_err(|_| GateError::Timeout {
            table: name,
            waited: started.elapsed(),
        })
    }
}

/// One held statement's place in `max_held`; freed when dropped (also when
/// a held client disconnects and its session future is dropped).
struct Slot<'a>(&'a Gates);

impl<'a> Slot<'a> {
    fn take(gates: &'a Gates) -> Option<Slot<'a>> {
        let inner = &gates.inner;
        let mut now = inner.held.load(Ordering::SeqCst);
        loop {
            if now >= inner.max_held {
                return None;
            }
            match inner
                .held
                .compare_exchange(now, now + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    inner.held_total.fetch_add(1, Ordering::Relaxed);
                    metrics::gauge!(crate::metrics::GATE_HELD).increment(1.0);
                    return Some(Slot(gates));
                }
                Err(actual) => now = actual,
            }
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.inner.held.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!(crate::metrics::GATE_HELD).decrement(1.0);
    }
}

impl Gates {
    /// Statements held now (tests check slots are freed).
    pub fn held(&self) -> usize {
        self.inner.held.load(Ordering::SeqCst)
    }

    /// Statements held so far.
    pub fn held_total(&self) -> usize {
        self.inner.held_total.load(Ordering::Relaxed)
    }

    /// Whether some watched table's gate is closing or closed now.
    pub fn any_closed(&self) -> bool {
        self.inner.watched.load().iter().any(|g| !g.is_open())
    }
}
