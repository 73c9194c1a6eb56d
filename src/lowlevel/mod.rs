//! The low-level surface every I/O type is built on.
//!
//! These are Trio's `trio.lowlevel` I/O primitives: wait for a socket to
//! become readable or writable, tell waiters a socket is about to close,
//! look at the I/O manager's state, wake the runtime from another thread.
//! Readiness-based types (`net`) use only these; nothing bypasses this
//! module to reach the driver.
//!
//! Every wait here is cancelled by dropping its future; once `drop` returns,
//! [`statistics`] no longer counts it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::driver::{DriverWaker, WaitToken};
use crate::runtime::{self, Inner};

/// A socket as the operating system names it: a `SOCKET` on Windows.
#[cfg(windows)]
pub type RawSock = std::os::windows::io::RawSocket;
/// A socket as the operating system names it: a file descriptor on Unix.
#[cfg(unix)]
pub type RawSock = std::os::fd::RawFd;

/// Which half of a socket a task waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Data (or a connection, or a hang-up) to read.
    Read,
    /// Room to write (or a connect outcome).
    Write,
}

/// Waits until `sock` is readable: data, an incoming connection, end of
/// stream or an error makes the next receive return at once.
///
/// Never consumes data. A second task waiting to read the same socket gets
/// `io::ErrorKind::ResourceBusy` at once. An invalid socket gives the OS
/// error (`WSAENOTSOCK` on Windows, `EBADF` on Linux).
///
/// # Panics
/// When polled outside a oneport runtime.
pub async fn wait_readable(sock: RawSock) -> io::Result<()> {
    ReadinessWait::new(sock, Direction::Read).await
}

/// Waits until `sock` is writable: buffer space, a completed or failed
/// connect, or an error makes the next send return at once.
///
/// A second task waiting to write the same socket gets
/// `io::ErrorKind::ResourceBusy` at once.
///
/// # Panics
/// When polled outside a oneport runtime.
pub async fn wait_writable(sock: RawSock) -> io::Result<()> {
    ReadinessWait::new(sock, Direction::Write).await
}

/// Tells every task waiting on `sock` that it is about to be closed: they
/// wake with a [`ClosedResource`](crate::ClosedResource) error. It closes
/// nothing; call it before closing a socket other tasks may be waiting on.
///
/// On Linux a socket nobody waits on (even a bad fd) gives `Ok(())`; on
/// Windows a handle that is not a socket gives `WSAENOTSOCK`.
///
/// # Panics
/// When called outside a oneport runtime.
pub fn notify_closing(sock: RawSock) -> io::Result<()> {
    runtime::current("oneport::lowlevel::notify_closing")
        .driver
        .notify_closing(sock)
}

/// `notify_closing` for a socket a `net` type is about to close on drop.
///
/// Done only while this thread runs a runtime: waiters live in the runtime of
/// the thread that owns the socket, so outside one there is nobody to tell.
/// Errors are ignored: a drop has nobody to report them to, and the socket
/// is closed either way.
pub(crate) fn notify_closing_on_drop(sock: RawSock) {
    if let Some(rt) = runtime::try_current() {
        let _ = rt.driver.notify_closing(sock);
    }
}

/// The future behind `wait_readable` / `wait_writable`: registers with the
/// driver on first poll, and unregisters on drop if not yet woken.
struct ReadinessWait {
    sock: RawSock,
    direction: Direction,
    state: Option<(Rc<Inner>, WaitToken)>,
    done: bool,
}

impl ReadinessWait {
    fn new(sock: RawSock, direction: Direction) -> Self {
        ReadinessWait {
            sock,
            direction,
            state: None,
            done: false,
        }
    }
}

impl Future for ReadinessWait {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        assert!(!self.done, "readiness wait polled after completion");
        let result = match &self.state {
            None => {
                let rt = runtime::current(match self.direction {
                    Direction::Read => "oneport::lowlevel::wait_readable",
                    Direction::Write => "oneport::lowlevel::wait_writable",
                });
                match rt
                    .driver
                    .register_wait(self.sock, self.direction, cx.waker())
                {
                    Ok(token) => {
                        self.state = Some((rt, token));
                        return Poll::Pending;
                    }
                    Err(e) => Poll::Ready(Err(e)),
                }
            }
            Some((rt, token)) => rt.driver.poll_wait(*token, cx.waker()),
        };
        if result.is_ready() {
            self.state = None;
            self.done = true;
        }
        result
    }
}

impl Drop for ReadinessWait {
    fn drop(&mut self) {
        if let Some((rt, token)) = self.state.take() {
            rt.driver.cancel_wait(token);
        }
    }
}

/// A snapshot of the current runtime's I/O manager and run loop.
///
/// Fields may be added in later versions; build it only through
/// [`statistics`].
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Statistics {
    /// `"windows"` (completion port + AFD) or `"epoll"`.
    pub backend: &'static str,
    /// Tasks parked in `wait_readable`.
    pub tasks_waiting_read: usize,
    /// Tasks parked in `wait_writable`.
    pub tasks_waiting_write: usize,
    /// Tasks waiting on an overlapped operation (always 0 on epoll).
    pub tasks_waiting_overlapped: usize,
    /// Live completion-key monitors (always 0 on epoll).
    pub completion_key_monitors: usize,
    /// AFD helper handles open (Windows; 0 on epoll).
    pub afd_handles: usize,
    /// AFD polls submitted and not yet dequeued, stale ones included
    /// (Windows; 0 on epoll).
    pub afd_polls_in_flight: usize,
    /// AFD polls submitted since the runtime started (Windows; 0 on epoll).
    pub afd_polls_issued: u64,
    /// Overlapped operations whose future was dropped and whose completion
    /// packet has not been dequeued yet; the driver owns their memory.
    pub overlapped_orphaned: usize,
    /// Packets that arrived for the key of a dropped completion-key monitor
    /// and were discarded.
    pub completion_key_packets_discarded: u64,
    /// Wakeups from other threads the driver has received (collapsed wakes
    /// count once).
    pub wakeups_received: u64,
    /// File descriptors armed in epoll for a parked waiter (Linux; 0 on
    /// Windows).
    pub epoll_registered: usize,
    /// Spawned tasks not yet finished.
    pub tasks_alive: usize,
    /// Tasks queued to run.
    pub tasks_runnable: usize,
    /// Sleeps with a pending deadline.
    pub timers: usize,
    /// Tasks waiting in `wait_for_object` (Windows; 0 on epoll).
    pub object_waits: usize,
    /// Packets that arrived for an object wait dropped after its object was
    /// signalled, and were discarded (Windows; 0 on epoll).
    pub object_wait_packets_discarded: u64,
    /// How `wait_for_object` is delivered: `"wait-packet"`
    /// (`NtAssociateWaitCompletionPacket`), `"thread-pool"` (the system's
    /// `RegisterWaitForSingleObject` fallback) or `""` (epoll).
    pub object_wait_mechanism: &'static str,
}

/// The current runtime's [`Statistics`].
///
/// # Panics
/// When called outside a oneport runtime.
pub fn statistics() -> Statistics {
    runtime::current("oneport::lowlevel::statistics").statistics()
}

/// A thread-safe handle that makes the runtime's blocking wait return.
///
/// Obtain it inside the runtime with [`wake_handle`]; send clones to any
/// thread. Waking a runtime that has been dropped does nothing.
#[derive(Clone)]
pub struct WakeHandle {
    waker: DriverWaker,
}

impl WakeHandle {
    /// Makes the runtime's current or next blocking wait in the driver
    /// return at once. Many wakes before the runtime looks may collapse into
    /// one.
    pub fn wake(&self) {
        self.waker.force_wakeup();
    }
}

impl std::fmt::Debug for WakeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakeHandle").finish_non_exhaustive()
    }
}

/// A [`WakeHandle`] for the current runtime.
///
/// # Panics
/// When called outside a oneport runtime.
pub fn wake_handle() -> WakeHandle {
    WakeHandle {
        waker: runtime::current("oneport::lowlevel::wake_handle").driver_waker(),
    }
}

/// Returns once every other task of the runtime is blocked (waiting on I/O,
/// a timer or another task) and a non-blocking poll of the driver finds
/// nothing ready. Trio's `wait_all_tasks_blocked`; mostly for tests.
///
/// # Panics
/// When polled outside a oneport runtime.
pub async fn wait_all_tasks_blocked() {
    let rt = runtime::current("oneport::lowlevel::wait_all_tasks_blocked");
    let generation = rt.blocked_generation();
    let mut guard = BlockedWait {
        rt,
        key: None,
        generation,
    };
    std::future::poll_fn(|cx| {
        if guard.rt.blocked_generation() != generation {
            guard.key = None;
            return Poll::Ready(());
        }
        match guard.key {
            None => guard.key = Some(guard.rt.add_blocked_waiter(cx.waker().clone())),
            Some(k) => guard.rt.update_blocked_waiter(k, cx.waker()),
        }
        Poll::Pending
    })
    .await
}

/// Unregisters a cancelled `wait_all_tasks_blocked`.
struct BlockedWait {
    rt: Rc<Inner>,
    key: Option<usize>,
    /// The release this waiter waits for; after it, `key` may name a slot
    /// reused by another waiter and must not be removed.
    generation: u64,
}

impl Drop for BlockedWait {
    fn drop(&mut self) {
        if let (Some(k), true) = (self.key, self.rt.blocked_generation() == self.generation) {
            self.rt.remove_blocked_waiter(k);
        }
    }
}

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{
    current_iocp, monitor_completion_key, CompletionKeyEventInfo, CompletionKeyMonitor, RawHandle,
};
#[cfg(windows)]
mod wait;
#[cfg(windows)]
pub use wait::wait_for_object;

#[cfg(windows)]
pub(crate) mod overlapped;
#[cfg(windows)]
pub use overlapped::{
    read_overlapped, register_with_iocp, submit_overlapped, write_overlapped, OverlappedOp,
    WaitOverlapped,
};
