//! Pure MySQL wire-protocol codec: framing, handshake capability masking,
//! OK/ERR/EOF packets, response-boundary tracking and synthetic result sets.
//!
//! Nothing here does I/O. Flag and command constants come from
//! `mysql_common`; the byte-level work is hand-written because the relay must
//! stay byte-for-byte faithful and must not decode rows (see docs/ARCHITECTURE.md,
//! decision 1).

pub mod binary;
pub mod charset;
pub mod errors;
pub mod handshake;
pub mod packets;
pub mod response;
pub mod resultset;

#[cfg(test)]
mod fuzz_tests;

pub use mysql_common::constants::{
    CapabilityFlags, ColumnType, Command, MariadbCapabilities, StatusFlags,
};

/// Bytes in a packet header: 3-byte little-endian payload length + sequence id.
pub const HEADER_LEN: usize = 4;
/// Largest payload of one frame; a frame this long is followed by a continuation.
pub const MAX_FRAME_PAYLOAD: usize = 0xFF_FFFF;

/// Parses a packet header: `(payload_len, sequence_id)`.
#[inline]
pub fn parse_header(buf: &[u8]) -> Option<(usize, u8)> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let len = buf[0] as usize | (buf[1] as usize) << 8 | (buf[2] as usize) << 16;
    Some((len, buf[3]))
}

/// Capabilities both sides agreed on, as far as the relay needs to know them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    pub client: u32,
    pub mariadb: u32,
}

impl Caps {
    #[inline]
    pub fn has(&self, flag: CapabilityFlags) -> bool {
        self.client & flag.bits() != 0
    }
    #[inline]
    pub fn has_mariadb(&self, flag: MariadbCapabilities) -> bool {
        self.mariadb & flag.bits() != 0
    }
    #[inline]
    pub fn deprecate_eof(&self) -> bool {
        self.has(CapabilityFlags::CLIENT_DEPRECATE_EOF)
    }
}

/// Reads a length-encoded integer at the start of `buf`: `(value, bytes_used)`.
/// `None` if `buf` is too short or starts with a marker that is not an integer
/// (0xFB NULL, 0xFF).
#[inline]
pub fn read_lenenc(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let (n, used) = match first {
        0..=0xFA => return Some((first as u64, 1)),
        0xFC => (2, 3),
        0xFD => (3, 4),
        0xFE => (8, 9),
        _ => return None,
    };
    if buf.len() < used {
        return None;
    }
    let mut v = 0u64;
    for (i, b) in buf[1..=n].iter().enumerate() {
        v |= (*b as u64) << (8 * i);
    }
    Some((v, used))
}

/// Appends a length-encoded integer.
pub fn put_lenenc(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0xFA => out.push(v as u8),
        0xFB..=0xFFFF => {
            out.push(0xFC);
            out.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            out.push(0xFD);
            out.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xFE);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Appends a length-encoded string.
pub fn put_lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    put_lenenc(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Frames `payload` as one logical packet (split into 16 MiB frames when
/// needed), appending to `out`. `seq` is advanced past the frames written.
pub fn write_packet(out: &mut Vec<u8>, seq: &mut u8, payload: &[u8]) {
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_FRAME_PAYLOAD);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        out.push(*seq);
        *seq = seq.wrapping_add(1);
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        // A frame of exactly MAX_FRAME_PAYLOAD bytes must be followed by
        // another frame, possibly empty.
        if n < MAX_FRAME_PAYLOAD {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trip() {
        for v in [
            0u64,
            250,
            251,
            0xFFFF,
            0x1_0000,
            0xFF_FFFF,
            0x100_0000,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_lenenc(&mut b, v);
            assert_eq!(read_lenenc(&b), Some((v, b.len())), "value {v}");
        }
        assert_eq!(read_lenenc(&[0xFB]), None);
        assert_eq!(read_lenenc(&[0xFC, 1]), None);
    }

    #[test]
    fn big_payload_is_split_with_trailing_empty_frame() {
        let payload = vec![7u8; MAX_FRAME_PAYLOAD];
        let mut out = Vec::new();
        let mut seq = 3;
        write_packet(&mut out, &mut seq, &payload);
        assert_eq!(out.len(), MAX_FRAME_PAYLOAD + 2 * HEADER_LEN);
        assert_eq!(parse_header(&out), Some((MAX_FRAME_PAYLOAD, 3)));
        assert_eq!(parse_header(&out[MAX_FRAME_PAYLOAD + 4..]), Some((0, 4)));
        assert_eq!(seq, 5);
    }
}
