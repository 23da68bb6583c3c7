//! One copy migration from start to end (the instant attempt runs on the
//! client's own connection, in the session): shadow table, binlog tail,
//! copy, catch-up, checksum, cut-over. On any failure the helper tables are
//! dropped and the original table is left as it was.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tracing::{info, warn};

use super::binlog::{Delta, Horizon, Pos, Replay, Tail, Target};
use super::carry::Carried;
use super::checksum::{self, Compared};
use super::control::Control;
use super::copier::{self, CopyPlan, InsertChecks, Progress};
use super::cutover::{self, Attempt};
use super::schema::{self, TableInfo};
use super::sql::{helper_table, ident, old_table_name, old_table_names, qualified, KeyKind};
use super::store::{self, Status, Update};
use super::{Failure, Handle, Inner, MigrationError, Outcome, Request, Result, Summary};
use crate::gate::Gate;

mod locked;
mod outcome;
mod resume;
mod session_bound;
mod shadow;
mod stages;

/// A resume's starting point (see `resume`).
pub(super) struct Resume {
    /// The run the claim named (see `fence`).
    pub run: String,
    /// `None`: no checkpoint was written; the migration starts over.
    pub checkpoint: Option<super::persisted::Checkpoint>,
    /// Lock attempts already made.
    pub attempts: u32,
}

/// Plans for the copy, and where it starts.
pub(super) struct Prepared {
    pub copy_plan: CopyPlan,
    pub replay: Replay,
    pub target: Target,
    pub compared: Compared,
    /// The server's estimate of the table's rows.
    pub rows_total: u64,
    pub start: Start,
}

/// Where the copy and the tail start.
#[derive(Default)]
pub(super) struct Start {
    pub binlog: (String, u64),
    /// Rows already copied below this bound.
    pub copy: Option<super::persisted::CopiedUpTo>,
    pub copy_done: bool,
    /// Definition fingerprints of the original and the shadow at the start.
    pub defs: (String, String),
}

/// Rows per checksum chunk.
const CHECKSUM_CHUNK: u64 = 10_000;

/// Runs migration `id`; `resume` when another process started it.
pub(super) async fn run(
    handle: &Handle,
    id: &str,
    req: &Request,
    control: &Arc<Control>,
    resume: Option<Resume>,
) -> Outcome {
    let mut m = Migration::new(&handle.inner, id, req, control);
    if let Some(r) = &resume {
        m.attempts = r.attempts.into();
        m.run = r.run.clone();
    }
    let fresh = resume.is_none();
    m.resume = resume;
    let result = async {
        if fresh {
            let mut conn = m.inner.pool.get_conn().await?;
            if !store::start_run(&mut conn, id, &m.inner.instance, &m.run).await? {
                return Err(MigrationError::Superseded);
            }
        }
        let running = m.inner.running.clone();
        let permit = match running.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let waiting = format!(
                    "waiting for a free migration slot ([migrations] max_running = {} \
                     copying now; postponed migrations that are ready do not hold one)",
                    m.inner.config.migrations.max_running
                );
                m.record(&Update {
                    message: Some(&waiting),
                    ..Default::default()
                })
                .await?;
                tokio::select! {
                    p = running.acquire_owned() => p.map_err(|_| MigrationError::Cancelled)?,
                    _ = control.token().cancelled() => return Err(MigrationError::Cancelled),
                }
            }
        };
        *m.permit.lock().unwrap_or_else(|p| p.into_inner()) = Some(permit);
        m.record(&Update {
            status: Some(Status::Running),
            stage: Some("starting"),
            ..Default::default()
        })
        .await?;
        m.migrate().await
    }
    .await;
    let outcome = outcome::settle(handle, &m, result).await;
    if let Some(pool) = m.pool.get() {
        pool.clone().disconnect().await.ok();
    }
    outcome
}

/// Drops the shadow table of migration `id`, which the caller knows it
/// created, and its sentry when there is one (never a table someone else
/// made under either name: a sentry is dropped only while its comment names
/// this migration, so each name it may have used is tried).
pub async fn drop_helpers(conn: &mut Conn, id: &str, schema: &str, table: &str) {
    let shadow = helper_table(table, "gho");
    let _ = conn
        .query_drop(format!(
            "DROP TABLE IF EXISTS {}",
            qualified(schema, &shadow)
        ))
        .await;
    for del in old_table_names(table, id) {
        cutover::drop_sentry(conn, id, schema, &del).await;
    }
}

pub(super) struct Migration<'a> {
    pub inner: &'a Inner,
    pub id: &'a str,
    pub req: &'a Request,
    /// Cancel, pause, throttle, release (see `control`).
    pub control: &'a Arc<Control>,
    pub original: String,
    pub shadow_name: String,
    /// The old table's (and sentry's) name, chosen free when the shadow is
    /// prepared (`old_table_names`); see `del_name()`.
    del_name: std::sync::OnceLock<String>,
    /// This migration's copy, replay and checksum connections (UTC, the
    /// client's conversion SQL mode), made once the plan is known.
    pool: std::sync::OnceLock<mysql_async::Pool>,
    /// Set once the shadow table exists because this migration made it.
    shadow_created: std::sync::atomic::AtomicBool,
    /// The new table takes over the old table's AUTO_INCREMENT counter.
    carry_auto_increment: std::sync::atomic::AtomicBool,
    /// A `[migrations] max_running` slot, held while copying; given back
    /// while a postponed migration waits to be completed, so waiting
    /// migrations (anyone's) cannot stall everyone else's.
    permit: std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
    /// Lock attempts so far (checksum snapshots and cut-overs), as shown
    /// in `cutover_attempts`.
    attempts: std::sync::atomic::AtomicU32,
    /// Going on from another process's checkpoint.
    resume: Option<Resume>,
    /// This run of the migration (`run_id` in the record; see `fence`).
    run: String,
    /// Another instance took the migration over: nothing of it is touched
    /// any more (no record, no helper dropped).
    lost: std::sync::atomic::AtomicBool,
}

impl<'a> Migration<'a> {
    /// The server's flavour and version, as captured with the client's
    /// session (always there for a submitted migration).
    fn server(&self) -> Result<crate::flavour::ServerInfo> {
        self.req
            .session
            .server
            .ok_or_else(|| MigrationError::Internal("the server's version is unknown".into()))
    }

    fn new(inner: &'a Inner, id: &'a str, req: &'a Request, control: &'a Arc<Control>) -> Self {
        let t = &req.table;
        Migration {
            inner,
            id,
            req,
            control,
            original: qualified(&req.schema, t),
            shadow_name: helper_table(t, "gho"),
            del_name: Default::default(),
            pool: Default::default(),
            shadow_created: Default::default(),
            carry_auto_increment: Default::default(),
            permit: Default::default(),
            attempts: Default::default(),
            resume: None,
            lost: Default::default(),
            run: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Which writes of this run may land (see `fence`).
    fn fence(&self) -> super::fence::Fence {
        super::fence::Fence::new(self.id, &self.inner.instance, &self.run)
    }

    /// The old table's name: the one chosen when the shadow was prepared,
    /// else (a failure before that) the first the migration could use.
    fn del_name(&self) -> &str {
        self.del_name
            .get_or_init(|| old_table_name(&self.req.table, self.id))
    }

    /// The migration's own connections (see `pool`).
    fn pool(&self) -> Result<&mysql_async::Pool> {
        self.pool
            .get()
            .ok_or_else(|| MigrationError::Internal("the copy's connections are not set up".into()))
    }

    /// Writes to the migration's record while this instance owns it; once
    /// another has taken it over (this one was cut off long enough), this
    /// run stops without touching the record again.
    pub async fn record(&self, u: &Update<'_>) -> Result<()> {
        if let Some(stage) = u.stage {
            tracing::debug!(id = self.id, stage, "stage");
        }
        let mut conn = self.inner.pool.get_conn().await?;
        if store::update_as(&mut conn, self.id, Some(&self.inner.instance), u).await? {
            return Ok(());
        }
        warn!(
            id = self.id,
            "another instance has taken this migration over; stopping here"
        );
        self.control.hand_over();
        self.lost.store(true, Ordering::SeqCst);
        Err(MigrationError::Cancelled)
    }

    /// Whether the record still names this instance as the owner (a read
    /// that fails counts as yes: the caller goes on as before).
    async fn still_ours(&self) -> bool {
        let Ok(mut conn) = self.inner.pool.get_conn().await else {
            return true;
        };
        let owner: Option<String> = conn
            .exec_first(
                "SELECT owner FROM `_ghostwire`.`migrations` WHERE id = ?",
                (self.id,),
            )
            .await
            .ok()
            .flatten();
        owner.is_none_or(|o| o == self.inner.instance)
    }

    async fn stage(&self, stage: &str) -> Result<()> {
        self.record(&Update {
            stage: Some(stage),
            ..Default::default()
        })
        .await
    }

    fn cancelled(&self) -> Result<()> {
        if self.control.is_cancelled() {
            return Err(MigrationError::Cancelled);
        }
        Ok(())
    }

    async fn migrate(&self) -> Result<Summary> {
        // From now until the end, sessions mark transactions that use the
        // table, so the cut-over knows what to wait for.
        let watched = self.inner.gates.watch(&self.req.schema, &self.req.table);
        self.record(&Update {
            strategy: Some("copy"),
            stage: Some("checking"),
            ..Default::default()
        })
        .await?;
        self.copy_migration(&watched.gate).await
    }

    async fn copy_migration(&self, gate: &Gate) -> Result<Summary> {
        let schema = &self.req.schema;
        let prepared = match &self.resume {
            Some(Resume {
                checkpoint: Some(cp),
                ..
            }) => match self.resume_shadow(cp).await? {
                resume::Found::CutOver => {
                    return Ok(Summary {
                        reconciled: true,
                        ..self.summary(0, 0)
                    })
                }
                resume::Found::GoOn(p) => *p,
            },
            _ => self.prepare_shadow().await?,
        };
        let Prepared {
            copy_plan,
            replay,
            target,
            compared,
            rows_total,
            start,
        } = prepared;
        let opts = super::migration_opts(
            &self.inner.opts,
            &self.inner.instance,
            &self.req.session,
            copy_plan.keep_zero_ids,
        )
        .ok_or_else(|| {
            super::refused("the session's time zone or SQL mode has an unexpected form")
        })?;
        let _ = self.pool.set(mysql_async::Pool::new(opts));
        let pool = self.pool()?;

        self.stage("starting binlog tail").await?;
        let from = start.binlog.clone();
        self.record(&Update {
            binlog: Some((&from.0, from.1)),
            rows_total: Some(rows_total),
            ..Default::default()
        })
        .await?;
        let failure = Failure::default();
        let delta = Arc::new(Delta::new(Pos::new(&from.0, from.1)));
        let int_key = matches!(copy_plan.kinds.as_slice(), [KeyKind::Int { .. }]);
        // Rows already in the shadow (a resume): their changes replay now.
        let below = start.copy.as_ref().and_then(|c| match c.below.as_slice() {
            [one] if int_key => one.parse::<i128>().ok(),
            _ => None,
        });
        delta.set_horizon(match (start.copy_done, below) {
            (true, _) => Horizon::All,
            (false, Some(w)) => Horizon::UpTo(w),
            (false, None) => Horizon::Nothing,
        });
        let tail = Tail::start(
            self.inner.opts.clone(),
            self.server()?,
            from,
            target,
            delta.clone(),
            failure.clone(),
        )
        .await?;
        let pause = Arc::new(tokio::sync::Mutex::new(()));
        let applier = self.spawn_applier(
            pool,
            replay.clone(),
            delta.clone(),
            pause.clone(),
            failure.clone(),
        );
        // With one integer key, changes replay behind the copy as chunks
        // finish; otherwise once the copy is done.
        let watermark: Option<Box<dyn Fn(i128) + Send + Sync>> = if int_key {
            let d = delta.clone();
            Some(Box::new(move |w| {
                tracing::trace!(w, "replay horizon");
                d.set_horizon(Horizon::UpTo(w))
            }))
        } else {
            None
        };
        let progress = Arc::new(Progress::new(
            self.inner.config.migrations.chunk_rows,
            start.copy.clone(),
            watermark,
        ));
        let copy_done = Arc::new(std::sync::atomic::AtomicBool::new(start.copy_done));
        let checkpointer = resume::Checkpointing {
            id: self.id.to_string(),
            owner: self.inner.instance.clone(),
            run: self.run.clone(),
            store: self.inner.pool.clone(),
            progress: progress.clone(),
            delta: delta.clone(),
            copy_done: copy_done.clone(),
            control: self.control.clone(),
            defs: start.defs.clone(),
            old_table: self.del_name().to_string(),
        }
        .spawn();

        let result = async {
            if !start.copy_done {
                self.run_copy(
                    &copy_plan,
                    start.copy.map(|c| c.below),
                    &progress,
                    &delta,
                    &failure,
                    rows_total,
                )
                .await?;
            }
            // The horizon first: a checkpoint that says the copy is done
            // must find every key replayable (see `resume`).
            delta.set_horizon(Horizon::All);
            copy_done.store(true, Ordering::SeqCst);
            let copied = progress.rows.load(Ordering::Relaxed);
            self.record(&Update {
                rows_copied: Some(copied),
                // Exact once the copy is done.
                rows_total: Some(copied),
                stage: Some("catching up"),
                ..Default::default()
            })
            .await?;
            self.catch_up(&delta, &failure).await?;
            if self.req.hints.postpone {
                self.wait_for_release(&delta, &failure).await?;
            }
            let attempt = Attempt {
                id: self.id,
                fence: self.fence(),
                carry_auto_increment: self.carry_auto_increment.load(Ordering::SeqCst),
                table: &self.req.table,
                gate,
                pool,
                config: &self.inner.config.cutover,
                original: &self.original,
                schema,
                shadow_name: &self.shadow_name,
                del_name: self.del_name(),
                replay: &replay,
                delta: &delta,
                marks: tail.marks.clone(),
                pause: &pause,
                failure: &failure,
                control: self.control,
                server: self.server()?,
                defs: &start.defs,
            };
            if self.inner.config.migrations.checksum {
                self.verify(&attempt, &copy_plan, &compared).await?;
            }
            let stall_ms = self.cut_over(&attempt).await?;
            Ok(self.summary(copied, stall_ms))
        }
        .await;
        checkpointer.abort();
        applier.abort();
        drop(tail);
        result
    }

    fn summary(&self, rows_copied: u64, stall_ms: u64) -> Summary {
        Summary {
            id: self.id.to_string(),
            strategy: "copy",
            rows_copied,
            stall_ms,
            old_table: Some((
                qualified(&self.req.schema, self.del_name()),
                self.inner.config.migrations.retain_old_table.0,
            )),
            reconciled: false,
        }
    }
}
