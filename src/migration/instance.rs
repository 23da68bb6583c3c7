//! This proxy instance among others sharing the primary: its owner lock,
//! kept across server restarts, and the reconciliation of migrations no
//! process runs any more.
//!
//! Each instance holds `GET_LOCK('ghostwire.<instance id>')` on a
//! connection of its own; its migrations carry the id as `owner`. The lock
//! keeper pings every second and, when the connection is lost (a server
//! restart), reconnects and takes the lock again. If it cannot for half of
//! `[migrations] adopt_after_ms`, it stops its own migrations (without
//! failing them): by then another instance may take them over, and two
//! instances must never run the same migration.
//!
//! The reconciler (every few seconds, from startup) adopts unfinished
//! migrations whose owner lock has been free for `adopt_after_ms` — long
//! enough for a live owner to have re-taken it — and resumes them from
//! their checkpoint (`runner::resume`). What cannot be resumed (recorded by
//! another version), and this instance's own migrations that no runner of
//! this process has (a runner that could not record its end while the
//! server was away), are failed and their helper tables dropped.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tracing::{info, warn};

use super::{runner, store, Handle, MigrationError, Result};

/// How often the lock keeper checks its connection.
const KEEP: Duration = Duration::from_secs(1);
/// An instance that holds its lock but has missed this many of its own
/// liveness notes (and at least `adopt_after_ms`) is taken for frozen.
const SILENT_NOTES: u32 = 10;
/// How often the reconciler looks for migrations nobody runs: a third of
/// `adopt_after_ms`, within these bounds.
const RECONCILE: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

impl Handle {
    /// Starts the engine's background work at startup: the state table,
    /// the owner lock, the reconciler (retrying until the server answers).
    pub fn start(&self) {
        let handle = self.clone();
        let stop = self.inner.stop.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(200);
            let mut said = false;
            loop {
                match handle.ensure_store().await {
                    Ok(()) => {
                        if said {
                            info!("the migration engine reached the primary");
                        }
                        break;
                    }
                    // Said once, not at every retry.
                    Err(e) if !said => {
                        warn!(error = %e, "the migration engine cannot reach the primary yet; retrying");
                        said = true;
                    }
                    Err(_) => {}
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        });
    }

    /// Takes the owner lock and starts its keeper.
    pub(super) async fn hold_owner_lock(&self) -> Result<()> {
        let lock = store::owner_lock(&self.inner.instance);
        let conn = take_lock(&self.inner.opts, &lock)
            .await?
            .ok_or_else(|| MigrationError::Internal("cannot take the instance lock".into()))?;
        self.inner.lock_held.store(true, Ordering::SeqCst);
        let handle = self.clone();
        tokio::spawn(async move { handle.keep_lock(conn, lock).await });
        Ok(())
    }

    async fn keep_lock(self, mut conn: Conn, lock: String) {
        let stop = self.inner.stop.clone();
        let adopt_after = Duration::from_millis(self.inner.config.migrations.adopt_after_ms);
        // A lost lock is noticed well within the time others wait.
        let keep = KEEP.min(adopt_after / 4);
        let mut lost_since: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(keep) => {}
            }
            if lost_since.is_none() {
                // A ping that others can see (`silent_for`); the plain ping
                // decides whether the lock's connection is gone (a failed
                // note alone, e.g. a read-only moment, is not that).
                let noted = store::note_alive(&mut conn, &self.inner.instance, keep).await;
                if noted.is_ok() || conn.ping().await.is_ok() {
                    continue;
                }
                warn!("lost the instance lock's connection; taking the lock again");
                lost_since = Some(Instant::now());
                self.inner.lock_held.store(false, Ordering::SeqCst);
            }
            if let Ok(Some(c)) = take_lock(&self.inner.opts, &lock).await {
                info!("took the instance lock again");
                conn = c;
                lost_since = None;
                self.inner.lock_held.store(true, Ordering::SeqCst);
                continue;
            }
            // Others may take our migrations over once the lock has been
            // free for adopt_after: ours must stop well before.
            if lost_since.is_some_and(|t| t.elapsed() >= adopt_after / 2) {
                let ids: Vec<String> = self.controls().keys().cloned().collect();
                for id in ids {
                    if let Some(c) = self.control(&id) {
                        warn!(%id, "stopping: the instance lock is lost, another instance may take the migration over");
                        c.hand_over();
                    }
                }
            }
        }
        let _ = conn.disconnect().await;
    }

    /// Applies, every 250 ms, the commands other instances were sent for
    /// migrations this one runs (see `commands::forward`).
    pub(super) fn spawn_request_poller(&self) {
        let handle = self.clone();
        let stop = self.inner.stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
                if handle.controls().is_empty() {
                    continue;
                }
                let Ok(mut conn) = handle.inner.pool.get_conn().await else {
                    continue;
                };
                let taken = store::take_requests(&mut conn, &handle.inner.instance).await;
                drop(conn);
                for (id, text, by) in taken.unwrap_or_default() {
                    match crate::sql::commands::Action::from_text(&text) {
                        Some(action) => {
                            let _ = handle.command(&id, action, &by).await;
                        }
                        None => warn!(%id, %text, "ignoring a command request it cannot read"),
                    }
                }
            }
        });
    }

    /// Every RECONCILE: takes over what no process runs (see the module).
    pub(super) fn spawn_reconciler(&self) {
        let handle = self.clone();
        let stop = self.inner.stop.clone();
        let every = (Duration::from_millis(self.inner.config.migrations.adopt_after_ms) / 3)
            .clamp(RECONCILE.0, RECONCILE.1);
        tokio::spawn(async move {
            let mut free_since: HashMap<String, Instant> = HashMap::new();
            let mut failing = false;
            let mut first = true;
            loop {
                match handle.reconcile(&mut free_since).await {
                    // Startup says what it found (adoptions log themselves).
                    Ok(0) if first => {
                        info!("no unfinished migrations of stopped instances");
                        first = false;
                        failing = false;
                    }
                    Ok(n) if first => {
                        info!(unfinished = n, "unfinished migrations found at startup");
                        first = false;
                        failing = false;
                    }
                    // Said once, not every round, while the primary is away.
                    Err(e) if !failing => {
                        warn!(error = %e, "could not look for migrations left by stopped instances");
                        failing = true;
                    }
                    Err(_) => {}
                    Ok(_) => failing = false,
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
    }

    /// One round; returns how many unfinished migrations it saw.
    async fn reconcile(&self, free_since: &mut HashMap<String, Instant>) -> Result<usize> {
        let mut conn = self.inner.pool.get_conn().await?;
        let adopt_after = Duration::from_millis(self.inner.config.migrations.adopt_after_ms);
        let me = &self.inner.instance;
        let mut seen = Vec::new();
        for u in store::unfinished(&mut conn).await? {
            // Shutting down: this instance's runs are handing their
            // migrations over right now; taking one back (its runner just
            // ended) would start a run the shutdown cuts off again.
            if self.inner.stop.is_cancelled() {
                break;
            }
            seen.push(u.id.clone());
            let holder: Option<Option<u64>> = conn
                .exec_first("SELECT IS_USED_LOCK(?)", (store::owner_lock(&u.owner),))
                .await?;
            let locked = holder.flatten().is_some();
            let abandoned = if &u.owner == me {
                // Ours, but no runner here has it (this instance stopped it,
                // or its end went unrecorded), while our lock is held again.
                self.inner.lock_held.load(Ordering::SeqCst)
                    && self.control(&u.id).is_none()
                    && !self.is_reserved(&u.schema, &u.table, &u.id)
            } else if locked {
                free_since.remove(&u.id);
                // Held, but by a process that stopped noting it is alive
                // (frozen, partitioned: its connections stay open on the
                // server): its connections are closed, the lock with them,
                // and the migration is adopted once the lock has been free
                // for adopt_after as usual.
                // Judged by the silent one's own pace too: instances may
                // run with different settings.
                let silent = store::silent_for(&mut conn, &u.owner).await?;
                if let Some((silent, every)) =
                    silent.filter(|(s, every)| *s >= adopt_after.max(*every * SILENT_NOTES))
                {
                    let closed = store::close_connections_of(&mut conn, &u.owner).await?;
                    warn!(id = %u.id, owner = %u.owner, silent_ms = silent.as_millis() as u64,
                        every_ms = every.as_millis() as u64, closed,
                        "the instance holding this migration's lock has stopped noting it is alive; closed its connections");
                }
                false
            } else {
                let since = *free_since.entry(u.id.clone()).or_insert_with(Instant::now);
                since.elapsed() >= adopt_after
            };
            if !abandoned {
                continue;
            }
            // Ours too: a run this instance stopped (its lock was lost for
            // a while, or the server went away) goes on as a new run.
            if u.resumable {
                match self.adopt(&mut conn, &u).await? {
                    Adoption::Adopted | Adoption::NotNow => {
                        free_since.remove(&u.id);
                        continue;
                    }
                    Adoption::CannotResume => {}
                }
            }
            let message = if &u.owner == me {
                "its runner ended while the server was unreachable; the original table is unchanged. \
                 Submit the ALTER again"
            } else {
                "the ghostwire instance running it stopped; the original table is unchanged. \
                 Submit the ALTER again"
            };
            if store::fail_abandoned(&mut conn, &u.id, &u.owner, message).await? {
                warn!(id = %u.id, schema = %u.schema, table = %u.table, stage = %u.stage,
                    owner = %u.owner, "failing a migration no process runs any more");
                if u.shadow_created {
                    runner::drop_helpers(&mut conn, &u.id, &u.schema, &u.table).await;
                }
            }
            free_since.remove(&u.id);
        }
        free_since.retain(|id, _| seen.contains(id));
        Ok(seen.len())
    }
}

/// What came of trying to take a migration over.
enum Adoption {
    Adopted,
    /// Another instance took it first, or the table is busy here.
    NotNow,
    /// Stored by another version, or unreadable: failed instead.
    CannotResume,
}

impl Handle {
    /// Takes migration `u` over from its stopped instance and runs it on
    /// from its checkpoint (see `runner::resume`). The claim is a
    /// conditional UPDATE of `owner`, so of several instances only one
    /// adopts it; the stopped one has cancelled its own run long before
    /// (see `keep_lock`).
    async fn adopt(&self, conn: &mut Conn, u: &store::Unfinished) -> Result<Adoption> {
        let Some(saved) = store::resumable(conn, &u.id).await? else {
            return Ok(Adoption::CannotResume);
        };
        let Some(req) = super::persisted::load_request(&saved.request, saved.statement) else {
            warn!(id = %u.id, "cannot resume a migration recorded by another ghostwire version");
            return Ok(Adoption::CannotResume);
        };
        let checkpoint = match saved.checkpoint.as_deref() {
            Some(json) => match super::persisted::Checkpoint::from_json(json) {
                Some(c) => Some(c),
                None => return Ok(Adoption::CannotResume),
            },
            None => None,
        };
        let Some(ticket) = self.reserve_for(&u.schema, &u.table, &u.id) else {
            return Ok(Adoption::NotNow);
        };
        let control = std::sync::Arc::new(super::control::Control::new(&self.inner.stop));
        control.set_paused(saved.paused);
        // Registered before the claim: the reconciler must never see a
        // migration of ours that no runner has.
        self.controls().insert(u.id.clone(), control.clone());
        // What the stopped instance may still have open (a frozen process
        // keeps its connections) is closed first: the claim then cannot
        // wait on its transactions, nor can it write anything afterwards.
        if u.owner != self.inner.instance {
            let closed = store::close_connections_of(conn, &u.owner).await?;
            if closed > 0 {
                warn!(id = %u.id, from = %u.owner, closed, "closed the stopped instance's connections");
            }
        }
        let run = uuid::Uuid::new_v4().to_string();
        if self.inner.stop.is_cancelled()
            || !store::claim(conn, &u.id, &u.owner, &self.inner.instance, &run).await?
        {
            self.controls().remove(&u.id);
            return Ok(Adoption::NotNow);
        }
        if u.owner == self.inner.instance {
            warn!(id = %u.id, schema = %u.schema, table = %u.table, stage = %u.stage,
                resume = checkpoint.is_some(), "resuming a migration this instance had stopped");
        } else {
            warn!(id = %u.id, schema = %u.schema, table = %u.table, stage = %u.stage, from = %u.owner,
                resume = checkpoint.is_some(), "adopting a migration whose ghostwire instance stopped");
        }
        // Commands its instance acknowledged before it stopped still hold.
        let acknowledged = store::acknowledged(conn, &u.id).await?;
        if acknowledged.iter().any(|c| c == "CANCEL") {
            self.controls().remove(&u.id);
            runner::drop_helpers(conn, &u.id, &u.schema, &u.table).await;
            let message = "ghostwire: the migration was cancelled (ALTER MIGRATION … CANCEL) \
                           before its instance stopped; the original table is unchanged";
            store::update(
                conn,
                &u.id,
                &store::Update {
                    status: Some(store::Status::Cancelled),
                    stage: Some("cancelled"),
                    message: Some(message),
                    ..Default::default()
                },
            )
            .await?;
            drop(ticket);
            return Ok(Adoption::Adopted);
        }
        if checkpoint.is_none() && saved.shadow_created {
            // A shadow with no checkpoint: its copy had not begun; start over.
            runner::drop_helpers(conn, &u.id, &u.schema, &u.table).await;
        }
        let message = if u.owner == self.inner.instance {
            format!(
                "resumed by ghostwire instance {} after its run stopped",
                self.inner.instance
            )
        } else {
            format!(
                "resumed by ghostwire instance {} after instance {} stopped",
                self.inner.instance, u.owner
            )
        };
        let _ = store::update(
            conn,
            &u.id,
            &store::Update {
                stage: Some("resuming"),
                message: Some(&message),
                ..Default::default()
            },
        )
        .await;
        let released = u.status == store::Status::CuttingOver.as_str()
            || checkpoint.as_ref().is_some_and(|c| c.released)
            || acknowledged.iter().any(|c| c == "COMPLETE");
        if released {
            // COMPLETE was given: the resumed migration cuts over by itself.
            control.release();
        }
        let resume = runner::Resume {
            run,
            checkpoint,
            attempts: saved.cutover_attempts,
        };
        let handle = self.clone();
        let id = u.id.clone();
        self.inner.tasks.spawn(async move {
            let outcome = runner::run(&handle, &id, &req, &control, Some(resume)).await;
            handle.controls().remove(&id);
            drop(ticket);
            match outcome {
                Ok(s) => info!(%id, "{}", s.message()),
                Err(e) => warn!(%id, error = %e.message, "the adopted migration's run ended"),
            }
        });
        Ok(Adoption::Adopted)
    }
}

/// A new connection holding `lock`, or `None` when someone holds it.
async fn take_lock(opts: &mysql_async::Opts, lock: &str) -> Result<Option<Conn>> {
    let mut conn = Conn::new(opts.clone()).await?;
    let got: Option<Option<u64>> = conn.exec_first("SELECT GET_LOCK(?, 0)", (lock,)).await?;
    if got.flatten() == Some(1) {
        Ok(Some(conn))
    } else {
        let _ = conn.disconnect().await;
        Ok(None)
    }
}
