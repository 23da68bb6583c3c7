//! The connection phase: open the backend connection, relay the greeting,
//! the client's handshake response and the auth exchange. Until the server's
//! OK, the client is unauthenticated: every packet it sends is bounded in
//! size ([`MAX_PREAUTH_PACKET`]) and the sequence id an ERR would need is
//! kept in `auth_seq` (the caller bounds the whole phase in time).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::net::TcpStream;
use tracing::debug;

use super::{backend_err, client_err, refuse, Result, Session, SessionError};
use crate::flavour::ServerInfo;
use crate::metrics::Handles;
use crate::protocol::handshake::{mask_greeting, parse_client_hello};
use crate::protocol::packets::{errors, ok_status, ErrPacket, ERR_HEADER, OK_HEADER};
use crate::protocol::response::ResponseTracker;
use crate::protocol::{parse_header, HEADER_LEN};
use crate::server::io::{Conn, IoError};
use crate::server::preauth::MAX_PREAUTH_PACKET;
use crate::server::Shared;

impl<'a> Session<'a> {
    /// Opens the backend connection and relays the connection phase.
    /// `seq` follows the sequence id an ERR to the client would carry.
    pub(super) async fn connect(
        client: &'a mut Conn,
        shared: &'a Shared,
        m: &'static Handles,
        seq: Arc<AtomicU8>,
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
        let server = match greeting
            .get_mut(HEADER_LEN..)
            .map(mask_greeting)
            .unwrap_or(Err(
                crate::protocol::handshake::HandshakeError::TruncatedGreeting,
            )) {
            Ok(g) => g,
            Err(e) => {
                let err = ErrPacket::new(2027, "HY000", format!("ghostwire: backend {addr}: {e}"));
                return Err(refuse(client, err, 0).await);
            }
        };
        // The server's flavour, from the version string after the protocol
        // byte: how it answers malformed commands differs.
        let version = greeting.get(HEADER_LEN + 1..).unwrap_or_default();
        let version = version.split(|b| *b == 0).next().unwrap_or_default();
        let flavour = ServerInfo::parse(&String::from_utf8_lossy(version)).flavour;
        client.write(&greeting).await.map_err(client_err)?;
        // The client's handshake response is 1: the server's answer is 2.
        seq.store(2, Ordering::Relaxed);

        let (len, hello_seq) = client_header(client, cfg).await?;
        if hello_seq != 1 {
            return Err(refuse(client, errors::out_of_order(), 2).await);
        }
        if len > MAX_PREAUTH_PACKET {
            m.rejected_preauth_too_large.increment(1);
            let err = errors::preauth_too_large(len, MAX_PREAUTH_PACKET);
            return Err(refuse(client, err, 2).await);
        }
        client_frame(client, cfg).await?;
        let mut hello = client.take(HEADER_LEN + len);
        let parsed = match hello
            .get_mut(HEADER_LEN..)
            .map(|p| parse_client_hello(p, &server))
        {
            Some(Ok(h)) if h.ssl_request => {
                return Err(refuse(client, errors::tls_unsupported(), 2).await)
            }
            Some(Ok(h)) => h,
            _ => return Err(refuse(client, errors::malformed_handshake(), 2).await),
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
            retry_schema: None,
            prepared: Default::default(),
            proxy_stmts: Default::default(),
            next_proxy_stmt_id: super::prepared::FIRST_PROXY_STMT_ID,
            last_prepared_in_proxy: None,
            auth_seq: Some(seq),
            flavour,
        };
        if !session.relay_auth().await? {
            return Err(SessionError::Backend(IoError::Closed));
        }
        session.auth_seq = None;
        debug!(conn = server.connection_id, user = %parsed.user, "client authenticated");
        Ok(session)
    }

    /// Relays the auth exchange in both directions until the server's OK
    /// (true) or ERR (false). Whoever speaks next depends on the plugin
    /// (auth switch, caching_sha2 fast/full auth, ed25519), so both sides are
    /// read at once and the server's verdict ends it.
    pub(super) async fn relay_auth(&mut self) -> Result<bool> {
        loop {
            while let Some((len, seq)) = self.backend.complete_frame() {
                let frame = self.backend.take(HEADER_LEN + len);
                self.note_auth_seq(seq);
                self.client.write(&frame).await.map_err(client_err)?;
                match frame.get(HEADER_LEN).copied() {
                    Some(OK_HEADER) => {
                        if let Some(status) = frame.get(HEADER_LEN..).and_then(ok_status) {
                            self.tracker.status = status;
                        }
                        return Ok(true);
                    }
                    Some(ERR_HEADER) => return Ok(false),
                    _ => {}
                }
            }
            if let Some((len, seq)) = parse_header(&self.client.buf) {
                // Before login, no packet is big: refuse at the header,
                // before buffering a body that would be.
                if self.auth_seq.is_some() && len > MAX_PREAUTH_PACKET {
                    self.m.rejected_preauth_too_large.increment(1);
                    let err = errors::preauth_too_large(len, MAX_PREAUTH_PACKET);
                    return Err(refuse(self.client, err, seq.wrapping_add(1)).await);
                }
            }
            while let Some((len, seq)) = self.client.complete_frame() {
                let frame = self.client.take(HEADER_LEN + len);
                self.note_auth_seq(seq);
                self.backend.write(&frame).await.map_err(backend_err)?;
            }
            tokio::select! {
                r = self.backend.read_more() => { r.map_err(backend_err)?; }
                r = self.client.read_more() => { r.map_err(client_err)?; }
            }
        }
    }

    /// During login: an ERR sent now follows the frame with sequence id `seq`.
    fn note_auth_seq(&self, seq: u8) {
        if let Some(s) = &self.auth_seq {
            s.store(seq.wrapping_add(1), Ordering::Relaxed);
        }
    }
}

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
pub(super) async fn client_frame(
    client: &mut Conn,
    cfg: &crate::config::Config,
) -> Result<(usize, u8)> {
    match tokio::time::timeout(cfg.client_read_timeout(), client.read_frame()).await {
        Ok(r) => r.map_err(client_err),
        Err(_) => Err(refuse(client, errors::read_timeout(), 0).await),
    }
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
