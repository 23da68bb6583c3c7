//! Item 5: empty and short packets, and random byte streams, after login.
//! Each fixed case is differential: the same bytes straight to the server
//! and through ghostwire must get the same packets back (the proxy reads an
//! empty packet as the server does), with and without a migration running.

use std::net::SocketAddr;

use super::common::raw::{base_caps, Raw};
use super::common::*;
use super::{assert_clean, complete_cuts_over, one_attempt, running_migration};
use ghostwire::protocol::{write_packet, HEADER_LEN};
use mysql_async::prelude::*;

/// A frame with sequence id 0 (a new command).
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_packet(&mut out, &mut 0, payload);
    out
}

const EMPTY: [u8; HEADER_LEN] = [0, 0, 0, 0];

/// The cases: an empty packet alone, an empty packet followed by one whose
/// first byte (its length) is a command byte (0x03, 0x02, 0x19: what an
/// unchecked read of "the byte after the header" would take for the
/// command), and every command with a missing or cut argument.
fn cases() -> Vec<(String, Vec<u8>)> {
    let mut cases = vec![
        ("empty packet".to_string(), EMPTY.to_vec()),
        (
            "empty, then a 3-byte COM_QUERY".into(),
            [&EMPTY[..], &frame(b"\x0311")].concat(),
        ),
        (
            "empty, then a 2-byte COM_INIT_DB".into(),
            [&EMPTY[..], &frame(b"\x02x")].concat(),
        ),
        (
            "empty, then a 25-byte COM_QUERY on t".into(),
            [&EMPTY[..], &frame(b"\x03SELECT COUNT(*) FROM t  ")].concat(),
        ),
        ("two empty packets".into(), [EMPTY, EMPTY].concat()),
    ];
    // Not COM_SHUTDOWN (0x08: the test user may), COM_QUIT (0x01),
    // COM_CHANGE_USER / COM_BINLOG_DUMP / COM_CLONE (0x11, 0x12, 0x20:
    // other session shapes), COM_STATISTICS and COM_PROCESS_INFO (0x09,
    // 0x0A: their answers differ between any two calls).
    for cmd in [
        0x02u8, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x0E, 0x0F, 0x10, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B,
        0x1C, 0x1F, 0xFA, 0xFF,
    ] {
        cases.push((format!("lone command byte {cmd:#04x}"), frame(&[cmd])));
    }
    for (cmd, arg) in [
        (0x17u8, &[1u8, 0][..]), // COM_STMT_EXECUTE, 2 of the id's 4 bytes
        (0x19, &[1, 0, 0]),      // COM_STMT_CLOSE, 3 bytes of id
        (0x18, &[1, 0, 0, 0]),   // COM_STMT_SEND_LONG_DATA without parameter
        (0x1C, &[1, 0]),         // COM_STMT_FETCH
        (0x1B, &[1]),            // COM_SET_OPTION, half the option
    ] {
        cases.push((
            format!("command {cmd:#04x} cut short"),
            frame(&[&[cmd][..], arg].concat()),
        ));
    }
    cases
}

/// Sends `bytes` after login, then COM_PING and COM_QUIT; returns every
/// packet (sequence id, payload) until the connection closes.
async fn exchange(addr: SocketAddr, db: &str, bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut r = Raw::login(addr, db, base_caps(), 0).await;
    let tail = [frame(&[0x0E]), frame(&[0x01])].concat();
    // The server may close first (then the rest is not written): fine.
    let _ = r.try_send_raw(&[bytes, &tail].concat()).await;
    let mut all = Vec::new();
    while let Some(p) = r.read_packet().await {
        all.push(p);
    }
    all
}

async fn same_as_direct(ctx: &Ctx) {
    let direct: SocketAddr = server().addr().parse().unwrap();
    let mut differ = Vec::new();
    for (what, bytes) in cases() {
        let want = exchange(direct, &ctx.schema, &bytes).await;
        let got = exchange(ctx.addr, &ctx.schema, &bytes).await;
        if got != want {
            differ.push(format!(
                "{what}:\n  ghostwire {got:?}\n  directly  {want:?}"
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_short_packets_are_answered_as_the_server_does() {
    let ctx = setup_with("hostile_frames", one_attempt).await;
    let mut c = ctx.conn().await;
    c.query_drop("CREATE TABLE u (id INT)").await.unwrap();
    same_as_direct(&ctx).await;

    // Again while a migration runs: statements are then read for the
    // cut-over gate (the gated paths), and must not disturb it.
    c.query_drop("DROP TABLE u").await.unwrap();
    let id = running_migration(&ctx, &mut c).await;
    same_as_direct(&ctx).await;
    let proxy = ctx.proxy.as_ref().unwrap();
    assert_eq!(proxy.session_panics(), 0, "a session task panicked");
    eventually("only the test's own session is left", || async {
        proxy.open_sessions() == 1
    })
    .await;
    complete_cuts_over(&ctx, &mut c, &id).await;
    c.disconnect().await.unwrap();
    assert_clean(&ctx).await;
    ctx.shutdown().await;
}

/// A user who may do nothing harmful whatever random bytes it sends.
const FUZZ_USER: &str = "gw_hostile_fuzz";

/// xorshift64*: deterministic streams, reproducible from the seed printed
/// on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random input: frames with plausible headers (short, empty,
/// announcing more than follows, wrong sequence ids) and random payloads,
/// or plain garbage.
fn random_stream(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..1 + rng.below(4) {
        match rng.below(4) {
            0 => out.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
            _ => {
                let len = match rng.below(4) {
                    0 => 0,
                    1 => rng.below(4) as usize,
                    _ => rng.below(40) as usize,
                };
                let mut payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                // Never COM_CHANGE_USER: random bytes must not log in as
                // someone else (however unlikely).
                if <[u8]>::first(&payload) == Some(&0x11) {
                    payload[0] = 0x0E;
                }
                let cut = rng.below(3) == 0;
                let seq = if rng.below(5) == 0 {
                    rng.next() as u8
                } else {
                    0
                };
                let announced = len + if cut { 1 + rng.below(100) as usize } else { 0 };
                out.extend_from_slice(&(announced as u32).to_le_bytes()[..3]);
                out.push(seq);
                out.extend_from_slice(&payload);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_byte_streams_never_panic_a_session() {
    let ctx = setup_with("hostile_fuzz", |c| {
        c.listen.client_read_timeout_ms = 200;
        one_attempt(c);
    })
    .await;
    let mut d = ctx.direct().await;
    d.query_drop(format!(
        "CREATE USER IF NOT EXISTS '{FUZZ_USER}'@'%'; \
         GRANT SELECT ON `{}`.* TO '{FUZZ_USER}'@'%'",
        ctx.schema
    ))
    .await
    .unwrap();
    let mut c = ctx.conn().await;
    let id = running_migration(&ctx, &mut c).await;
    let seed = std::env::var("GHOSTWIRE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15u64);
    let cases = 240;
    // A few clients at once, each on its own stream of cases.
    let mut tasks = Vec::new();
    for lane in 0..6u64 {
        let (addr, db) = (ctx.addr, ctx.schema.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(seed ^ (lane + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
            for case in 0..cases / 6 {
                let bytes = random_stream(&mut rng);
                // Lanes 0 and 1 send theirs in place of a handshake
                // response (the login phase), the others after login.
                let mut r = if lane < 2 {
                    let mut r = Raw::connect(addr).await;
                    r.read_packet().await.expect("greeting");
                    r
                } else {
                    Raw::login_as(addr, FUZZ_USER, &db, base_caps(), 0).await
                };
                let _ = r.try_send_raw(&bytes).await;
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut r.sock).await;
                // Whatever comes back, the session must end (not hang).
                let _ = r.read_to_close().await;
                let _ = case;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let proxy = ctx.proxy.as_ref().unwrap();
    assert_eq!(
        proxy.session_panics(),
        0,
        "a session panicked (seed {seed:#x}: GHOSTWIRE_FUZZ_SEED)"
    );
    eventually("fuzzed sessions end", || async {
        proxy.open_sessions() == 1
    })
    .await;
    eventually("their backend connections end", || async {
        backend_sessions("USER", FUZZ_USER).await == 0
    })
    .await;
    complete_cuts_over(&ctx, &mut c, &id).await;
    c.disconnect().await.unwrap();
    d.query_drop(format!("DROP USER '{FUZZ_USER}'@'%'"))
        .await
        .unwrap();
    d.disconnect().await.unwrap();
    assert_clean(&ctx).await;
    ctx.shutdown().await;
}
