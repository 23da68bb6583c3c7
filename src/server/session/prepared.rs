//! Prepared statements the proxy answers itself: an `ALTER TABLE` (or
//! CREATE/DROP INDEX) that runs as an online migration, and `SHOW
//! MIGRATIONS` / `ALTER MIGRATION`. Drivers that prepare every statement
//! (node mysql2 `execute()`, Go's driver with arguments, mysql-connector,
//! mysqli, Ruby mysql2) send these as COM_STMT_PREPARE + COM_STMT_EXECUTE;
//! the prepare is answered here and the command runs at execute, exactly
//! as the COM_QUERY path runs it (the whole trust boundary for an ALTER).
//!
//! Statement ids: the server numbers a connection's statements from 1
//! upwards, so the proxy hands out ids from the top of the u32 range
//! downwards, starting below 0xFFFF_FFFF (which MariaDB reads as "the last
//! statement prepared"); the two meet only after about four billion
//! prepares on one connection. On MariaDB, 0xFFFF_FFFF after a prepare the
//! proxy answered means that statement (MariaDB connectors pipeline
//! PREPARE and EXECUTE this way), so it is handled here too. COM_STMT_CLOSE / RESET / SEND_LONG_DATA on
//! such an id are answered here and never reach the server.

use std::sync::Arc;

use super::intercept::{Decision, Statement, SUBMITTED_COLUMNS};
use super::{client_err, Result, Session};
use crate::admin;
use crate::metrics::CommandKind;
use crate::migration::Hints;
use crate::protocol::binary::{prepare_ok, to_binary_rows};
use crate::protocol::errors;
use crate::protocol::packets::{ok_payload, ERR_HEADER, OK_HEADER};
use crate::protocol::response::Expect;
use crate::protocol::{write_packet, Command, HEADER_LEN, MAX_FRAME_PAYLOAD};
use crate::sql;

/// MariaDB's id for "the statement prepared last on this connection".
const LAST_PREPARED: u32 = 0xFFFF_FFFF;

/// The first id the proxy hands out (then downwards).
pub(super) const FIRST_PROXY_STMT_ID: u32 = 0xFFFF_FFFE;

/// A statement prepared in the proxy.
#[derive(Clone, Debug)]
pub(super) struct ProxyStmt {
    text: Arc<[u8]>,
    what: What,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    Intercepted(Statement),
    MigrationCommand,
}

impl Session<'_> {
    /// COM_STMT_PREPARE of an ALTER TABLE / CREATE INDEX / DROP INDEX
    /// (`kind`) that would run as an online migration: answered here.
    /// Returns false when it is not ghostwire's to run (a `direct` hint,
    /// interception off, a text the server will not prepare): then the
    /// caller relays it and the server prepares it natively.
    pub(super) async fn prepare_intercepted(
        &mut self,
        len: usize,
        kind: Statement,
    ) -> Result<bool> {
        let Some(text) = self.client.buf.get(HEADER_LEN + 1..HEADER_LEN + len) else {
            return Ok(false);
        };
        let text: Arc<[u8]> = text.into();
        let statement = sql::hints::hints_in_statement(&text, &self.plain_dialect());
        let Ok(statement) = statement else {
            // An unknown hint word: the execution would refuse it; so does
            // the prepare, with the same words as the COM_QUERY path.
            let err = statement.err().map(|e| e.to_string()).unwrap_or_default();
            return self
                .answer_prepare(len, errors::refusal(&err).frame(1))
                .await;
        };
        let hints = Hints::merged(self.hints, statement);
        if !self.should_intercept(hints) {
            return Ok(false);
        }
        // The server reads the text (never runs it) and counts its
        // parameters: a text it will not prepare is relayed, so its answer
        // is the server's own.
        let params = match self.server_prepares(&text).await? {
            Some(n) => n,
            None => return Ok(false),
        };
        if params > 0 {
            let err = errors::not_supported(
                "a statement that runs as an online migration (ALTER TABLE, CREATE/DROP INDEX) \
                 cannot take parameters (?); write the values into the statement, or add /* \
                 ghostwire: direct */ to prepare it on the server",
            );
            return self.answer_prepare(len, err.frame(1)).await;
        }
        let async_ =
            hints.async_ || self.shared.config.migrations.wait != crate::config::Wait::Complete;
        let columns: &[_] = if async_ { &SUBMITTED_COLUMNS } else { &[] };
        let id = self.new_proxy_stmt(text, What::Intercepted(kind));
        let reply = prepare_ok(id, columns, self.caps, self.tracker.status);
        self.answer_prepare(len, reply).await
    }

    /// COM_STMT_PREPARE of `SHOW MIGRATION(S)` / `ALTER MIGRATION`:
    /// answered here (a form the proxy does not know is refused now, as
    /// the COM_QUERY path refuses it).
    pub(super) async fn prepare_migration_command(&mut self, len: usize) -> Result<()> {
        self.m.command(CommandKind::Migration).increment(1);
        let text: Arc<[u8]> = self
            .client
            .buf
            .get(HEADER_LEN + 1..HEADER_LEN + len)
            .unwrap_or_default()
            .into();
        let dialect = match self.command_session().await? {
            Ok((_, dialect)) => dialect,
            Err(payload) => {
                let mut reply = Vec::new();
                crate::protocol::write_packet(&mut reply, &mut 1, &payload);
                return self.answer_prepare(len, reply).await.map(|_| ());
            }
        };
        let reply = match admin::parse(&text, &dialect) {
            admin::Request::Invalid(reply) => reply,
            request => {
                let columns: &[_] = match request {
                    admin::Request::Show(_) => &admin::MIGRATION_COLUMNS,
                    _ => &[],
                };
                let caps = self.caps;
                let status = self.tracker.status;
                let id = self.new_proxy_stmt(text, What::MigrationCommand);
                prepare_ok(id, columns, caps, status)
            }
        };
        self.answer_prepare(len, reply).await.map(|_| ())
    }

    /// COM_STMT_EXECUTE / CLOSE / RESET / SEND_LONG_DATA / FETCH for a
    /// statement prepared in the proxy: handled here. False: not one of ours.
    pub(super) async fn proxy_stmt_command(&mut self, cmd: u8, len: usize) -> Result<bool> {
        const EXECUTE: u8 = Command::COM_STMT_EXECUTE as u8;
        const CLOSE: u8 = Command::COM_STMT_CLOSE as u8;
        const RESET: u8 = Command::COM_STMT_RESET as u8;
        const LONG_DATA: u8 = Command::COM_STMT_SEND_LONG_DATA as u8;
        const FETCH: u8 = Command::COM_STMT_FETCH as u8;
        if self.proxy_stmts.is_empty()
            || !matches!(cmd, EXECUTE | CLOSE | RESET | LONG_DATA | FETCH)
        {
            return Ok(false);
        }
        // COM_STMT_EXECUTE's flags: a cursor type asks for rows by FETCH.
        let cursor = cmd == EXECUTE
            && self
                .client
                .buf
                .get(HEADER_LEN + 5)
                .is_some_and(|flags| flags & 0x07 != 0);
        let mut id = self
            .client
            .buf
            .get(HEADER_LEN + 1..HEADER_LEN + 5)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes);
        if id == Some(LAST_PREPARED) && self.plain_dialect().flavour == sql::Flavour::MariaDb {
            id = self.last_prepared_in_proxy.or(id);
        }
        let Some(stmt) = id.and_then(|id| self.proxy_stmts.get(&id)).cloned() else {
            return Ok(false);
        };
        // The frame is ours; a long one (data for parameters this
        // statement does not have) is read to its end and dropped.
        self.client.discard(HEADER_LEN + len);
        if len == MAX_FRAME_PAYLOAD {
            self.drop_continuation().await?;
        }
        match cmd {
            CLOSE => {
                if let Some(id) = id {
                    self.proxy_stmts.remove(&id);
                }
            }
            // Like the server: no parameters to reset, OK.
            RESET => {
                let mut out = Vec::new();
                let ok = ok_payload(OK_HEADER, 0, self.tracker.status, "");
                write_packet(&mut out, &mut 1, &ok);
                self.client.write(&out).await.map_err(client_err)?;
            }
            // No answer, as the server gives none; nothing to keep.
            LONG_DATA => {}
            // No cursor was opened (see `execute_proxy_stmt`).
            FETCH => self.client.write(&no_cursor()).await.map_err(client_err)?,
            _ => self.execute_proxy_stmt(stmt, cursor).await?,
        }
        Ok(true)
    }

    async fn execute_proxy_stmt(&mut self, stmt: ProxyStmt, cursor: bool) -> Result<()> {
        match stmt.what {
            What::MigrationCommand => {
                self.m.command(CommandKind::Migration).increment(1);
                let reply = match self.migration_reply(&stmt.text).await? {
                    Ok(reply) => reply,
                    Err(payload) => {
                        let mut out = Vec::new();
                        write_packet(&mut out, &mut 1, &payload);
                        out
                    }
                };
                // Rows through a cursor (metadata now, rows by FETCH) are
                // not served: refused, rather than rows the client's cursor
                // code would not expect. An OK or ERR needs no cursor.
                let rows = !matches!(reply.get(HEADER_LEN), Some(&OK_HEADER | &ERR_HEADER));
                if cursor && rows {
                    return self.client.write(&no_cursor()).await.map_err(client_err);
                }
                let reply = to_binary_rows(&reply, self.caps).unwrap_or(reply);
                self.client.write(&reply).await.map_err(client_err)
            }
            What::Intercepted(kind) => {
                self.m.command(CommandKind::Alter).increment(1);
                match self
                    .intercept_alter(stmt.text.to_vec(), 0, true, kind)
                    .await?
                {
                    Decision::Answered => Ok(()),
                    Decision::Relay => self.execute_natively(&stmt.text).await,
                }
            }
        }
    }

    /// Runs `text` as the server's own prepared statement on the client's
    /// connection (prepare, execute, close) and relays the execution's
    /// answer: what the client would have had without ghostwire.
    async fn execute_natively(&mut self, text: &[u8]) -> Result<()> {
        let mut prepare = vec![Command::COM_STMT_PREPARE as u8];
        prepare.extend_from_slice(text);
        let mut frame = Vec::new();
        write_packet(&mut frame, &mut 0, &prepare);
        let packets = self.backend_roundtrip(&frame).await?;
        let first = packets.first().cloned().unwrap_or_default();
        if first.first() == Some(&ERR_HEADER) || first.get(1..5).is_none() {
            let mut out = Vec::new();
            write_packet(&mut out, &mut 1, &first);
            return self.client.write(&out).await.map_err(client_err);
        }
        let id = first.get(1..5).unwrap_or_default().to_vec();
        // No parameters: flags 0 (no cursor), iteration count 1.
        let mut execute = vec![Command::COM_STMT_EXECUTE as u8];
        execute.extend_from_slice(&id);
        execute.extend_from_slice(&[0, 1, 0, 0, 0]);
        let mut frame = Vec::new();
        write_packet(&mut frame, &mut 0, &execute);
        if let Err(e) = self.backend.write(&frame).await {
            return Err(self.backend_failed(e).await);
        }
        self.relay_response(Expect::for_command(Command::COM_STMT_EXECUTE as u8))
            .await?;
        let mut close = vec![Command::COM_STMT_CLOSE as u8];
        close.extend_from_slice(&id);
        let mut frame = Vec::new();
        write_packet(&mut frame, &mut 0, &close);
        if let Err(e) = self.backend.write(&frame).await {
            return Err(self.backend_failed(e).await);
        }
        Ok(())
    }

    /// Prepares `text` on the client's connection and closes it again:
    /// the number of parameters, or None when the server will not.
    async fn server_prepares(&mut self, text: &[u8]) -> Result<Option<u16>> {
        let mut prepare = vec![Command::COM_STMT_PREPARE as u8];
        prepare.extend_from_slice(text);
        let mut frame = Vec::new();
        write_packet(&mut frame, &mut 0, &prepare);
        let packets = self.backend_roundtrip(&frame).await?;
        let first = packets.first().cloned().unwrap_or_default();
        let params = first.get(7..9).and_then(|p| <[u8; 2]>::try_from(p).ok());
        let (Some(&OK_HEADER), Some(id), Some(params)) = (first.first(), first.get(1..5), params)
        else {
            return Ok(None);
        };
        let mut close = vec![Command::COM_STMT_CLOSE as u8];
        close.extend_from_slice(id);
        let mut frame = Vec::new();
        write_packet(&mut frame, &mut 0, &close);
        if let Err(e) = self.backend.write(&frame).await {
            return Err(self.backend_failed(e).await);
        }
        Ok(Some(u16::from_le_bytes(params)))
    }

    fn new_proxy_stmt(&mut self, text: Arc<[u8]>, what: What) -> u32 {
        let id = self.next_proxy_stmt_id;
        self.next_proxy_stmt_id = id.wrapping_sub(1);
        self.proxy_stmts.insert(id, ProxyStmt { text, what });
        self.last_prepared_in_proxy = Some(id);
        id
    }

    /// Drops the buffered COM_STMT_PREPARE and answers it with `reply`.
    async fn answer_prepare(&mut self, len: usize, reply: Vec<u8>) -> Result<bool> {
        self.client.discard(HEADER_LEN + len);
        self.client.write(&reply).await.map_err(client_err)?;
        Ok(true)
    }

    /// Reads and drops the continuation frames of a packet over 16 MiB.
    async fn drop_continuation(&mut self) -> Result<()> {
        loop {
            while self.client.complete_frame().is_none() {
                self.read_client_timed().await?;
            }
            let (len, _) = self.client.complete_frame().unwrap_or_default();
            self.client.discard(HEADER_LEN + len);
            if len < MAX_FRAME_PAYLOAD {
                return Ok(());
            }
        }
    }
}

/// The answer to a cursor on a migration command's rows.
fn no_cursor() -> Vec<u8> {
    errors::not_supported(
        "cursors are not supported on SHOW MIGRATIONS / SHOW MIGRATION; execute it without a \
         cursor",
    )
    .frame(1)
}
