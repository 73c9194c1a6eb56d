//! A listening TCP socket.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use super::addr;
use super::readiness::{retry, AsRawSock, Closing};
use super::TcpStream;
use crate::lowlevel::Interest;

/// A TCP socket listening for connections.
///
/// Dropping it inside a runtime wakes a task still waiting in
/// [`accept`](TcpListener::accept) with [`ClosedResource`](crate::ClosedResource).
#[derive(Debug)]
pub struct TcpListener {
    sock: Closing<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` and listens. Port 0 picks a free port; read it back
    /// with [`local_addr`](TcpListener::local_addr).
    ///
    /// `addr` is anything that implements [`ToSocketAddrs`]; each resolved
    /// address is tried in turn and the last error is returned if none
    /// binds. A host name is resolved on the blocking pool, but `bind` is
    /// synchronous, so the calling thread waits for the answer: on a
    /// runtime thread prefer a literal `IP:port`, which needs no lookup.
    pub fn bind<A>(addr: A) -> io::Result<TcpListener>
    where
        A: ToSocketAddrs + Send + 'static,
    {
        let addrs = addr::resolve_now(addr)?;
        TcpListener::from_std(addr::each_addr_now(addrs, std::net::TcpListener::bind)?)
    }

    /// Wraps a listening standard socket, switching it to nonblocking mode.
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener {
            sock: Closing::new(l),
        })
    }

    /// Gives back the standard listener, still in nonblocking mode, without
    /// closing it.
    pub fn into_std(self) -> std::net::TcpListener {
        self.sock.into_inner()
    }

    /// Waits for the next connection and returns it with the peer's address.
    /// A second task accepting while one already waits gets
    /// `io::ErrorKind::ResourceBusy`.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, peer) = retry(self.sock.raw_sock(), Interest::Read, || self.sock.accept()).await?;
        Ok((TcpStream::from_std(s)?, peer))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }
}

super::impl_as_socket!(TcpListener);
