//! Unix domain sockets (`AF_UNIX`), on the same readiness machinery as TCP.
//!
//! Local services (a daemon's control socket, a database's socket file)
//! speak over these rather than loopback TCP. They are ordinary nonblocking
//! sockets, so nothing here is new: streams share [`StreamIo`] with
//! [`TcpStream`](super::TcpStream) and datagrams follow
//! [`UdpSocket`](super::UdpSocket), waiting through `lowlevel` and
//! reporting busy and closed waits the same way. The sockets themselves
//! come from `sys::uds`, one module per platform, so these types are
//! written once.
//!
//! # Platforms
//!
//! - Unix: streams, listeners and datagrams; the sockets are std's, and
//!   [`UnixSocketAddr`] is std's `std::os::unix::net::SocketAddr`.
//!   `from_std`/`into_std` exist only here, since std has no Unix socket
//!   types elsewhere.
//! - Windows 10 version 1803 and later: `AF_UNIX` *stream* sockets
//!   (`UnixListener`, `UnixStream::connect`), which the AFD driver polls
//!   like TCP sockets, so they use the port exactly as a `TcpStream` does.
//!   [`UnixSocketAddr`] is a small type of oneport's with the same
//!   `as_pathname` and `is_unnamed`. Windows has no Unix datagrams and no
//!   `socketpair`: [`UnixDatagram`]'s constructors and [`UnixStream::pair`]
//!   fail with `io::ErrorKind::Unsupported`.
//! - Windows without `AF_UNIX` (older versions, and Wine, whose `socket()`
//!   fails with `WSAEAFNOSUPPORT`, 10047): `UnixListener::bind` and
//!   `UnixStream::connect` fail with `io::ErrorKind::Unsupported` and a
//!   message that says this Windows lacks `AF_UNIX`. Nothing panics or
//!   hangs. This is why the Windows data path is tested only on real
//!   Windows; under Wine the tests check these errors instead.
//!
//! [`StreamIo`]: super::stream_io

mod datagram;
mod listener;
mod stream;

pub use crate::sys::uds::UnixSocketAddr;
pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use stream::UnixStream;
