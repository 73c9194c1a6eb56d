//! A connected Unix stream socket.

use std::io;
use std::net::Shutdown;
use std::path::Path;

use socket2::SockAddr;

use super::super::readiness::AsRawSock;
use super::super::stream_io::StreamIo;
use super::UnixSocketAddr;
use crate::sys::uds::{self, StreamSock};

/// A connected Unix stream socket: `read`/`write` as `async fn`s, and
/// [`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`] for it and for
/// `&UnixStream`, so one task can read while another writes.
///
/// Like [`TcpStream`](crate::net::TcpStream): a second task reading (or
/// writing) while one already waits gets `io::ErrorKind::ResourceBusy`;
/// dropping the stream inside a runtime wakes its waiters with
/// [`ClosedResource`](crate::ClosedResource). It is `Send`, with the same
/// rule as `TcpStream` for a move in the middle of a poll-based wait.
pub struct UnixStream {
    /// The socket and its waits (hyper's glue reads through it directly).
    pub(crate) sock: StreamIo<StreamSock>,
}

impl UnixStream {
    /// Connects to the socket bound at `path`.
    ///
    /// A path with no socket is `io::ErrorKind::NotFound` (Windows may
    /// refuse it instead); a socket nobody listens on is
    /// `ConnectionRefused`; a path too long for a socket
    /// address is `InvalidInput`. Linux refuses a nonblocking connect to a
    /// listener whose backlog is full with `WouldBlock` instead of queueing
    /// it; that error is returned as it is. On Windows without `AF_UNIX`
    /// (before Windows 10 version 1803, and under Wine) it is
    /// `Unsupported`. Dropping the future abandons the attempt.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = SockAddr::unix(path)?;
        let socket = uds::stream_socket()?;
        socket.set_nonblocking(true)?;
        let stream = UnixStream::from_nonblocking(uds::stream_from_socket(socket));
        // On Linux a Unix connect completes or fails at once; elsewhere
        // (Windows) it may finish later, like TCP.
        let started = socket2::SockRef::from(&*stream.sock).connect(&addr);
        stream
            .sock
            .finish_connect(started, |s| s.take_error(), |s| s.peer_addr())
            .await?;
        Ok(stream)
    }

    /// A pair of streams connected to each other (`socketpair`).
    ///
    /// Windows has no `socketpair`: there it is always
    /// `io::ErrorKind::Unsupported` (bind a [`UnixListener`](super::UnixListener)
    /// and connect to it instead).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = uds::stream_pair()?;
        Ok((UnixStream::from_sock(a)?, UnixStream::from_sock(b)?))
    }

    /// Wraps a connected standard stream, switching it to nonblocking mode.
    #[cfg(unix)]
    pub fn from_std(s: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        UnixStream::from_sock(s)
    }

    pub(super) fn from_sock(s: StreamSock) -> io::Result<UnixStream> {
        s.set_nonblocking(true)?;
        Ok(UnixStream::from_nonblocking(s))
    }

    fn from_nonblocking(s: StreamSock) -> UnixStream {
        UnixStream {
            sock: StreamIo::new(s),
        }
    }

    /// Gives back the standard stream, still in nonblocking mode, without
    /// closing it.
    #[cfg(unix)]
    pub fn into_std(self) -> std::os::unix::net::UnixStream {
        self.sock.into_inner()
    }

    /// Reads into `buf`, waiting until at least one byte (or end of stream,
    /// `Ok(0)`) is there.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.read(buf).await
    }

    /// Writes some of `buf`, waiting until the socket takes at least one
    /// byte; returns how many it took.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf).await
    }

    /// Writes all of `buf`. On an error, an unknown prefix may have been
    /// sent.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.sock.write_all(buf).await
    }

    /// Waits until the socket is readable, reading nothing; see
    /// [`TcpStream::readable`](crate::net::TcpStream::readable).
    pub async fn readable(&self) -> io::Result<()> {
        self.sock.readable().await
    }

    /// Waits until the socket is writable, writing nothing.
    pub async fn writable(&self) -> io::Result<()> {
        self.sock.writable().await
    }

    /// Reads what is there now, without waiting: nothing yet is
    /// `io::ErrorKind::WouldBlock`, end of stream is `Ok(0)`.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.try_read(buf)
    }

    /// Writes what the socket takes now, without waiting: a full buffer is
    /// `io::ErrorKind::WouldBlock`.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.try_write(buf)
    }

    /// Shuts down the read direction, the write direction or both. After
    /// `Shutdown::Write` the peer reads end of stream.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }

    /// The address this end is bound to (unnamed unless it was bound).
    pub fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        self.sock.local_addr()
    }

    /// The address of the peer (the listener's path for a connected client).
    pub fn peer_addr(&self) -> io::Result<UnixSocketAddr> {
        self.sock.peer_addr()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }
}

impl std::fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.sock.raw_sock())
            .finish()
    }
}

super::super::impl_as_socket!(UnixStream);

super::super::stream_io::impl_async_io!(UnixStream);
