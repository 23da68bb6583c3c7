//! Buffered packet I/O on one socket: read until a whole frame is buffered,
//! write raw bytes (bounded in time when a write timeout is set). The socket
//! is plain TCP or TLS ([`Stream`]), client side or server side.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
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

/// A plain or TLS socket. An enum rather than a type parameter: `Session`
/// and everything it calls would otherwise be generic (and compiled once per
/// combination of client and backend stream), for what is one predictable
/// branch per read or write syscall. Plain TCP keeps its `try_write` fast
/// path (see [`Conn::write`]).
pub enum Stream {
    Plain(TcpStream),
    /// A client's connection, TLS terminated by ghostwire.
    Accepted(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// ghostwire's connection to the server over TLS.
    Connected(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// Only while the socket is being upgraded (see [`Conn::upgrade`]).
    Detached,
}

fn detached() -> std::io::Error {
    std::io::ErrorKind::NotConnected.into()
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            Stream::Accepted($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
            Stream::Connected($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
            Stream::Detached => Poll::Ready(Err(detached())),
        }
    };
}

impl AsyncRead for Stream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        delegate!(self, s => s.poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }
}

/// A socket plus its read buffer.
pub struct Conn {
    pub sock: Stream,
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
            sock: Stream::Plain(sock),
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

    /// True once the socket is TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.sock, Stream::Accepted(_) | Stream::Connected(_))
    }

    /// Replaces the plain socket by what `upgrade` makes of it (a TLS
    /// handshake). Only called with nothing buffered: bytes read before the
    /// handshake were sent in clear and must not pass for protected ones.
    pub async fn upgrade<F, Fut>(&mut self, upgrade: F) -> std::io::Result<()>
    where
        F: FnOnce(TcpStream) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<Stream>>,
    {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.sock, Stream::Detached) else {
            return Err(detached());
        };
        self.sock = upgrade(tcp).await?;
        Ok(())
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

    /// Reads until `n` bytes are buffered, never more: what follows on the
    /// socket is left there (the TLS handshake a client sends right after
    /// its SSLRequest belongs to the TLS layer, not to this buffer).
    pub async fn fill_exact(&mut self, n: usize) -> Result<(), IoError> {
        while self.buf.len() < n {
            self.buf.reserve(n - self.buf.len());
            let mut limited = (&mut self.sock).take((n - self.buf.len()) as u64);
            match limited.read_buf(&mut self.buf).await? {
                0 if self.buf.is_empty() => return Err(IoError::Closed),
                0 => return Err(IoError::ClosedMidPacket),
                _ => {}
            }
        }
        Ok(())
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
            return self.write_all(bytes).await;
        };
        let mut rest = bytes;
        // Most writes fit in the socket buffer at once: no timer for those.
        if let Stream::Plain(tcp) = &self.sock {
            match tcp.try_write(rest) {
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
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
        match tokio::time::timeout(limit, self.flush_tls()).await {
            Ok(r) => r,
            Err(_) => {
                self.write_timed_out = true;
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    WriteTimedOut(limit),
                ))
            }
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sock.write_all(bytes).await?;
        self.flush_tls().await
    }

    /// TLS buffers written records until flushed; plain TCP has nothing to
    /// flush (and is not asked, so the plain path stays one syscall).
    #[inline]
    async fn flush_tls(&mut self) -> std::io::Result<()> {
        match &mut self.sock {
            Stream::Plain(_) => Ok(()),
            s => s.flush().await,
        }
    }
}
