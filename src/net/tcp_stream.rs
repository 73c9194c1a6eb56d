//! A connected TCP socket.

use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::addr;
use super::readiness::AsRawSock;
use super::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use super::stream_io::StreamIo;

/// A TCP connection: `read`/`write` as `async fn`s, and
/// [`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`] for it and for
/// `&TcpStream`, so one task can read while another writes (or use
/// [`into_split`](TcpStream::into_split) to give each its own half).
///
/// Two tasks reading at once (or writing at once): the one that has to wait
/// second gets `io::ErrorKind::ResourceBusy`. Dropping the stream inside a
/// runtime wakes tasks still waiting on it with
/// [`ClosedResource`](crate::ClosedResource), then closes it.
///
/// A `TcpStream` is `Send`: a connection accepted or connected on one
/// runtime can be moved to a runtime on another thread (a
/// [`Pool`](crate::pool::Pool)'s, say) and used there; waits are one-shot
/// and taken on the runtime of the thread that polls. It is not `Sync`
/// (the poll-based traits keep their waits in it). Moved in the middle of
/// a poll-based read or write, while that wait is still parked on the old
/// runtime, the next poll on the new thread returns an error saying so and
/// the old wait is given up (leaked, with a warning through `log`, since
/// it may only be dropped on its own thread); polls after that work.
/// Moving between awaits, as a `Send` future does, never hits this.
pub struct TcpStream {
    /// The socket and its waits (hyper's glue reads through it directly).
    pub(crate) sock: StreamIo<std::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`: a `SocketAddr`, `"host:port"`, `(host, port)` or
    /// anything else that implements [`ToSocketAddrs`].
    ///
    /// Host names are resolved on the blocking pool, never on the run loop
    /// (so the address must be `Send + 'static`); a literal `IP:port` is
    /// used as it is. Each resolved address is tried in turn; if none
    /// connects, the error of the last one is returned. A name that
    /// resolves to nothing is `io::ErrorKind::InvalidInput`.
    ///
    /// Each attempt is nonblocking: the task waits until the socket is
    /// writable, then asks the socket for the outcome, so a refused
    /// connection is an error such as `io::ErrorKind::ConnectionRefused`.
    /// Dropping the future abandons the attempt and closes the socket.
    pub async fn connect<A>(addr: A) -> io::Result<TcpStream>
    where
        A: ToSocketAddrs + Send + 'static,
    {
        let addrs = addr::resolve(addr).await?;
        addr::each_addr(addrs, TcpStream::connect_one).await
    }

    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        let stream = TcpStream::from_nonblocking(socket.into());
        let started = SockRef::from(&*stream.sock).connect(&addr.into());
        stream
            .sock
            .finish_connect(started, |s| s.take_error(), |s| s.peer_addr())
            .await?;
        Ok(stream)
    }

    /// Wraps a connected standard stream, switching it to nonblocking mode.
    pub fn from_std(s: std::net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        Ok(TcpStream::from_nonblocking(s))
    }

    pub(crate) fn from_nonblocking(s: std::net::TcpStream) -> TcpStream {
        TcpStream {
            sock: StreamIo::new(s),
        }
    }

    /// Gives back the standard stream, still in nonblocking mode, without
    /// closing it (for example to move it to a runtime on another thread).
    pub fn into_std(self) -> std::net::TcpStream {
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

    /// Reads into `buf` without taking the bytes off the socket: the next
    /// read returns them again. Waits like [`read`](TcpStream::read).
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.read_with(|s| s.peek(buf)).await
    }

    /// Waits until the socket is readable (data, end of stream or an error
    /// is there) without reading anything. The readiness may be gone by the
    /// time the caller reads (another reader, a spurious report), so follow
    /// it with [`try_read`](TcpStream::try_read) and expect `WouldBlock`.
    pub async fn readable(&self) -> io::Result<()> {
        self.sock.readable().await
    }

    /// Waits until the socket is writable (buffer space or an error) without
    /// writing anything; see [`readable`](TcpStream::readable).
    pub async fn writable(&self) -> io::Result<()> {
        self.sock.writable().await
    }

    /// Reads what is there now into `buf`, without waiting: no data yet is
    /// `io::ErrorKind::WouldBlock`, end of stream is `Ok(0)`.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.try_read(buf)
    }

    /// Writes what the socket takes now, without waiting: a full send
    /// buffer is `io::ErrorKind::WouldBlock`.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.try_write(buf)
    }

    /// Splits a borrowed stream into a read half and a write half, so that
    /// a read and a write can be in flight at once (for example joined in
    /// one task). Each half uses its own direction's wait, so they never
    /// make each other `ResourceBusy`.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        let s: &TcpStream = self;
        (ReadHalf(s), WriteHalf(s))
    }

    /// Splits the stream into owned halves that can go to two tasks (of
    /// this thread's runtime); [`OwnedReadHalf::reunite`] puts them back
    /// together. Dropping the write half shuts the write direction down.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::owned(self)
    }

    /// Shuts down the read half, the write half or both. After
    /// `Shutdown::Write` the peer reads end of stream once it has read
    /// everything sent before.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_addr()
    }

    /// Turns Nagle's algorithm off (`true`) or on (`TCP_NODELAY`).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.sock.set_nodelay(on)
    }

    /// Whether Nagle's algorithm is off (`TCP_NODELAY`).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock.nodelay()
    }

    /// Sets the IP time-to-live of outgoing packets (`IP_TTL`).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing packets (`IP_TTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock.ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("raw", &self.sock.raw_sock())
            .finish()
    }
}

super::impl_as_socket!(TcpStream);

super::stream_io::impl_async_io!(TcpStream);
