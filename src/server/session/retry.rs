//! `ALTER MIGRATION '<id>' RETRY`: a failed or cancelled migration's
//! statement, run again from the start as if this client sent it now — on
//! its connection, under its identity and session, through the whole trust
//! boundary (`intercept`). So a retry can do nothing the client could not
//! do by sending the statement itself, and it means what it would mean now.

use super::intercept::{Decision, Statement};
use super::{client_err, Result, Session};
use crate::protocol::errors;
use crate::protocol::packets::ErrPacket;
use crate::sql::classify::{classify, Class};
use crate::sql::commands::Action;

impl Session<'_> {
    pub(super) async fn retry(&mut self, id: &str) -> Result<()> {
        let engine = self.shared.migrations.clone();
        let server = match engine.server().await {
            Ok(s) => s,
            Err(e) => return self.write_err(e.to_packet()).await,
        };
        let me = match self.capture(server).await? {
            Ok(s) => s,
            Err(payload) => return self.write_raw_err(payload).await,
        };
        let Some((schema, table, by)) = engine.owner_of(id).await.ok().flatten() else {
            return self.write_raw(crate::admin::unknown(id)).await;
        };
        let target = (id, Action::Retry, (&*schema, &*table, &*by));
        match self.may_change_noted(&engine, &me, target).await? {
            super::migrations::Change::Allowed => {}
            super::migrations::Change::Hidden => {
                return self.write_raw(crate::admin::unknown(id)).await
            }
            super::migrations::Change::Refused(e) => return self.write_raw_err(e).await,
        }
        let stored = match engine.statement_of(id).await {
            Ok(s) => s,
            Err(e) => return self.write_err(e.to_packet()).await,
        };
        let Some((status, text, charset)) = stored else {
            return self.write_raw(crate::admin::unknown(id)).await;
        };
        let refusal = if !matches!(status.as_str(), "failed" | "cancelled") {
            Some(format!(
                "ghostwire: migration {id} is {status}; RETRY applies only to a failed or cancelled one"
            ))
        } else if !charset.eq_ignore_ascii_case(&me.charset_client) {
            // The stored bytes mean what they meant in their character set.
            Some(format!(
                "ghostwire: migration {id}'s statement is in character set {charset}; send RETRY \
                 from a connection using it (SET NAMES {charset})"
            ))
        } else {
            None
        };
        if let Some(message) = refusal {
            engine
                .note_command(id, Action::Retry, &me.current_user, Err(&message))
                .await;
            return self.write_err(errors::refusal(&message)).await;
        }
        engine
            .note_command(
                id,
                Action::Retry,
                &me.current_user,
                Ok("sent again as this user (the answer went to the client)"),
            )
            .await;
        let kind = match classify(&text) {
            Class::IndexDdl => Statement::IndexDdl,
            _ => Statement::AlterTable,
        };
        self.retry_schema = Some(schema.clone());
        let decision = self.intercept_alter(text, 0, false, kind).await;
        self.retry_schema = None;
        match decision? {
            Decision::Answered => Ok(()),
            // Now it would run directly on the server (a hint, a temporary
            // table, text read differently): not a migration to retry.
            Decision::Relay => {
                self.write_err(errors::ghostwire(format!(
                    "migration {id}'s statement would now go to the server directly, not as a \
                     migration; send it yourself if you mean to"
                )))
                .await
            }
        }
    }

    async fn write_err(&mut self, e: ErrPacket) -> Result<()> {
        self.write_raw(e.frame(1)).await
    }

    async fn write_raw_err(&mut self, payload: Vec<u8>) -> Result<()> {
        let mut out = Vec::new();
        crate::protocol::write_packet(&mut out, &mut 1, &payload);
        self.write_raw(out).await
    }

    async fn write_raw(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.client.write(&bytes).await.map_err(client_err)
    }
}
