//! Unix: the socket types behind `net::{UnixListener, UnixStream,
//! UnixDatagram}` are std's own, so everything the `net` types call on them
//! (`accept`, `local_addr`, `send_to`, ...) is std's method.
//!
//! The Windows module of the same name has the same items; `net/unix/` is
//! written once against them.

use std::io;
use std::path::Path;

use socket2::{Domain, Socket, Type};

/// The address of a Unix socket: std's, unchanged (a path, unnamed, or on
/// Linux an abstract name).
pub type UnixSocketAddr = std::os::unix::net::SocketAddr;

/// The socket of a connected `UnixStream`.
pub(crate) type StreamSock = std::os::unix::net::UnixStream;
/// The socket of a `UnixListener`.
pub(crate) type ListenerSock = std::os::unix::net::UnixListener;
/// The socket of a `UnixDatagram`.
pub(crate) type DatagramSock = std::os::unix::net::UnixDatagram;

/// A new, unconnected stream socket for `UnixStream::connect`.
pub(crate) fn stream_socket() -> io::Result<Socket> {
    Socket::new(Domain::UNIX, Type::STREAM, None)
}

/// Takes over a connected stream socket made by [`stream_socket`].
pub(crate) fn stream_from_socket(s: Socket) -> StreamSock {
    s.into()
}

/// A listening socket bound to a new socket file at `path`.
pub(crate) fn bind_listener(path: &Path) -> io::Result<ListenerSock> {
    ListenerSock::bind(path)
}

/// Two connected stream sockets (`socketpair`).
pub(crate) fn stream_pair() -> io::Result<(StreamSock, StreamSock)> {
    StreamSock::pair()
}

/// A datagram socket bound to a new socket file at `path`.
pub(crate) fn datagram_bind(path: &Path) -> io::Result<DatagramSock> {
    DatagramSock::bind(path)
}

/// A datagram socket bound to no address.
pub(crate) fn datagram_unbound() -> io::Result<DatagramSock> {
    DatagramSock::unbound()
}

/// Two connected datagram sockets (`socketpair`).
pub(crate) fn datagram_pair() -> io::Result<(DatagramSock, DatagramSock)> {
    DatagramSock::pair()
}
