//! The two halves of a [`TcpStream`], for a reader and a writer that run
//! side by side.
//!
//! A stream already keeps one wait per direction (one `PollSlot` each, one
//! driver waiter each), so a read and a write in flight at once never
//! collide; the halves only make that ownership explicit: one half can do
//! nothing but read, the other nothing but write. The borrowed halves are
//! two shared references; the owned ones share the stream through an `Rc`
//! (a stream belongs to one thread's runtime anyway), which
//! [`OwnedReadHalf::reunite`] unwraps again.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::TcpStream;

/// The read half of a borrowed [`TcpStream`], from [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(pub(super) &'a TcpStream);

/// The write half of a borrowed [`TcpStream`], from [`TcpStream::split`].
/// [`poll_close`](AsyncWrite::poll_close) shuts the write direction down.
#[derive(Debug)]
pub struct WriteHalf<'a>(pub(super) &'a TcpStream);

/// The owned read half of a [`TcpStream`], from [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    stream: Rc<TcpStream>,
}

/// The owned write half of a [`TcpStream`], from [`TcpStream::into_split`].
///
/// Dropping it shuts the write direction down (the peer reads end of
/// stream), unless it was put back with [`reunite`](OwnedWriteHalf::reunite).
#[derive(Debug)]
pub struct OwnedWriteHalf {
    /// `None` only once `reunite` has taken it.
    stream: Option<Rc<TcpStream>>,
}

/// [`reunite`](OwnedReadHalf::reunite) was given halves of two different
/// streams; both come back unchanged.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the read half and the write half belong to different streams")
    }
}

impl Error for ReuniteError {}

pub(super) fn owned(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let stream = Rc::new(stream);
    (
        OwnedReadHalf {
            stream: stream.clone(),
        },
        OwnedWriteHalf {
            stream: Some(stream),
        },
    )
}

impl OwnedReadHalf {
    /// Puts the two halves of one stream back together. Halves of two
    /// different streams give a [`ReuniteError`] holding both.
    pub fn reunite(self, mut other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        let same = other
            .stream
            .as_ref()
            .is_some_and(|w| Rc::ptr_eq(w, &self.stream));
        if !same {
            return Err(ReuniteError(self, other));
        }
        drop(other.stream.take());
        // The two halves held the only references; the write half's is gone.
        Ok(Rc::try_unwrap(self.stream)
            .unwrap_or_else(|_| unreachable!("a stream's halves hold its only references")))
    }

    /// Reads into `buf`; see [`TcpStream::read`].
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf).await
    }

    /// Reads without consuming; see [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.peek(buf).await
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl OwnedWriteHalf {
    fn stream(&self) -> &TcpStream {
        // Only `reunite` empties it, and it consumes `self`.
        self.stream
            .as_ref()
            .expect("oneport: write half already reunited")
    }

    /// Puts the two halves of one stream back together; see
    /// [`OwnedReadHalf::reunite`].
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        other.reunite(self)
    }

    /// Writes some of `buf`; see [`TcpStream::write`].
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.stream().write(buf).await
    }

    /// Writes all of `buf`; see [`TcpStream::write_all`].
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.stream().write_all(buf).await
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream().peer_addr()
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream().local_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if let Some(s) = &self.stream {
            // Nobody to report a failure to; the socket closes later anyway.
            let _ = s.shutdown(Shutdown::Write);
        }
    }
}

impl AsRef<TcpStream> for ReadHalf<'_> {
    fn as_ref(&self) -> &TcpStream {
        self.0
    }
}

impl AsRef<TcpStream> for WriteHalf<'_> {
    fn as_ref(&self) -> &TcpStream {
        self.0
    }
}

impl AsRef<TcpStream> for OwnedReadHalf {
    fn as_ref(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsRef<TcpStream> for OwnedWriteHalf {
    fn as_ref(&self) -> &TcpStream {
        self.stream()
    }
}

fn poll_read(s: &TcpStream, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
    Pin::new(&mut &*s).poll_read(cx, buf)
}

fn poll_write(s: &TcpStream, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    Pin::new(&mut &*s).poll_write(cx, buf)
}

impl AsyncRead for ReadHalf<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read(self.0, cx, buf)
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read(&self.stream, cx, buf)
    }
}

impl AsyncWrite for WriteHalf<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(self.0, cx, buf)
    }

    /// Data is handed to the kernel on every write: nothing to flush.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts down the write direction: the peer reads end of stream.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.shutdown(Shutdown::Write))
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(self.stream(), cx, buf)
    }

    /// Data is handed to the kernel on every write: nothing to flush.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts down the write direction: the peer reads end of stream.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.stream().shutdown(Shutdown::Write))
    }
}
