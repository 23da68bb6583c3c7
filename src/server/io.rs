//! Buffered packet I/O on one socket: read until a whole frame is buffered,
//! write raw bytes, count them.

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

/// A socket plus its read buffer.
pub struct Conn {
    pub sock: TcpStream,
    pub buf: BytesMut,
}

impl Conn {
    pub fn new(sock: TcpStream) -> Self {
        let _ = sock.set_nodelay(true);
        Self {
            sock,
            buf: BytesMut::with_capacity(READ_CHUNK),
        }
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

    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sock.write_all(bytes).await
    }
}
