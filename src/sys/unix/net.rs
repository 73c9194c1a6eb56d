//! Linux: one listening socket per runtime on the same address
//! (`SO_REUSEPORT`), so the kernel spreads connections over the runtimes.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Binds the listening sockets a pool of `runtimes` runtimes serves `addr`
/// with, and returns them with the bound address: one per runtime here.
pub(crate) fn pool_listeners(
    addr: SocketAddr,
    runtimes: usize,
) -> io::Result<(Vec<std::net::TcpListener>, SocketAddr)> {
    let first = bind(addr)?;
    let local = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..runtimes {
        all.push(bind(local)?);
    }
    Ok((all, local))
}

fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_port(true)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}
