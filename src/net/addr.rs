//! Turning whatever the caller passed as an address into `SocketAddr`s.
//!
//! The `net` constructors take std's [`ToSocketAddrs`], as std's own
//! sockets do, so `"localhost:8080"`, `("example.org", 80)` and a plain
//! `SocketAddr` all work. A host name means a resolver call
//! (`getaddrinfo`), which can block for seconds; on the run loop's thread
//! that would stall every task, so names are resolved on the blocking pool.
//! That is why the address must be `Send + 'static`: it is moved to the
//! pool thread. An address that needs no lookup (a `SocketAddr`, an
//! `(IpAddr, u16)`, a string holding `IP:port`) is recognised here and never
//! leaves the calling thread.
//!
//! The synchronous constructors (`TcpListener::bind`, `UdpSocket::bind`,
//! whose signatures API.md fixes) resolve names on the pool too, but have to
//! wait for the answer on the calling thread; give them literal addresses
//! on a runtime thread.

use std::any::Any;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};

use crate::runtime::spawn_blocking;

/// The addresses `addr` stands for, resolving host names on the blocking
/// pool. An empty answer is an `InvalidInput` error, so callers can index
/// the result.
pub(crate) async fn resolve<A>(addr: A) -> io::Result<Vec<SocketAddr>>
where
    A: ToSocketAddrs + Send + 'static,
{
    let addrs = match literal(&addr) {
        Some(a) => vec![a],
        None => spawn_blocking(move || lookup(&addr)).await?,
    };
    non_empty(addrs)
}

/// [`resolve`] for a synchronous caller: a name is still looked up on the
/// blocking pool, and this thread waits for the answer.
pub(crate) fn resolve_now<A>(addr: A) -> io::Result<Vec<SocketAddr>>
where
    A: ToSocketAddrs + Send + 'static,
{
    let addrs = match literal(&addr) {
        Some(a) => vec![a],
        None => wait_here(spawn_blocking(move || lookup(&addr)))?,
    };
    non_empty(addrs)
}

/// Runs `attempt` on each address in turn until one succeeds; otherwise
/// returns the last error.
pub(crate) async fn each_addr<T, F, Fut>(addrs: Vec<SocketAddr>, mut attempt: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in addrs {
        match attempt(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(nothing_resolved))
}

/// The synchronous form of [`each_addr`].
pub(crate) fn each_addr_now<T>(
    addrs: Vec<SocketAddr>,
    mut attempt: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match attempt(a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(nothing_resolved))
}

fn lookup<A: ToSocketAddrs>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    Ok(addr.to_socket_addrs()?.collect())
}

fn non_empty(addrs: Vec<SocketAddr>) -> io::Result<Vec<SocketAddr>> {
    if addrs.is_empty() {
        Err(nothing_resolved())
    } else {
        Ok(addrs)
    }
}

fn nothing_resolved() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to no socket addresses",
    )
}

/// The one address `addr` names when finding it needs no resolver: the
/// address types themselves, and strings that parse as `IP:port` (or an
/// IP, for the `(host, port)` forms).
fn literal(addr: &dyn Any) -> Option<SocketAddr> {
    macro_rules! direct {
        ($($t:ty),*) => {$(
            if let Some(a) = addr.downcast_ref::<$t>() {
                return Some(SocketAddr::from(*a));
            }
        )*};
    }
    direct!(
        SocketAddr,
        SocketAddrV4,
        SocketAddrV6,
        (IpAddr, u16),
        (Ipv4Addr, u16),
        (Ipv6Addr, u16)
    );
    if let Some(a) = addr.downcast_ref::<&'static SocketAddr>() {
        return Some(**a);
    }
    let text = |s: &str| s.parse::<SocketAddr>().ok();
    let host_port = |h: &str, p: u16| h.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, p));
    if let Some(s) = addr.downcast_ref::<&'static str>() {
        return text(s);
    }
    if let Some(s) = addr.downcast_ref::<String>() {
        return text(s);
    }
    if let Some((h, p)) = addr.downcast_ref::<(&'static str, u16)>() {
        return host_port(h, *p);
    }
    if let Some((h, p)) = addr.downcast_ref::<(String, u16)>() {
        return host_port(h, *p);
    }
    None
}

/// Waits on this thread for a future that is woken from another thread
/// (a blocking-pool job).
fn wait_here<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_recognised_without_a_lookup() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(literal(&v4), Some(v4));
        assert_eq!(literal(&"127.0.0.1:80"), Some(v4));
        assert_eq!(literal(&String::from("127.0.0.1:80")), Some(v4));
        assert_eq!(literal(&("127.0.0.1", 80u16)), Some(v4));
        assert_eq!(literal(&(Ipv4Addr::LOCALHOST, 80u16)), Some(v4));
        assert_eq!(literal(&"[::1]:80"), "[::1]:80".parse().ok());
        assert_eq!(literal(&"localhost:80"), None);
        assert_eq!(literal(&("localhost", 80u16)), None);
    }

    #[test]
    fn an_empty_answer_is_invalid_input() {
        let none: &'static [SocketAddr] = &[];
        let e = resolve_now(none).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
