//! One client session: connect to the backend, relay the handshake and auth
//! exchange, then relay commands and responses byte for byte while tracking
//! response boundaries and the transaction state.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpStream;
use tracing::{debug, info};

mod gated;
mod intercept;
mod migrations;
mod prepared;
mod probe;
mod retry;

use self::intercept::Decision;
use super::io::{Conn, IoError};
use super::Shared;
use crate::metrics::{self, CommandKind, Handles};
use crate::protocol::handshake::{mask_greeting, parse_client_hello};
use crate::protocol::packets::{errors, ok_status, ErrPacket, ERR_HEADER, OK_HEADER};
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
/// failure ends this session only.
pub async fn run(sock: TcpStream, shared: Arc<Shared>) {
    let m = metrics::handles();
    m.connections.increment(1.0);
    m.connections_total.increment(1);
    shared.open_sessions.fetch_add(1, Ordering::Relaxed);
    let mut client = Conn::new(sock);
    match Session::connect(&mut client, &shared, m).await {
        Ok(mut session) => {
            let outcome = session.serve().await;
            session.claims.release_all(session.connection_id);
            debug!(conn = session.connection_id, ?outcome, "session ended");
        }
        Err(e) => debug!(error = %e, "session ended during connect"),
    }
    m.connections.decrement(1.0);
    shared.open_sessions.fetch_sub(1, Ordering::Relaxed);
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
    /// Texts of the session's prepared statements, by id.
    prepared: std::collections::HashMap<u32, std::sync::Arc<[u8]>>,
    /// Statements prepared in the proxy (see `prepared.rs`), by id.
    proxy_stmts: std::collections::HashMap<u32, prepared::ProxyStmt>,
    next_proxy_stmt_id: u32,
    /// The last COM_STMT_PREPARE was answered by the proxy with this id
    /// (MariaDB's "last prepared statement", id 0xFFFF_FFFF).
    last_prepared_in_proxy: Option<u32>,
}

impl<'a> Session<'a> {
    /// Opens the backend connection and relays the connection phase.
    async fn connect(
        client: &'a mut Conn,
        shared: &'a Shared,
        m: &'static Handles,
    ) -> Result<Self> {
        let cfg = &shared.config;
        let addr = cfg.backend.addr.as_str();
        let sock = match tokio::time::timeout(cfg.connect_timeout(), TcpStream::connect(addr)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(refuse_unreachable(client, m, addr, &e).await),
            Err(_) => return Err(refuse_unreachable(client, m, addr, &"connect timed out").await),
        };
        let mut backend = Conn::new(sock);

        let (len, _) = backend.read_frame().await.map_err(backend_err)?;
        let mut greeting = backend.take(HEADER_LEN + len);
        if greeting.get(HEADER_LEN) == Some(&ERR_HEADER) {
            // The server refused us (too many connections, host blocked): relay.
            client.write(&greeting).await.map_err(client_err)?;
            return Err(backend_err(IoError::Closed));
        }
        let server = match mask_greeting(&mut greeting[HEADER_LEN..]) {
            Ok(g) => g,
            Err(e) => {
                let err = ErrPacket::new(2027, "HY000", format!("ghostwire: backend {addr}: {e}"));
                return Err(refuse(client, err, 0).await);
            }
        };
        client.write(&greeting).await.map_err(client_err)?;

        let (len, seq) = client_header(client, cfg).await?;
        if seq != 1 || len > MAX_HELLO {
            return Err(refuse(client, errors::out_of_order(), 2).await);
        }
        client_frame(client, cfg).await?;
        let mut hello = client.take(HEADER_LEN + len);
        let parsed = match parse_client_hello(&mut hello[HEADER_LEN..], &server) {
            Ok(h) if h.ssl_request => {
                return Err(refuse(client, errors::tls_unsupported(), 2).await)
            }
            Ok(h) => h,
            Err(_) => return Err(refuse(client, errors::malformed_handshake(), 2).await),
        };
        backend.write(&hello).await.map_err(backend_err)?;

        let mut session = Session {
            client,
            backend,
            shared,
            m,
            tracker: ResponseTracker::new(parsed.caps, 0),
            caps: parsed.caps,
            connection_id: server.connection_id,
            hints: Default::default(),
            claims: Default::default(),
            db: parsed.database.clone(),
            pending_db: None,
            prepared: Default::default(),
            proxy_stmts: Default::default(),
            next_proxy_stmt_id: prepared::FIRST_PROXY_STMT_ID,
            last_prepared_in_proxy: None,
        };
        if !session.relay_auth().await? {
            return Err(SessionError::Backend(IoError::Closed));
        }
        debug!(conn = server.connection_id, user = %parsed.user, "client authenticated");
        Ok(session)
    }

    /// Relays the auth exchange in both directions until the server's OK
    /// (true) or ERR (false). Whoever speaks next depends on the plugin
    /// (auth switch, caching_sha2 fast/full auth, ed25519), so both sides are
    /// read at once and the server's verdict ends it.
    async fn relay_auth(&mut self) -> Result<bool> {
        loop {
            while let Some((len, _)) = self.backend.complete_frame() {
                let frame = self.backend.take(HEADER_LEN + len);
                self.client.write(&frame).await.map_err(client_err)?;
                match frame.get(HEADER_LEN).copied() {
                    Some(OK_HEADER) => {
                        if let Some(status) = ok_status(&frame[HEADER_LEN..]) {
                            self.tracker.status = status;
                        }
                        return Ok(true);
                    }
                    Some(ERR_HEADER) => return Ok(false),
                    _ => {}
                }
            }
            while let Some((len, _)) = self.client.complete_frame() {
                let frame = self.client.take(HEADER_LEN + len);
                self.backend.write(&frame).await.map_err(backend_err)?;
            }
            tokio::select! {
                r = self.backend.read_more() => { r.map_err(backend_err)?; }
                r = self.client.read_more() => { r.map_err(client_err)?; }
            }
        }
    }

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
            let cmd = self.client.buf.get(HEADER_LEN).copied().unwrap_or(0xFF);
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
        match Expect::for_command(cmd) {
            Expect::Nothing => Ok(cmd != Command::COM_QUIT as u8),
            Expect::Auth => {
                self.relay_auth().await?;
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
                return client_frame(self.client, &self.shared.config)
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
                    // The server closed an idle connection: so do we, as a
                    // direct connection would, saying why first.
                    Err(e) => {
                        let addr = &self.shared.config.backend.addr;
                        let _ = self.client.write(&errors::backend_lost(addr).frame(0)).await;
                        return Err(backend_err(e));
                    }
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
    /// side closes.
    async fn relay_stream(&mut self) {
        let pending = std::mem::take(&mut self.backend.buf);
        if self.client.write(&pending).await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut self.client.sock, &mut self.backend.sock).await;
    }
}

/// A handshake response is a few hundred bytes; anything this big is garbage.
const MAX_HELLO: usize = 64 * 1024;

/// Reads until a client frame header is buffered, bounded by the client read timeout.
async fn client_header(client: &mut Conn, cfg: &crate::config::Config) -> Result<(usize, u8)> {
    let read = async {
        loop {
            if let Some(h) = parse_header(&client.buf) {
                return Ok::<_, IoError>(h);
            }
            client.read_more().await?;
        }
    };
    match tokio::time::timeout(cfg.client_read_timeout(), read).await {
        Ok(r) => r.map_err(client_err),
        Err(_) => Err(refuse(client, errors::read_timeout(), 0).await),
    }
}

/// Reads one whole client frame, bounded by the client read timeout.
async fn client_frame(client: &mut Conn, cfg: &crate::config::Config) -> Result<(usize, u8)> {
    match tokio::time::timeout(cfg.client_read_timeout(), client.read_frame()).await {
        Ok(r) => r.map_err(client_err),
        Err(_) => Err(refuse(client, errors::read_timeout(), 0).await),
    }
}

/// Answers the client with `err` and ends the session.
async fn refuse(client: &mut Conn, err: ErrPacket, seq: u8) -> SessionError {
    let _ = client.write(&err.frame(seq)).await;
    SessionError::Refused(err)
}

async fn refuse_unreachable(
    client: &mut Conn,
    m: &Handles,
    addr: &str,
    reason: &(dyn std::fmt::Display + Sync),
) -> SessionError {
    m.backend_connect_errors.increment(1);
    tracing::warn!(backend = addr, %reason, "cannot reach backend");
    let err = errors::cannot_reach_backend(addr, reason);
    refuse(client, err, 0).await
}
