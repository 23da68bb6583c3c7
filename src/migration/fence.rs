//! Fencing a run that lost its migration to another instance.
//!
//! An instance that was frozen (SIGSTOP, a long GC-like stall, a VM pause)
//! or cut off from the server can be adopted away while it still has a copy
//! chunk, a replay batch or a cut-over in flight. Its record updates are
//! already conditional on the owner (`store::update_as`), but a check made
//! *before* a write proves nothing once the process can stall between the
//! check and the write. So every write a run makes to the shadow happens in
//! a transaction that first takes a shared lock on the migration's record
//! row, where the record still names this instance as the owner and this
//! run as its run (`run_id`: an instance that stopped its own run, e.g. on
//! losing its lock, and resumes it later fences off the old run the same
//! way):
//!
//! - the adopter's claim (`store::resume::claim`, an `UPDATE` of that row)
//!   waits until every such transaction of the old owner has ended;
//! - once the claim has committed, the old owner's next transaction finds
//!   another owner and writes nothing ([`MigrationError::Superseded`]).
//!
//! Each write the old run made before the claim is one the adopter's resume
//! already copes with: copy chunks above the checkpoint are deleted and
//! copied again, replay restarts from a binlog position at or before every
//! change applied. Writes that cannot run in a transaction (the cut-over
//! under `LOCK TABLES`, dropping helper tables) hold the lock on a second
//! connection instead ([`Fence::hold`]) for as long as they run.
//!
//! The lock is always taken first in its transaction, so a waiting claim
//! can never be part of a deadlock cycle with the run's own statements.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};

use super::{MigrationError, Result};

/// Which run may write: migration `id` while its record names `instance`
/// as the owner and `run` as the owner's run of it (an instance that
/// stopped its own run and later resumes it has a new run: the old one's
/// writes are fenced off as another instance's would be).
#[derive(Clone, Debug)]
pub struct Fence {
    id: String,
    instance: String,
    run: String,
}

const CHECK: &str = "SELECT 1 FROM `_ghostwire`.`migrations` \
                     WHERE id = ? AND owner = ? AND run_id = ? LOCK IN SHARE MODE";

impl Fence {
    pub fn new(id: &str, instance: &str, run: &str) -> Self {
        Fence {
            id: id.to_string(),
            instance: instance.to_string(),
            run: run.to_string(),
        }
    }

    /// Inside a transaction `conn` has started: holds the record until that
    /// transaction ends, or fails with `Superseded` when this instance no
    /// longer owns the migration.
    pub async fn enter(&self, conn: &mut Conn) -> Result<()> {
        let owned: Option<u8> = conn
            .exec_first(CHECK, (&self.id, &self.instance, &self.run))
            .await?;
        match owned {
            Some(_) => Ok(()),
            None => Err(MigrationError::Superseded),
        }
    }

    /// Holds the record on a connection of its own while the caller writes
    /// on others; release it with [`Held::release`] when done.
    pub async fn hold(&self, pool: &Pool) -> Result<Held> {
        let mut conn = pool.get_conn().await?;
        conn.query_drop("START TRANSACTION").await?;
        if let Err(e) = self.enter(&mut conn).await {
            let _ = conn.query_drop("ROLLBACK").await;
            return Err(e);
        }
        Ok(Held { conn: Some(conn) })
    }

    /// Runs `body` on `conn` in a transaction that holds the record first;
    /// commits on success, rolls back otherwise.
    pub async fn write<T>(
        &self,
        conn: &mut Conn,
        body: impl AsyncFnOnce(&mut Conn) -> Result<T>,
    ) -> Result<T> {
        conn.query_drop("START TRANSACTION").await?;
        let r = match self.enter(conn).await {
            Ok(()) => body(conn).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(v) => {
                conn.query_drop("COMMIT").await?;
                Ok(v)
            }
            Err(e) => {
                let _ = conn.query_drop("ROLLBACK").await;
                Err(e)
            }
        }
    }
}

/// The record held on a connection of its own (see [`Fence::hold`]).
pub struct Held {
    conn: Option<Conn>,
}

impl Held {
    /// Ends the transaction, letting a waiting claim through.
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = conn.query_drop("ROLLBACK").await;
        }
    }
}

impl Drop for Held {
    /// A path that never released it (an early return, a dropped future):
    /// the transaction must not go back to the pool open, holding the
    /// record and catching the next user's statements.
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = conn.query_drop("ROLLBACK").await;
                });
            }
        }
    }
}
