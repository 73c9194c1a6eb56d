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

use crate::driver::{CurrentWaker, Driver as _, ForceWakeup as _, WaitToken};
use crate::runtime::{self, Inner};

pub(crate) use crate::driver::Interest;
pub use crate::driver::RawSock;
pub use crate::runtime::Statistics;

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
    ReadinessWait::new(sock, Interest::Read).await
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
    ReadinessWait::new(sock, Interest::Write).await
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
        .driver()
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
        let _ = rt.driver().notify_closing(sock);
    }
}

/// The future behind `wait_readable` / `wait_writable`: registers with the
/// driver on first poll, and unregisters on drop if not yet woken.
struct ReadinessWait {
    sock: RawSock,
    direction: Interest,
    state: Option<(Rc<Inner>, WaitToken)>,
    done: bool,
}

impl ReadinessWait {
    fn new(sock: RawSock, direction: Interest) -> Self {
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
                    Interest::Read => "oneport::lowlevel::wait_readable",
                    Interest::Write => "oneport::lowlevel::wait_writable",
                });
                match rt
                    .driver()
                    .register_wait(self.sock, self.direction, cx.waker())
                {
                    Ok(token) => {
                        self.state = Some((rt, token));
                        return Poll::Pending;
                    }
                    Err(e) => Poll::Ready(Err(e)),
                }
            }
            Some((rt, token)) => rt.driver().poll_wait(*token, cx.waker()),
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
            rt.driver().cancel_wait(token);
        }
    }
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
    waker: CurrentWaker,
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

#[cfg(all(test, windows))]
mod layered_tests;
#[cfg(windows)]
pub(crate) mod overlapped;
#[cfg(windows)]
pub use overlapped::{
    read_overlapped, register_with_iocp, submit_overlapped, write_overlapped, OverlappedOp,
    WaitOverlapped,
};
