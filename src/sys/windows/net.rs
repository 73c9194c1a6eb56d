//! Windows: no `SO_REUSEPORT` that balances, so a pool serves a port with
//! one listener and hands accepted connections over (a socket never waited
//! on is bound to no port, so moving it between runtimes is safe).

use std::io;
use std::net::SocketAddr;

/// Binds the listening sockets a pool serves `addr` with, and returns them
/// with the bound address: one in all here, whatever `runtimes` is.
pub(crate) fn pool_listeners(
    addr: SocketAddr,
    _runtimes: usize,
) -> io::Result<(Vec<std::net::TcpListener>, SocketAddr)> {
    let listener = std::net::TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    Ok((vec![listener], local))
}
