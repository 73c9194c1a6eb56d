//! A listening Unix stream socket.

use std::io;
use std::path::Path;

use super::super::readiness::{retry, AsRawSock, Closing};
use super::{UnixSocketAddr, UnixStream};
use crate::lowlevel::Interest;
use crate::sys::uds::{self, ListenerSock};

/// A Unix stream socket listening for connections at a path.
///
/// Dropping it does not remove the socket file (as with std); a later
/// `bind` to the same path fails with `AddrInUse` until it is removed.
/// Dropping it inside a runtime wakes a task still waiting in
/// [`accept`](UnixListener::accept) with [`ClosedResource`](crate::ClosedResource).
#[derive(Debug)]
pub struct UnixListener {
    sock: Closing<ListenerSock>,
}

impl UnixListener {
    /// Creates the socket file at `path` and listens on it. A path that
    /// exists is `io::ErrorKind::AddrInUse`; one too long for a socket
    /// address is `InvalidInput`. On Windows without `AF_UNIX` (before
    /// Windows 10 version 1803, and under Wine) it is `Unsupported`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::from_sock(uds::bind_listener(path.as_ref())?)
    }

    /// Wraps a listening standard socket, switching it to nonblocking mode.
    #[cfg(unix)]
    pub fn from_std(l: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        UnixListener::from_sock(l)
    }

    fn from_sock(l: ListenerSock) -> io::Result<UnixListener> {
        l.set_nonblocking(true)?;
        Ok(UnixListener {
            sock: Closing::new(l),
        })
    }

    /// Gives back the standard listener, still in nonblocking mode, without
    /// closing it.
    #[cfg(unix)]
    pub fn into_std(self) -> std::os::unix::net::UnixListener {
        self.sock.into_inner()
    }

    /// Waits for the next connection and returns it with the peer's
    /// address (usually unnamed). A second task accepting while one already
    /// waits gets `io::ErrorKind::ResourceBusy`.
    pub async fn accept(&self) -> io::Result<(UnixStream, UnixSocketAddr)> {
        let (s, peer) = retry(self.sock.raw_sock(), Interest::Read, || self.sock.accept()).await?;
        Ok((UnixStream::from_sock(s)?, peer))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        self.sock.local_addr()
    }
}

super::super::impl_as_socket!(UnixListener);
