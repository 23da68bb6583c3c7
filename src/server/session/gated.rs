//! The session side of the cut-over gate: before a statement that names a
//! watched table goes to the server, claim the table for this transaction,
//! or wait (bounded) while its gate is closed; release the claims when the
//! server reports the session outside a transaction.

use std::sync::Arc;

use super::{client_err, Result, Session};
use crate::protocol::{Command, HEADER_LEN, MAX_FRAME_PAYLOAD};

const QUERY: u8 = Command::COM_QUERY as u8;
const PREPARE: u8 = Command::COM_STMT_PREPARE as u8;
const EXECUTE: u8 = Command::COM_STMT_EXECUTE as u8;
const CLOSE: u8 = Command::COM_STMT_CLOSE as u8;
const RESET: u8 = Command::COM_RESET_CONNECTION as u8;
const CHANGE_USER: u8 = Command::COM_CHANGE_USER as u8;

impl Session<'_> {
    /// Admits the buffered command of `len` payload bytes whose statement
    /// text is `text` (a query, a statement being prepared, or the one a
    /// COM_STMT_EXECUTE runs). False: it was refused (the ERR is written).
    pub(super) async fn pass_gates(&mut self, len: usize, text: &[u8]) -> Result<bool> {
        let gates = self.shared.gates.clone();
        let mut touched = gates.mentioned(text);
        if touched.is_empty() {
            return Ok(true);
        }
        // The word search is a byte scan: a name inside a string or a
        // comment is no use of the table.
        let dialect = self.plain_dialect();
        touched.retain(|g| crate::sql::tables::names_identifier(text, &g.table, &dialect));
        if touched.is_empty() {
            return Ok(true);
        }
        let sql = String::from_utf8_lossy(text).into_owned();
        let conn = self.connection_id;
        let db = self.db.clone();
        let admit = gates.admit(conn, &mut self.claims, touched, |g| {
            crate::sql::tables::uses_table(&sql, db.as_deref(), &g.schema, &g.table)
        });
        // A held client that disconnects frees its place at once.
        let client = &mut self.client;
        let result = tokio::select! {
            r = admit => r,
            e = wait_closed(client) => return Err(client_err(e)),
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) => {
                self.client.discard(HEADER_LEN + len);
                self.client
                    .write(&e.to_packet().frame(1))
                    .await
                    .map_err(client_err)?;
                Ok(false)
            }
        }
    }

    /// The statement text a gated command runs, if any: the query or the
    /// statement being prepared, or for COM_STMT_EXECUTE the text recorded
    /// when that statement was prepared.
    pub(super) fn gated_text(&self, cmd: u8, len: usize) -> Option<Arc<[u8]>> {
        let payload = self
            .client
            .buf
            .get(HEADER_LEN + 1..HEADER_LEN + len)
            .unwrap_or_default();
        match cmd {
            QUERY | PREPARE if len < MAX_FRAME_PAYLOAD => Some(Arc::from(payload)),
            EXECUTE => {
                let id = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?);
                self.prepared.get(&id).cloned()
            }
            _ => None,
        }
    }

    /// After forwarding COM_STMT_PREPARE: reads the statement id from the
    /// start of the server's answer and remembers the statement's text.
    pub(super) async fn note_prepared(&mut self, text: Arc<[u8]>) -> Result<()> {
        while self.backend.buf.len() < HEADER_LEN + 5 {
            if let Err(e) = self.backend.read_more().await {
                return Err(super::backend_err(e));
            }
        }
        let b = &self.backend.buf;
        if b.get(HEADER_LEN) == Some(&0x00) {
            let id = b.get(HEADER_LEN + 1..HEADER_LEN + 5);
            if let Some(id) = id.and_then(|id| <[u8; 4]>::try_from(id).ok()) {
                self.prepared.insert(u32::from_le_bytes(id), text);
            }
        }
        Ok(())
    }

    /// Forgets statements the client closed (COM_STMT_CLOSE) or all of them
    /// (COM_RESET_CONNECTION, COM_CHANGE_USER).
    pub(super) fn forget_prepared(&mut self, cmd: u8, len: usize) {
        match cmd {
            CLOSE => {
                let p = self
                    .client
                    .buf
                    .get(HEADER_LEN + 1..HEADER_LEN + len)
                    .unwrap_or_default();
                if let Some(id) = p.get(..4).and_then(|b| b.try_into().ok()) {
                    self.prepared.remove(&u32::from_le_bytes(id));
                }
            }
            RESET | CHANGE_USER => self.prepared.clear(),
            _ => {}
        }
    }

    /// After forwarding a database change: applies it when the server's
    /// answer starts with OK.
    pub(super) async fn follow_database(&mut self) -> Result<()> {
        while self.backend.buf.len() < HEADER_LEN + 1 {
            if let Err(e) = self.backend.read_more().await {
                return Err(super::backend_err(e));
            }
        }
        let db = self.pending_db.take();
        if self.backend.buf.get(HEADER_LEN) == Some(&0x00) {
            self.db = db;
        }
        Ok(())
    }

    /// Ends the claims of a finished transaction (or autocommit statement).
    pub(super) fn release_claims(&mut self) {
        if !self.claims.is_empty() && !self.tracker.in_transaction() {
            self.claims.release_all(self.connection_id);
        }
    }
}

/// Resolves when the client closes its connection (bytes it sends are
/// kept for later: it may pipeline).
async fn wait_closed(client: &mut crate::server::io::Conn) -> crate::server::io::IoError {
    loop {
        if client.buf.len() > 1 << 20 {
            std::future::pending::<()>().await;
        }
        if let Err(e) = client.read_more().await {
            return e;
        }
    }
}
