//! The work around the copy while a migration runs: the copy itself with
//! its progress reports and the throttler's verdicts, the background
//! applier, catching up, and a postponed migration's wait for COMPLETE.

use super::*;

impl super::Migration<'_> {
    /// The copy, watched by the throttler, with progress written once a
    /// second; from `from` when a resume already has the rows below it.
    pub(super) async fn run_copy(
        &self,
        plan: &CopyPlan,
        from: Option<copier::Bound>,
        progress: &Arc<Progress>,
        delta: &Arc<Delta>,
        failure: &Failure,
        rows_total: u64,
    ) -> Result<()> {
        self.stage("copying").await?;
        let started = Instant::now();
        let reporter = self.report_progress(progress, delta, rows_total, started);
        let copy = copier::copy(
            self.pool()?,
            plan,
            delta,
            from,
            self.inner.config.migrations.copy_workers,
            Duration::from_millis(self.inner.config.migrations.chunk_target_ms),
            progress.clone(),
            self.control,
        );
        // The automatic throttler watches while the copy runs.
        let copying = self.inner.throttler.copying();
        let follow = self.follow_throttler();
        let copied = tokio::select! {
            r = copy => r,
            e = failure.wait() => Err(e),
            e = reporter => Err(e),
        };
        follow.abort();
        drop(copying);
        self.control.set_auto(None);
        copied
    }

    /// Replays changed keys in the background until the migration ends.
    pub(super) fn spawn_applier(
        &self,
        pool: &mysql_async::Pool,
        replay: Replay,
        delta: Arc<Delta>,
        pause: Arc<tokio::sync::Mutex<()>>,
        failure: Failure,
    ) -> tokio::task::JoinHandle<()> {
        let pool = pool.clone();
        let control = self.control.clone();
        tokio::spawn(async move {
            let r = async {
                let mut conn = pool.get_conn().await?;
                loop {
                    if !delta.replayable() {
                        let wait = delta.changed.notified();
                        let _ = tokio::time::timeout(Duration::from_millis(20), wait).await;
                        continue;
                    }
                    // PAUSE stops the replay too; the tail keeps reading
                    // (changed keys only, so it stays small).
                    control.unpaused().await?;
                    let _guard = pause.lock().await;
                    replay.flush_once(&mut conn, &delta, 1000).await?;
                }
                #[allow(unreachable_code)]
                Ok::<(), MigrationError>(())
            }
            .await;
            // Cancelled (a CANCEL, a shutdown, a hand-over): the runner
            // sees that itself; only a real failure is the applier's.
            if let Err(e) = r.map_err(|e| (!matches!(e, MigrationError::Cancelled)).then_some(e)) {
                let Some(e) = e else { return };
                failure.fail_with("applying binlog changes failed", &e);
            }
        })
    }

    /// Passes the automatic throttler's verdicts to this migration's control.
    fn follow_throttler(&self) -> tokio::task::JoinHandle<()> {
        let mut verdicts = self.inner.throttler.subscribe();
        let control = self.control.clone();
        let id = self.id.to_string();
        tokio::spawn(async move {
            loop {
                let verdict = verdicts.borrow_and_update().clone();
                let was_narrowed = control.state().narrowed;
                control.set_auto(verdict);
                if !was_narrowed && control.state().narrowed {
                    info!(%id, "the throttler held the copy: it goes on with one worker");
                }
                if verdicts.changed().await.is_err() {
                    break;
                }
            }
        })
    }

    /// Writes progress, lag and ETA once a second while the copy runs.
    /// Resolves only on error.
    async fn report_progress(
        &self,
        progress: &Progress,
        delta: &Delta,
        total: u64,
        started: Instant,
    ) -> MigrationError {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let copied = progress.rows.load(Ordering::Relaxed);
            // The server's row count is an estimate; never show fewer rows
            // in total than already copied.
            let total = total.max(copied);
            let pct = if total == 0 {
                0.0
            } else {
                (copied as f64 * 100.0 / total as f64).min(99.9)
            };
            let rate = copied as f64 / started.elapsed().as_secs_f64().max(0.001);
            let eta = (rate > 0.0).then(|| (total.saturating_sub(copied) as f64 / rate) as u64);
            let throttle = self.control.throttle();
            let reason = throttle.as_ref().map(|t| t.1.as_str()).unwrap_or("");
            let u = Update {
                rows_copied: Some(copied),
                rows_total: Some(total),
                progress_pct: Some(pct),
                eta_seconds: Some(eta),
                lag_seconds: Some(delta.lag().as_secs_f64()),
                paused: Some(self.control.state().paused),
                throttled: Some((throttle.is_some(), reason)),
                ..Default::default()
            };
            if let Err(e) = self.record(&u).await {
                return e;
            }
        }
    }

    /// Waits until the applier has (almost) caught up with the binlog.
    /// Waits until the tail has read what the server had written when
    /// asked (after a resume, or under a write burst, it may be far
    /// behind: the lock it is about to take would otherwise wait for it,
    /// blocking writers) and the replay has caught up with it.
    pub(super) async fn catch_up(&self, delta: &Delta, failure: &Failure) -> Result<()> {
        let (file, pos) = {
            let mut conn = self.inner.pool.get_conn().await?;
            super::super::schema::binlog_position(&mut conn, self.server()?).await?
        };
        while !delta.has_read(&file, pos)
            || delta.pending() > 1000
            || delta.lag() > Duration::from_secs(1)
        {
            failure.check()?;
            self.cancelled()?;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Postponed: copied and in sync; wait until released by the operator.
    pub(super) async fn wait_for_release(&self, delta: &Delta, failure: &Failure) -> Result<()> {
        // The copy is done: its slot goes to the next migration.
        self.permit.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.record(&Update {
            status: Some(Status::Ready),
            stage: Some("waiting for ALTER MIGRATION COMPLETE"),
            progress_pct: Some(100.0),
            ..Default::default()
        })
        .await?;
        let r = loop {
            tokio::select! {
                r = self.control.released() => break r,
                e = failure.wait() => break Err(e),
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    let lag = delta.lag().as_secs_f64();
                    let paused = self.control.state().paused;
                    self.record(&Update { lag_seconds: Some(lag), paused: Some(paused), ..Default::default() }).await?;
                }
            }
        };
        r?;
        self.catch_up(delta, failure).await
    }
}
