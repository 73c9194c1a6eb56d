//! A UDP socket.

use std::io;
use std::net::SocketAddr;

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
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        UdpSocket::from_std(std::net::UdpSocket::bind(addr)?)
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
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
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
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.sock.connect(addr)
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
