//! What an operator (or the throttler) can do to one running migration:
//! cancel it, pause and resume it, throttle it, release a postponed one.
//!
//! A [`Control`] lives as long as its migration runs in this process; the
//! runner's loops ask it before each step (`admit` before a copy chunk,
//! `unpaused` before a replay batch or a lock attempt) and stop at once
//! when it is cancelled. Changes are published on a watch channel, so a
//! waiting loop wakes the moment a command arrives.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{MigrationError, Result};

/// The operator's throttle setting; it overrides the automatic throttler.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Manual {
    /// The automatic throttler decides.
    Auto,
    /// `THROTTLE [RATIO r]`: the copy works `1 - r` of the time.
    Throttle(f64),
    /// `UNTHROTTLE`: never throttled, whatever the throttler says.
    Unthrottle,
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub paused: bool,
    pub manual: Manual,
    /// Why the automatic throttler holds the copy, when it does.
    pub auto: Option<String>,
    /// The automatic throttler has held the copy once: from then on only
    /// one copy worker runs (see `admit`).
    pub narrowed: bool,
    /// `ALTER MIGRATION … COMPLETE` arrived (a postponed migration may cut over).
    pub released: bool,
}

pub struct Control {
    cancel: CancellationToken,
    /// Who cancelled, and whether the cut-over let its RENAME through:
    /// one lock, so a CANCEL or PAUSE and the point of no return never
    /// cross (see `commit`).
    decided: Mutex<Decided>,
    state: watch::Sender<State>,
}

#[derive(Default)]
struct Decided {
    cancelled_by: Option<String>,
    committed: bool,
}

/// Why the cut-over must not let its RENAME through (`commit`).
#[derive(Debug, PartialEq, Eq)]
pub enum Held {
    Cancelled,
    Paused,
}

impl Control {
    /// A control whose cancellation also follows `stop` (the engine's shutdown).
    pub fn new(stop: &CancellationToken) -> Control {
        Control {
            cancel: stop.child_token(),
            decided: Mutex::default(),
            state: watch::Sender::new(State {
                paused: false,
                manual: Manual::Auto,
                auto: None,
                narrowed: false,
                released: false,
            }),
        }
    }

    pub fn token(&self) -> &CancellationToken {
        &self.cancel
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn decided(&self) -> std::sync::MutexGuard<'_, Decided> {
        self.decided.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cancels the migration on behalf of `by` (a user, for the message).
    /// False, and nothing done, once the cut-over has let its RENAME
    /// through (`commit`): too late, the migration completes.
    pub fn cancel(&self, by: &str) -> bool {
        let mut d = self.decided();
        if d.committed {
            return false;
        }
        d.cancelled_by.get_or_insert_with(|| by.to_string());
        self.cancel.cancel();
        true
    }

    /// Stops the migration in this process without ending it: another
    /// instance may resume it (the instance lock is lost).
    pub fn hand_over(&self) {
        self.cancel.cancel();
    }

    /// Who cancelled it with `ALTER MIGRATION … CANCEL` (none: shutdown,
    /// or handed over).
    pub fn cancelled_by(&self) -> Option<String> {
        self.decided().cancelled_by.clone()
    }

    /// The cut-over's point of no return, called with the RENAME queued
    /// behind the table lock, before it is let through. A CANCEL or PAUSE
    /// that came first wins: the attempt then stops the RENAME (the table
    /// stays as it is). After this, CANCEL is refused and PAUSE has no
    /// effect.
    pub fn commit(&self) -> std::result::Result<(), Held> {
        let mut d = self.decided();
        if self.cancel.is_cancelled() {
            return Err(Held::Cancelled);
        }
        if self.state.borrow().paused {
            return Err(Held::Paused);
        }
        d.committed = true;
        Ok(())
    }

    /// PAUSE: false, and nothing done, once the cut-over has let its
    /// RENAME through.
    pub fn pause(&self) -> bool {
        let d = self.decided();
        if d.committed {
            return false;
        }
        self.set_paused(true);
        true
    }

    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    pub fn set_paused(&self, paused: bool) {
        self.state.send_modify(|s| s.paused = paused);
    }

    pub fn set_manual(&self, manual: Manual) {
        self.state.send_modify(|s| s.manual = manual);
    }

    /// The automatic throttler's verdict (`None`: go). Its first hold also
    /// narrows the copy to one worker for good (see `admit`).
    pub fn set_auto(&self, reason: Option<String>) {
        self.state.send_if_modified(|s| {
            let mut changed = s.auto != reason;
            if reason.is_some() && !s.narrowed {
                s.narrowed = true;
                changed = true;
            }
            s.auto = reason;
            changed
        });
    }

    pub fn release(&self) {
        self.state.send_modify(|s| s.released = true);
    }

    /// The throttle in force: the share of time the copy rests (1: stopped)
    /// and why.
    pub fn throttle(&self) -> Option<(f64, String)> {
        throttle_of(&self.state.borrow())
    }

    /// Waits until copy worker `worker` (0, 1, …) may run its next chunk:
    /// not paused, not fully throttled, and once the automatic throttler
    /// has held the copy (`narrowed`), only worker 0 unless the operator
    /// said UNTHROTTLE. Why: the throttler holds because the copy's writes
    /// hurt the application, and on released they would hurt again at once
    /// at full width (`bench/migration.sh` on 2 cores, latency throttle on,
    /// 3 runs each: the copy went from 0.41× to 0.66× the speed of the run
    /// without the throttle, the load's worst latency stayed 7–12 ms).
    pub async fn admit(&self, worker: usize) -> Result<()> {
        self.wait_until(|s| admitted(s, worker)).await
    }

    /// After a chunk that took `took`: under a partial throttle, rests so
    /// that the copy works `1 - ratio` of the time; under a hold, waits.
    pub async fn rest(&self, took: Duration) -> Result<()> {
        let Some((ratio, _)) = self.throttle() else {
            return Ok(());
        };
        if ratio >= 1.0 {
            return self.admit(0).await;
        }
        let rest = took
            .mul_f64(ratio / (1.0 - ratio))
            .min(Duration::from_secs(60));
        tokio::select! {
            _ = tokio::time::sleep(rest) => Ok(()),
            _ = self.cancel.cancelled() => Err(MigrationError::Cancelled),
        }
    }

    /// Waits while the migration is paused (replay, catch-up, lock attempts).
    pub async fn unpaused(&self) -> Result<()> {
        self.wait_until(|s| !s.paused).await
    }

    /// Waits for `ALTER MIGRATION … COMPLETE`.
    pub async fn released(&self) -> Result<()> {
        self.wait_until(|s| s.released).await
    }

    async fn wait_until(&self, ok: impl Fn(&State) -> bool) -> Result<()> {
        let mut rx = self.state.subscribe();
        loop {
            if self.cancel.is_cancelled() {
                return Err(MigrationError::Cancelled);
            }
            if ok(&rx.borrow_and_update()) {
                return Ok(());
            }
            tokio::select! {
                r = rx.changed() => r.map_err(|_| MigrationError::Cancelled)?,
                _ = self.cancel.cancelled() => return Err(MigrationError::Cancelled),
            }
        }
    }
}

/// Only one copy worker runs: the throttler held the copy once, and the
/// operator did not say UNTHROTTLE.
fn narrowed(s: &State) -> bool {
    s.narrowed && s.manual != Manual::Unthrottle
}

/// Copy worker `worker` may take its next chunk (see `Control::admit`).
fn admitted(s: &State, worker: usize) -> bool {
    !s.paused
        && throttle_of(s).is_none_or(|(ratio, _)| ratio < 1.0)
        && (worker == 0 || !narrowed(s))
}

/// The throttle in force. A hold of the automatic throttler (a replica
/// behind, the primary loaded) wins over a partial operator throttle, which
/// can only slow the copy further; only UNTHROTTLE overrides it.
fn throttle_of(s: &State) -> Option<(f64, String)> {
    match (s.manual, &s.auto) {
        (Manual::Unthrottle, _) => None,
        (_, Some(reason)) => Some((1.0, reason.clone())),
        (Manual::Throttle(r), None) if r > 0.0 => {
            Some((r, "ALTER MIGRATION … THROTTLE".to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admit_waits_for_resume_and_cancel_ends_the_wait() {
        let stop = CancellationToken::new();
        let c = std::sync::Arc::new(Control::new(&stop));
        c.set_paused(true);
        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.admit(0).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        c.set_paused(false);
        assert!(waiter.await.unwrap().is_ok());

        c.set_manual(Manual::Throttle(1.0));
        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.admit(0).await }
        });
        c.cancel("someone");
        assert!(matches!(
            waiter.await.unwrap(),
            Err(MigrationError::Cancelled)
        ));
        assert_eq!(c.cancelled_by().as_deref(), Some("someone"));
    }

    #[test]
    fn cancel_and_pause_before_the_point_of_no_return_only() {
        let stop = CancellationToken::new();
        let c = Control::new(&stop);
        assert!(c.pause());
        assert_eq!(c.commit(), Err(Held::Paused));
        c.set_paused(false);
        assert_eq!(c.commit(), Ok(()));
        assert!(!c.cancel("u"), "too late once committed");
        assert!(!c.pause());
        assert!(!c.is_cancelled());
        let c = Control::new(&stop);
        assert!(c.cancel("u"));
        assert_eq!(c.commit(), Err(Held::Cancelled));
        assert_eq!(c.cancelled_by().as_deref(), Some("u"));
    }

    #[test]
    fn the_operator_overrides_the_throttler() {
        let c = Control::new(&CancellationToken::new());
        c.set_auto(Some("replica lag".into()));
        assert_eq!(c.throttle().map(|t| t.1).as_deref(), Some("replica lag"));
        c.set_manual(Manual::Unthrottle);
        assert!(c.throttle().is_none());
        c.set_manual(Manual::Throttle(0.5));
        // A partial operator throttle does not lift the throttler's hold.
        assert_eq!(c.throttle().map(|t| t.0), Some(1.0));
        c.set_auto(None);
        assert_eq!(c.throttle().map(|t| t.0), Some(0.5));
    }

    #[tokio::test]
    async fn after_the_first_automatic_hold_one_worker_copies() {
        let c = std::sync::Arc::new(Control::new(&CancellationToken::new()));
        let admitted = |worker| {
            let c = c.clone();
            async move {
                tokio::time::timeout(Duration::from_millis(50), c.admit(worker))
                    .await
                    .is_ok()
            }
        };
        assert!(admitted(1).await, "every worker copies before any hold");
        c.set_auto(Some("client latency".into()));
        assert!(!admitted(0).await && !admitted(1).await, "held");
        c.set_auto(None);
        assert!(admitted(0).await, "worker 0 goes on");
        assert!(!admitted(1).await, "the others stay out");
        assert!(c.state().narrowed);
        c.set_manual(Manual::Unthrottle);
        assert!(admitted(1).await, "UNTHROTTLE lifts it");
    }
}
