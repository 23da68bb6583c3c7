use super::*;
use crate::protocol::packets::{eof_payload, ok_payload, ErrPacket};
use crate::protocol::resultset::{write_result_set, Column, Kind};
use crate::protocol::{put_lenenc, write_packet, CapabilityFlags};

const IN_TRANS: u16 = 0x0001;
const MORE: u16 = 0x0008;

fn caps(deprecate_eof: bool, cache_metadata: bool) -> Caps {
    let mut c = Caps::default();
    if deprecate_eof {
        c.client |= CapabilityFlags::CLIENT_DEPRECATE_EOF.bits();
    }
    if cache_metadata {
        c.mariadb |= MariadbCapabilities::MARIADB_CLIENT_CACHE_METADATA.bits();
    }
    c
}

fn result_set(c: Caps, status: u16, rows: usize) -> Vec<u8> {
    let cols = [Column::new("a", Kind::Text), Column::new("b", Kind::BigInt)];
    let rows: Vec<_> = (0..rows)
        .map(|i| vec![Some(format!("row{i}")), None])
        .collect();
    let mut out = Vec::new();
    write_result_set(&mut out, 1, c, status, &cols, &rows);
    out
}

/// Feeds `stream` cut into `chunk`-byte reads and returns
/// (bytes consumed before each event, events, final status).
fn run(c: Caps, expect: Expect, stream: &[u8], chunk: usize) -> (Vec<(usize, Event)>, u16) {
    let mut t = ResponseTracker::new(c, 0);
    t.start(expect);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut total = 0;
    let mut events = Vec::new();
    while fed < stream.len() || !buf.is_empty() {
        let end = (fed + chunk).min(stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        loop {
            let (n, ev) = t.feed(&buf);
            buf.drain(..n);
            total += n;
            match ev {
                Some(e) => {
                    events.push((total, e));
                    if e == Event::Done {
                        assert!(
                            buf.is_empty() && fed == stream.len(),
                            "bytes left after Done"
                        );
                        return (events, t.status);
                    }
                }
                None => break,
            }
        }
        if fed == stream.len() && !buf.is_empty() {
            panic!("stuck with {} bytes", buf.len());
        }
    }
    (events, t.status)
}

fn assert_done_at_end(c: Caps, expect: Expect, stream: &[u8]) -> u16 {
    let mut status = 0;
    for chunk in [1, 2, 3, 5, 7, 64, stream.len()] {
        let (events, s) = run(c, expect, stream, chunk);
        assert_eq!(events, vec![(stream.len(), Event::Done)], "chunk {chunk}");
        status = s;
    }
    status
}

#[test]
fn result_sets_end_exactly_for_every_eof_style() {
    for c in [
        caps(false, false),
        caps(true, false),
        caps(true, true),
        caps(false, true),
    ] {
        for rows in [0, 1, 3] {
            let s = result_set(c, IN_TRANS, rows);
            assert_eq!(assert_done_at_end(c, Expect::ResultSets, &s), IN_TRANS);
        }
    }
}

#[test]
fn multi_results_continue_until_no_more_flag() {
    for c in [caps(false, false), caps(true, false)] {
        let mut s = result_set(c, MORE, 2);
        s.extend(result_set(c, MORE, 0));
        let mut seq = 9;
        write_packet(&mut s, &mut seq, &ok_payload(0, 1, 0x0002, ""));
        assert_eq!(assert_done_at_end(c, Expect::ResultSets, &s), 0x0002);
    }
}

#[test]
fn progress_reports_are_not_the_end() {
    let c = caps(true, false);
    let mut s = Vec::new();
    let mut seq = 1;
    let progress = [0xFF, 0xFF, 0xFF, 1, 1, 0, 0, 0, 3, b'a', b'b', b'c'];
    write_packet(&mut s, &mut seq, &progress);
    write_packet(&mut s, &mut seq, &progress);
    write_packet(&mut s, &mut seq, &ok_payload(0, 5, 0, "Records: 5"));
    assert_done_at_end(c, Expect::ResultSets, &s);
}

#[test]
fn error_ends_even_mid_multi_result() {
    let c = caps(false, false);
    let mut s = result_set(c, MORE, 1);
    s.extend(ErrPacket::new(1064, "42000", "syntax").frame(7));
    assert_done_at_end(c, Expect::ResultSets, &s);
}

#[test]
fn local_infile_request_is_an_event_then_ok_ends() {
    let c = caps(true, false);
    let mut s = Vec::new();
    let mut seq = 1;
    write_packet(&mut s, &mut seq, b"\xFB/tmp/data.csv");
    let (events, _) = run(c, Expect::ResultSets, &s, 3);
    assert_eq!(events, vec![(s.len(), Event::LocalInfile)]);
    let mut t = ResponseTracker::new(c, 0);
    t.start(Expect::ResultSets);
    assert_eq!(t.feed(&s), (s.len(), Some(Event::LocalInfile)));
    let mut ok = Vec::new();
    let mut seq = 3;
    write_packet(&mut ok, &mut seq, &ok_payload(0, 2, 0, ""));
    assert_eq!(t.feed(&ok), (ok.len(), Some(Event::Done)));
}

#[test]
fn cached_metadata_skips_definitions_but_not_eof() {
    let c = caps(false, true);
    let mut s = Vec::new();
    let mut seq = 1;
    let mut count = Vec::new();
    put_lenenc(&mut count, 2);
    count.push(0); // metadata does not follow
    write_packet(&mut s, &mut seq, &count);
    write_packet(&mut s, &mut seq, &eof_payload(0));
    write_packet(&mut s, &mut seq, &[0, 0, 1, 2]); // binary row
    write_packet(&mut s, &mut seq, &eof_payload(IN_TRANS));
    assert_eq!(assert_done_at_end(c, Expect::ResultSets, &s), IN_TRANS);
}

#[test]
fn rows_over_16_mib_are_continuation_frames() {
    let c = caps(true, false);
    let mut s = Vec::new();
    let mut seq = 1;
    write_packet(&mut s, &mut seq, &[1]);
    write_packet(
        &mut s,
        &mut seq,
        &Column::new("x", Kind::Text).definition(c),
    );
    // A text row of 0xFE-prefixed length: starts with 0xFE but is a row.
    let mut row = vec![0xFE];
    row.extend_from_slice(&(MAX_FRAME_PAYLOAD as u64 + 10).to_le_bytes());
    row.resize(9 + MAX_FRAME_PAYLOAD + 10, 0xFE);
    write_packet(&mut s, &mut seq, &row);
    write_packet(&mut s, &mut seq, &ok_payload(EOF_HEADER, 0, 0, ""));
    for chunk in [65536, 1 << 20, s.len()] {
        let (events, _) = run(c, Expect::ResultSets, &s, chunk);
        assert_eq!(events, vec![(s.len(), Event::Done)]);
    }
}

#[test]
fn prepare_with_params_and_columns() {
    for c in [caps(false, false), caps(true, false)] {
        let def = Column::new("p", Kind::Text).definition(c);
        for (cols, params) in [(0u16, 0u16), (2, 0), (0, 3), (2, 3)] {
            let mut s = Vec::new();
            let mut seq = 1;
            let mut ok = vec![0, 1, 0, 0, 0];
            ok.extend_from_slice(&cols.to_le_bytes());
            ok.extend_from_slice(&params.to_le_bytes());
            ok.extend_from_slice(&[0, 0, 0]);
            write_packet(&mut s, &mut seq, &ok);
            for n in [params, cols] {
                for _ in 0..n {
                    write_packet(&mut s, &mut seq, &def);
                }
                if n > 0 && !c.deprecate_eof() {
                    write_packet(&mut s, &mut seq, &eof_payload(0));
                }
            }
            assert_done_at_end(c, Expect::Prepare, &s);
        }
    }
}

#[test]
fn one_packet_commands_take_status_from_ok() {
    let c = caps(true, false);
    let mut s = Vec::new();
    let mut seq = 1;
    write_packet(&mut s, &mut seq, &ok_payload(0, 0, 0x0003, ""));
    assert_eq!(assert_done_at_end(c, Expect::OnePacket, &s), 0x0003);
}
