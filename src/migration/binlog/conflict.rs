//! Rows of the shadow that block a replayed or copied row on a unique key,
//! and statements that lose a deadlock.
//!
//! Replay and copy write the original's *current* rows, while the shadow
//! may still hold an older image of another row: one whose change the tail
//! has not read yet, a key held back above the copy's horizon, a key of a
//! later batch. When writers pass a unique value from one row to another
//! (a primary key moved with its unique value, two rows swapping values, a
//! row deleted and its value inserted under a new key), the current image
//! of one row can collide in the shadow with the stale image of the other,
//! although the original never held the value twice in a committed state,
//! and a native ALTER accepts the same writes.
//!
//! Every stale image belongs to a key the tail records as changed once it
//! has read the change. So after a duplicate key, the statement is tried
//! again *exclusively*: in a REPEATABLE READ transaction that first locks
//! the rows it will read (and the gaps between them: no row can move into
//! them meanwhile), then waits until the tail has read the binlog up to
//! now (every change committed before the lock is then recorded), takes
//! the image of every pending key out of the shadow, and only then writes.
//! The pending keys stay pending: replay puts each back from the original
//! once the horizon lets it (a resume copies those above it again). A
//! duplicate in such an attempt is between the locked rows and images that
//! were current when the tail was read: a value the original held twice in
//! a committed state, which fails the migration with the server's error,
//! as it fails a native ALTER. (A copy chunk still in flight may commit a
//! stale row just after the clearing; the next attempt clears it too.)
//!
//! Deadlocks and lock wait timeouts (replay's locking reads of the original
//! against writers' transactions, copy and replay against each other in the
//! shadow) are tried again a bounded number of times.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tracing::debug;

use super::Delta;
use crate::flavour::ServerInfo;
use crate::migration::fence::Fence;
use crate::migration::sql::key_in;
use crate::migration::{schema, MigrationError, Result};

/// Exclusive attempts after a duplicate before it is taken as real (more
/// than one only for copy chunks in flight, see above).
const MAX_CONFLICTS: u32 = 4;
/// Deadlocks / lock wait timeouts of one statement before they fail it.
const MAX_CONTENTION: u32 = 8;
/// How long the tail may take to read what is already in the binlog.
const TAIL_WAIT: Duration = Duration::from_secs(60);

/// Clears stale images from the shadow; shared by the applier, the
/// cut-over and the copy workers.
#[derive(Clone)]
pub struct Conflicts {
    shadow: String,
    new_key: Vec<String>,
    fence: Fence,
    server: ServerInfo,
    /// Held while pending keys' images are written: a replay batch (from
    /// taking its keys to its commit) and a clearing. Otherwise a clearing
    /// could delete the image a batch has just replayed, whose key is no
    /// longer pending: a row lost.
    writing: Arc<tokio::sync::Mutex<()>>,
}

/// What to do after a failed statement.
pub enum Then {
    /// Try again after this pause (a deadlock, a lock wait timeout).
    Again(Duration),
    /// Try again exclusively (a duplicate key).
    Exclusive,
    /// Fail with the error.
    Fail,
}

/// Retries left for one statement (a replay batch, a copy chunk).
#[derive(Default)]
pub struct Retries {
    contention: u32,
    conflicts: u32,
}

impl Retries {
    pub fn after(&mut self, e: &MigrationError) -> Then {
        let MigrationError::Server(p) = e else {
            return Then::Fail;
        };
        match p.code {
            1213 | 1205 if self.contention < MAX_CONTENTION => {
                self.contention += 1;
                debug!(error = %p, "lost a lock conflict; trying again");
                Then::Again(Duration::from_millis(5 << self.contention))
            }
            1062 if self.conflicts < MAX_CONFLICTS => {
                self.conflicts += 1;
                debug!(error = %p, "a unique key collided; trying again exclusively");
                Then::Exclusive
            }
            _ => Then::Fail,
        }
    }

    /// A duplicate was met: attempts from now on are exclusive.
    pub fn exclusive(&self) -> bool {
        self.conflicts > 0
    }

    /// Under the cut-over's lock: stale images were cleared already (one
    /// clearing is enough there).
    pub fn cleared(&self) -> bool {
        self.conflicts > 1
    }
}

impl Conflicts {
    pub fn new(shadow: &str, new_key: &[String], fence: Fence, server: ServerInfo) -> Self {
        Conflicts {
            shadow: shadow.to_string(),
            new_key: new_key.to_vec(),
            fence,
            server,
            writing: Arc::default(),
        }
    }

    /// Held while pending keys' images are written (see `writing`).
    pub async fn writing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writing.lock().await
    }

    /// Runs `write` exclusively (see above): `lock` is a locking read of
    /// the original's rows that `write` reads. The caller holds `writing`.
    pub async fn exclusive<T>(
        &self,
        conn: &mut Conn,
        delta: &Delta,
        lock: &str,
        write: impl AsyncFnOnce(&mut Conn) -> Result<T>,
    ) -> Result<T> {
        // For the next transaction only; the session stays READ COMMITTED.
        conn.query_drop("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await?;
        self.fence
            .write(conn, async |c| {
                c.query_drop(lock).await?;
                let (file, pos) = schema::binlog_position(c, self.server).await?;
                let since = Instant::now();
                while !delta.has_read(&file, pos) {
                    if since.elapsed() > TAIL_WAIT {
                        return Err(MigrationError::Internal(format!(
                            "the binlog tail did not reach {file}:{pos} within {} s",
                            TAIL_WAIT.as_secs()
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                self.clear(c, delta).await?;
                write(c).await
            })
            .await
    }

    /// Takes the image of every pending key out of the shadow, in the
    /// caller's transaction (or under the cut-over's LOCK TABLES, where the
    /// tail has read everything up to the lock).
    pub async fn clear(&self, conn: &mut Conn, delta: &Delta) -> Result<()> {
        let keys = delta.pending_keys();
        for keys in keys.chunks(1000) {
            let del = format!(
                "DELETE FROM {} WHERE {}",
                self.shadow,
                key_in(&self.new_key, keys)
            );
            conn.query_drop(del).await?;
        }
        Ok(())
    }
}
