//! A UDP socket.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use super::addr;
use super::readiness::{retry, AsRawSock, Closing};
use crate::lowlevel::Interest;

/// A UDP socket: datagrams to and from any address, or to and from one peer
/// after [`connect`](UdpSocket::connect).
///
/// A second task receiving (or sending) while one already waits gets
/// `io::ErrorKind::ResourceBusy`. Dropping it inside a runtime wakes waiting
/// tasks with [`ClosedResource`](crate::ClosedResource).
#[derive(Debug)]
pub struct UdpSocket {
    sock: Closing<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`. Port 0 picks a free port.
    ///
    /// `addr` is anything that implements [`ToSocketAddrs`]; each resolved
    /// address is tried in turn and the last error is returned if none
    /// binds. A host name is resolved on the blocking pool, but `bind` is
    /// synchronous, so the calling thread waits for the answer: on a
    /// runtime thread prefer a literal `IP:port`, which needs no lookup.
    pub fn bind<A>(addr: A) -> io::Result<UdpSocket>
    where
        A: ToSocketAddrs + Send + 'static,
    {
        let addrs = addr::resolve_now(addr)?;
        UdpSocket::from_std(addr::each_addr_now(addrs, std::net::UdpSocket::bind)?)
    }

    /// Wraps a standard socket, switching it to nonblocking mode.
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Ok(UdpSocket {
            sock: Closing::new(s),
        })
    }

    /// Gives back the standard socket, still in nonblocking mode, without
    /// closing it.
    pub fn into_std(self) -> std::net::UdpSocket {
        self.sock.into_inner()
    }

    /// Sends one datagram to `target`; returns the bytes sent.
    ///
    /// `target` is anything that implements [`ToSocketAddrs`]; a host name
    /// is resolved on the blocking pool (every call: keep the `SocketAddr`
    /// to avoid that) and the datagram goes to its first address.
    pub async fn send_to<A>(&self, buf: &[u8], target: A) -> io::Result<usize>
    where
        A: ToSocketAddrs + Send + 'static,
    {
        let target = addr::resolve(target).await?[0];
        retry(self.sock.raw_sock(), Interest::Write, || {
            self.sock.send_to(buf, target)
        })
        .await
    }

    /// Receives one datagram into `buf`; returns its length (truncated to
    /// `buf` where the platform truncates) and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        retry(self.sock.raw_sock(), Interest::Read, || {
            self.sock.recv_from(buf)
        })
        .await
    }

    /// Sets the only address datagrams go to with [`send`](UdpSocket::send)
    /// and come from with [`recv`](UdpSocket::recv).
    ///
    /// `addr` is anything that implements [`ToSocketAddrs`]; a host name is
    /// resolved on the blocking pool (which is why this is `async`). Each
    /// resolved address is tried in turn; if none works the last error is
    /// returned.
    pub async fn connect<A>(&self, addr: A) -> io::Result<()>
    where
        A: ToSocketAddrs + Send + 'static,
    {
        let addrs = addr::resolve(addr).await?;
        addr::each_addr_now(addrs, |a| self.sock.connect(a))
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

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }
}

super::impl_as_socket!(UdpSocket);
