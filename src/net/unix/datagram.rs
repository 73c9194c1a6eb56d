//! A Unix datagram socket.

use std::io;
use std::net::Shutdown;
use std::path::Path;

use super::super::readiness::{retry, AsRawSock, Closing};
use super::UnixSocketAddr;
use crate::lowlevel::Interest;
use crate::sys::uds::{self, DatagramSock};

/// A Unix datagram socket: messages to and from any socket path, or to and
/// from one peer after [`connect`](UnixDatagram::connect). Unix datagrams
/// are reliable and ordered, unlike UDP.
///
/// A second task receiving (or sending) while one already waits gets
/// `io::ErrorKind::ResourceBusy`. Dropping it inside a runtime wakes waiting
/// tasks with [`ClosedResource`](crate::ClosedResource). Dropping it does
/// not remove its socket file.
///
/// Windows has no Unix datagram sockets: there every constructor
/// ([`bind`](UnixDatagram::bind), [`unbound`](UnixDatagram::unbound),
/// [`pair`](UnixDatagram::pair)) fails with `io::ErrorKind::Unsupported`,
/// so no `UnixDatagram` ever exists there.
#[derive(Debug)]
pub struct UnixDatagram {
    sock: Closing<DatagramSock>,
}

impl UnixDatagram {
    /// Creates a socket bound to a new socket file at `path`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::from_sock(uds::datagram_bind(path.as_ref())?)
    }

    /// Creates a socket bound to no address: it can send, and receive
    /// replies only once connected.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_sock(uds::datagram_unbound()?)
    }

    /// A pair of datagram sockets connected to each other (`socketpair`).
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = uds::datagram_pair()?;
        Ok((UnixDatagram::from_sock(a)?, UnixDatagram::from_sock(b)?))
    }

    /// Wraps a standard socket, switching it to nonblocking mode.
    #[cfg(unix)]
    pub fn from_std(s: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        UnixDatagram::from_sock(s)
    }

    fn from_sock(s: DatagramSock) -> io::Result<UnixDatagram> {
        s.set_nonblocking(true)?;
        Ok(UnixDatagram {
            sock: Closing::new(s),
        })
    }

    /// Gives back the standard socket, still in nonblocking mode, without
    /// closing it.
    #[cfg(unix)]
    pub fn into_std(self) -> std::os::unix::net::UnixDatagram {
        self.sock.into_inner()
    }

    /// Sets the only peer that [`send`](UnixDatagram::send) sends to and
    /// [`recv`](UnixDatagram::recv) receives from. Needs no wait: the peer
    /// is a path, not a name to resolve.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.sock.connect(path)
    }

    /// Sends one datagram to the socket at `target`; returns the bytes sent.
    /// Waits while the receiver's queue is full.
    pub async fn send_to(&self, buf: &[u8], target: impl AsRef<Path>) -> io::Result<usize> {
        let target = target.as_ref();
        retry(self.sock.raw_sock(), Interest::Write, || {
            self.sock.send_to(buf, target)
        })
        .await
    }

    /// Receives one datagram into `buf`; returns its length (the rest of a
    /// longer datagram is discarded) and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, UnixSocketAddr)> {
        retry(self.sock.raw_sock(), Interest::Read, || {
            self.sock.recv_from(buf)
        })
        .await
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        retry(self.sock.raw_sock(), Interest::Write, || {
            self.sock.send(buf)
        })
        .await
    }

    /// Receives one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        retry(self.sock.raw_sock(), Interest::Read, || self.sock.recv(buf)).await
    }

    /// Shuts down receiving, sending or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        self.sock.local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<UnixSocketAddr> {
        self.sock.peer_addr()
    }
}

super::super::impl_as_socket!(UnixDatagram);
