//! One client session: connect to the backend, relay the handshake and auth
//! exchange, then relay commands and responses byte for byte while tracking
//! response boundaries and the transaction state.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpStream;
use tracing::{debug, info};

mod bridge;
mod connect;
mod gated;
mod intercept;
mod migrations;
mod prepared;
mod probe;
mod retry;

use self::intercept::Decision;
use super::io::{Conn, IoError};
use super::preauth::Ticket;
use super::Shared;
use crate::metrics::{self, CommandKind, Handles};
use crate::protocol::errors;
use crate::protocol::packets::{ErrPacket, ERR_HEADER};
use crate::protocol::response::{Event, Expect, ResponseTracker};
use crate::protocol::{parse_header, Caps, Command, HEADER_LEN, MAX_FRAME_PAYLOAD};
use crate::sql::classify::{classify, Class};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("client: {0}")]
    Client(IoError),
    #[error("backend: {0}")]
    Backend(IoError),
    #[error("answered the client with {0}")]
    Refused(ErrPacket),
}

type Result<T> = std::result::Result<T, SessionError>;

fn client_err(e: impl Into<IoError>) -> SessionError {
    SessionError::Client(e.into())
}
fn backend_err(e: impl Into<IoError>) -> SessionError {
    SessionError::Backend(e.into())
}

/// Runs a client connection to completion. Never panics on bad input: every
/// failure ends this session only. Whatever way it ends (even by a panic,
/// a bug), the guards give back what it held: the connection gauge, its
/// place among those logging in, its backend connection, its gate claims.
pub(crate) async fn run(sock: TcpStream, shared: Arc<Shared>, ticket: Ticket) {
    let m = metrics::handles();
    let _open = Open::new(&shared, m);
    m.connections_total.increment(1);
    let mut client = Conn::new(sock).with_write_timeout(shared.config.client_write_timeout());
    let seq = ticket.seq.clone();
    // The whole login is bounded in time, and gives way to newer
    // connections when too many are logging in (see `preauth`).
    let connected = tokio::select! {
        r = Session::connect(&mut client, &shared, m, seq.clone()) => Some(r),
        _ = tokio::time::sleep_until(ticket.deadline) => None,
        _ = ticket.evicted.cancelled() => None,
        // Shutting down: a login not done yet is not waited for.
        _ = shared.drain.cancelled() => None,
    };
    // (Moved into the match: a session must be gone before `client` is
    // written to below.)
    let err = match std::convert::identity(connected) {
        Some(Ok(mut session)) => {
            drop(ticket);
            let outcome = session.serve().await;
            debug!(conn = session.connection_id, ?outcome, "session ended");
            None
        }
        Some(Err(e)) => {
            debug!(error = %e, "session ended during connect");
            None
        }
        None if shared.drain.is_cancelled() => {
            m.rejected_shutdown.increment(1);
            Some(errors::server_shutdown())
        }
        None if ticket.evicted.is_cancelled() => {
            m.rejected_max_unauthenticated.increment(1);
            Some(errors::too_many_unauthenticated(
                shared.config.listen.max_unauthenticated,
            ))
        }
        None => {
            m.rejected_handshake_timeout.increment(1);
            Some(errors::handshake_timeout(
                shared.config.listen.handshake_timeout_ms,
            ))
        }
    };
    if let Some(err) = err {
        debug!(%err, "closing a connection that did not log in");
        let _ = client.write(&err.frame(seq.load(Ordering::Relaxed))).await;
    }
    if client.write_timed_out {
        m.write_timeouts.increment(1);
        info!(
            timeout_ms = shared.config.listen.client_write_timeout_ms,
            "client took no bytes within client_write_timeout_ms: disconnected"
        );
    }
}

/// A session counted as open (gauge and `Shared::open_sessions`) for as
/// long as this lives.
struct Open<'a> {
    shared: &'a Shared,
    m: &'static Handles,
}

impl<'a> Open<'a> {
    fn new(shared: &'a Shared, m: &'static Handles) -> Self {
        m.connections.increment(1.0);
        shared.open_sessions.fetch_add(1, Ordering::Relaxed);
        Self { shared, m }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.m.connections.decrement(1.0);
        self.shared.open_sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Session<'a> {
    client: &'a mut Conn,
    backend: Conn,
    shared: &'a Shared,
    m: &'static Handles,
    tracker: ResponseTracker,
    caps: Caps,
    connection_id: u32,
    /// Hints set with `SET @ghostwire = '…'`.
    hints: crate::migration::Hints,
    /// Watched tables the current transaction has used (cut-over gate).
    claims: crate::gate::Claims,
    /// The current database, followed through the handshake, COM_INIT_DB
    /// and `USE` (for unqualified table names at the cut-over gate).
    db: Option<String>,
    /// A database change sent and not yet confirmed by the server.
    pending_db: Option<String>,
    /// While RETRY runs a stored statement: the database its unqualified
    /// table name meant when it was submitted.
    retry_schema: Option<String>,
    /// Texts of the session's prepared statements, by id.
    prepared: std::collections::HashMap<u32, std::sync::Arc<[u8]>>,
    /// Statements prepared in the proxy (see `prepared.rs`), by id.
    proxy_stmts: std::collections::HashMap<u32, prepared::ProxyStmt>,
    next_proxy_stmt_id: u32,
    /// The last COM_STMT_PREPARE was answered by the proxy with this id
    /// (MariaDB's "last prepared statement", id 0xFFFF_FFFF).
    last_prepared_in_proxy: Option<u32>,
    /// Until login is done: the sequence id an ERR to the client would
    /// carry (read by `run` when the login runs out of time).
    auth_seq: Option<Arc<AtomicU8>>,
    /// During login: the server's sequence ids minus the client's (they
    /// differ by one when only one side began with an SSLRequest).
    auth_seq_shift: u8,
    /// Whether the client's and the backend connection are TLS (login and
    /// COM_CHANGE_USER, see `full_auth_refusal`).
    tls_sides: (bool, bool),
    /// A plain-text client with a TLS backend connection: translates the
    /// passwords it sends RSA-encrypted (login and COM_CHANGE_USER).
    bridge: Option<bridge::Bridge>,
    /// The server's flavour (from its greeting).
    flavour: crate::flavour::Flavour,
}

/// Gate claims end with the session, however it ends: a claim left behind
/// would make every drain of that table time out naming a dead connection.
impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.claims.release_all(self.connection_id);
    }
}

impl Session<'_> {
    /// The command loop.
    async fn serve(&mut self) -> Result<()> {
        loop {
            let Some((len, seq)) = self.next_command().await? else {
                return Ok(());
            };
            if seq != 0 {
                return Err(refuse(self.client, errors::out_of_order(), seq.wrapping_add(1)).await);
            }
            let started = Instant::now();
            // An empty packet has no command byte: the server reads it as
            // COM_SLEEP (and refuses it), so the proxy expects that answer.
            let cmd = match len {
                0 => Command::COM_SLEEP as u8,
                _ => self.client.buf.get(HEADER_LEN).copied().unwrap_or(0xFF),
            };
            if !self.command(cmd, len).await? {
                return Ok(());
            }
            let took = started.elapsed();
            self.m.command_duration.record(took.as_secs_f64());
            self.shared.migrations.record_latency(took);
        }
    }

    /// Handles one command whose first frame is buffered. Returns false when
    /// the session is over (COM_QUIT, replication stream ended).
    async fn command(&mut self, cmd: u8, len: usize) -> Result<bool> {
        const QUERY: u8 = Command::COM_QUERY as u8;
        const PREPARE: u8 = Command::COM_STMT_PREPARE as u8;
        const EXECUTE: u8 = Command::COM_STMT_EXECUTE as u8;
        const RESET: u8 = Command::COM_RESET_CONNECTION as u8;
        const INIT_DB: u8 = Command::COM_INIT_DB as u8;
        const CHANGE_USER: u8 = Command::COM_CHANGE_USER as u8;
        if self.proxy_stmt_command(cmd, len).await? {
            return Ok(true);
        }
        if cmd == PREPARE {
            self.last_prepared_in_proxy = None;
        }
        let kind = match cmd {
            QUERY | PREPARE => {
                let text = self
                    .client
                    .buf
                    .get(HEADER_LEN + 1..HEADER_LEN + len)
                    .unwrap_or_default();
                let whole = len < MAX_FRAME_PAYLOAD;
                match classify(text) {
                    Class::MigrationCommand if whole && cmd == PREPARE => {
                        self.prepare_migration_command(len).await?;
                        return Ok(true);
                    }
                    Class::MigrationCommand if whole => {
                        self.answer_migration_command(false, len).await?;
                        return Ok(true);
                    }
                    class @ (Class::AlterTable | Class::IndexDdl) if whole => {
                        let kind = match class {
                            Class::IndexDdl => intercept::Statement::IndexDdl,
                            _ => intercept::Statement::AlterTable,
                        };
                        if cmd == PREPARE {
                            if self.prepare_intercepted(len, kind).await? {
                                self.m.command(CommandKind::Alter).increment(1);
                                return Ok(true);
                            }
                            CommandKind::Alter
                        } else {
                            self.m.command(CommandKind::Alter).increment(1);
                            let text = text.to_vec();
                            match self
                                .intercept_alter(text, HEADER_LEN + len, false, kind)
                                .await?
                            {
                                Decision::Answered => return Ok(true),
                                Decision::Relay => return self.relay_command(cmd, len).await,
                            }
                        }
                    }
                    Class::SetHint if whole && cmd == QUERY => {
                        if let Some(err) = self.note_session_hints(len) {
                            self.client.discard(HEADER_LEN + len);
                            self.client.write(&err.frame(1)).await.map_err(client_err)?;
                            return Ok(true);
                        }
                        CommandKind::Query
                    }
                    Class::AlterTable => CommandKind::Alter,
                    Class::Use if cmd == QUERY => {
                        self.pending_db = crate::sql::tables::use_target(text);
                        CommandKind::Query
                    }
                    _ if cmd == QUERY => CommandKind::Query,
                    _ => CommandKind::Prepare,
                }
            }
            EXECUTE => CommandKind::Execute,
            INIT_DB => {
                let name = self
                    .client
                    .buf
                    .get(HEADER_LEN + 1..HEADER_LEN + len)
                    .unwrap_or_default();
                self.pending_db = Some(String::from_utf8_lossy(name).into_owned());
                CommandKind::Other
            }
            RESET | CHANGE_USER => {
                // User variables go with the session state: so do the hints,
                // and prepared statements (the server drops its own).
                self.hints = Default::default();
                if cmd == CHANGE_USER {
                    // The new user's database is only known once its auth
                    // (maybe switched) ends: until the next USE, unknown,
                    // which the cut-over gate reads as "any database"
                    // (it then holds more statements, never fewer).
                    self.db = None;
                    self.pending_db = None;
                }
                self.proxy_stmts.clear();
                CommandKind::Other
            }
            _ => CommandKind::Other,
        };
        self.m.command(kind).increment(1);
        self.relay_command(cmd, len).await
    }

    /// Forwards the buffered command and relays the server's response,
    /// passing the cut-over gates first when a table is watched.
    async fn relay_command(&mut self, cmd: u8, len: usize) -> Result<bool> {
        const PREPARE: u8 = Command::COM_STMT_PREPARE as u8;
        // Every prepared statement's text is kept (prepares are rare next to
        // executions), so executions can be gated when a table is watched,
        // even for statements prepared before its migration began.
        self.forget_prepared(cmd, len);
        let text = if cmd == PREPARE || !self.shared.gates.idle() {
            self.gated_text(cmd, len)
        } else {
            None
        };
        if let Some(text) = &text {
            if !self.shared.gates.idle() && !self.pass_gates(len, text).await? {
                return Ok(true);
            }
        }
        let more = match text {
            Some(text) if cmd == PREPARE => {
                self.forward_command(len).await?;
                self.note_prepared(text).await?;
                self.relay_response(Expect::Prepare).await.map(|_| true)
            }
            _ => self.relay_command_ungated(cmd, len).await,
        };
        self.release_claims();
        more
    }

    async fn relay_command_ungated(&mut self, cmd: u8, len: usize) -> Result<bool> {
        self.forward_command(len).await?;
        if self.pending_db.is_some() {
            self.follow_database().await?;
        }
        match self.expect(cmd, len) {
            Expect::Nothing => Ok(cmd != Command::COM_QUIT as u8),
            Expect::Auth => {
                self.relay_auth().await?;
                // Back in step once the exchange is over (a bridged key
                // request moved the client's ids ahead).
                self.auth_seq_shift = 0;
                Ok(true)
            }
            Expect::Stream => {
                self.relay_stream().await;
                Ok(false)
            }
            expect => {
                self.relay_response(expect).await?;
                Ok(true)
            }
        }
    }

    /// The response a command of `len` payload bytes gets. MySQL answers a
    /// COM_STMT_CLOSE or COM_STMT_SEND_LONG_DATA too short to name its
    /// statement (and parameter) with an ERR, though these commands have no
    /// answer otherwise; MariaDB ignores them. The answer must be relayed as
    /// this command's, or the next command would take it for its own.
    fn expect(&self, cmd: u8, len: usize) -> Expect {
        const CLOSE: u8 = Command::COM_STMT_CLOSE as u8;
        const LONG_DATA: u8 = Command::COM_STMT_SEND_LONG_DATA as u8;
        let malformed = match cmd {
            CLOSE => len < 1 + 4,
            LONG_DATA => len < 1 + 4 + 2,
            _ => false,
        };
        if malformed && self.flavour == crate::flavour::Flavour::MySql {
            return Expect::OnePacket;
        }
        Expect::for_command(cmd)
    }

    /// Waits for the first frame of the next command. `None`: the session
    /// ends quietly (client left, or shutdown reached an idle session).
    async fn next_command(&mut self) -> Result<Option<(usize, u8)>> {
        loop {
            if let Some(h) = self.client.complete_frame() {
                return Ok(Some(h));
            }
            // A wrong sequence id is refused as soon as the header shows it,
            // without waiting for a body that garbage only pretends to have.
            if let Some((len, seq)) = parse_header(&self.client.buf).filter(|h| h.1 != 0) {
                return Ok(Some((len, seq)));
            }
            if !self.client.buf.is_empty() {
                // A packet has started: the rest must come within the timeout.
                return connect::client_frame(self.client, &self.shared.config)
                    .await
                    .map(Some);
            }
            let in_trans = self.tracker.in_transaction();
            tokio::select! {
                r = self.client.read_more() => match r {
                    Ok(_) => {}
                    Err(IoError::Closed) => return Ok(None),
                    Err(e) => return Err(client_err(e)),
                },
                r = self.backend.read_more() => match r {
                    // Unsolicited bytes (e.g. an error before the server
                    // closes an idle connection): pass them on.
                    Ok(_) => {
                        let n = self.backend.buf.len();
                        let bytes = self.backend.take(n);
                        self.client.write(&bytes).await.map_err(client_err)?;
                    }
                    // The server closed an idle connection (restart, KILL,
                    // wait_timeout): so do we, writing nothing, as the
                    // server does. An ERR here would answer no command:
                    // drivers read it as a malformed or out-of-order packet
                    // instead of a lost connection.
                    Err(e) => return Err(backend_err(e)),
                },
                _ = self.shared.drain.cancelled(), if !in_trans => return self.shut_down().await,
                _ = self.shared.kill.cancelled() => return self.shut_down().await,
            }
        }
    }

    async fn shut_down(&mut self) -> Result<Option<(usize, u8)>> {
        info!(conn = self.connection_id, "closing session for shutdown");
        let _ = self.client.write(&errors::server_shutdown().frame(0)).await;
        Ok(None)
    }

    /// Sends the buffered command frame, then any continuation frames.
    async fn forward_command(&mut self, len: usize) -> Result<()> {
        let frame = self.client.take(HEADER_LEN + len);
        if let Err(e) = self.backend.write(&frame).await {
            return Err(self.backend_failed(e).await);
        }
        self.m.bytes_to_backend.increment(frame.len() as u64);
        if len == MAX_FRAME_PAYLOAD {
            self.stream_client_frames(true).await?;
        }
        Ok(())
    }

    /// Streams client frames to the backend without buffering whole
    /// packets: either the continuation frames of a packet over 16 MiB
    /// (`continuation`), or LOCAL INFILE data up to its empty packet.
    async fn stream_client_frames(&mut self, continuation: bool) -> Result<()> {
        let mut prev_continued = continuation;
        loop {
            while parse_header(&self.client.buf).is_none() {
                self.read_client_timed().await?;
            }
            let (len, _) = parse_header(&self.client.buf).unwrap_or_default();
            let mut left = HEADER_LEN + len;
            while left > 0 {
                if self.client.buf.is_empty() {
                    self.read_client_timed().await?;
                }
                let n = left.min(self.client.buf.len());
                let chunk = self.client.take(n);
                if let Err(e) = self.backend.write(&chunk).await {
                    return Err(self.backend_failed(e).await);
                }
                self.m.bytes_to_backend.increment(n as u64);
                left -= n;
            }
            let done = if continuation {
                len < MAX_FRAME_PAYLOAD
            } else {
                len == 0 && !prev_continued
            };
            if done {
                return Ok(());
            }
            prev_continued = len == MAX_FRAME_PAYLOAD;
        }
    }

    /// The backend stopped accepting a command (it closed the connection,
    /// e.g. after rejecting a packet over its max_allowed_packet). Relay what
    /// it said last, if it said anything, else our own ERR.
    async fn backend_failed(&mut self, e: std::io::Error) -> SessionError {
        let wait = std::time::Duration::from_secs(1);
        while self.backend.complete_frame().is_none() {
            match tokio::time::timeout(wait, self.backend.read_more()).await {
                Ok(Ok(_)) => {}
                _ => break,
            }
        }
        match self.backend.complete_frame() {
            Some((len, _)) if self.backend.buf.get(HEADER_LEN) == Some(&ERR_HEADER) => {
                let frame = self.backend.take(HEADER_LEN + len);
                let _ = self.client.write(&frame).await;
            }
            _ => {
                let addr = &self.shared.config.backend.addr;
                let _ = self
                    .client
                    .write(&errors::backend_lost(addr).frame(1))
                    .await;
            }
        }
        backend_err(e)
    }

    async fn read_client_timed(&mut self) -> Result<()> {
        let timeout = self.shared.config.client_read_timeout();
        match tokio::time::timeout(timeout, self.client.read_more()).await {
            Ok(r) => r.map(|_| ()).map_err(client_err),
            Err(_) => Err(refuse(self.client, errors::read_timeout(), 0).await),
        }
    }

    /// Relays the server's response to the current command, walking packet
    /// headers only, until the tracker says it is complete.
    async fn relay_response(&mut self, expect: Expect) -> Result<()> {
        self.tracker.start(expect);
        loop {
            let (n, event) = self.tracker.feed(&self.backend.buf);
            if n > 0 {
                let bytes = self.backend.take(n);
                self.client.write(&bytes).await.map_err(client_err)?;
                self.m.bytes_to_client.increment(n as u64);
            }
            match event {
                Some(Event::Done) => return Ok(()),
                Some(Event::LocalInfile) => {
                    self.stream_client_frames(false).await?;
                    continue;
                }
                None => {}
            }
            // Watch the client too: if it disconnects mid-command, drop the
            // backend connection instead of finishing a response nobody reads.
            let room = self.client.buf.len() < 1 << 20;
            tokio::select! {
                biased;
                r = self.backend.read_more() => {
                    if let Err(e) = r {
                        let addr = &self.shared.config.backend.addr;
                        let seq = self.tracker.last_seq.wrapping_add(1);
                        let _ = refuse(self.client, errors::backend_lost(addr), seq).await;
                        return Err(backend_err(e));
                    }
                }
                r = self.client.read_more(), if room => { r.map_err(client_err)?; }
            }
        }
    }

    /// Replication stream (COM_BINLOG_DUMP): plain byte copy until either
    /// side closes. The server's bytes go through the client connection's
    /// writer, so a replica that stops reading is cut off after
    /// `client_write_timeout_ms` like any client (and the server's dump
    /// thread with it).
    async fn relay_stream(&mut self) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let pending = std::mem::take(&mut self.backend.buf);
        if self.client.write(&pending).await.is_err() {
            return;
        }
        let mut down = vec![0u8; 64 * 1024];
        let mut up = vec![0u8; 4096];
        loop {
            tokio::select! {
                n = self.backend.sock.read(&mut down) => match n {
                    Ok(n) if n > 0 => {
                        if self.client.write(&down[..n]).await.is_err() {
                            return;
                        }
                    }
                    _ => return,
                },
                n = self.client.sock.read(&mut up) => match n {
                    Ok(n) if n > 0 => {
                        if self.backend.sock.write_all(&up[..n]).await.is_err() {
                            return;
                        }
                    }
                    _ => return,
                },
            }
        }
    }
}

/// Answers the client with `err` and ends the session.
async fn refuse(client: &mut Conn, err: ErrPacket, seq: u8) -> SessionError {
    let _ = client.write(&err.frame(seq)).await;
    SessionError::Refused(err)
}
