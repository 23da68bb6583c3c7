//! The connection phase: open the backend connection, relay the greeting,
//! the client's handshake response and the auth exchange. Until the server's
//! OK, the client is unauthenticated: every packet it sends is bounded in
//! size ([`MAX_PREAUTH_PACKET`]) and the sequence id an ERR would need is
//! kept in `auth_seq` (the caller bounds the whole phase in time).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tracing::debug;

use super::bridge::{Bridge, FromClient};
use super::{backend_err, client_err, refuse, Result, Session, SessionError};
use crate::config::BackendTlsMode;
use crate::flavour::ServerInfo;
use crate::metrics::Handles;
use crate::protocol::errors;
use crate::protocol::handshake::{
    full_auth, mask_greeting, parse_client_hello, replace_auth_response, sends_password_first,
    set_client_ssl, ClientHello, FullAuth, Greeting,
};
use crate::protocol::packets::{ok_status, ErrPacket, ERR_HEADER, OK_HEADER};
use crate::protocol::response::ResponseTracker;
use crate::protocol::{parse_header, HEADER_LEN};
use crate::server::io::{Conn, IoError, Stream};
use crate::server::preauth::MAX_PREAUTH_PACKET;
use crate::server::Shared;
use crate::tls::Contexts;

/// An SSLRequest is the fixed part of a handshake response alone.
const SSL_REQUEST_LEN: usize = 32;

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
        // One snapshot of the TLS settings for the whole connection (a
        // reload applies to the next one).
        let tls = shared.tls.load_full();
        let offer_tls = tls.acceptor.is_some();
        let server = match greeting
            .get_mut(HEADER_LEN..)
            .map(|p| mask_greeting(p, offer_tls))
            .unwrap_or(Err(
                crate::protocol::handshake::HandshakeError::TruncatedGreeting,
            )) {
            Ok(g) => g,
            Err(e) => {
                let err = errors::backend_greeting_malformed(addr, &e);
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

        let (mut hello, parsed) = client_hello(client, shared, &tls, m, &server, &seq).await?;
        let backend_tls =
            backend_tls(client, &mut backend, shared, &tls, m, &server, &hello, &seq).await?;
        // After an SSLRequest every later packet of the login is one
        // sequence id further: the side that used TLS counts one more.
        let mut shift = u8::from(backend_tls).wrapping_sub(u8::from(client.is_tls()));
        let client_tls = client.is_tls();
        // A TLS client whose first response already is its password (in
        // clear): not passed on over a plain connection.
        if client_tls && !backend_tls && sends_password_first(&parsed.plugin) {
            let err = errors::cleartext_needs_backend_tls();
            return Err(refuse(client, err, 3).await);
        }
        let mut bridge = (!client_tls && backend_tls).then(|| Bridge::new(server.scramble));
        // A plain client whose first response is sha256_password's key
        // request or encrypted password: the server, over TLS, would read
        // it as the password. Bridged before the response is forwarded.
        let sha256_first_password = parsed.plugin == "sha256_password"
            && !matches!(parsed.auth_response.as_slice(), [] | [0]);
        if let Some(b) = bridge.as_mut().filter(|_| sha256_first_password) {
            if let Some(first) = sha256_first(client, shared, b, &parsed, &hello, &seq).await? {
                hello = first.hello;
                // A key answered here: the client is two packets further.
                shift = shift.wrapping_sub(2 * u8::from(first.key_sent));
            }
        }
        if let Some(p) = hello.get_mut(HEADER_LEN..).filter(|_| backend_tls) {
            set_client_ssl(p);
        }
        if let Some(s) = hello.get_mut(3) {
            *s = 1 + u8::from(backend_tls);
        }
        let sent = backend.write(&hello).await;
        // It may hold a bridged password.
        zeroize::Zeroize::zeroize(&mut hello[..]);
        sent.map_err(backend_err)?;

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
            auth_seq_shift: shift,
            tls_sides: (client_tls, backend_tls),
            bridge,
            flavour,
        };
        if !session.relay_auth().await? {
            return Err(SessionError::Backend(IoError::Closed));
        }
        session.auth_seq = None;
        session.auth_seq_shift = 0;
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
                let mut frame = self.backend.take(HEADER_LEN + len);
                let seq = seq.wrapping_sub(self.auth_seq_shift);
                if let Some(s) = frame.get_mut(3) {
                    *s = seq;
                }
                self.note_auth_seq(seq);
                if let (Some(b), Some(p)) = (&mut self.bridge, frame.get(HEADER_LEN..)) {
                    b.server_packet(p);
                }
                if let Some(err) = self.full_auth_refusal(&frame) {
                    // In place of that packet, with its sequence id.
                    return Err(refuse(self.client, err, seq).await);
                }
                if frame.get(HEADER_LEN) == Some(&OK_HEADER) {
                    if let Some(err) = self.transport_refusal().await? {
                        // In place of the OK: the client is not logged in.
                        return Err(refuse(self.client, err, seq).await);
                    }
                }
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
                let mut frame = self.client.take(HEADER_LEN + len);
                self.note_auth_seq(seq);
                if self.bridge.as_ref().is_some_and(Bridge::active) {
                    match self.bridge_client_packet(&frame, seq).await? {
                        Some(password) => frame = password,
                        None => continue,
                    }
                }
                if let Some(s) = frame.get_mut(3) {
                    *s = seq.wrapping_add(self.auth_seq_shift);
                }
                let sent = self.backend.write(&frame).await;
                // The frame may be a password in clear (bridged).
                zeroize::Zeroize::zeroize(&mut frame[..]);
                sent.map_err(backend_err)?;
            }
            tokio::select! {
                r = self.backend.read_more() => { r.map_err(backend_err)?; }
                r = self.client.read_more() => { r.map_err(client_err)?; }
            }
        }
    }

    /// After the server accepted a login (or COM_CHANGE_USER) over
    /// ghostwire's TLS connection: the ERR the server itself would give
    /// this client directly, when the account's or the server's transport
    /// rule depends on the client's own connection. The server judged
    /// ghostwire's connection, so ghostwire asks it, on that connection,
    /// what the rule is (it never reads the client's text for this):
    /// `require_secure_transport`, and the account's `REQUIRE` clause from
    /// `SHOW CREATE USER CURRENT_USER()`. An account needing a client
    /// certificate is refused whatever the client's transport. A check
    /// that cannot be made refuses (fail closed).
    async fn transport_refusal(&mut self) -> Result<Option<ErrPacket>> {
        let (client_tls, backend_tls) = self.tls_sides;
        if !backend_tls {
            return Ok(None);
        }
        let account = self
            .query_rows(b"SELECT CURRENT_USER()")
            .await?
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|r| r.into_iter().next().flatten())
            .map(|u| String::from_utf8_lossy(&u).into_owned());
        let Some(account) = account else {
            return Ok(Some(errors::account_requires_tls("?")));
        };
        if !client_tls {
            let secure = self
                .query_rows(b"SELECT @@global.require_secure_transport")
                .await?;
            // A server without the variable has no such rule.
            if let Ok(rows) = secure {
                let on = rows
                    .first()
                    .and_then(|r| r.first().cloned().flatten())
                    .is_some_and(|v| v == b"1" || v.eq_ignore_ascii_case(b"ON"));
                if on {
                    return Ok(Some(errors::server_requires_secure_transport()));
                }
            }
        }
        let create = self
            .query_rows(b"SHOW CREATE USER CURRENT_USER()")
            .await?
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|r| r.into_iter().next().flatten())
            .map(|c| String::from_utf8_lossy(&c).to_ascii_uppercase());
        let Some(create) = create else {
            return Ok(Some(errors::account_requires_tls(&account)));
        };
        Ok(match account_requirement(&create) {
            Requirement::Certificate => Some(errors::account_requires_certificate(&account)),
            Requirement::Tls if !client_tls => Some(errors::account_requires_tls(&account)),
            _ => None,
        })
    }

    /// During login or COM_CHANGE_USER, when the client is on TLS and the
    /// backend connection is not: the ERR that replaces a server packet
    /// asking for the password itself, which the client would send in
    /// clear, to go on in plain text. (The other way round, the bridge
    /// translates.)
    fn full_auth_refusal(&self, frame: &[u8]) -> Option<ErrPacket> {
        let asked = full_auth(frame.get(HEADER_LEN..)?)?;
        match (self.tls_sides, asked) {
            ((true, false), _) => Some(errors::cleartext_needs_backend_tls()),
            _ => None,
        }
    }

    /// A client packet while the bridge waits for a password (see
    /// `bridge`): the frame to send the server instead, or `None` when the
    /// packet was answered here (ghostwire's public key).
    async fn bridge_client_packet(&mut self, frame: &[u8], seq: u8) -> Result<Option<BytesMut>> {
        let key = match self.shared.password_keys.get().await {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(error = %e, "no RSA key for a plain-text client's password");
                let err = errors::no_password_key();
                return Err(refuse(self.client, err, seq.wrapping_add(1)).await);
            }
        };
        let payload = frame.get(HEADER_LEN..).unwrap_or_default();
        let Some(bridge) = self.bridge.as_mut() else {
            return Ok(Some(BytesMut::from(frame)));
        };
        match bridge.client_packet(payload, &key) {
            FromClient::Relay => Ok(Some(BytesMut::from(frame))),
            FromClient::Password(p) => {
                let mut out = BytesMut::with_capacity(HEADER_LEN + p.len());
                out.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
                out.extend_from_slice(&[seq]);
                out.extend_from_slice(&p);
                Ok(Some(out))
            }
            FromClient::AnswerKey(answer) => {
                let at = seq.wrapping_add(1);
                let mut out = Vec::with_capacity(HEADER_LEN + answer.len());
                out.extend_from_slice(&(answer.len() as u32).to_le_bytes()[..3]);
                out.push(at);
                out.extend_from_slice(&answer);
                self.client.write(&out).await.map_err(client_err)?;
                self.note_auth_seq(at);
                // The client is two packets further than the server sees.
                self.auth_seq_shift = self.auth_seq_shift.wrapping_sub(2);
                Ok(None)
            }
            FromClient::Refuse(err) => {
                debug!(%err, "bridged password refused");
                Err(refuse(self.client, err, seq.wrapping_add(1)).await)
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

/// A plain-text client's handshake response with its password in clear.
struct FirstPassword {
    /// The frame to send the server (zeroed once sent).
    hello: BytesMut,
    /// ghostwire answered a key request (two packets the server never sees).
    key_sent: bool,
}

/// A plain client whose handshake response is sha256_password's, over a
/// TLS backend connection: its key request answered with ghostwire's key,
/// its encrypted password decrypted (see `bridge`). `None` when there is
/// nothing to translate (no password).
async fn sha256_first(
    client: &mut Conn,
    shared: &Shared,
    bridge: &mut Bridge,
    hello: &ClientHello,
    frame: &[u8],
    seq: &AtomicU8,
) -> Result<Option<FirstPassword>> {
    let key = match shared.password_keys.get().await {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "no RSA key for a plain-text client's password");
            return Err(refuse(client, errors::no_password_key(), 2).await);
        }
    };
    bridge.expect_password(FullAuth::Sha256);
    let (mut answer, mut key_sent) = (bridge.client_packet(&hello.auth_response, &key), false);
    loop {
        match answer {
            FromClient::Relay => return Ok(None),
            FromClient::Password(password) => {
                let payload = frame.get(HEADER_LEN..).unwrap_or_default();
                let Some(mut p) = replace_auth_response(payload, hello, &password) else {
                    // Longer than a one-byte length field can say.
                    let err = errors::password_not_encrypted();
                    return Err(refuse(client, err, seq.load(Ordering::Relaxed)).await);
                };
                let mut out = BytesMut::with_capacity(HEADER_LEN + p.len());
                out.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
                out.extend_from_slice(&[1]);
                out.extend_from_slice(&p);
                zeroize::Zeroize::zeroize(&mut p);
                return Ok(Some(FirstPassword {
                    hello: out,
                    key_sent,
                }));
            }
            FromClient::Refuse(err) => {
                let at = seq.load(Ordering::Relaxed);
                return Err(refuse(client, err, at).await);
            }
            FromClient::AnswerKey(pem) => {
                // The key is the answer to the response (2); the client's
                // encrypted password comes as 3.
                let mut out = Vec::with_capacity(HEADER_LEN + pem.len());
                out.extend_from_slice(&(pem.len() as u32).to_le_bytes()[..3]);
                out.push(2);
                out.extend_from_slice(&pem);
                client.write(&out).await.map_err(client_err)?;
                seq.store(3, Ordering::Relaxed);
                key_sent = true;
                let (len, got) = client_header(client, &shared.config).await?;
                if got != 3 {
                    return Err(refuse(client, errors::out_of_order(), 3).await);
                }
                if len > MAX_PREAUTH_PACKET {
                    let err = errors::preauth_too_large(len, MAX_PREAUTH_PACKET);
                    return Err(refuse(client, err, 4).await);
                }
                client_frame(client, &shared.config).await?;
                let frame = client.take(HEADER_LEN + len);
                seq.store(4, Ordering::Relaxed);
                answer = bridge.client_packet(frame.get(HEADER_LEN..).unwrap_or_default(), &key);
            }
        }
    }
}

/// Reads the client's handshake response, upgrading the connection to TLS
/// first when the client sends an SSLRequest. Returns the frame (as read;
/// masked bits cleared) and what it says.
async fn client_hello(
    client: &mut Conn,
    shared: &Shared,
    tls: &Contexts,
    m: &Handles,
    server: &Greeting,
    seq: &AtomicU8,
) -> Result<(BytesMut, ClientHello)> {
    let cfg = &shared.config;
    loop {
        // 1 in plain text, 2 after an SSLRequest; an ERR is one more.
        let expected = 1 + u8::from(client.is_tls());
        // While TLS may still start, read exactly one packet at a time.
        let exact = tls.acceptor.is_some() && !client.is_tls();
        let (len, hello_seq) = if exact {
            fill_exact(client, cfg, HEADER_LEN).await?;
            parse_header(&client.buf).unwrap_or_default()
        } else {
            client_header(client, cfg).await?
        };
        if hello_seq != expected {
            return Err(refuse(client, errors::out_of_order(), expected + 1).await);
        }
        if len > MAX_PREAUTH_PACKET {
            m.rejected_preauth_too_large.increment(1);
            let err = errors::preauth_too_large(len, MAX_PREAUTH_PACKET);
            return Err(refuse(client, err, expected + 1).await);
        }
        if exact {
            fill_exact(client, cfg, HEADER_LEN + len).await?;
        } else {
            client_frame(client, cfg).await?;
        }
        let mut hello = client.take(HEADER_LEN + len);
        let parsed = hello
            .get_mut(HEADER_LEN..)
            .map(|p| parse_client_hello(p, server));
        match parsed {
            Some(Ok(h)) if h.ssl_request => {}
            // A login in plain text that says it is on TLS: the server
            // would start TLS on it and fail; refused plainly instead.
            Some(Ok(h)) if h.claims_ssl && !client.is_tls() => {
                debug!(user = %h.user, "plain-text login announcing TLS refused");
                return Err(refuse(client, errors::plain_login_claims_tls(), 2).await);
            }
            Some(Ok(h)) if tls.required && !client.is_tls() => {
                debug!(user = %h.user, "plain-text client refused: [listen.tls] mode = required");
                return Err(refuse(client, errors::insecure_transport(), 2).await);
            }
            Some(Ok(h)) => return Ok((hello, h)),
            _ => return Err(refuse(client, errors::malformed_handshake(), expected + 1).await),
        }
        if client.is_tls() {
            return Err(refuse(client, errors::tls_repeated(), expected + 1).await);
        }
        let Some(acceptor) = tls.acceptor.clone() else {
            return Err(refuse(client, errors::tls_unsupported(), expected + 1).await);
        };
        // Bytes sent after the SSLRequest and before the TLS handshake are
        // plain text that would pass for protected: refused.
        if !client.buf.is_empty() {
            return Err(refuse(client, errors::malformed_handshake(), 2).await);
        }
        let accepted = client
            .upgrade(|tcp| async move {
                let tls = acceptor.accept(tcp).await?;
                Ok(Stream::Accepted(Box::new(tls)))
            })
            .await;
        if let Err(e) = accepted {
            // Nothing can be said to a client whose TLS handshake failed.
            m.tls_client_failed.increment(1);
            debug!(error = %e, "client TLS handshake failed");
            return Err(client_err(e));
        }
        m.tls_client_ok.increment(1);
        seq.store(3, Ordering::Relaxed);
    }
}

/// With `[backend.tls]`: asks the server for TLS (an SSLRequest made of the
/// client's capabilities, max packet size and charset) and upgrades the
/// connection. True when the backend connection is now TLS.
#[allow(clippy::too_many_arguments)]
async fn backend_tls(
    client: &mut Conn,
    backend: &mut Conn,
    shared: &Shared,
    contexts: &Contexts,
    m: &Handles,
    server: &Greeting,
    hello: &[u8],
    seq: &AtomicU8,
) -> Result<bool> {
    let Some(tls) = &contexts.backend else {
        return Ok(false);
    };
    let addr = shared.config.backend.addr.as_str();
    let err_seq = seq.load(Ordering::Relaxed);
    if !server.server_ssl {
        if tls.mode == BackendTlsMode::Preferred {
            return Ok(false);
        }
        let err = errors::backend_tls_unavailable(addr);
        return Err(refuse(client, err, err_seq).await);
    }
    let Some(fixed) = hello.get(HEADER_LEN..HEADER_LEN + SSL_REQUEST_LEN) else {
        return Err(refuse(client, errors::malformed_handshake(), err_seq).await);
    };
    let mut request = Vec::with_capacity(HEADER_LEN + SSL_REQUEST_LEN);
    request.extend_from_slice(&[SSL_REQUEST_LEN as u8, 0, 0, 1]);
    request.extend_from_slice(fixed);
    if let Some(p) = request.get_mut(HEADER_LEN..) {
        set_client_ssl(p);
    }
    backend.write(&request).await.map_err(backend_err)?;
    let (connector, name) = (tls.connector.clone(), tls.name.clone());
    let upgraded = backend
        .upgrade(|tcp| async move {
            let tls = connector.connect(name, tcp).await?;
            Ok(Stream::Connected(Box::new(tls)))
        })
        .await;
    if let Err(e) = upgraded {
        m.tls_backend_failed.increment(1);
        tracing::warn!(backend = addr, error = %e, "TLS to the backend failed");
        let err = errors::backend_tls_failed(addr, &e);
        return Err(refuse(client, err, err_seq).await);
    }
    m.tls_backend_ok.increment(1);
    Ok(true)
}

/// [`Conn::fill_exact`], bounded by the client read timeout.
async fn fill_exact(client: &mut Conn, cfg: &crate::config::Config, n: usize) -> Result<()> {
    match tokio::time::timeout(cfg.client_read_timeout(), client.fill_exact(n)).await {
        Ok(r) => r.map_err(client_err),
        Err(_) => Err(refuse(client, errors::read_timeout(), 0).await),
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

/// What an account's `REQUIRE` clause asks of the client's transport.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Requirement {
    None,
    /// `REQUIRE SSL` or a `CIPHER`.
    Tls,
    /// `REQUIRE X509`, `SUBJECT` or `ISSUER`.
    Certificate,
}

/// Reads the `REQUIRE` clause of `SHOW CREATE USER`'s text (upper-cased),
/// as MariaDB and MySQL print it. Every ` REQUIRE ` in the text is read and
/// the strictest wins, so a quoted name or subject that contains the word
/// can only make it stricter (a refusal), never looser.
fn account_requirement(create: &str) -> Requirement {
    create
        .split(" REQUIRE ")
        .skip(1)
        .map(|clause| {
            let words: Vec<&str> = clause
                .split_whitespace()
                .take(12)
                .map(|w| w.trim_matches(|c| c == ',' || c == '\''))
                .collect();
            let has = |w: &str| words.contains(&w);
            if has("X509") || has("SUBJECT") || has("ISSUER") {
                Requirement::Certificate
            } else if has("SSL") || has("CIPHER") {
                Requirement::Tls
            } else {
                Requirement::None
            }
        })
        .max()
        .unwrap_or(Requirement::None)
}

#[cfg(test)]
mod requirement_tests {
    use super::{account_requirement, Requirement};

    #[test]
    fn require_clauses_as_the_servers_print_them() {
        let r = |s: &str| account_requirement(&s.to_ascii_uppercase());
        assert_eq!(
            r("CREATE USER `a`@`%` IDENTIFIED BY PASSWORD '*AB' REQUIRE SSL"),
            Requirement::Tls
        );
        assert_eq!(r("CREATE USER 'a'@'%' IDENTIFIED WITH 'caching_sha2_password' REQUIRE NONE PASSWORD EXPIRE DEFAULT"), Requirement::None);
        assert_eq!(
            r("CREATE USER 'a'@'%' REQUIRE X509 PASSWORD EXPIRE DEFAULT"),
            Requirement::Certificate
        );
        assert_eq!(
            r("CREATE USER 'a'@'%' REQUIRE SUBJECT '/CN=x' AND ISSUER '/CN=ca'"),
            Requirement::Certificate
        );
        assert_eq!(
            r("CREATE USER 'a'@'%' REQUIRE CIPHER 'ECDHE-RSA-AES256-SHA'"),
            Requirement::Tls
        );
        assert_eq!(
            r("CREATE USER `a`@`%` IDENTIFIED BY PASSWORD '*AB'"),
            Requirement::None
        );
        // A subject hiding a looser clause cannot loosen the real one.
        assert_eq!(
            r("CREATE USER 'a'@'%' REQUIRE SUBJECT '/CN= REQUIRE NONE'"),
            Requirement::Certificate
        );
    }
}
