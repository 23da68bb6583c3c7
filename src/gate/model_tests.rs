//! A randomized model of the gate: many sessions (autocommit statements and
//! multi-statement transactions, some on the watched table) against an
//! engine that keeps closing, draining, "renaming" and opening the gate,
//! under paused time so every run explores a different interleaving
//! quickly. Checked: nothing runs on the table while it is closed, every
//! statement is either run or refused (none lost), no transaction that
//! touched the table is ever held (no deadlock), and no slot leaks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{Claims, GateError, Gates};

/// Small deterministic generator (no extra dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[derive(Default)]
struct Tally {
    issued: AtomicUsize,
    run: AtomicUsize,
    refused: AtomicUsize,
    /// Statements on the table executing now.
    executing: AtomicUsize,
    /// Set while the engine holds the table "locked".
    locked: AtomicUsize,
    violations: AtomicUsize,
}

async fn session(gates: Gates, conn: u32, seed: u64, tally: Arc<Tally>) {
    let mut rng = Rng(seed);
    let mut claims = Claims::default();
    for _ in 0..20 {
        let in_tx = rng.next(3) == 0;
        let statements = if in_tx { 1 + rng.next(4) } else { 1 };
        for _ in 0..statements {
            let on_table = rng.next(2) == 0;
            let sql: &[u8] = if on_table {
                b"UPDATE orders SET x = 1"
            } else {
                b"SELECT 1"
            };
            tally.issued.fetch_add(1, Ordering::SeqCst);
            let touched = gates.mentioned(sql);
            let held_before = !claims.is_empty();
            match gates.admit(conn, &mut claims, touched, |_| true).await {
                Ok(()) => {
                    if on_table {
                        tally.executing.fetch_add(1, Ordering::SeqCst);
                        if tally.locked.load(Ordering::SeqCst) > 0 {
                            tally.violations.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(rng.next(5))).await;
                    if on_table {
                        tally.executing.fetch_sub(1, Ordering::SeqCst);
                    }
                    tally.run.fetch_add(1, Ordering::SeqCst);
                }
                Err(GateError::Full { .. } | GateError::Timeout { .. }) => {
                    // A transaction that had claimed the table is never held.
                    if held_before && on_table {
                        tally.violations.fetch_add(1, Ordering::SeqCst);
                    }
                    tally.refused.fetch_add(1, Ordering::SeqCst);
                }
            }
            if !in_tx {
                claims.release_all(conn);
            }
        }
        // Commit: the transaction's claims end.
        tokio::time::sleep(Duration::from_millis(rng.next(20))).await;
        claims.release_all(conn);
        tokio::time::sleep(Duration::from_millis(rng.next(10))).await;
    }
}

async fn engine(gates: Gates, seed: u64, tally: Arc<Tally>, stop: Arc<AtomicUsize>) -> (u32, u32) {
    let mut rng = Rng(seed ^ 0xABCD);
    let watched = gates.watch("shop", "orders");
    let (mut done, mut aborted) = (0, 0);
    while stop.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(rng.next(30))).await;
        watched.gate.close();
        match watched.gate.drain(Duration::from_millis(15)).await {
            Ok(()) => {
                tally.locked.fetch_add(1, Ordering::SeqCst);
                if tally.executing.load(Ordering::SeqCst) > 0 {
                    tally.violations.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(rng.next(8))).await;
                if tally.executing.load(Ordering::SeqCst) > 0 {
                    tally.violations.fetch_add(1, Ordering::SeqCst);
                }
                tally.locked.fetch_sub(1, Ordering::SeqCst);
                done += 1;
            }
            Err(_) => aborted += 1,
        }
        watched.gate.open();
    }
    (done, aborted)
}

#[test]
fn gate_invariants_hold_under_random_interleavings() {
    let mut total_done = 0;
    for seed in 0..150u64 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let (tally, gates, done) = rt.block_on(async move {
            let gates = Gates::new(true, 6, Duration::from_millis(40));
            let tally = Arc::new(Tally::default());
            let stop = Arc::new(AtomicUsize::new(0));
            let eng = tokio::spawn(engine(gates.clone(), seed, tally.clone(), stop.clone()));
            // Let the engine watch the table first.
            tokio::task::yield_now().await;
            let sessions: Vec<_> = (0..12)
                .map(|c| {
                    tokio::spawn(session(
                        gates.clone(),
                        c,
                        seed * 100 + c as u64,
                        tally.clone(),
                    ))
                })
                .collect();
            for s in sessions {
                tokio::time::timeout(Duration::from_secs(60), s)
                    .await
                    .expect("a session never finished (deadlock)")
                    .unwrap();
            }
            stop.store(1, Ordering::SeqCst);
            let (done, _aborted) = eng.await.unwrap();
            (tally, gates, done)
        });
        total_done += done;
        let t = &tally;
        assert_eq!(t.violations.load(Ordering::SeqCst), 0, "seed {seed}");
        assert_eq!(
            t.issued.load(Ordering::SeqCst),
            t.run.load(Ordering::SeqCst) + t.refused.load(Ordering::SeqCst),
            "seed {seed}: a statement was lost"
        );
        assert_eq!(gates.held(), 0, "seed {seed}: a slot leaked");
    }
    assert!(total_done > 0, "some cut-overs must succeed");
}
