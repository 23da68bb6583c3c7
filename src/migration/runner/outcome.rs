//! How a run ends: what is recorded, and what its waiting client is told.

use std::sync::atomic::Ordering;

use tracing::{info, warn};

use super::{cutover, drop_helpers, store, Migration};
use super::{Handle, MigrationError, Outcome, Result, Summary};
use crate::protocol::errors;
use store::{Status, Update};

/// Records how the run ended and answers its waiting client: complete,
/// taken over by another instance, stopped (to be resumed), or failed.
pub(super) async fn settle(handle: &Handle, m: &Migration<'_>, result: Result<Summary>) -> Outcome {
    let (id, req, control) = (m.id, m.req, m.control);
    match result {
        Ok(summary) => {
            count(summary.strategy, "complete");
            metrics::histogram!(crate::metrics::CUTOVER_STALL)
                .record(summary.stall_ms as f64 / 1000.0);
            info!(%id, strategy = summary.strategy, rows = summary.rows_copied, stall_ms = summary.stall_ms, "migration complete");
            let message = summary.message();
            let retain = m.inner.config.migrations.retain_old_table.0;
            let _ = m
                .record(&Update {
                    status: Some(Status::Complete),
                    stage: Some("complete"),
                    progress_pct: Some(100.0),
                    eta_seconds: Some(Some(0)),
                    lag_seconds: Some(0.0),
                    message: Some(&message),
                    paused: Some(false),
                    throttled: Some((false, "")),
                    old_table: Some((m.del_name(), retain)),
                    ..Default::default()
                })
                .await;
            // What identifies the old table when it is dropped later.
            if let Ok(mut conn) = m.inner.pool.get_conn().await {
                match super::super::lifecycle::old_table_identity(
                    &mut conn,
                    &req.schema,
                    m.del_name(),
                )
                .await
                {
                    Ok(Some(check)) => {
                        let _ = store::set_old_table_check(&mut conn, id, &check).await;
                    }
                    _ => warn!(%id, "could not read the old table's definition"),
                }
            }
            if retain == 0 {
                handle.wake_dropper();
            }
            Ok(summary)
        }
        // Stopped by this process's shutdown or the loss of its instance
        // lock, not by a user: left as it is, for the next instance to
        // resume (`instance`). A client waiting for it is told so.
        // Another instance took it over while this one was cut off:
        // nothing of it is touched any more.
        Err(e) if m.lost.load(Ordering::SeqCst) || !m.still_ours().await => {
            warn!(%id, error = %e, "migration taken over by another instance; this run stopped");
            Err(taken_over(id))
        }
        // The server went away (a restart, a killed connection): not the
        // migration's failure. Left for this instance to resume once the
        // server is back and its lock is held again (or for another).
        Err(e) if e.is_lost_server() && control.cancelled_by().is_none() => {
            warn!(%id, error = %e, "migration stopped: lost the server; it resumes from its checkpoint");
            let message = format!(
                "ghostwire: migration {id} stopped: {e}; it resumes from its checkpoint once \
                 the server is back (SHOW MIGRATION '{id}')"
            );
            let _ = m
                .record(&Update {
                    stage: Some("stopped: lost the server"),
                    message: Some(&message),
                    ..Default::default()
                })
                .await;
            Err(errors::migration_run_stopped(message))
        }
        Err(MigrationError::Cancelled) if control.cancelled_by().is_none() => {
            warn!(%id, "migration stopped with this ghostwire process (shutdown, or its lock lost); it resumes from its checkpoint");
            let message = format!(
                "ghostwire: migration {id} stopped with its ghostwire instance; it resumes \
                 from its checkpoint, on another instance or on this one once it is back \
                 (SHOW MIGRATION '{id}')"
            );
            let _ = m
                .record(&Update {
                    stage: Some("stopped with its instance"),
                    message: Some(&message),
                    ..Default::default()
                })
                .await;
            Err(errors::migration_run_stopped(message))
        }
        Err(e) => failed(m, e).await,
    }
}

/// A migration that failed or was cancelled (by a user): its helpers
/// dropped, its record and its waiting client told.
async fn failed(m: &Migration<'_>, e: MigrationError) -> Outcome {
    let (id, req, control) = (m.id, m.req, m.control);
    warn!(%id, error = %e, "migration failed");
    // The helpers are dropped only while the migration is still ours, and
    // it stays ours until they are gone (see `fence`).
    let fence = m.fence();
    let held = match fence.hold(&m.inner.pool).await {
        Err(MigrationError::Superseded) => return Err(taken_over(id)),
        held => held.ok(),
    };
    if let Ok(mut conn) = m.inner.pool.get_conn().await {
        if m.shadow_created.load(Ordering::SeqCst) {
            drop_helpers(&mut conn, id, &req.schema, &req.table).await;
        } else {
            cutover::drop_sentry(&mut conn, id, &req.schema, m.del_name()).await;
        }
    }
    if let Some(held) = held {
        held.release().await;
    }
    let packet = match (&e, control.cancelled_by()) {
        (MigrationError::Cancelled, Some(by)) => errors::migration_cancelled(Some(id), Some(&by)),
        _ => e.to_packet(),
    };
    let status = match e {
        MigrationError::Cancelled => Status::Cancelled,
        _ => Status::Failed,
    };
    count("none", status.as_str());
    let _ = m.record(&failed_update(status, &packet.message)).await;
    Err(packet)
}

/// What a client waiting for a migration another instance took over sees.
fn taken_over(id: &str) -> crate::protocol::packets::ErrPacket {
    errors::migration_run_stopped(format!(
        "ghostwire: migration {id} is run by another ghostwire instance now \
         (SHOW MIGRATION '{id}')"
    ))
}

fn failed_update(status: Status, message: &str) -> Update<'_> {
    Update {
        status: Some(status),
        stage: Some(status.as_str()),
        message: Some(message),
        // Nothing runs any more: neither paused nor throttled.
        paused: Some(false),
        throttled: Some((false, "")),
        ..Default::default()
    }
}

pub(super) fn count(strategy: &'static str, outcome: &'static str) {
    super::super::count_outcome(strategy, outcome);
}

impl Summary {
    /// Info text of the client's OK packet and the migration's message.
    pub fn message(&self) -> String {
        if self.reconciled {
            let old = match &self.old_table {
                Some((old, 0)) => format!("old table {old} is dropped now"),
                Some((old, retain)) => {
                    format!("old table kept as {old} for {}", retention(*retain))
                }
                None => String::new(),
            };
            return format!(
                "ghostwire: migration {} complete ({}): its cut-over had renamed the tables \
                 before its instance stopped (found on resume); {old}",
                self.id, self.strategy
            );
        }
        match &self.old_table {
            Some((old, 0)) => format!(
                "ghostwire: migration {} complete ({}): {} rows copied, cut-over stall {} ms; old table {old} is dropped now",
                self.id, self.strategy, self.rows_copied, self.stall_ms
            ),
            Some((old, retain)) => format!(
                "ghostwire: migration {} complete ({}): {} rows copied, cut-over stall {} ms; old table kept as {old} for {}",
                self.id, self.strategy, self.rows_copied, self.stall_ms, retention(*retain)
            ),
            None => format!(
                "ghostwire: migration {} complete ({}), stall {} ms",
                self.id, self.strategy, self.stall_ms
            ),
        }
    }
}

/// A retention as people write it (`24h`, `90m`, `45s`).
fn retention(s: u64) -> String {
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
