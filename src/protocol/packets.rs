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
