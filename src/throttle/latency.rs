//! Client statement latency as the proxy sees it, for the throttler: a
//! sliding window of quarter-second histograms (16 s of them), recorded
//! with a few atomic adds on every statement (this is the hot path: no
//! lock, no allocation). Quarter seconds, so the throttler sees a rise
//! within a second of it.
//!
//! Buckets are logarithmic (four per doubling, from 16 µs), so a p99 is
//! known within ~19 %, which is plenty to tell "as usual" from "3× slower".

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SLOTS: usize = 64;
/// One slot's time.
const SLOT: Duration = Duration::from_millis(250);
const BUCKETS: usize = 64;
/// The lowest bucket's upper bound, in microseconds.
const BASE_US: f64 = 16.0;

pub struct Latency {
    /// The quarter second each slot holds (`u64::MAX`: none yet).
    epochs: [AtomicU64; SLOTS],
    counts: [[AtomicU32; BUCKETS]; SLOTS],
}

impl Latency {
    pub const fn new() -> Latency {
        Latency {
            epochs: [const { AtomicU64::new(u64::MAX) }; SLOTS],
            counts: [const { [const { AtomicU32::new(0) }; BUCKETS] }; SLOTS],
        }
    }

    pub fn record(&self, took: Duration) {
        self.record_at(now_slot(), took);
    }

    fn record_at(&self, second: u64, took: Duration) {
        let slot = (second % SLOTS as u64) as usize;
        let epoch = &self.epochs[slot];
        let seen = epoch.load(Ordering::Relaxed);
        if seen != second {
            // First statement of a new second in this slot: clear it. Two
            // sessions racing here may lose a count or two; a throttle
            // decision does not need them.
            if epoch
                .compare_exchange(seen, second, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                for c in &self.counts[slot] {
                    c.store(0, Ordering::Relaxed);
                }
            }
        }
        self.counts[slot][bucket(took)].fetch_add(1, Ordering::Relaxed);
    }

    /// The 99th percentile over the last `window` (whole slots before the
    /// current one) and the sample count, or `None` with too few samples.
    pub fn p99(&self, window: Duration, min_samples: u64) -> Option<(Duration, u64)> {
        let slots = (window.as_millis() / SLOT.as_millis()).max(1) as u64;
        self.p99_at(now_slot(), slots, min_samples)
    }

    fn p99_at(&self, now: u64, seconds: u64, min_samples: u64) -> Option<(Duration, u64)> {
        let seconds = seconds.clamp(1, SLOTS as u64 - 1);
        let mut sum = [0u64; BUCKETS];
        for s in now.saturating_sub(seconds)..now {
            let slot = (s % SLOTS as u64) as usize;
            if self.epochs[slot].load(Ordering::Acquire) != s {
                continue;
            }
            for (b, c) in self.counts[slot].iter().enumerate() {
                sum[b] += c.load(Ordering::Relaxed) as u64;
            }
        }
        let total: u64 = sum.iter().sum();
        if total < min_samples.max(1) {
            return None;
        }
        let rank = total - total / 100; // the sample at or above 99 %
        let mut seen = 0;
        for (b, n) in sum.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some((upper(b), total));
            }
        }
        Some((upper(BUCKETS - 1), total))
    }
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

fn now_slot() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_millis() / SLOT.as_millis()) as u64)
        .unwrap_or(0)
}

fn bucket(took: Duration) -> usize {
    let us = took.as_secs_f64() * 1e6;
    if us <= BASE_US {
        return 0;
    }
    ((us / BASE_US).log2() * 4.0)
        .ceil()
        .min((BUCKETS - 1) as f64) as usize
}

fn upper(b: usize) -> Duration {
    Duration::from_secs_f64(BASE_US * 2f64.powf(b as f64 / 4.0) / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_follows_the_slow_tail_within_a_bucket() {
        let l = Latency::new();
        for i in 0..1000u64 {
            let took = if i % 100 < 98 { 200 } else { 9_000 };
            l.record_at(100 + i % 3, Duration::from_micros(took));
        }
        let (p99, n) = l.p99_at(103, 3, 100).unwrap();
        assert_eq!(n, 1000);
        assert!(
            p99 >= Duration::from_micros(9_000) && p99 < Duration::from_micros(11_000),
            "{p99:?}"
        );
        // Too few samples: no verdict; seconds outside the window: none.
        assert!(l.p99_at(103, 3, 5000).is_none());
        assert!(l.p99_at(200, 3, 1).is_none());
    }

    #[test]
    fn a_slot_is_cleared_when_its_second_comes_round_again() {
        let l = Latency::new();
        l.record_at(5, Duration::from_millis(50));
        l.record_at(5 + SLOTS as u64, Duration::from_micros(100));
        let (p99, n) = l.p99_at(6 + SLOTS as u64, 1, 1).unwrap();
        assert_eq!(n, 1);
        assert!(p99 < Duration::from_millis(1), "{p99:?}");
    }
}
