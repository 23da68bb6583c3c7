//! A deliberately low-level client for what real drivers will not send:
//! garbage, truncated or out-of-order packets, and exact capability choices.
//! Logs in as the password-less test user, so no scramble is needed.

use std::net::SocketAddr;
use std::time::Duration;

use ghostwire::protocol::{
    parse_header, write_packet, CapabilityFlags as C, HEADER_LEN, MAX_FRAME_PAYLOAD,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Raw {
    pub sock: TcpStream,
    buf: Vec<u8>,
}

/// Capabilities a modern client asks for.
pub fn base_caps() -> u32 {
    (C::CLIENT_PROTOCOL_41
        | C::CLIENT_SECURE_CONNECTION
        | C::CLIENT_PLUGIN_AUTH
        | C::CLIENT_CONNECT_WITH_DB
        | C::CLIENT_TRANSACTIONS
        | C::CLIENT_MULTI_STATEMENTS
        | C::CLIENT_MULTI_RESULTS
        | C::CLIENT_PS_MULTI_RESULTS)
        .bits()
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        let sock = TcpStream::connect(addr).await.unwrap();
        sock.set_nodelay(true).unwrap();
        Raw {
            sock,
            buf: Vec::new(),
        }
    }

    /// Connects and logs in as the password-less user. `mariadb_caps` are the
    /// MariaDB extended capabilities to ask for (0 for a MySQL-style client).
    pub async fn login(addr: SocketAddr, db: &str, caps: u32, mariadb_caps: u32) -> Raw {
        Raw::login_as(addr, super::NOPW_USER, db, caps, mariadb_caps).await
    }

    /// Like `login`, as `user` (who must have no password).
    pub async fn login_as(
        addr: SocketAddr,
        user: &str,
        db: &str,
        caps: u32,
        mariadb_caps: u32,
    ) -> Raw {
        let sock = TcpStream::connect(addr).await.unwrap();
        Raw::login_on(sock, user, db, caps, mariadb_caps).await
    }

    /// Logs in on a socket the caller set up (e.g. with small buffers).
    pub async fn login_on(
        sock: TcpStream,
        user: &str,
        db: &str,
        caps: u32,
        mariadb_caps: u32,
    ) -> Raw {
        sock.set_nodelay(true).unwrap();
        let mut r = Raw {
            sock,
            buf: Vec::new(),
        };
        let (_, greeting) = r.read_packet().await.expect("greeting");
        assert_eq!(greeting[0], 10, "greeting, not {greeting:?}");
        let mut caps = caps;
        if mariadb_caps != 0 {
            caps &= !C::CLIENT_LONG_PASSWORD.bits();
        } else {
            caps |= C::CLIENT_LONG_PASSWORD.bits();
        }
        r.send(
            1,
            &hello(caps, mariadb_caps, user, db, "mysql_native_password"),
        )
        .await;
        loop {
            let (seq, reply) = r.read_packet().await.expect("auth reply");
            match reply[0] {
                0x00 => return r,
                0xFE => r.send(seq + 1, &[]).await, // auth switch: empty password
                _ => panic!("login failed: {}", String::from_utf8_lossy(&reply)),
            }
        }
    }

    pub async fn send(&mut self, seq: u8, payload: &[u8]) {
        self.try_send(seq, payload).await.unwrap();
    }

    /// Like `send`, for when the peer may close before all is written.
    pub async fn try_send(&mut self, seq: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::new();
        let mut s = seq;
        write_packet(&mut out, &mut s, payload);
        self.sock.write_all(&out).await
    }

    /// Like `send_raw`, for when the peer may close before all is written.
    pub async fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sock.write_all(bytes).await
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).await.unwrap();
    }

    pub async fn query(&mut self, sql: &str) {
        let mut p = vec![0x03];
        p.extend_from_slice(sql.as_bytes());
        self.send(0, &p).await;
    }

    /// Next logical packet (continuations joined): `(first seq, payload)`;
    /// `None` when the proxy closed the connection. Panics after 30 s: a
    /// test must never hang.
    pub async fn read_packet(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut payload = Vec::new();
        let mut first_seq = None;
        loop {
            while parse_header(&self.buf).is_none_or(|(len, _)| self.buf.len() < HEADER_LEN + len) {
                let mut chunk = vec![0u8; 1 << 16];
                let n = tokio::time::timeout(Duration::from_secs(30), self.sock.read(&mut chunk))
                    .await
                    .expect("proxy answered within 30 s")
                    .unwrap_or(0);
                if n == 0 {
                    return None;
                }
                self.buf.extend_from_slice(&chunk[..n]);
            }
            let (len, seq) = parse_header(&self.buf).unwrap();
            first_seq.get_or_insert(seq);
            payload.extend_from_slice(&self.buf[HEADER_LEN..HEADER_LEN + len]);
            self.buf.drain(..HEADER_LEN + len);
            if len < MAX_FRAME_PAYLOAD {
                return Some((first_seq.unwrap(), payload));
            }
        }
    }

    /// Reads packets until the connection closes; returns them.
    pub async fn read_to_close(&mut self) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        while let Some((_, p)) = self.read_packet().await {
            all.push(p);
        }
        all
    }
}

/// A HandshakeResponse41 with an empty auth response.
pub fn hello(caps: u32, mariadb_caps: u32, user: &str, db: &str, plugin: &str) -> Vec<u8> {
    let mut p = caps.to_le_bytes().to_vec();
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 19]);
    p.extend_from_slice(&mariadb_caps.to_le_bytes());
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    p.push(0); // empty auth response
    p.extend_from_slice(db.as_bytes());
    p.push(0);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

/// `(code, message)` of an ERR payload.
pub fn err_of(p: &[u8]) -> (u16, String) {
    assert_eq!(
        p[0],
        0xFF,
        "expected ERR, got {:?}",
        String::from_utf8_lossy(p)
    );
    let code = u16::from_le_bytes([p[1], p[2]]);
    let msg = if p.get(3) == Some(&b'#') {
        &p[9..]
    } else {
        &p[3..]
    };
    (code, String::from_utf8_lossy(msg).into_owned())
}
