//! Synthetic text result sets written by the proxy itself (SHOW MIGRATIONS).
//!
//! Written by hand rather than with `mysql_common::Column`, which serializes
//! column_length before character_set; every byte here is checked against
//! old-EOF, CLIENT_DEPRECATE_EOF and MariaDB extended-metadata clients.

use super::packets::{eof_payload, ok_payload, EOF_HEADER};
use super::{put_lenenc, put_lenenc_str, write_packet, Caps, ColumnType, MariadbCapabilities};

const UTF8MB4_GENERAL_CI: u16 = 45;
const BINARY: u16 = 63;
const BINARY_FLAG: u16 = 128;
const NUM_FLAG: u16 = 32768;
/// "Not a fixed number of decimals", what servers send for strings and doubles.
const NOT_FIXED_DEC: u8 = 39;

/// The SQL type a synthetic column is announced with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    BigInt,
    Double,
    Datetime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

impl Column {
    pub const fn new(name: &'static str, kind: Kind) -> Self {
        Self { name, kind }
    }

    pub fn definition(&self, caps: Caps) -> Vec<u8> {
        let (charset, length, ty, flags, decimals) = match self.kind {
            Kind::Text => (
                UTF8MB4_GENERAL_CI,
                4 * 65535,
                ColumnType::MYSQL_TYPE_VAR_STRING,
                0,
                NOT_FIXED_DEC,
            ),
            Kind::BigInt => (
                BINARY,
                20,
                ColumnType::MYSQL_TYPE_LONGLONG,
                BINARY_FLAG | NUM_FLAG,
                0,
            ),
            Kind::Double => (
                BINARY,
                22,
                ColumnType::MYSQL_TYPE_DOUBLE,
                BINARY_FLAG | NUM_FLAG,
                NOT_FIXED_DEC,
            ),
            Kind::Datetime => (BINARY, 26, ColumnType::MYSQL_TYPE_DATETIME, BINARY_FLAG, 6),
        };
        let mut p = Vec::with_capacity(48 + 2 * self.name.len());
        put_lenenc_str(&mut p, b"def"); // catalog
        put_lenenc_str(&mut p, b""); // schema
        put_lenenc_str(&mut p, b""); // table alias
        put_lenenc_str(&mut p, b""); // table
        put_lenenc_str(&mut p, self.name.as_bytes()); // column alias
        put_lenenc_str(&mut p, self.name.as_bytes()); // column
        if caps.has_mariadb(MariadbCapabilities::MARIADB_CLIENT_EXTENDED_METADATA) {
            put_lenenc_str(&mut p, b""); // no extended type info
        }
        p.push(0x0C); // length of the fixed-length fields
        p.extend_from_slice(&charset.to_le_bytes());
        p.extend_from_slice(&(length as u32).to_le_bytes());
        p.push(ty as u8);
        p.extend_from_slice(&flags.to_le_bytes());
        p.push(decimals);
        p.extend_from_slice(&[0, 0]);
        p
    }
}

/// Writes a complete text result set starting at sequence id `seq` (1 for a
/// reply to a command). `status` are the session's current status flags.
pub fn write_result_set(
    out: &mut Vec<u8>,
    seq: u8,
    caps: Caps,
    status: u16,
    columns: &[Column],
    rows: &[Vec<Option<String>>],
) {
    let mut seq = seq;
    let mut count = Vec::with_capacity(10);
    put_lenenc(&mut count, columns.len() as u64);
    if caps.has_mariadb(MariadbCapabilities::MARIADB_CLIENT_CACHE_METADATA) {
        count.push(1); // metadata follows
    }
    write_packet(out, &mut seq, &count);
    for c in columns {
        write_packet(out, &mut seq, &c.definition(caps));
    }
    if !caps.deprecate_eof() {
        write_packet(out, &mut seq, &eof_payload(status));
    }
    let mut row_buf = Vec::new();
    for row in rows {
        row_buf.clear();
        for v in row {
            match v {
                Some(s) => put_lenenc_str(&mut row_buf, s.as_bytes()),
                None => row_buf.push(0xFB),
            }
        }
        write_packet(out, &mut seq, &row_buf);
    }
    let end = if caps.deprecate_eof() {
        ok_payload(EOF_HEADER, 0, status, "")
    } else {
        eof_payload(status)
    };
    write_packet(out, &mut seq, &end);
}

/// One text-protocol row: each column's bytes, `None` for SQL NULL.
pub type TextRow = Vec<Option<Vec<u8>>>;

/// Reads the rows of a server's text result set, given the payloads of its
/// packets in order (column count, definitions, [EOF,] rows, final EOF/OK).
/// For the few small queries the proxy runs on a client's own connection;
/// `None` when the packets are not a result set of this shape.
pub fn read_text_rows(packets: &[Vec<u8>], caps: Caps) -> Option<Vec<TextRow>> {
    let first = packets.first()?;
    let (count, used) = super::read_lenenc(first)?;
    let mut i = 1;
    // MariaDB's metadata caching adds a "metadata follows" byte.
    let follows = if caps.has_mariadb(MariadbCapabilities::MARIADB_CLIENT_CACHE_METADATA) {
        first.get(used).copied().unwrap_or(1) != 0
    } else {
        true
    };
    if follows {
        i += usize::try_from(count).ok()?;
    }
    if !caps.deprecate_eof() {
        i += 1;
    }
    let mut rows = Vec::new();
    for p in packets.get(i..)? {
        // A row starts with 0xFE only for a value of 16 MiB or more, which
        // these small queries never return: 0xFE is the final EOF/OK.
        if p.first() == Some(&EOF_HEADER) {
            return Some(rows);
        }
        let mut row = Vec::new();
        let mut rest = p.as_slice();
        while !rest.is_empty() {
            if rest.first() == Some(&0xFB) {
                row.push(None);
                rest = rest.get(1..)?;
                continue;
            }
            let (n, used) = super::read_lenenc(rest)?;
            let end = used.checked_add(usize::try_from(n).ok()?)?;
            row.push(Some(rest.get(used..end)?.to_vec()));
            rest = rest.get(end..)?;
        }
        rows.push(row);
    }
    None
}
