//! TCP, UDP and Unix domain sockets for oneport tasks.
//!
//! Every type here is an ordinary nonblocking socket plus the readiness waits
//! of [`lowlevel`](crate::lowlevel) — nothing else. Each operation first tries
//! the system call and waits only when it says `WouldBlock`, then tries
//! again: a socket that is already ready costs one system call, not a round
//! trip through the I/O manager (WINDOWS.md, rule 18). The same code runs
//! over epoll on Linux and over AFD polls on Windows, because the platform
//! lives entirely below `lowlevel`.
//!
//! A reader and a writer of one stream each have their own wait, so they
//! can run side by side: from two tasks through [`TcpStream::into_split`],
//! or joined in one task through [`TcpStream::split`]. `try_read` /
//! `try_write` skip the wait altogether, and `readable` / `writable` wait
//! without doing I/O, for callers that drive the system calls themselves.
//!
//! Unix domain sockets: [`UnixListener`], [`UnixStream`] and
//! [`UnixDatagram`] on Unix. On Windows 10 version 1803 and later, which
//! has `AF_UNIX` stream sockets, `UnixListener` and `UnixStream::connect`
//! work the same way (AFD polls them like TCP sockets); Windows has no Unix
//! datagrams and no `socketpair`, so `UnixDatagram`'s constructors and
//! `UnixStream::pair` fail there with `io::ErrorKind::Unsupported`. Where
//! Windows lacks `AF_UNIX` altogether (older versions, Wine) `bind` and
//! `connect` fail with `Unsupported` too. Addresses are [`UnixSocketAddr`]:
//! std's `SocketAddr` on Unix, a small type with the same `as_pathname`
//! and `is_unnamed` on Windows.
//!
//! TCP and UDP addresses are anything std's `ToSocketAddrs` takes; host
//! names are resolved on the blocking pool so a slow resolver never stalls
//! the loop.
//!
//! Waits follow the `lowlevel` rules: a second task reading (or writing) the
//! same socket while one already waits gets `io::ErrorKind::ResourceBusy`;
//! dropping a value wakes tasks still waiting on it with
//! [`ClosedResource`](crate::ClosedResource) before the socket closes.
//!
//! ```no_run
//! use oneport::net::{TcpListener, TcpStream};
//!
//! oneport::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     let client = TcpStream::connect(addr).await?;
//!     let (server, _) = listener.accept().await?;
//!     client.write_all(b"hello").await?;
//!     let mut buf = [0u8; 5];
//!     let n = server.read(&mut buf).await?;
//!     assert_eq!(&buf[..n], b"hello");
//!     std::io::Result::Ok(())
//! })
//! .unwrap();
//! ```

mod addr;
mod readiness;
mod split;
mod stream_io;
mod tcp_listener;
mod tcp_stream;
mod udp;
mod unix;

pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use tcp_listener::TcpListener;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixSocketAddr, UnixStream};

/// Implements the platform's raw and borrowed socket accessors for a type
/// whose `sock` field derefs to a standard socket: `AsRawFd`/`AsFd` on Unix,
/// `AsRawSocket`/`AsSocket` on Windows. They only expose an item; no
/// behaviour depends on the platform.
macro_rules! impl_as_socket {
    ($t:ty) => {
        #[cfg(unix)]
        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&*self.sock)
            }
        }
        #[cfg(unix)]
        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&*self.sock)
            }
        }
        #[cfg(windows)]
        impl std::os::windows::io::AsRawSocket for $t {
            fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
                std::os::windows::io::AsRawSocket::as_raw_socket(&*self.sock)
            }
        }
        #[cfg(windows)]
        impl std::os::windows::io::AsSocket for $t {
            fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
                std::os::windows::io::AsSocket::as_socket(&*self.sock)
            }
        }
    };
}
use impl_as_socket;
