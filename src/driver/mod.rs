//! The I/O drivers: one per platform, with the same shape.
//!
//! Every driver provides, as inherent methods of its `Driver` type:
//!
//! - `new() -> io::Result<Driver>`
//! - `get_events(timeout: Option<Duration>) -> usize`: block at most
//!   `timeout` (`None` = until an event) and return how many events were
//!   collected;
//! - `process_events(n)`: wake the wakers those events name;
//! - `waker() -> DriverWaker`: a `Send + Sync` handle whose
//!   `force_wakeup()` makes a blocked `get_events` return;
//! - `statistics() -> Statistics` (driver fields filled in);
//! - the readiness waits: `register_wait(sock, direction, &Waker) ->
//!   io::Result<WaitToken>`, `poll_wait(token, &Waker) ->
//!   Poll<io::Result<()>>`, `cancel_wait(token)`, `notify_closing(sock)`.
//!
//! The run loop picks the driver by `cfg` here and nowhere else.

pub(crate) mod blocking_pool;
pub(crate) mod fs;

#[cfg(unix)]
mod epoll;
#[cfg(unix)]
pub(crate) use epoll::{Driver, DriverWaker};

#[cfg(windows)]
pub(crate) mod windows;
#[cfg(windows)]
pub(crate) use windows::{Driver, DriverWaker};

pub(crate) mod process;

/// Names one registered readiness waiter. Tokens are never reused within a
/// driver, so a stale token can never cancel or observe another waiter.
pub(crate) type WaitToken = u64;

/// Whether an error from a nonblocking `connect` means "started, not yet
/// finished" (wait until writable): `EINPROGRESS` on Unix, `WSAEWOULDBLOCK`
/// (a `WouldBlock`) on Windows. Std cannot name `EINPROGRESS` on stable.
pub(crate) fn connect_in_progress(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return true;
    }
    e.kind() == std::io::ErrorKind::WouldBlock
}

/// The raw socket of a standard socket type, whatever the platform calls it.
pub(crate) trait AsRawSock {
    /// The socket as `lowlevel` names it.
    fn raw_sock(&self) -> crate::lowlevel::RawSock;
}

#[cfg(unix)]
impl<T: std::os::fd::AsRawFd> AsRawSock for T {
    fn raw_sock(&self) -> crate::lowlevel::RawSock {
        self.as_raw_fd()
    }
}

#[cfg(windows)]
impl<T: std::os::windows::io::AsRawSocket> AsRawSock for T {
    fn raw_sock(&self) -> crate::lowlevel::RawSock {
        self.as_raw_socket()
    }
}
