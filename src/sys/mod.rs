//! Platform adapters above `lowlevel`: files, child processes and their
//! pipes, and the few socket facts that differ between platforms.
//!
//! The user-facing types (`fs::File`, `process::Child`, `net::*`) are
//! written once; what they need from the platform is here, one module per
//! platform with the same items:
//!
//! - `fs`: `add_open_flags`, `prepare`, `read_at`, `write_at`, `sync`,
//!   `set_sparse` — on Windows overlapped I/O on the runtime's port
//!   (`lowlevel::read_overlapped`), on Linux io_uring operations on the
//!   runtime's ring, or positional I/O on the blocking pool without one;
//! - `process`: `ExitSignal` (a pidfd readiness wait on Linux,
//!   `lowlevel::wait_for_object` on Windows), `PipeReader` and `PipeWriter`
//!   (nonblocking pipes on epoll; overlapped pipes on the port);
//! - `signal`: the Ctrl-C source (`signal-hook-registry` and eventfds on
//!   Linux, a console control handler posting to ports on Windows);
//! - `net`: how a pool spreads one port over its runtimes (`SO_REUSEPORT`
//!   listeners on Linux, one listener and a hand-over on Windows);
//! - `uds`: the sockets behind the Unix-domain types (std's on Unix;
//!   Winsock `AF_UNIX` streams on Windows, which has no Unix datagrams and
//!   no `socketpair`, so those constructors fail with `Unsupported` there);
//! - [`AsRawSock`] and [`connect_in_progress`].
//!
//! These adapters are built on `lowlevel` and the run loop's blocking
//! pool; the one exception is the Linux file adapter, which submits owned
//! operations to the driver's io_uring ring (`unix/fs/ring.rs`): files are
//! that ring's only user, and the fence rule that orders them is theirs.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{fs, net, process, signal, uds};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{fs, net, process, signal, stream, uds};

use std::future::Future;
use std::io;
use std::pin::Pin;

use crate::lowlevel::RawSock;

/// A boxed wait of the layer below (readiness, object wait, timer).
pub(crate) type BoxedWait = Pin<Box<dyn Future<Output = io::Result<()>>>>;

/// Whether an error from a nonblocking `connect` means "started, not yet
/// finished" (wait until writable): `EINPROGRESS` on Unix, `WSAEWOULDBLOCK`
/// (a `WouldBlock`) on Windows. Std cannot name `EINPROGRESS` on stable.
pub(crate) fn connect_in_progress(e: &io::Error) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return true;
    }
    e.kind() == io::ErrorKind::WouldBlock
}

/// The raw socket of a standard socket type, whatever the platform calls it.
pub(crate) trait AsRawSock {
    /// The socket as `lowlevel` names it.
    fn raw_sock(&self) -> RawSock;
}

#[cfg(unix)]
impl<T: std::os::fd::AsRawFd> AsRawSock for T {
    fn raw_sock(&self) -> RawSock {
        self.as_raw_fd()
    }
}

#[cfg(windows)]
impl<T: std::os::windows::io::AsRawSocket> AsRawSock for T {
    fn raw_sock(&self) -> RawSock {
        self.as_raw_socket()
    }
}

/// The error a write to a child's stdin gets once this side closed it.
pub(crate) fn closed_pipe() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the child's stdin was closed by this side",
    )
}
