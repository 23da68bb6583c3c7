//! OK / ERR / EOF payloads: building the proxy's own, and reading the status
//! flags out of the server's.

use std::borrow::Cow;

use super::{put_lenenc, read_lenenc, write_packet};

pub const OK_HEADER: u8 = 0x00;
pub const ERR_HEADER: u8 = 0xFF;
pub const EOF_HEADER: u8 = 0xFE;
pub const LOCAL_INFILE_HEADER: u8 = 0xFB;
/// MariaDB progress reports are ERR-shaped packets with this error code.
pub const PROGRESS_CODE: u16 = 0xFFFF;

/// SERVER_SESSION_STATE_CHANGED status flag.
const SESSION_STATE_CHANGED: u16 = 0x4000;

/// A MySQL error the proxy itself answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrPacket {
    pub code: u16,
    pub sqlstate: Cow<'static, str>,
    pub message: String,
}

impl ErrPacket {
    pub fn new(
        code: u16,
        sqlstate: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            sqlstate: sqlstate.into(),
            message: message.into(),
        }
    }

    pub fn payload(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(9 + self.message.len());
        p.push(ERR_HEADER);
        p.extend_from_slice(&self.code.to_le_bytes());
        p.push(b'#');
        p.extend_from_slice(self.sqlstate.as_bytes());
        p.extend_from_slice(self.message.as_bytes());
        p
    }

    /// The framed packet with sequence id `seq`.
    pub fn frame(&self, seq: u8) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = seq;
        write_packet(&mut out, &mut s, &self.payload());
        out
    }
}

impl std::fmt::Display for ErrPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ERROR {} ({}): {}",
            self.code, self.sqlstate, self.message
        )
    }
}

/// Payload of an OK packet (`header` 0x00, or 0xFE when it ends a result set
/// for a CLIENT_DEPRECATE_EOF client).
pub fn ok_payload(header: u8, affected: u64, status: u16, info: &str) -> Vec<u8> {
    // The proxy's own OKs carry no session-state data, so they must not
    // claim any (the flag makes clients look for it after the info).
    let status = status & !SESSION_STATE_CHANGED;
    let mut p = vec![header];
    put_lenenc(&mut p, affected);
    put_lenenc(&mut p, 0); // last insert id
    p.extend_from_slice(&status.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes()); // warnings
    if !info.is_empty() {
        p.extend_from_slice(info.as_bytes());
    }
    p
}

/// Payload of a command's OK packet carrying an info text. The info is
/// length-prefixed whatever the capabilities, as servers send it
/// (`net_send_ok`) and clients read it (libmariadb, mysql_common).
pub fn ok_with_info(affected: u64, status: u16, info: &str) -> Vec<u8> {
    let mut p = ok_payload(OK_HEADER, affected, status, "");
    super::put_lenenc_str(&mut p, info.as_bytes());
    p
}

/// Payload of an old-style EOF packet.
pub fn eof_payload(status: u16) -> Vec<u8> {
    let mut p = vec![EOF_HEADER, 0, 0];
    p.extend_from_slice(&status.to_le_bytes());
    p
}

/// Status flags of an OK packet (header 0x00 or 0xFE), given at least its
/// first bytes. `None` when the prefix is too short to tell.
#[inline]
pub fn ok_status(payload: &[u8]) -> Option<u16> {
    let (_, a) = read_lenenc(payload.get(1..)?)?;
    let (_, b) = read_lenenc(payload.get(1 + a..)?)?;
    let at = 1 + a + b;
    Some(u16::from_le_bytes([
        *payload.get(at)?,
        *payload.get(at + 1)?,
    ]))
}

/// Status flags of an old-style EOF packet.
#[inline]
pub fn eof_status(payload: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes([*payload.get(3)?, *payload.get(4)?]))
}

/// Error code of an ERR payload.
#[inline]
pub fn err_code(payload: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes([*payload.get(1)?, *payload.get(2)?]))
}

/// Well-known errors the proxy answers with.
pub mod errors {
    use super::ErrPacket;

    pub fn too_many_connections() -> ErrPacket {
        ErrPacket::new(
            1040,
            "08004",
            "Too many connections (ghostwire max_connections reached)",
        )
    }
    pub fn server_shutdown() -> ErrPacket {
        ErrPacket::new(
            1053,
            "08S01",
            "ghostwire: proxy is shutting down; reconnect",
        )
    }
    pub fn cannot_reach_backend(addr: &str, reason: &dyn std::fmt::Display) -> ErrPacket {
        ErrPacket::new(
            2003,
            "HY000",
            format!("ghostwire: cannot reach backend {addr}: {reason}"),
        )
    }
    pub fn backend_lost(addr: &str) -> ErrPacket {
        ErrPacket::new(
            2013,
            "HY000",
            format!("ghostwire: lost connection to backend {addr}; reconnect and retry"),
        )
    }
    pub fn out_of_order() -> ErrPacket {
        ErrPacket::new(
            1156,
            "08S01",
            "ghostwire: got packets out of order; closing connection",
        )
    }
    pub fn read_timeout() -> ErrPacket {
        ErrPacket::new(
            1159,
            "08S01",
            "ghostwire: timeout reading a packet the client started; closing connection",
        )
    }
    /// A new connection came while `max_unauthenticated` others were still
    /// logging in; this one had been at it the longest.
    pub fn too_many_unauthenticated(max: usize) -> ErrPacket {
        ErrPacket::new(
            1040,
            "08004",
            format!(
                "ghostwire: too many connections still logging in (max_unauthenticated = {max}); \
                 this one took the longest and was closed: reconnect"
            ),
        )
    }
    pub fn handshake_timeout(ms: u64) -> ErrPacket {
        ErrPacket::new(
            1159,
            "08S01",
            format!(
                "ghostwire: login not finished within handshake_timeout_ms = {ms}; closing connection"
            ),
        )
    }
    /// A packet before authentication longer than any login packet can be.
    pub fn preauth_too_large(len: usize, max: usize) -> ErrPacket {
        ErrPacket::new(
            1153,
            "08S01",
            format!(
                "ghostwire: got a {len}-byte packet before authentication; \
                 at most {max} bytes are allowed until login; closing connection"
            ),
        )
    }
    pub fn tls_unsupported() -> ErrPacket {
        ErrPacket::new(
            1043,
            "08S01",
            "ghostwire: TLS is not enabled on this proxy ([listen.tls] mode = \"off\"); \
             connect with ssl-mode=DISABLED",
        )
    }
    /// An SSLRequest over a connection already on TLS.
    pub fn tls_repeated() -> ErrPacket {
        ErrPacket::new(
            1043,
            "08S01",
            "ghostwire: bad handshake: TLS asked for again on a connection already on TLS; \
             closing connection",
        )
    }
    /// A full handshake response in plain text with CLIENT_SSL set.
    pub fn plain_login_claims_tls() -> ErrPacket {
        ErrPacket::new(
            1043,
            "08S01",
            "ghostwire: bad handshake: the login announces TLS (CLIENT_SSL) but was sent in \
             plain text without an SSLRequest first; closing connection",
        )
    }
    /// `[listen.tls] mode = "required"` and the client did not ask for TLS
    /// (MySQL's own answer under `require_secure_transport`).
    pub fn insecure_transport() -> ErrPacket {
        ErrPacket::new(
            3159,
            "08004",
            "ghostwire: connections using insecure transport are prohibited \
             ([listen.tls] mode = \"required\"); connect with TLS",
        )
    }
    /// The server's `require_secure_transport` is on and the client's own
    /// connection to ghostwire is plain text: the server, seeing ghostwire's
    /// TLS connection, accepted a login it refuses to this client directly.
    pub fn server_requires_secure_transport() -> ErrPacket {
        ErrPacket::new(
            3159,
            "HY000",
            "ghostwire: connections using insecure transport are prohibited while \
             --require_secure_transport=ON; connect to ghostwire with TLS",
        )
    }
    /// The account is `REQUIRE SSL` (or a cipher) and the client's own
    /// connection to ghostwire is plain text.
    pub fn account_requires_tls(user: &str) -> ErrPacket {
        ErrPacket::new(
            1045,
            "28000",
            format!(
                "ghostwire: Access denied for user {user}: the account requires TLS (REQUIRE \
                 SSL) and this connection to ghostwire is plain text; connect with TLS"
            ),
        )
    }
    /// The account needs a client certificate (`REQUIRE X509`, `SUBJECT`,
    /// `ISSUER`): the server would check ghostwire's own certificate, not
    /// the client's, so such accounts cannot log in through ghostwire.
    pub fn account_requires_certificate(user: &str) -> ErrPacket {
        ErrPacket::new(
            1045,
            "28000",
            format!(
                "ghostwire: Access denied for user {user}: the account requires a client \
                 certificate (REQUIRE X509/SUBJECT/ISSUER), which ghostwire cannot pass on \
                 (the server would see ghostwire's certificate); connect to the server directly"
            ),
        )
    }
    /// The client (over TLS) would send its password in clear next, and
    /// ghostwire's connection to the server is plain text.
    pub fn cleartext_needs_backend_tls() -> ErrPacket {
        ErrPacket::new(
            2061,
            "HY000",
            "ghostwire: this login would send the password to the server in clear text \
             (caching_sha2_password full authentication, sha256_password or \
             mysql_clear_password): the client uses TLS but [backend.tls] mode is off; \
             enable TLS to the backend",
        )
    }
    /// A plain-text client encrypted its password with an RSA key that is
    /// not ghostwire's (one it pinned: the server's own), and ghostwire's
    /// connection to the server is TLS, where the server expects it in clear.
    pub fn pinned_server_key() -> ErrPacket {
        ErrPacket::new(
            2061,
            "HY000",
            "ghostwire: the password was encrypted with an RSA public key that is not \
             ghostwire's (a pinned server key?); ghostwire's connection to the server is TLS \
             and needs the password itself: let the client fetch the key \
             (get-server-public-key / allowPublicKeyRetrieval), pin ghostwire's key \
             ([listen] rsa_key), or connect to ghostwire with TLS",
        )
    }
    /// ghostwire has no RSA key to hand a plain-text client (it could not
    /// make one: logged).
    pub fn no_password_key() -> ErrPacket {
        ErrPacket::new(
            2061,
            "HY000",
            "ghostwire: no RSA key for this plain-text login (see ghostwire's log); \
             connect to ghostwire with TLS",
        )
    }
    /// A plain-text client sent its password neither encrypted nor after a
    /// key request: the server refuses that on a plain connection too.
    pub fn password_not_encrypted() -> ErrPacket {
        ErrPacket::new(
            1045,
            "28000",
            "ghostwire: Access denied: over a plain-text connection the password must be \
             RSA-encrypted, as the server requires; connect with TLS or let the client use \
             the RSA key",
        )
    }
    /// `[backend.tls]` requires TLS and the server does not offer it.
    pub fn backend_tls_unavailable(addr: &str) -> ErrPacket {
        ErrPacket::new(
            2026,
            "HY000",
            format!(
                "ghostwire: backend {addr} does not offer TLS, which [backend.tls] mode requires"
            ),
        )
    }
    /// The TLS handshake with the server failed (its certificate, mostly).
    pub fn backend_tls_failed(addr: &str, reason: &dyn std::fmt::Display) -> ErrPacket {
        ErrPacket::new(
            2026,
            "HY000",
            format!("ghostwire: TLS to backend {addr} failed: {reason}"),
        )
    }
    pub fn malformed_handshake() -> ErrPacket {
        ErrPacket::new(
            1043,
            "08S01",
            "ghostwire: bad handshake response; closing connection",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_and_eof_status_are_read_back() {
        let ok = ok_payload(OK_HEADER, 300, 0x0003, "hi");
        assert_eq!(ok_status(&ok), Some(0x0003));
        // The proxy's own OKs never claim session-state data they lack.
        let ok = ok_payload(OK_HEADER, 300, 0x4003, "");
        assert_eq!(ok_status(&ok), Some(0x0003));
        assert_eq!(ok_status(&ok[..3]), None);
        assert_eq!(eof_status(&eof_payload(0x0022)), Some(0x0022));
    }

    #[test]
    fn err_packet_layout() {
        let e = ErrPacket::new(1045, "28000", "denied").frame(2);
        assert_eq!(&e[..4], &[15, 0, 0, 2]);
        assert_eq!(&e[4..7], &[0xFF, 0x15, 0x04]);
        assert_eq!(&e[7..13], b"#28000");
        assert_eq!(err_code(&e[4..]), Some(1045));
    }
}
