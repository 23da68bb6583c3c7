//! The two moments the table is locked: the checksum's snapshot and the
//! cut-over, each retried with back-off when the lock cannot be had in time.

use super::*;

fn aborted(reason: &'static str) {
    metrics::counter!(crate::metrics::CUTOVER_ABORTED, "reason" => reason).increment(1);
}

fn attempt_result(ok: bool) {
    let result = if ok { "ok" } else { "retry" };
    metrics::counter!(crate::metrics::CUTOVER_ATTEMPTS, "result" => result).increment(1);
}

impl super::Migration<'_> {
    /// Checksums the shadow against the original in a snapshot taken while
    /// they are equal (retried like a cut-over when the tables cannot be
    /// locked in time), then catches up with what changed meanwhile.
    pub(super) async fn verify(
        &self,
        attempt: &Attempt<'_>,
        plan: &CopyPlan,
        cols: &Compared,
    ) -> Result<()> {
        self.stage("checksum").await?;
        // Snapshots of the same moment: the original's and the shadow's
        // digests are computed in parallel (and a third streams the rows
        // carried for converted columns).
        let pool = self.pool()?;
        let mut snaps = Vec::new();
        for _ in 0..checksum::snapshots(cols) {
            snaps.push(pool.get_conn().await?);
        }
        // Made before any snapshot starts (DDL would end it); dropped below.
        let result = match checksum::create_tables(&mut snaps[0], plan, cols).await {
            Ok(()) => self.verify_in(attempt, plan, cols, &mut snaps).await,
            Err(e) => Err(e),
        };
        checksum::drop_tables(&mut snaps[0], plan).await;
        result
    }

    async fn verify_in(
        &self,
        attempt: &Attempt<'_>,
        plan: &CopyPlan,
        cols: &Compared,
        snaps: &mut [Conn],
    ) -> Result<()> {
        let cfg = &self.inner.config.cutover;
        for n in 1..=cfg.max_attempts {
            self.control.unpaused().await?;
            let total = self.attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.record(&Update {
                cutover_attempts: Some(total),
                ..Default::default()
            })
            .await?;
            match cutover::snapshot(attempt, snaps).await {
                Ok(stall) => {
                    let started = Instant::now();
                    let compared = checksum::compare(snaps, plan, cols, CHECKSUM_CHUNK).await;
                    for snap in snaps.iter_mut() {
                        let _ = snap.query_drop("COMMIT").await;
                    }
                    let rows = compared?;
                    info!(
                        id = self.id,
                        rows,
                        stall_ms = stall.as_millis() as u64,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "checksum matches"
                    );
                    return self.catch_up(attempt.delta, attempt.failure).await;
                }
                Err(cutover::CutoverError::Retry { reason, message }) => {
                    self.back_off(attempt, "checksum", n, reason, &message)
                        .await?;
                }
                Err(cutover::CutoverError::Fatal(e)) => return Err(e),
            }
        }
        Err(super::super::refused(format!(
            "{}: could not lock the table for the checksum in {} attempts; the original table is unchanged",
            self.original, cfg.max_attempts
        )))
    }

    /// After an abandoned lock attempt (checksum snapshot or cut-over):
    /// count and record why, wait, and catch up again before the next one.
    async fn back_off(
        &self,
        attempt: &Attempt<'_>,
        what: &str,
        n: u32,
        reason: &'static str,
        message: &str,
    ) -> Result<()> {
        aborted(reason);
        warn!(id = self.id, attempt = n, %message, "{what} attempt aborted");
        let stage = format!("waiting to retry {what}");
        self.record(&Update {
            status: Some(Status::Running),
            stage: Some(&stage),
            message: Some(message),
            ..Default::default()
        })
        .await?;
        let backoff = self.inner.config.cutover.retry_backoff_ms;
        tokio::time::sleep(Duration::from_millis(backoff)).await;
        self.catch_up(attempt.delta, attempt.failure).await
    }

    /// Cut-over attempts with back-off; returns the stall of the one that worked.
    pub(super) async fn cut_over(&self, attempt: &Attempt<'_>) -> Result<u64> {
        let cfg = &self.inner.config.cutover;
        let mut last = String::new();
        for n in 1..=cfg.max_attempts {
            self.control.unpaused().await?;
            self.record(&Update {
                status: Some(Status::CuttingOver),
                stage: Some("cutting over"),
                cutover_attempts: Some(self.attempts.fetch_add(1, Ordering::Relaxed) + 1),
                ..Default::default()
            })
            .await?;
            let result = cutover::attempt(attempt).await;
            attempt_result(result.is_ok());
            match result {
                Ok(stall) => {
                    let stall_ms = stall.as_millis() as u64;
                    self.record(&Update {
                        stall_ms: Some(stall_ms),
                        ..Default::default()
                    })
                    .await?;
                    return Ok(stall_ms);
                }
                Err(cutover::CutoverError::Retry { reason, message }) => {
                    self.back_off(attempt, "cut-over", n, reason, &message)
                        .await?;
                    last = message;
                }
                Err(cutover::CutoverError::Fatal(e)) => return Err(e),
            }
        }
        Err(super::super::refused(format!(
            "cut-over of {} failed {} times (last: {last}); the original table is unchanged",
            self.original, cfg.max_attempts
        )))
    }
}
