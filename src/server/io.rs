//! Buffered packet I/O on one socket: read until a whole frame is buffered,
//! write raw bytes (bounded in time when a write timeout is set).

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::protocol::{parse_header, HEADER_LEN};

/// Spare capacity kept for each read; big enough that a typical result set
/// arrives in one read (one syscall each way per response).
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("peer closed the connection")]
    Closed,
    #[error("peer closed the connection in the middle of a packet")]
    ClosedMidPacket,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What a write that made no progress for the write timeout fails with
/// (as the source of an `io::ErrorKind::TimedOut` error).
#[derive(Debug, thiserror::Error)]
#[error("peer took no bytes for {0:?}")]
pub struct WriteTimedOut(pub Duration);

/// A socket plus its read buffer.
pub struct Conn {
    pub sock: TcpStream,
    pub buf: BytesMut,
    /// Longest a write may go without the peer taking a byte (client side
    /// only: a client that never reads must not keep its slot forever).
    write_timeout: Option<Duration>,
    /// Set once a write failed on `write_timeout`.
    pub write_timed_out: bool,
}

impl Conn {
    pub fn new(sock: TcpStream) -> Self {
        let _ = sock.set_nodelay(true);
        Self {
            sock,
            buf: BytesMut::with_capacity(READ_CHUNK),
            write_timeout: None,
            write_timed_out: false,
        }
    }

    /// Bounds every write: one that makes no progress for `limit` fails.
    pub fn with_write_timeout(mut self, limit: Duration) -> Self {
        self.write_timeout = Some(limit);
        self
    }

    /// One read into the buffer. Cancel-safe (usable in `select!`).
    #[inline]
    pub async fn read_more(&mut self) -> Result<usize, IoError> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        match self.sock.read_buf(&mut self.buf).await? {
            0 if self.buf.is_empty() => Err(IoError::Closed),
            0 => Err(IoError::ClosedMidPacket),
            n => Ok(n),
        }
    }

    /// Header of the first frame if the whole frame is buffered.
    #[inline]
    pub fn complete_frame(&self) -> Option<(usize, u8)> {
        let (len, seq) = parse_header(&self.buf)?;
        (self.buf.len() >= HEADER_LEN + len).then_some((len, seq))
    }

    /// Reads until a whole frame is buffered; returns its header.
    pub async fn read_frame(&mut self) -> Result<(usize, u8), IoError> {
        loop {
            if let Some(h) = self.complete_frame() {
                return Ok(h);
            }
            self.read_more().await?;
        }
    }

    /// Removes and returns the first `n` buffered bytes.
    pub fn take(&mut self, n: usize) -> BytesMut {
        self.buf.split_to(n)
    }

    pub fn discard(&mut self, n: usize) {
        self.buf.advance(n);
    }

    /// Writes all of `bytes`. With a write timeout, the clock restarts on
    /// every byte the peer takes: a slow reader is served, one that stopped
    /// reading is cut off.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let Some(limit) = self.write_timeout else {
            return self.sock.write_all(bytes).await;
        };
        let mut rest = bytes;
        // Most writes fit in the socket buffer at once: no timer for those.
        match self.sock.try_write(rest) {
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        while !rest.is_empty() {
            match tokio::time::timeout(limit, self.sock.write(rest)).await {
                Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => rest = rest.get(n..).unwrap_or_default(),
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.write_timed_out = true;
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        WriteTimedOut(limit),
                    ));
                }
            }
        }
        Ok(())
    }
}
