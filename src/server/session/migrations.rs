//! `SHOW MIGRATIONS` and `ALTER MIGRATION …` for one client: the engine's
//! rows, filtered and authorised by what the server lets this client do.
//! A migration is shown to its submitter and to whoever may see its table
//! (what `SHOW CREATE TABLE` would show them anyway); it is changed by its
//! submitter or by whoever may ALTER its table.

use std::collections::HashSet;

use super::probe::{qualify, Answer};
use super::{client_err, Result, Session};
use crate::admin;
use crate::metrics::CommandKind;
use crate::migration::client_session::ClientSession;
use crate::migration::store::{Filter, Listed};
use crate::protocol::charset;
use crate::protocol::write_packet;
use crate::protocol::HEADER_LEN;
use crate::sql::commands::{Action, Target};
use crate::sql::lexer::Dialect;

impl Session<'_> {
    pub(super) async fn answer_migration_command(
        &mut self,
        prepared: bool,
        len: usize,
    ) -> Result<()> {
        self.m.command(CommandKind::Migration).increment(1);
        let frame = self.client.take(HEADER_LEN + len);
        let sql = frame.get(HEADER_LEN + 1..).unwrap_or_default();
        let reply = if prepared {
            admin::refuse_prepare()
        } else {
            let reply = match self.command_session().await? {
                Ok((me, dialect)) => match admin::parse(sql, &dialect) {
                    // Answered by the retried statement's own path.
                    admin::Request::Alter {
                        target: Target::Id(id),
                        action: Action::Retry,
                    } => return self.retry(&id).await,
                    request => self.reply_to(request, me).await?,
                },
                Err(reply) => Err(reply),
            };
            match reply {
                Ok(reply) => reply,
                Err(payload) => {
                    let mut out = Vec::new();
                    write_packet(&mut out, &mut 1, &payload);
                    out
                }
            }
        };
        self.client.write(&reply).await.map_err(client_err)
    }

    /// The client's session (its rights are checked as itself) and the
    /// dialect the server reads its text in (its `sql_mode`'s
    /// `NO_BACKSLASH_ESCAPES` and `ANSI_QUOTES`): a command's strings mean
    /// what they would mean in a statement of that session. `Err`: the
    /// answer (an ERR payload).
    pub(super) async fn command_session(&mut self) -> Result<Answer<(ClientSession, Dialect)>> {
        let server = match self.shared.migrations.server().await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e.to_packet().payload())),
        };
        Ok(self.capture(server).await?.map(|me| {
            let dialect = Dialect::of_session_or_ascii(server, &me.sql_mode, &me.charset_client);
            (me, dialect)
        }))
    }

    pub(super) async fn migration_reply(&mut self, sql: &[u8]) -> Result<Answer<Vec<u8>>> {
        match self.command_session().await? {
            Ok((me, dialect)) => self.reply_to(admin::parse(sql, &dialect), me).await,
            Err(e) => Ok(Err(e)),
        }
    }

    async fn reply_to(
        &mut self,
        request: admin::Request,
        me: ClientSession,
    ) -> Result<Answer<Vec<u8>>> {
        let engine = self.shared.migrations.clone();
        if let admin::Request::Invalid(reply) = request {
            return Ok(Ok(reply));
        }
        let ctx = self.admin_context();
        match request {
            admin::Request::Show(f) => {
                // The pattern is matched as the client's session would
                // match it (MySQL drops `\` as LIKE's escape under
                // NO_BACKSLASH_ESCAPES).
                let no_backslash_escapes = me
                    .sql_mode
                    .split(',')
                    .any(|m| m.eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES"));
                let backslash_escapes = me
                    .server
                    .is_none_or(|s| s.like_backslash_escape(no_backslash_escapes));
                let filter = Filter::Matching {
                    like: f.like.as_deref(),
                    backslash_escapes,
                    equal: &f.equal,
                };
                let rows = match self.visible_rows(&engine, filter).await? {
                    Ok(rows) => rows,
                    Err(reply) => return Ok(Ok(reply)),
                };
                let limit = f.limit.unwrap_or(u64::MAX) as usize;
                let shown: Vec<_> = rows.into_iter().take(limit).map(|r| r.row).collect();
                Ok(Ok(admin::show(&shown, ctx)))
            }
            admin::Request::ShowOne(id) => {
                let rows = match self.visible_rows(&engine, Filter::One(&id)).await? {
                    Ok(rows) => rows,
                    Err(reply) => return Ok(Ok(reply)),
                };
                let shown: Vec<_> = rows.into_iter().map(|r| r.row).collect();
                Ok(Ok(admin::show(&shown, ctx)))
            }
            admin::Request::Alter {
                target: Target::Id(id),
                action,
            } => {
                let Some((schema, table, by)) = engine.owner_of(&id).await.ok().flatten() else {
                    return Ok(Ok(admin::unknown(&id)));
                };
                let target = (id.as_str(), action, (&*schema, &*table, &*by));
                match self.may_change_noted(&engine, &me, target).await? {
                    Change::Allowed => {}
                    Change::Hidden => return Ok(Ok(admin::unknown(&id))),
                    Change::Refused(e) => return Ok(Err(e)),
                }
                if action == Action::Cleanup {
                    return self.cleanup(&engine, &id, &me).await;
                }
                Ok(Ok(
                    match engine.command(&id, action, &me.current_user).await {
                        Ok(info) => admin::ok_reply(ctx, 1, &info),
                        Err(e) => e.frame(1),
                    },
                ))
            }
            admin::Request::Alter {
                target: Target::All,
                action,
            } => self.alter_all(&engine, action, &me).await,
            admin::Request::Invalid(reply) => Ok(Ok(reply)),
        }
    }

    /// `ALTER MIGRATION ALL <action>`: the action on every migration it
    /// applies to that this client may change; the others are left alone.
    async fn alter_all(
        &mut self,
        engine: &crate::migration::Handle,
        action: Action,
        me: &ClientSession,
    ) -> Result<Answer<Vec<u8>>> {
        let filter = Filter::Matching {
            like: None,
            backslash_escapes: true,
            equal: &[],
        };
        let rows = match self.visible_rows(engine, filter).await? {
            Ok(rows) => rows,
            Err(reply) => return Ok(Ok(reply)),
        };
        let mut done = Vec::new();
        for r in rows {
            let status = r.row.get(5).cloned().flatten().unwrap_or_default();
            let old_table = r.row.get(20).cloned().flatten();
            let Some(id) = r.row.first().cloned().flatten() else {
                continue;
            };
            // Only migrations this instance runs (others' instances answer
            // for theirs); old tables are anyone's to clean up.
            let applies = match action {
                Action::Cleanup => status == "complete" && old_table.is_some(),
                Action::Retry => false,
                _ => engine.control(&id).is_some(),
            };
            if !applies
                || !matches!(
                    self.may_change(me, &r.schema, &r.table, &r.submitted_by)
                        .await?,
                    Change::Allowed
                )
            {
                continue;
            }
            let ok = if action == Action::Cleanup {
                matches!(self.cleanup(engine, &id, me).await?, Ok(r) if r.get(4) == Some(&0))
            } else {
                engine.command(&id, action, &me.current_user).await.is_ok()
            };
            if ok {
                done.push(id);
            }
        }
        let info = format!(
            "ghostwire: {} applied to {} migration(s){}{}",
            action.name(),
            done.len(),
            if done.is_empty() { "" } else { ": " },
            done.join(", ")
        );
        Ok(Ok(admin::ok_reply(
            self.admin_context(),
            done.len() as u64,
            &info,
        )))
    }

    /// `CLEANUP`: the old table dropped by the client's own `DROP TABLE`, so
    /// the server decides whether it may (the DROP right), after ghostwire
    /// has checked that the table at that name is still the one it kept.
    async fn cleanup(
        &mut self,
        engine: &crate::migration::Handle,
        id: &str,
        me: &ClientSession,
    ) -> Result<Answer<Vec<u8>>> {
        let ctx = self.admin_context();
        let by = me.current_user.clone();
        let (schema, old) = match engine.old_table_to_drop(id).await {
            Err(e) => {
                engine
                    .note_command(id, Action::Cleanup, &by, Err(&e.message))
                    .await;
                return Ok(Ok(e.frame(1)));
            }
            Ok(Err(info)) => {
                engine
                    .note_command(id, Action::Cleanup, &by, Ok(&info))
                    .await;
                return Ok(Ok(admin::ok_reply(ctx, 0, &info)));
            }
            Ok(Ok(found)) => found,
        };
        let (Some(s), Some(t)) = (
            charset::encode(&schema, &me.charset_client),
            charset::encode(&old, &me.charset_client),
        ) else {
            return Ok(Ok(admin::unknown(id)));
        };
        let mut drop = b"DROP TABLE ".to_vec();
        drop.extend_from_slice(&qualify(&s, &t));
        match self.backend_query(&drop).await? {
            Err(refusal) => {
                let why = "the server refused the DROP TABLE";
                engine
                    .note_command(id, Action::Cleanup, &by, Err(why))
                    .await;
                Ok(Err(refusal))
            }
            Ok(_) => {
                engine.old_table_dropped(id).await;
                let info = format!("ghostwire: old table {old} of migration {id} dropped");
                engine
                    .note_command(id, Action::Cleanup, &by, Ok(&info))
                    .await;
                Ok(Ok(admin::ok_reply(ctx, 1, &info)))
            }
        }
    }

    /// The migrations matching `filter` that this client may see: its own,
    /// and those of tables it may see.
    async fn visible_rows(
        &mut self,
        engine: &crate::migration::Handle,
        filter: Filter<'_>,
    ) -> Result<std::result::Result<Vec<Listed>, Vec<u8>>> {
        let rows = match engine.list(filter).await {
            Ok(r) => r,
            Err(e) => return Ok(Err(e.to_packet().frame(1))),
        };
        // Its submitter too must still see the table: rights revoked since
        // the submission take the migration out of sight.
        let tables: HashSet<(String, String)> = rows
            .iter()
            .map(|r| (r.schema.clone(), r.table.clone()))
            .collect();
        let tables: Vec<_> = tables.into_iter().collect();
        let visible = self.visible(&tables).await?;
        Ok(Ok(rows
            .into_iter()
            .filter(|r| visible.contains(&(r.schema.clone(), r.table.clone())))
            .collect()))
    }

    /// Whether this client may change a migration of `schema.table`
    /// submitted by `by`: whoever does not see the table (no right on it
    /// any more) does not see the migration; its submitter may then; anyone
    /// else must be let ALTER it (`probe::may_alter`, on their own
    /// connection, running nothing).
    /// `may_change` for a command on migration `id`; a refusal is noted
    /// for the audit (`Handle::note_denied`).
    pub(super) async fn may_change_noted(
        &mut self,
        engine: &crate::migration::Handle,
        me: &ClientSession,
        (id, action, (schema, table, by)): (&str, Action, (&str, &str, &str)),
    ) -> Result<Change> {
        let change = self.may_change(me, schema, table, by).await?;
        let why = match &change {
            Change::Allowed => return Ok(change),
            Change::Hidden => "may not see the table",
            Change::Refused(_) => "the server refused the table's rights",
        };
        engine.note_denied(id, action, &me.current_user, why).await;
        Ok(change)
    }

    pub(super) async fn may_change(
        &mut self,
        me: &ClientSession,
        schema: &str,
        table: &str,
        by: &str,
    ) -> Result<Change> {
        let pair = (schema.to_string(), table.to_string());
        if !self
            .visible(std::slice::from_ref(&pair))
            .await?
            .contains(&pair)
        {
            return Ok(Change::Hidden);
        }
        // Its submitter, while it still has a right on the table (an INDEX
        // right for a CREATE INDEX, say); anyone else must be able to ALTER it.
        if by == me.current_user {
            return Ok(Change::Allowed);
        }
        let names = (
            charset::encode(schema, &me.charset_client),
            charset::encode(table, &me.charset_client),
        );
        let (Some(s), Some(t)) = names else {
            return Ok(Change::Hidden);
        };
        let Some(server) = me.server else {
            return Ok(Change::Hidden);
        };
        Ok(match self.may_alter(&qualify(&s, &t), server).await? {
            Ok(()) => Change::Allowed,
            Err(e) => Change::Refused(e),
        })
    }

    fn admin_context(&self) -> admin::Context {
        admin::Context {
            caps: self.caps,
            status: self.tracker.status,
        }
    }
}

/// Whether a client may change a migration.
pub(super) enum Change {
    Allowed,
    /// It may not see the table: the migration does not exist for it.
    Hidden,
    /// The server refused its ALTER of the table (this ERR payload).
    Refused(Vec<u8>),
}
