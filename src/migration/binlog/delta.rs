//! Keys changed in the original table and not yet replayed to the shadow,
//! each with the binlog transaction it was first seen in, so the migration
//! can say from where a restarted tail must read again (`checkpoint`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How far replay may go while the copy runs.
///
/// A key may only be replayed once the copy chunk holding it is done:
/// otherwise a chunk that read the row before the change could insert the
/// old version after the replay (and a plain INSERT would collide). With a
/// single integer key the copy reports a watermark below which every chunk
/// is done; with other keys nothing is replayed until the copy ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Horizon {
    /// Keys up to and including this value.
    UpTo(i128),
    Nothing,
    All,
}

/// A transaction boundary in the binlog: reading from here again sees
/// whole transactions (a row event cannot be read without the table map
/// before it). `seq` orders positions across files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pos {
    seq: u64,
    pub file: Arc<str>,
    pub pos: u64,
}

impl Pos {
    pub fn new(file: &str, pos: u64) -> Pos {
        Pos {
            seq: 0,
            file: file.into(),
            pos,
        }
    }
}

/// Keys changed in the original table and not yet replayed to the shadow.
pub struct Delta {
    inner: Mutex<DeltaInner>,
    pub changed: Notify,
}

struct Pending {
    literal: String,
    /// When first recorded (the lag), and in which transaction.
    at: Instant,
    pos: Pos,
}

struct DeltaInner {
    /// Integer keys by value (so a horizon selects a range); other keys by
    /// their literal.
    keys: BTreeMap<Ord, Pending>,
    horizon: Horizon,
    /// The start of the transaction the tail is reading (the end of the
    /// last one it finished).
    boundary: Pos,
    /// Keys taken for replay and not yet settled: the earliest transaction
    /// of each batch.
    in_flight: BTreeMap<u64, Pos>,
    next_batch: u64,
    /// The end of the last event the tail has read (file, position).
    read: (Arc<str>, u64),
    /// Keys of one row before and after a change of its key (both ways):
    /// replayed together, so the new image is never written while the old
    /// one, holding the same unique values, is still in the shadow.
    moved: BTreeMap<Ord, Vec<Ord>>,
}

impl DeltaInner {
    /// Whether the horizon lets `k` through.
    fn within(&self, k: &Ord) -> bool {
        match self.horizon {
            Horizon::Nothing => false,
            Horizon::All => true,
            Horizon::UpTo(w) => matches!(k, Ord::Int(i) if *i <= w),
        }
    }

    /// Pending keys the horizon lets through.
    fn replayable(&self) -> Box<dyn Iterator<Item = (&Ord, &Pending)> + '_> {
        match self.horizon {
            Horizon::Nothing => Box::new(std::iter::empty()),
            Horizon::All => Box::new(self.keys.iter()),
            Horizon::UpTo(w) => Box::new(self.keys.range(..=Ord::Int(w))),
        }
    }
}

/// Records `key` as pending (see `Delta::add`); returns its order key.
fn add(d: &mut DeltaInner, key: String) -> Ord {
    let ord = key
        .parse::<i128>()
        .map(Ord::Int)
        .unwrap_or_else(|_| Ord::Other(key.clone()));
    let pos = d.boundary.clone();
    d.keys.entry(ord.clone()).or_insert_with(|| Pending {
        literal: key,
        at: Instant::now(),
        pos,
    });
    ord
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, std::cmp::Ord)]
enum Ord {
    Int(i128),
    Other(String),
}

/// Keys taken for one replay; `Delta::settle` or `Delta::restore` ends it.
pub struct Batch {
    pub keys: Vec<String>,
    /// Keys whose shadow image goes with `keys` (a row moved from or to
    /// one of them) but which the horizon holds back: their image is only
    /// deleted, and they stay pending.
    pub clear: Vec<String>,
    id: u64,
    pos: Vec<Pos>,
}

/// Where a restarted migration may resume: its binlog position, and the
/// copy's integer watermark the position is valid with (`None`: any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumePoint {
    pub binlog: Pos,
    pub horizon: Horizon,
}

impl Delta {
    /// An empty set; the tail starts reading at `from`.
    pub fn new(from: Pos) -> Delta {
        Delta {
            inner: Mutex::new(DeltaInner {
                keys: BTreeMap::new(),
                horizon: Horizon::Nothing,
                read: (from.file.clone(), from.pos),
                moved: BTreeMap::new(),
                boundary: from,
                in_flight: BTreeMap::new(),
                next_batch: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DeltaInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a changed key, in the transaction the tail is reading.
    pub fn add(&self, key: String) {
        let mut d = self.lock();
        add(&mut d, key);
    }

    /// Records a row whose key changed from `from` to `to` (see `moved`).
    pub fn add_moved(&self, from: String, to: String) {
        let mut d = self.lock();
        let a = add(&mut d, from);
        let b = add(&mut d, to);
        if a != b {
            d.moved.entry(a.clone()).or_default().push(b.clone());
            d.moved.entry(b).or_default().push(a);
        }
    }

    /// The tail finished a transaction (or moved to a new file): a
    /// restarted tail may start here.
    pub fn set_boundary(&self, file: Option<&str>, pos: u64) {
        let mut d = self.lock();
        let seq = d.boundary.seq + 1;
        let file = match file {
            Some(f) if *d.boundary.file != *f => f.into(),
            _ => d.boundary.file.clone(),
        };
        d.boundary = Pos { seq, file, pos };
    }

    /// The tail has read every event up to `pos` (in `file`, when an
    /// event names a new one: a rotation).
    pub fn set_read(&self, file: Option<&str>, pos: u64) {
        let mut d = self.lock();
        if let Some(f) = file {
            if *d.read.0 != *f {
                d.read.0 = f.into();
            }
        }
        d.read.1 = pos;
    }

    /// Whether the tail has read the binlog up to `file:pos` (binlog file
    /// names share a base and a zero-padded sequence number, so they sort
    /// as they were written, by length first once the number outgrows its
    /// six digits).
    pub fn has_read(&self, file: &str, pos: u64) -> bool {
        let d = self.lock();
        let read = (d.read.0.len(), &*d.read.0, d.read.1);
        read >= (file.len(), file, pos)
    }

    /// Every pending key, within the horizon or not.
    pub fn pending_keys(&self) -> Vec<String> {
        self.lock()
            .keys
            .values()
            .map(|p| p.literal.clone())
            .collect()
    }

    pub fn set_horizon(&self, h: Horizon) {
        self.lock().horizon = h;
        self.changed.notify_one();
    }

    /// Takes up to `n` keys within the horizon, and the pending keys a row
    /// moved from or to them (see `moved`).
    pub fn take(&self, n: usize) -> Batch {
        let mut d = self.lock();
        let mut picked: Vec<Ord> = d.replayable().take(n).map(|(k, _)| k.clone()).collect();
        let mut seen: std::collections::BTreeSet<Ord> = picked.iter().cloned().collect();
        let mut clear = Vec::new();
        let mut i = 0;
        while i < picked.len() {
            for linked in d.moved.remove(&picked[i]).unwrap_or_default() {
                // A key no longer pending has its current image already.
                if !d.keys.contains_key(&linked) || !seen.insert(linked.clone()) {
                    continue;
                }
                if d.within(&linked) {
                    picked.push(linked);
                } else {
                    clear.push(d.keys[&linked].literal.clone());
                }
            }
            i += 1;
        }
        let taken: Vec<Pending> = picked.iter().filter_map(|k| d.keys.remove(k)).collect();
        let id = d.next_batch;
        d.next_batch += 1;
        if let Some(first) = taken.iter().map(|p| &p.pos).min_by_key(|p| p.seq) {
            let first = first.clone();
            d.in_flight.insert(id, first);
        }
        let pos = taken.iter().map(|p| p.pos.clone()).collect();
        let keys = taken.into_iter().map(|p| p.literal).collect();
        Batch {
            keys,
            clear,
            id,
            pos,
        }
    }

    /// The batch's keys are in the shadow.
    pub fn settle(&self, batch: &Batch) {
        self.lock().in_flight.remove(&batch.id);
    }

    /// Puts back keys whose replay failed.
    pub fn restore(&self, batch: Batch) {
        let mut d = self.lock();
        d.in_flight.remove(&batch.id);
        for (key, pos) in batch.keys.into_iter().zip(batch.pos) {
            let ord = key
                .parse::<i128>()
                .map(Ord::Int)
                .unwrap_or_else(|_| Ord::Other(key.clone()));
            // A key recorded again meanwhile keeps the earlier transaction.
            let p = d.keys.entry(ord).or_insert_with(|| Pending {
                literal: key,
                at: Instant::now(),
                pos: pos.clone(),
            });
            if pos.seq < p.pos.seq {
                p.pos = pos;
            }
        }
    }

    /// Keys the horizon lets through now.
    pub fn replayable(&self) -> bool {
        self.lock().replayable().next().is_some()
    }

    pub fn pending(&self) -> usize {
        self.lock().keys.len()
    }

    /// How long the oldest change that could be replayed now has waited
    /// (changes held back until their copy chunk is done are not lag).
    pub fn lag(&self) -> Duration {
        let d = self.lock();
        d.replayable()
            .map(|(_, p)| p.at.elapsed())
            .max()
            .unwrap_or_default()
    }

    /// The earliest transaction holding a change that is neither in the
    /// shadow yet nor above the horizon, else where the tail is: a tail
    /// restarted there records again every change the shadow may lack,
    /// given that shadow rows above the returned horizon are copied again.
    /// (Keys above an integer horizon are left out: their rows are copied
    /// again. With no horizon yet, keys cannot be ordered against the
    /// copy's bound, so all of them count.)
    pub fn checkpoint(&self) -> ResumePoint {
        let d = self.lock();
        let waiting: Box<dyn Iterator<Item = &Pending>> = match d.horizon {
            Horizon::Nothing => Box::new(d.keys.values()),
            _ => Box::new(d.replayable().map(|(_, p)| p)),
        };
        let earliest = waiting
            .map(|p| &p.pos)
            .chain(d.in_flight.values())
            .min_by_key(|p| p.seq)
            .unwrap_or(&d.boundary)
            .clone();
        ResumePoint {
            binlog: earliest,
            horizon: d.horizon,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_stays_at_the_first_unreplayed_change() {
        let d = Delta::new(Pos::new("b.1", 100));
        assert_eq!(d.checkpoint().binlog.pos, 100);
        d.set_boundary(None, 200);
        assert_eq!(
            d.checkpoint().binlog.pos,
            200,
            "nothing pending: where the tail is"
        );
        d.add("5".into());
        d.set_boundary(None, 300);
        d.add("50".into());
        d.set_boundary(Some("b.2"), 4);
        // No horizon yet: every pending key counts.
        assert_eq!(d.checkpoint().binlog.pos, 200);
        // Key 50 is above the copy's bound: it is copied again, not replayed.
        d.set_horizon(Horizon::UpTo(10));
        assert_eq!(d.checkpoint().binlog.pos, 200);
        let batch = d.take(10);
        assert_eq!(batch.keys, ["5"]);
        assert_eq!(d.checkpoint().binlog.pos, 200, "in flight still counts");
        d.settle(&batch);
        let cp = d.checkpoint();
        assert_eq!((&*cp.binlog.file, cp.binlog.pos), ("b.2", 4));
        assert_eq!(cp.horizon, Horizon::UpTo(10));
        // Once the copy is done, key 50 counts.
        d.set_horizon(Horizon::All);
        assert_eq!(d.checkpoint().binlog.pos, 300);
    }

    #[test]
    fn a_moved_row_replays_with_its_old_key() {
        let d = Delta::new(Pos::new("b.1", 100));
        d.set_horizon(Horizon::UpTo(50));
        d.add_moved("60".into(), "5".into()); // from above the horizon
        d.add_moved("7".into(), "8".into());
        d.add("9".into());
        let batch = d.take(1);
        assert_eq!(batch.keys, ["5"]);
        assert_eq!(batch.clear, ["60"], "the old image goes; the key waits");
        d.settle(&batch);
        let batch = d.take(1);
        assert_eq!(batch.keys, ["7", "8"], "taken together past the batch size");
        d.settle(&batch);
        assert_eq!(d.take(10).keys, ["9"]);
        assert_eq!(d.pending(), 1, "60 waits for the horizon");
        d.set_horizon(Horizon::All);
        let batch = d.take(10);
        assert_eq!(
            (batch.keys.as_slice(), batch.clear.len()),
            (["60".to_string()].as_slice(), 0)
        );
    }

    #[test]
    fn the_tail_position_follows_rotations() {
        let d = Delta::new(Pos::new("b.000009", 100));
        assert!(d.has_read("b.000009", 100));
        assert!(!d.has_read("b.000009", 101));
        d.set_read(None, 500);
        assert!(d.has_read("b.000009", 500));
        d.set_read(Some("b.000010"), 4);
        assert!(d.has_read("b.000009", 9000), "a later file");
        assert!(!d.has_read("b.000010", 5));
        d.set_read(Some("b.1000000"), 4);
        assert!(d.has_read("b.999999", 9000), "past six digits");
    }

    #[test]
    fn a_failed_replay_puts_its_keys_back_with_their_transaction() {
        let d = Delta::new(Pos::new("b.1", 100));
        d.set_horizon(Horizon::All);
        d.add("1".into());
        d.set_boundary(None, 150);
        let batch = d.take(10);
        d.add("1".into()); // changed again meanwhile, in a later transaction
        d.restore(batch);
        assert_eq!(d.pending(), 1);
        assert_eq!(d.checkpoint().binlog.pos, 100);
    }
}
