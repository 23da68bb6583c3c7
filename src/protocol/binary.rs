//! The proxy's own answers to prepared statements it runs itself (a
//! prepared `ALTER TABLE` or `SHOW MIGRATIONS`): the COM_STMT_PREPARE OK,
//! and the one conversion of a synthetic text result set (as
//! `resultset::write_result_set` writes it) into the binary-protocol rows
//! a COM_STMT_EXECUTE answer must carry.

use super::packets::{eof_payload, EOF_HEADER, ERR_HEADER, OK_HEADER};
use super::resultset::Column;
use super::{
    parse_header, put_lenenc_str, read_lenenc, write_packet, Caps, ColumnType, MariadbCapabilities,
    HEADER_LEN,
};

/// The frames answering COM_STMT_PREPARE for a statement with no
/// parameters and `columns`.
pub fn prepare_ok(stmt_id: u32, columns: &[Column], caps: Caps, status: u16) -> Vec<u8> {
    let mut p = vec![OK_HEADER];
    p.extend_from_slice(&stmt_id.to_le_bytes());
    p.extend_from_slice(&(columns.len() as u16).to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes()); // parameters
    p.push(0); // reserved
    p.extend_from_slice(&0u16.to_le_bytes()); // warnings
    let mut out = Vec::new();
    let mut seq = 1;
    write_packet(&mut out, &mut seq, &p);
    if !columns.is_empty() {
        for c in columns {
            write_packet(&mut out, &mut seq, &c.definition(caps));
        }
        if !caps.deprecate_eof() {
            write_packet(&mut out, &mut seq, &eof_payload(status));
        }
    }
    out
}

/// `reply` (whole frames) with its rows in the binary protocol when it is a
/// text result set; an OK or ERR is the same in both protocols and is
/// returned as it is. `None`: not a result set this module wrote.
pub fn to_binary_rows(reply: &[u8], caps: Caps) -> Option<Vec<u8>> {
    let mut payloads = Vec::new();
    let mut rest = reply;
    while let Some((len, _)) = parse_header(rest) {
        payloads.push(rest.get(HEADER_LEN..HEADER_LEN + len)?);
        rest = rest.get(HEADER_LEN + len..)?;
    }
    let first = *payloads.first()?;
    if matches!(first.first(), Some(&OK_HEADER) | Some(&ERR_HEADER)) {
        return Some(reply.to_vec());
    }
    let (count, _) = read_lenenc(first)?;
    let count = usize::try_from(count).ok()?;
    let defs = payloads.get(1..1 + count)?;
    let types: Vec<u8> = defs
        .iter()
        .map(|d| column_type(d, caps))
        .collect::<Option<_>>()?;
    let rows_from = 1 + count + usize::from(!caps.deprecate_eof());
    let mut out = Vec::with_capacity(reply.len());
    let mut seq = 1;
    for p in payloads.get(..rows_from)? {
        write_packet(&mut out, &mut seq, p);
    }
    let (last, rows) = payloads.get(rows_from..)?.split_last()?;
    for row in rows {
        write_packet(&mut out, &mut seq, &binary_row(row, &types)?);
    }
    if last.first() != Some(&EOF_HEADER) {
        return None;
    }
    write_packet(&mut out, &mut seq, last);
    Some(out)
}

/// The type byte of a column definition payload.
fn column_type(def: &[u8], caps: Caps) -> Option<u8> {
    let strings = if caps.has_mariadb(MariadbCapabilities::MARIADB_CLIENT_EXTENDED_METADATA) {
        7
    } else {
        6
    };
    let mut at = 0;
    for _ in 0..strings {
        let (len, used) = read_lenenc(def.get(at..)?)?;
        at += used + usize::try_from(len).ok()?;
    }
    // 0x0C, charset (2), length (4), then the type.
    def.get(at + 7).copied()
}

/// One text row (lenenc strings, 0xFB for NULL) as a binary row.
fn binary_row(text: &[u8], types: &[u8]) -> Option<Vec<u8>> {
    let mut nulls = vec![0u8; (types.len() + 7 + 2) / 8];
    let mut values = Vec::new();
    let mut at = 0;
    for (i, ty) in types.iter().enumerate() {
        if text.get(at) == Some(&0xFB) {
            at += 1;
            *nulls.get_mut((i + 2) / 8)? |= 1 << ((i + 2) % 8);
            continue;
        }
        let (len, used) = read_lenenc(text.get(at..)?)?;
        let start = at + used;
        at = start + usize::try_from(len).ok()?;
        let v = text.get(start..at)?;
        binary_value(&mut values, *ty, v)?;
    }
    let mut row = vec![OK_HEADER];
    row.extend_from_slice(&nulls);
    row.extend_from_slice(&values);
    Some(row)
}

fn binary_value(out: &mut Vec<u8>, ty: u8, v: &[u8]) -> Option<()> {
    let s = std::str::from_utf8(v).ok();
    match ty {
        t if t == ColumnType::MYSQL_TYPE_LONGLONG as u8 => {
            out.extend_from_slice(&s?.parse::<i64>().ok()?.to_le_bytes())
        }
        t if t == ColumnType::MYSQL_TYPE_DOUBLE as u8 => {
            out.extend_from_slice(&s?.parse::<f64>().ok()?.to_le_bytes())
        }
        t if t == ColumnType::MYSQL_TYPE_DATETIME as u8 => out.extend_from_slice(&datetime(s?)?),
        _ => put_lenenc_str(out, v),
    }
    Some(())
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` in the binary form (length 11).
fn datetime(s: &str) -> Option<Vec<u8>> {
    let (date, time) = s.split_once(' ').unwrap_or((s, "00:00:00"));
    let mut d = date.split('-').map(|x| x.parse::<u32>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':').map(|x| x.parse::<u32>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    let micros = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").get(..6)?.parse::<u32>().ok()?
    };
    let mut out = vec![11];
    out.extend_from_slice(&u16::try_from(y).ok()?.to_le_bytes());
    for x in [mo, da, h, mi, se] {
        out.push(u8::try_from(x).ok()?);
    }
    out.extend_from_slice(&micros.to_le_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::resultset::{write_result_set, Kind};
    use mysql_common::constants::CapabilityFlags;

    #[test]
    fn text_rows_become_binary_rows() {
        let caps = Caps {
            client: (CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_DEPRECATE_EOF)
                .bits(),
            mariadb: 0,
        };
        let cols = [
            Column::new("s", Kind::Text),
            Column::new("n", Kind::BigInt),
            Column::new("d", Kind::Double),
            Column::new("t", Kind::Datetime),
        ];
        let rows = vec![
            vec![
                Some("ab".to_string()),
                Some("-7".to_string()),
                Some("1.5".to_string()),
                Some("2026-01-02 03:04:05.000006".to_string()),
            ],
            vec![None, None, None, None],
        ];
        let mut text = Vec::new();
        write_result_set(&mut text, 1, caps, 2, &cols, &rows);
        let bin = to_binary_rows(&text, caps).unwrap();
        let mut payloads = Vec::new();
        let mut rest = &bin[..];
        while let Some((len, _)) = parse_header(rest) {
            payloads.push(rest[HEADER_LEN..HEADER_LEN + len].to_vec());
            rest = &rest[HEADER_LEN + len..];
        }
        assert_eq!(payloads.len(), 1 + 4 + 2 + 1);
        let mut want = vec![0, 0, 2, b'a', b'b'];
        want.extend_from_slice(&(-7i64).to_le_bytes());
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend_from_slice(&[11, 0xEA, 0x07, 1, 2, 3, 4, 5, 6, 0, 0, 0]);
        assert_eq!(payloads[5], want);
        // NULL bitmap offset 2: columns 0..4 are bits 2..6.
        assert_eq!(payloads[6], vec![0, 0b0011_1100]);
        // An OK is the same in both protocols.
        let ok = crate::protocol::packets::ErrPacket::new(1, "HY000", "x").frame(1);
        assert_eq!(to_binary_rows(&ok, caps).unwrap(), ok);
    }
}
