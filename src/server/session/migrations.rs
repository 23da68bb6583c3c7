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
use crate::protocol::charset;
use crate::protocol::write_packet;
use crate::protocol::HEADER_LEN;

impl Session<'_> {
    pub(super) async fn answer_migration_command(
        &mut self,
        prepared: bool,
        len: usize,
    ) -> Result<()> {
        self.m.command(CommandKind::Migration).increment(1);
        let frame = self.client.take(HEADER_LEN + len);
        let reply = if prepared {
            admin::refuse_prepare()
        } else {
            let sql = frame.get(HEADER_LEN + 1..).unwrap_or_default();
            match self.migration_reply(sql).await? {
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

    pub(super) async fn migration_reply(&mut self, sql: &[u8]) -> Result<Answer<Vec<u8>>> {
        let engine = self.shared.migrations.clone();
        let request = admin::parse(sql);
        if let admin::Request::Invalid(reply) = request {
            return Ok(Ok(reply));
        }
        let server = match engine.server().await {
            Ok(s) => s,
            Err(e) => return Ok(Ok(e.to_packet().frame(1))),
        };
        let me = match self.capture(server).await? {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        match request {
            admin::Request::Show(id) => {
                let rows = match engine.list(id.as_deref()).await {
                    Ok(r) => r,
                    Err(e) => return Ok(Ok(e.to_packet().frame(1))),
                };
                let tables: HashSet<(String, String)> = rows
                    .iter()
                    .filter(|r| r.submitted_by != me.current_user)
                    .map(|r| (r.schema.clone(), r.table.clone()))
                    .collect();
                let tables: Vec<_> = tables.into_iter().collect();
                let visible = self.visible(&tables).await?;
                let shown: Vec<Vec<Option<String>>> = rows
                    .into_iter()
                    .filter(|r| {
                        r.submitted_by == me.current_user
                            || visible.contains(&(r.schema.clone(), r.table.clone()))
                    })
                    .map(|r| r.row)
                    .collect();
                Ok(Ok(admin::show(&shown, self.admin_context())))
            }
            admin::Request::Alter { id, action } => {
                let Some((schema, table, by)) = engine.owner_of(&id).await.ok().flatten() else {
                    return Ok(Ok(admin::unknown(&id)));
                };
                if by != me.current_user {
                    let pair = (schema.clone(), table.clone());
                    if !self
                        .visible(std::slice::from_ref(&pair))
                        .await?
                        .contains(&pair)
                    {
                        return Ok(Ok(admin::unknown(&id)));
                    }
                    let names = (
                        charset::encode(&schema, &me.charset_client),
                        charset::encode(&table, &me.charset_client),
                    );
                    let (Some(s), Some(t)) = names else {
                        return Ok(Ok(admin::unknown(&id)));
                    };
                    if let Err(e) = self.may_alter(&qualify(&s, &t)).await? {
                        return Ok(Err(e));
                    }
                }
                Ok(Ok(admin::alter(
                    &id,
                    &action,
                    self.admin_context(),
                    &engine,
                )))
            }
            admin::Request::Invalid(reply) => Ok(Ok(reply)),
        }
    }

    fn admin_context(&self) -> admin::Context {
        admin::Context {
            caps: self.caps,
            status: self.tracker.status,
        }
    }
}
