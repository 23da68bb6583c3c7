//! Bounded random-input tests (proptest, a few hundred cases each) of
//! everything that reads bytes from a peer: frame headers, the response
//! tracker, the greeting and the handshake response. Nothing may panic, and
//! the tracker must not depend on how the bytes were cut into reads.

use proptest::prelude::*;

use super::handshake::{mask_greeting, parse_client_hello, Greeting};
use super::packets::{eof_status, err_code, ok_status};
use super::response::{Event, Expect, ResponseTracker};
use super::{parse_header, read_lenenc, Caps};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Packets with plausible headers (payloads starting with the bytes that
/// steer the tracker: OK, ERR, EOF, LOCAL INFILE, column counts), or
/// plain garbage.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let payload = (
        prop_oneof![
            Just(0x00u8),
            Just(0xFF),
            Just(0xFE),
            Just(0xFB),
            Just(0xFC),
            any::<u8>()
        ],
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(first, rest)| {
            let mut p = vec![first];
            p.extend(rest);
            p
        });
    let framed =
        prop::collection::vec((payload, any::<u8>(), any::<bool>()), 0..12).prop_map(|packets| {
            let mut out = Vec::new();
            for (p, seq, empty) in packets {
                let p = if empty { Vec::new() } else { p };
                out.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
                out.push(seq);
                out.extend_from_slice(&p);
            }
            out
        });
    prop_oneof![framed, prop::collection::vec(any::<u8>(), 0..300)]
}

fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![
        Just(Expect::OnePacket),
        Just(Expect::ResultSets),
        Just(Expect::Prepare),
        Just(Expect::Rows),
    ]
}

fn caps() -> impl Strategy<Value = Caps> {
    (any::<u32>(), any::<u32>()).prop_map(|(client, mariadb)| Caps { client, mariadb })
}

/// Feeds `stream` in reads of `chunk` bytes, as the session does: what the
/// tracker takes is removed, the rest is fed again with the next read.
/// Returns (bytes consumed at each event, events, bytes consumed in all).
fn feed(c: Caps, e: Expect, stream: &[u8], chunk: usize) -> (Vec<(usize, Event)>, usize) {
    let mut t = ResponseTracker::new(c, 0);
    t.start(e);
    let (mut buf, mut fed, mut total, mut events) = (Vec::new(), 0, 0, Vec::new());
    loop {
        let (n, ev) = t.feed(&buf);
        assert!(n <= buf.len(), "took more than it was given");
        buf.drain(..n);
        total += n;
        match ev {
            Some(Event::Done) => {
                events.push((total, Event::Done));
                return (events, total);
            }
            Some(ev) => events.push((total, ev)),
            None if fed == stream.len() => return (events, total),
            None => {
                let end = (fed + chunk).min(stream.len());
                buf.extend_from_slice(&stream[fed..end]);
                fed = end;
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tracker_never_panics_and_ignores_read_boundaries(
        c in caps(),
        e in expect(),
        bytes in stream(),
        chunk in 1usize..64,
    ) {
        let whole = feed(c, e, &bytes, bytes.len().max(1));
        let cut = feed(c, e, &bytes, chunk);
        prop_assert_eq!(whole, cut);
    }

    #[test]
    fn peer_bytes_never_panic_the_readers(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_header(&bytes);
        let _ = read_lenenc(&bytes);
        let _ = ok_status(&bytes);
        let _ = eof_status(&bytes);
        let _ = err_code(&bytes);
        let _ = mask_greeting(&mut bytes.clone(), true);
        let server = Greeting { caps: Caps { client: u32::MAX, mariadb: u32::MAX }, connection_id: 1, server_ssl: true, scramble: [0; 20] };
        let _ = parse_client_hello(&mut bytes.clone(), &server);
    }

    #[test]
    fn greeting_and_hello_with_plausible_starts_never_panic(
        head in prop::collection::vec(any::<u8>(), 0..64),
        caps in any::<u32>(),
    ) {
        // A greeting that starts right (protocol 10) and a hello with
        // real capability bits reach the deeper fields.
        let mut g = vec![10u8];
        g.extend_from_slice(&head);
        let _ = mask_greeting(&mut g, false);
        let mut h = (caps | 0x200).to_le_bytes().to_vec();
        h.extend_from_slice(&head);
        let server = Greeting { caps: Caps { client: u32::MAX, mariadb: u32::MAX }, connection_id: 1, server_ssl: true, scramble: [0; 20] };
        let _ = parse_client_hello(&mut h, &server);
    }
}
