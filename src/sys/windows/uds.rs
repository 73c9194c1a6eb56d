//! Windows: `AF_UNIX` stream sockets behind `net::{UnixListener,
//! UnixStream}`.
//!
//! # Why this works with no new machinery
//!
//! Since Windows 10 version 1803, Winsock has `AF_UNIX` with `SOCK_STREAM`:
//! a socket file on disk, `bind`/`listen`/`accept`/`connect` as on Unix.
//! These are ordinary Winsock sockets that the AFD driver polls like TCP
//! sockets, so the `net` types wait on them through `lowlevel` exactly as
//! they wait on a `TcpStream`; this module only creates the sockets and
//! turns their addresses into [`UnixSocketAddr`]. std has no Unix socket
//! types on Windows, so the sockets are `socket2` sockets in newtypes that
//! offer the methods the `net` types call on std's Unix sockets.
//!
//! # What Windows lacks
//!
//! - Datagrams (`SOCK_DGRAM` on `AF_UNIX`) and `socketpair`: every
//!   constructor of `UnixDatagram` and `UnixStream::pair` fails with
//!   `io::ErrorKind::Unsupported`. A [`DatagramSock`] can therefore never
//!   exist; it is an uninhabited type, so the compiler proves no datagram
//!   I/O is ever attempted.
//! - `AF_UNIX` altogether on older Windows and on Wine: `socket()` fails
//!   with `WSAEAFNOSUPPORT` (10047), which is reported as `Unsupported`
//!   with a message that says so, from `bind` and `connect` alike.
//!
//! Windows expects the path in `sun_path` as UTF-8 (a path that is not
//! valid UTF-8 is `InvalidInput`, as is one too long for `sun_path`).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::windows::io::{AsRawSocket, AsSocket, BorrowedSocket, RawSocket};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};
use windows_sys::Win32::Networking::WinSock::WSAEAFNOSUPPORT;

/// The byte offset of `sun_path` in `SOCKADDR_UN` (after the family).
const SUN_PATH_OFFSET: usize = 2;

/// The address of a Unix socket on Windows: a path, unnamed (the usual
/// address of a connecting socket), or an abstract name (a leading NUL).
///
/// std's `std::os::unix::net::SocketAddr` does not exist on Windows; this
/// offers the same questions ([`as_pathname`](UnixSocketAddr::as_pathname),
/// [`is_unnamed`](UnixSocketAddr::is_unnamed)), so code that only asks those
/// compiles on both.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UnixSocketAddr {
    name: Name,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Name {
    Unnamed,
    Pathname(PathBuf),
    Abstract(Vec<u8>),
}

impl UnixSocketAddr {
    /// The path the socket is bound to, if it is bound to one.
    pub fn as_pathname(&self) -> Option<&Path> {
        match &self.name {
            Name::Pathname(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the socket is bound to no name at all.
    pub fn is_unnamed(&self) -> bool {
        self.name == Name::Unnamed
    }

    /// Reads the name out of a socket address the system filled in.
    fn from_sockaddr(addr: &SockAddr) -> io::Result<UnixSocketAddr> {
        let len = usize::try_from(addr.len())
            .unwrap_or(0)
            .min(std::mem::size_of::<SockAddrStorage>());
        if len <= SUN_PATH_OFFSET {
            return Ok(UnixSocketAddr {
                name: Name::Unnamed,
            });
        }
        if !addr.is_unix() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the system returned an address that is not an AF_UNIX address",
            ));
        }
        // SAFETY: `as_ptr` points to the address's storage, which is
        // `size_of::<SockAddrStorage>()` bytes, all initialised (socket2
        // zeroes it before the system fills it in); `len` is clamped to
        // that size, and the slice lives no longer than `addr`.
        let bytes = unsafe { std::slice::from_raw_parts(addr.as_ptr().cast::<u8>(), len) };
        let path = &bytes[SUN_PATH_OFFSET..];
        let name = match path.split_first() {
            None => Name::Unnamed,
            Some((0, rest)) if rest.iter().all(|&b| b == 0) => Name::Unnamed,
            Some((0, rest)) => Name::Abstract(rest.to_vec()),
            Some(_) => {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                Name::Pathname(PathBuf::from(
                    String::from_utf8_lossy(&path[..end]).into_owned(),
                ))
            }
        };
        Ok(UnixSocketAddr { name })
    }
}

/// The error of every entry point when the system has no `AF_UNIX`.
fn no_af_unix() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "this Windows has no AF_UNIX sockets (socket() failed with WSAEAFNOSUPPORT, \
         os error 10047): they need Windows 10 version 1803 or later, and Wine lacks them",
    )
}

/// A new `AF_UNIX` stream socket, or [`no_af_unix`].
fn new_socket() -> io::Result<Socket> {
    Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| {
        if e.raw_os_error() == Some(WSAEAFNOSUPPORT) {
            no_af_unix()
        } else {
            e
        }
    })
}

/// The socket of a connected `UnixStream`.
#[derive(Debug)]
pub(crate) struct StreamSock(Socket);

impl StreamSock {
    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.0.set_nonblocking(on)
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.shutdown(how)
    }

    pub(crate) fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        UnixSocketAddr::from_sockaddr(&self.0.local_addr()?)
    }

    pub(crate) fn peer_addr(&self) -> io::Result<UnixSocketAddr> {
        UnixSocketAddr::from_sockaddr(&self.0.peer_addr()?)
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.take_error()
    }
}

impl Read for &StreamSock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

impl Write for &StreamSock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket of a `UnixListener`.
#[derive(Debug)]
pub(crate) struct ListenerSock(Socket);

impl ListenerSock {
    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.0.set_nonblocking(on)
    }

    /// The next queued connection (`WouldBlock` if none) and its peer's
    /// address.
    pub(crate) fn accept(&self) -> io::Result<(StreamSock, UnixSocketAddr)> {
        let (s, addr) = self.0.accept()?;
        Ok((StreamSock(s), UnixSocketAddr::from_sockaddr(&addr)?))
    }

    pub(crate) fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        UnixSocketAddr::from_sockaddr(&self.0.local_addr()?)
    }
}

/// The socket of a `UnixDatagram`: none can exist on Windows (see the
/// module docs), so every method is unreachable by construction.
#[derive(Debug)]
pub(crate) enum DatagramSock {}

impl DatagramSock {
    pub(crate) fn set_nonblocking(&self, _on: bool) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn connect(&self, _path: impl AsRef<Path>) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn send_to(&self, _buf: &[u8], _target: &Path) -> io::Result<usize> {
        match *self {}
    }

    pub(crate) fn recv_from(&self, _buf: &mut [u8]) -> io::Result<(usize, UnixSocketAddr)> {
        match *self {}
    }

    pub(crate) fn send(&self, _buf: &[u8]) -> io::Result<usize> {
        match *self {}
    }

    pub(crate) fn recv(&self, _buf: &mut [u8]) -> io::Result<usize> {
        match *self {}
    }

    pub(crate) fn shutdown(&self, _how: Shutdown) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        match *self {}
    }

    pub(crate) fn peer_addr(&self) -> io::Result<UnixSocketAddr> {
        match *self {}
    }
}

/// Implements the raw and borrowed socket accessors for a newtype here.
macro_rules! as_socket {
    ($t:ty, |$s:ident| $raw:expr, $borrowed:expr) => {
        impl AsRawSocket for $t {
            fn as_raw_socket(&self) -> RawSocket {
                let $s = self;
                $raw
            }
        }
        impl AsSocket for $t {
            fn as_socket(&self) -> BorrowedSocket<'_> {
                let $s = self;
                $borrowed
            }
        }
    };
}
as_socket!(StreamSock, |s| s.0.as_raw_socket(), s.0.as_socket());
as_socket!(ListenerSock, |s| s.0.as_raw_socket(), s.0.as_socket());
as_socket!(DatagramSock, |s| match *s {}, match *s {});

/// A new, unconnected stream socket for `UnixStream::connect`.
pub(crate) fn stream_socket() -> io::Result<Socket> {
    new_socket()
}

/// Takes over a connected stream socket made by [`stream_socket`].
pub(crate) fn stream_from_socket(s: Socket) -> StreamSock {
    StreamSock(s)
}

/// A listening socket bound to a new socket file at `path`. The address is
/// checked before the socket is made, so a bad path is `InvalidInput`
/// even where `AF_UNIX` is missing.
pub(crate) fn bind_listener(path: &Path) -> io::Result<ListenerSock> {
    let addr = SockAddr::unix(path)?;
    let s = new_socket()?;
    s.bind(&addr)?;
    s.listen(1024)?;
    Ok(ListenerSock(s))
}

/// `socketpair` does not exist on Windows.
pub(crate) fn stream_pair() -> io::Result<(StreamSock, StreamSock)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Windows has no socketpair() for AF_UNIX: bind a UnixListener and connect a UnixStream to it",
    ))
}

fn no_datagrams() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "Windows has no AF_UNIX datagram sockets (only SOCK_STREAM): use a UnixStream or a UdpSocket",
    )
}

/// Unix datagrams do not exist on Windows.
pub(crate) fn datagram_bind(_path: &Path) -> io::Result<DatagramSock> {
    Err(no_datagrams())
}

/// Unix datagrams do not exist on Windows.
pub(crate) fn datagram_unbound() -> io::Result<DatagramSock> {
    Err(no_datagrams())
}

/// Unix datagrams do not exist on Windows.
pub(crate) fn datagram_pair() -> io::Result<(DatagramSock, DatagramSock)> {
    Err(no_datagrams())
}

#[cfg(test)]
mod tests {
    //! The address parsing, which needs no `AF_UNIX` socket, so it runs
    //! under Wine too.

    use super::*;

    #[test]
    fn a_path_reads_back_as_the_same_path() {
        let path = Path::new(r"C:\some dir\s.sock");
        let addr = UnixSocketAddr::from_sockaddr(&SockAddr::unix(path).unwrap()).unwrap();
        assert_eq!(addr.as_pathname(), Some(path));
        assert!(!addr.is_unnamed());
    }

    #[test]
    fn no_name_or_an_all_zero_name_is_unnamed() {
        // What Windows returns for an unbound socket: the family and a
        // sun_path of zeros.
        let addr = UnixSocketAddr::from_sockaddr(&SockAddr::unix("").unwrap()).unwrap();
        assert!(addr.is_unnamed());
        assert_eq!(addr.as_pathname(), None);
    }

    #[test]
    fn a_leading_nul_is_an_abstract_name() {
        let addr = UnixSocketAddr::from_sockaddr(&SockAddr::unix("\0abc").unwrap()).unwrap();
        assert!(!addr.is_unnamed());
        assert_eq!(addr.as_pathname(), None);
        assert!(matches!(&addr.name, Name::Abstract(n) if n.starts_with(b"abc")));
    }

    #[test]
    fn an_address_of_another_family_is_invalid_data() {
        let v4: std::net::SocketAddr = "127.0.0.1:80".parse().unwrap();
        let e = UnixSocketAddr::from_sockaddr(&SockAddr::from(v4)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
