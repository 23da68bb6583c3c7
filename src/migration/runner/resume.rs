//! Going on with a migration another process started (this instance after a
//! restart, or another instance that adopted it): what the server shows is
//! checked against the checkpoint, never guessed.
//!
//! - The shadow is gone, and the migration's old-table name holds a table
//!   with the original's definition while the table has the shadow's: the
//!   cut-over's RENAME ran before the process died. The migration is
//!   complete.
//! - The shadow is there, and both tables have the definitions recorded
//!   when the copy started: the copy goes on from the checkpoint (rows
//!   above its bound are deleted and copied again), the tail from its
//!   binlog position — when the server still has that file, else the copy
//!   starts over from an empty shadow.
//! - Anything else (a table changed meanwhile, the shadow gone without a
//!   cut-over): the migration fails, and only tables it made are dropped.

use super::*;
use crate::migration::persisted::Checkpoint;

/// What the checkpointer writes, shared with it.
pub(super) struct Checkpointing {
    pub id: String,
    pub owner: String,
    /// This run (see `fence`).
    pub run: String,
    pub store: mysql_async::Pool,
    pub progress: Arc<Progress>,
    pub delta: Arc<Delta>,
    pub copy_done: Arc<std::sync::atomic::AtomicBool>,
    pub control: Arc<Control>,
    pub defs: (String, String),
    /// The old table's (and sentry's) name chosen at the start.
    pub old_table: String,
}

/// How often a checkpoint is written: at most this much work is lost (and
/// done again) when the process dies.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

impl Checkpointing {
    fn point(&self) -> Checkpoint {
        // In this order: the copy's bound, then the binlog position. The
        // replay horizon moves before the copy's bound does
        // (`Progress::chunk_done`), so the position then covers every
        // change below the bound (see `Delta::checkpoint`).
        let copy_done = self.copy_done.load(Ordering::SeqCst);
        let copy = self.progress.copied();
        let at = self.delta.checkpoint().binlog;
        Checkpoint {
            copy,
            copy_done,
            released: self.control.state().released,
            binlog: (at.file.to_string(), at.pos),
            old_table: self.old_table.clone(),
            original_def: self.defs.0.clone(),
            shadow_def: self.defs.1.clone(),
        }
    }

    /// Writes a checkpoint now and then every `CHECKPOINT_EVERY` when it
    /// changed, until aborted.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut last = String::new();
            loop {
                let json = self.point().to_json();
                if json != last {
                    let written = match self.store.get_conn().await {
                        Ok(mut c) => {
                            store::set_checkpoint(&mut c, &self.id, (&self.owner, &self.run), &json)
                                .await
                        }
                        Err(e) => Err(e.into()),
                    };
                    match written {
                        Ok(true) => last = json,
                        Ok(false) => {
                            warn!(id = %self.id, "another instance has taken this migration over; stopping here");
                            self.control.hand_over();
                            return;
                        }
                        Err(e) => warn!(id = %self.id, error = %e, "could not write a checkpoint"),
                    }
                }
                tokio::time::sleep(CHECKPOINT_EVERY).await;
            }
        })
    }
}

/// What a resume found.
pub(super) enum Found {
    /// The cut-over had happened: nothing left to do.
    CutOver,
    /// Go on from here.
    GoOn(Box<Prepared>),
}

impl super::Migration<'_> {
    /// Checks the tables against the checkpoint and readies the shadow to
    /// go on (see the module).
    pub(super) async fn resume_shadow(&self, cp: &Checkpoint) -> Result<Found> {
        let (schema, table) = (&self.req.schema, &self.req.table);
        // The old table's name this migration chose when it started
        // (`old_table_names`): its sentry, and the table a finished
        // cut-over left.
        if !cp.old_table.is_empty() {
            let _ = self.del_name.set(cp.old_table.clone());
        }
        let mut conn = self.inner.pool.get_conn().await?;
        use super::super::lifecycle::fingerprint;
        let original = fingerprint(&mut conn, schema, table).await?;
        let shadow = fingerprint(&mut conn, schema, &self.shadow_name).await?;
        if shadow.is_none() {
            let old = fingerprint(&mut conn, schema, self.del_name()).await?;
            if old.as_deref() == Some(&cp.original_def)
                && original.as_deref() == Some(&cp.shadow_def)
            {
                info!(id = self.id, %schema, %table, "the cut-over had renamed the tables before its process stopped");
                return Ok(Found::CutOver);
            }
            return Err(super::super::refused(format!(
                "its shadow table {schema}.{} is gone, and the tables are not as a finished \
                 cut-over leaves them; submit the ALTER again",
                self.shadow_name
            )));
        }
        // From here on the shadow is this migration's (the record says it
        // made it): dropped if the migration fails.
        self.shadow_created.store(true, Ordering::SeqCst);
        // A cut-over that stopped before its RENAME may have left its sentry.
        cutover::drop_sentry(&mut conn, self.id, schema, self.del_name()).await;
        if original.as_deref() != Some(&cp.original_def)
            || shadow.as_deref() != Some(&cp.shadow_def)
        {
            return Err(super::super::refused(format!(
                "{schema}.{table} or its shadow table was changed while no ghostwire \
                 instance ran the migration; submit the ALTER again"
            )));
        }
        let server = self.server()?;
        let mut prepared = self.plan_existing(&mut conn).await?;
        let shadow_q = qualified(schema, &self.shadow_name);
        let have_binlog = schema::binlog_files(&mut conn)
            .await?
            .contains(&cp.binlog.0);
        let mut start = Start {
            binlog: cp.binlog.clone(),
            copy: cp.copy.clone(),
            copy_done: cp.copy_done,
            defs: (cp.original_def.clone(), cp.shadow_def.clone()),
        };
        if !have_binlog {
            warn!(id = self.id, file = %cp.binlog.0, "the checkpoint's binlog file is gone; copying again from the start");
            schema::exec(&mut conn, &format!("DELETE FROM {shadow_q}")).await?;
            start.binlog = schema::binlog_position(&mut conn, server).await?;
            start.copy = None;
            start.copy_done = false;
        } else if !start.copy_done {
            let above = match &start.copy {
                Some(c) => format!(
                    " WHERE {}",
                    crate::migration::sql::tuple_cmp(&prepared.copy_plan.new_key, &c.below, ">")
                ),
                None => String::new(),
            };
            schema::exec(&mut conn, &format!("DELETE FROM {shadow_q}{above}")).await?;
            info!(id = self.id, removed = conn.affected_rows(), below = ?start.copy.as_ref().map(|c| &c.below),
                "resuming the copy from its checkpoint");
        }
        prepared.start = start;
        Ok(Found::GoOn(Box::new(prepared)))
    }

    /// The plans for an existing shadow (a resume): as `prepare_shadow`
    /// makes them, without creating anything.
    async fn plan_existing(&self, conn: &mut Conn) -> Result<Prepared> {
        let (schema, table) = (&self.req.schema, &self.req.table);
        let server = self.server()?;
        let rows_total = schema::table_exists(conn, schema, table)
            .await?
            .unwrap_or(0);
        let old_next = schema::auto_increment(conn, server, schema, table).await?;
        let new_has = schema::auto_increment(conn, server, schema, &self.shadow_name)
            .await?
            .is_some();
        if old_next.is_some() && new_has && !self.req.sets_auto_increment() {
            self.carry_auto_increment.store(true, Ordering::SeqCst);
        }
        let old = schema::table_info(conn, schema, table).await?;
        let new = schema::table_info(conn, schema, &self.shadow_name).await?;
        let bound = self.session_bound(conn).await?;
        let shadow = qualified(schema, &self.shadow_name);
        let (copy_plan, replay, target, compared) = self.plan(&old, &new, &shadow, &bound)?;
        Ok(Prepared {
            copy_plan,
            replay,
            target,
            compared,
            rows_total,
            start: Start::default(),
        })
    }
}
