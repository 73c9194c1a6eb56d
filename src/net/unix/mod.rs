//! Unix domain sockets (`AF_UNIX`), on the same readiness machinery as TCP.
//!
//! Local services (a daemon's control socket, a database's socket file)
//! speak over these rather than loopback TCP. They are ordinary nonblocking
//! sockets, so nothing here is new: streams share [`StreamIo`] with
//! [`TcpStream`](super::TcpStream) and datagrams follow
//! [`UdpSocket`](super::UdpSocket), waiting through `lowlevel` and
//! reporting busy and closed waits the same way.
//!
//! Unix only for now (`cfg(unix)`). Windows 10 has `AF_UNIX` stream
//! sockets too, which AFD would poll like any other socket; they are not
//! wrapped yet.
//!
//! [`StreamIo`]: super::stream_io

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use stream::UnixStream;
