//! `ALTER MIGRATION '<id>' <action>` on the engine's side, for a client the
//! session already authorised: what each action does in each state, the
//! answer, and the record of who sent it.

use tracing::info;

use super::control::Manual;
use super::{lifecycle, store, Handle};
use crate::protocol::errors;
use crate::protocol::packets::ErrPacket;
use crate::sql::commands::Action;

/// What a command came to: the OK packet's info text, or the ERR.
pub type Answer = std::result::Result<String, ErrPacket>;

const UNFINISHED: [&str; 4] = ["queued", "running", "ready", "cutting_over"];

/// How long a command forwarded to another instance waits for its answer.
const FORWARD_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Handle {
    /// Runs one action on one migration on behalf of `by` (`CURRENT_USER()`)
    /// and records it on the migration.
    pub async fn command(&self, id: &str, action: Action, by: &str) -> Answer {
        if let Some(answer) = self.forward(id, action, by).await {
            return answer; // recorded by the instance that ran it
        }
        let answer = self.apply(id, action, by).await;
        let result = match &answer {
            Ok(info) => Ok(info.as_str()),
            Err(e) => Err(e.message.as_str()),
        };
        self.note_command(id, action, by, result).await;
        answer
    }

    /// A command for a migration another live instance runs: asked of that
    /// instance through the state table (it looks every 250 ms) and its
    /// answer awaited. `None` when the migration is not another's to run.
    async fn forward(&self, id: &str, action: Action, by: &str) -> Option<Answer> {
        if self.control(id).is_some() || matches!(action, Action::Cleanup | Action::Retry) {
            return None;
        }
        let mut conn = self.inner.pool.get_conn().await.ok()?;
        let state = store::state(&mut conn, id).await.ok()??;
        if state.owner == self.inner.instance || !UNFINISHED.contains(&state.status.as_str()) {
            return None;
        }
        let text = action.to_text();
        let before = match store::request_command(&mut conn, id, &state.owner, &text, by).await {
            Ok(Some(before)) => before,
            Ok(None) => return None, // finished meanwhile: answered here
            Err(e) => return Some(Err(e.to_packet())),
        };
        let deadline = std::time::Instant::now() + FORWARD_WAIT;
        while std::time::Instant::now() < deadline {
            match store::command_answer(&mut conn, id, before).await {
                Ok(Some(result)) => {
                    return Some(match result.strip_prefix("refused: ") {
                        // Already the general refusal's text.
                        Some(message) => Err(errors::ghostwire(
                            message.strip_prefix("ghostwire: ").unwrap_or(message),
                        )),
                        None => Ok(result),
                    });
                }
                Ok(None) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                Err(e) => return Some(Err(e.to_packet())),
            }
        }
        let _ = store::take_request(&mut conn, id, &text).await;
        Some(Err(errors::ghostwire(format!(
            "the ghostwire instance running migration {id} did not answer within {} s (SHOW \
             MIGRATION '{id}' says whether it is gone); the command was withdrawn",
            FORWARD_WAIT.as_secs()
        ))))
    }

    /// Records a command on the migration, logs and counts it.
    pub async fn note_command(
        &self,
        id: &str,
        action: Action,
        by: &str,
        result: std::result::Result<&str, &str>,
    ) {
        let text = match result {
            Ok(info) => info.to_string(),
            Err(e) => format!("refused: {e}"),
        };
        let verb = match action {
            Action::Throttle(r) if r < 1.0 => format!("THROTTLE RATIO {r}"),
            a => a.name().to_string(),
        };
        if let Ok(mut conn) = self.inner.pool.get_conn().await {
            if let Err(e) = store::record_command(&mut conn, id, &verb, by, &text).await {
                tracing::warn!(%id, error = %e, "could not record a migration command");
            }
        }
        let label = if result.is_ok() { "ok" } else { "refused" };
        metrics::counter!(crate::metrics::MIGRATION_COMMANDS,
            "action" => action.name().to_ascii_lowercase(), "result" => label)
        .increment(1);
        info!(%id, action = %verb, %by, result = label, "migration command");
    }

    /// Records a command refused because the client may not change the
    /// migration (the server refused it the table's rights, or it may not
    /// see the table) in `_ghostwire.commands`, for the audit, and counts
    /// it; the migration's own record (`last_command`) is left alone, so a
    /// client without rights changes nothing anyone sees there.
    pub async fn note_denied(&self, id: &str, action: Action, by: &str, why: &str) {
        if let Ok(mut conn) = self.inner.pool.get_conn().await {
            if let Err(e) =
                store::record_denied(&mut conn, id, action.name(), by, &format!("denied: {why}"))
                    .await
            {
                tracing::warn!(%id, error = %e, "could not record a denied migration command");
            }
        }
        metrics::counter!(crate::metrics::MIGRATION_COMMANDS,
            "action" => action.name().to_ascii_lowercase(), "result" => "denied")
        .increment(1);
        info!(%id, action = action.name(), %by, result = "denied", "migration command");
    }

    /// For CLEANUP: the old table a completed migration kept, when it is
    /// still the one ghostwire kept (`Ok(None)`: nothing to drop, with the
    /// reason as the OK's info), or the refusal.
    pub async fn old_table_to_drop(
        &self,
        id: &str,
    ) -> std::result::Result<std::result::Result<(String, String), String>, ErrPacket> {
        let (mut conn, state) = self.state_of(id).await?;
        let ("complete", Some(old)) = (state.status.as_str(), state.old_table) else {
            return Err(wrong_state(
                id,
                &state.status,
                Action::Cleanup,
                "it is complete and its old table is still there",
            ));
        };
        match lifecycle::check_old_table(&mut conn, id, &state.schema, &old)
            .await
            .map_err(|e| e.to_packet())?
        {
            None => Ok(Ok((state.schema, old))),
            Some(lifecycle::Dropped::NotOurs) => Ok(Err(format!(
                "ghostwire: {old} is no longer the old table of migration {id}; left alone"
            ))),
            Some(_) => Ok(Err(format!(
                "ghostwire: old table {old} of migration {id} was gone already"
            ))),
        }
    }

    /// Records that a migration's old table was dropped (by CLEANUP).
    pub async fn old_table_dropped(&self, id: &str) {
        if let Ok(mut conn) = self.inner.pool.get_conn().await {
            let _ = store::old_table_dropped(&mut conn, id).await;
        }
        metrics::counter!(crate::metrics::OLD_TABLES_DROPPED).increment(1);
    }

    /// A migration's status, statement bytes and their character set.
    pub async fn statement_of(&self, id: &str) -> super::Result<Option<(String, Vec<u8>, String)>> {
        use mysql_async::prelude::Queryable;
        let mut conn = self.inner.pool.get_conn().await?;
        Ok(conn
            .exec_first(
                "SELECT status, statement, statement_charset FROM `_ghostwire`.`migrations` WHERE id = ?",
                (id,),
            )
            .await?)
    }

    /// A connection and a migration's recorded state (ERR: no such id).
    async fn state_of(
        &self,
        id: &str,
    ) -> std::result::Result<(mysql_async::Conn, store::State), ErrPacket> {
        let mut conn = self
            .inner
            .pool
            .get_conn()
            .await
            .map_err(|e| super::MigrationError::from(e).to_packet())?;
        let state = store::state(&mut conn, id)
            .await
            .map_err(|e| e.to_packet())?
            .ok_or_else(|| no_such(id))?;
        Ok((conn, state))
    }

    async fn apply(&self, id: &str, action: Action, by: &str) -> Answer {
        let (_, state) = self.state_of(id).await?;
        if action == Action::Cleanup {
            // Run by the session, as a DROP on the client's own connection
            // (see `old_table_to_drop`): the server decides who may.
            return Err(errors::not_supported(format!(
                "send ALTER MIGRATION '{id}' CLEANUP as a plain query"
            )));
        }
        if action == Action::Retry {
            // Retried by the session (as if the client sent the statement).
            return Err(errors::not_supported(format!(
                "send ALTER MIGRATION '{id}' RETRY as a plain query, for one migration"
            )));
        }
        // A migration that has ended (recorded so) may still be cleaning up
        // here: its control is not there to command any more.
        let unfinished = UNFINISHED.contains(&state.status.as_str());
        let Some(control) = self.control(id).filter(|_| unfinished) else {
            return Err(if unfinished {
                errors::ghostwire(format!(
                    "migration {id} is {} but no ghostwire instance runs it now; it is taken \
                     over once its instance has been gone for adopt_after_ms",
                    state.status
                ))
            } else {
                wrong_state(id, &state.status, action, "it is queued or running")
            });
        };
        let status = state.status.as_str();
        let info = match action {
            Action::Cancel if !control.cancel(by) => return Err(too_late(id, action)),
            Action::Cancel => {
                format!("ghostwire: migration {id} is being cancelled; the original table stays as it is")
            }
            Action::Pause if !control.pause() => return Err(too_late(id, action)),
            Action::Pause => {
                self.note_control(id, &control).await;
                format!(
                    "ghostwire: migration {id} paused (the binlog position is kept; a checksum under \
                     way finishes, and no cut-over lets its RENAME through); ALTER MIGRATION '{id}' \
                     RESUME goes on"
                )
            }
            Action::Resume => {
                control.set_paused(false);
                self.note_control(id, &control).await;
                format!("ghostwire: migration {id} resumed")
            }
            Action::Throttle(r) => {
                control.set_manual(Manual::Throttle(r));
                self.note_control(id, &control).await;
                format!("ghostwire: migration {id} throttled (ratio {r}; it holds only the copy); ALTER MIGRATION '{id}' UNTHROTTLE lifts it")
            }
            Action::Unthrottle => {
                control.set_manual(Manual::Unthrottle);
                self.note_control(id, &control).await;
                format!("ghostwire: migration {id} unthrottled (the automatic throttler is overridden too)")
            }
            Action::Complete if status == "cutting_over" => {
                format!("ghostwire: migration {id} is already cutting over")
            }
            Action::Complete => {
                control.release();
                format!("ghostwire: migration {id} will cut over as soon as it is ready")
            }
            Action::Retry | Action::Cleanup => unreachable!("handled above"),
        };
        Ok(info)
    }

    /// Writes the control's state to the record at once (the runner also
    /// does every second), so `SHOW MIGRATIONS` shows it right after the
    /// command.
    async fn note_control(&self, id: &str, control: &super::control::Control) {
        let state = control.state();
        let throttle = control.throttle();
        let reason = throttle.as_ref().map(|t| t.1.as_str()).unwrap_or("");
        let u = store::Update {
            paused: Some(state.paused),
            throttled: Some((throttle.is_some(), reason)),
            ..Default::default()
        };
        if let Ok(mut conn) = self.inner.pool.get_conn().await {
            let _ = store::update(&mut conn, id, &u).await;
        }
    }
}

fn no_such(id: &str) -> ErrPacket {
    errors::no_such_migration(id)
}

/// CANCEL or PAUSE after the cut-over let its RENAME through.
fn too_late(id: &str, action: Action) -> ErrPacket {
    errors::ghostwire(format!(
        "migration {id} is cutting over and its RENAME has been let through: too late to {}; \
         it completes now (to undo it, rename the old table back, see SHOW MIGRATION '{id}')",
        action.name()
    ))
}

fn wrong_state(id: &str, status: &str, action: Action, applies: &str) -> ErrPacket {
    errors::ghostwire(format!(
        "migration {id} is {status}; {} applies only while {applies}",
        action.name()
    ))
}
