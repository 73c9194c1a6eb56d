//! The one pattern every `net` operation follows, written once.
//!
//! - [`retry`]: try the system call; on `WouldBlock` wait for readiness and
//!   try again. Used by the `async fn`s (`read`, `accept`, ...), whose waits
//!   belong to the calling task's future.
//! - [`PollSlot`]: the same loop for the poll-based `futures_io` traits,
//!   which have no future of their own to keep a wait in, so the socket
//!   keeps it, one slot per direction.
//! - [`Closing`]: the owned socket, which tells waiters it is about to close
//!   (`notify_closing`) before closing it.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::io;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;

use crate::lowlevel::{self, Interest, RawSock};
use crate::runtime::current_thread_id;
pub(crate) use crate::sys::AsRawSock;

/// A wait for `sock` to be ready in `dir`.
async fn wait(sock: RawSock, dir: Interest) -> io::Result<()> {
    match dir {
        Interest::Read => lowlevel::wait_readable(sock).await,
        Interest::Write => lowlevel::wait_writable(sock).await,
    }
}

/// Runs `op` until it does not say `WouldBlock`, waiting for `sock` to be
/// ready in `dir` in between. `Interrupted` is retried at once. A wait that
/// fails (busy, closed, an OS error) ends the loop with its error.
pub(crate) async fn retry<T>(
    sock: RawSock,
    dir: Interest,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(sock, dir).await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// A readiness wait kept between polls of a poll-based operation, with the
/// waker of the poll that last asked for it.
///
/// The wait belongs to the runtime of the thread that parked it (it holds
/// that runtime), so it is polled and dropped only on that thread: a
/// socket moved to another thread with a wait parked gives the wait up
/// there without touching it (see its `Drop`).
struct Parked {
    owner: ThreadId,
    wait: ManuallyDrop<Pin<Box<dyn Future<Output = io::Result<()>>>>>,
    waker: Waker,
    /// The waker this wait was taken over from, while its owner has not
    /// been back: if it comes back, two tasks are polling at once.
    displaced: Option<Waker>,
}

// SAFETY: the only `!Send` part is `wait`, and it is polled and dropped
// only on `owner`, the thread whose runtime it belongs to: `poll_io`
// checks the thread before polling it, and `Drop` leaks it on any other
// thread instead of dropping it. The wakers are `Send`.
unsafe impl Send for Parked {}

impl Parked {
    fn new(sock: RawSock, dir: Interest, waker: &Waker) -> Parked {
        Parked {
            owner: current_thread_id(),
            wait: ManuallyDrop::new(Box::pin(wait(sock, dir))),
            waker: waker.clone(),
            displaced: None,
        }
    }

    fn at_home(&self) -> bool {
        self.owner == current_thread_id()
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        if self.at_home() {
            // SAFETY: dropped once, here, on the thread it belongs to;
            // `wait` is not used after this.
            unsafe { ManuallyDrop::drop(&mut self.wait) };
        } else {
            // Dropping it here would touch its runtime's reference counts
            // from a foreign thread. Leaking it keeps that runtime's state
            // (not its tasks) alive; it only happens to a socket moved
            // between threads in the middle of a poll-based operation.
            log::warn!(
                target: "oneport",
                "a socket was moved to another thread while a poll-based read or write \
                 was waiting on its old runtime; that wait is leaked"
            );
        }
    }
}

/// The error of a poll that finds its socket's wait parked by another
/// thread's runtime.
fn moved_mid_wait(dir: Interest) -> io::Error {
    let what = match dir {
        Interest::Read => "read",
        Interest::Write => "write",
    };
    io::Error::other(format!(
        "oneport: this socket was moved to another thread while a poll-based {what} \
         was waiting on the old thread's runtime; that wait is given up (poll again to \
         wait on this thread's runtime)"
    ))
}

/// Where the poll-based I/O of one direction of a socket keeps its wait.
///
/// `poll_read` and `poll_write` are called again and again with no future of
/// their own, so the wait they park in lives here. There is one slot per
/// direction: if a poll with another waker comes along (another task, or the
/// same operation moved to a new task), it takes the wait over and the
/// previous waker is woken so that its owner, if still interested, polls
/// again and finds out: if it does while the newcomer still holds the
/// wait, two tasks are polling one direction at once and the returning one
/// gets `ResourceBusy` (API.md). Handing the wait back and forth instead
/// would keep both tasks waking each other for ever, at full CPU.
/// An `async fn` that has to wait first [`release`]s
/// the slot, so a poll-based operation abandoned half-way (its caller
/// dropped) never makes the socket look busy.
///
/// [`release`]: PollSlot::release
#[derive(Default)]
pub(crate) struct PollSlot {
    parked: Cell<Option<Parked>>,
}

impl PollSlot {
    /// Polls `op` the way [`retry`] runs it, parking in this slot.
    pub(crate) fn poll_io<T>(
        &self,
        sock: RawSock,
        dir: Interest,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        self.poll_io_after(sock, dir, cx, false, op)
    }

    /// [`poll_io`](PollSlot::poll_io), but when `wait_first` and no wait
    /// is parked, waits for readiness before the first call (the caller
    /// knows the call would say `WouldBlock`).
    pub(crate) fn poll_io_after<T>(
        &self,
        sock: RawSock,
        dir: Interest,
        cx: &mut Context<'_>,
        wait_first: bool,
        mut op: impl FnMut() -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        if wait_first {
            let p = self.parked.take();
            self.parked.set(Some(
                p.unwrap_or_else(|| Parked::new(sock, dir, cx.waker())),
            ));
        }
        loop {
            if let Some(mut p) = self.parked.take() {
                if !p.at_home() {
                    drop(p);
                    return Poll::Ready(Err(moved_mid_wait(dir)));
                }
                if !p.waker.will_wake(cx.waker()) {
                    if p.displaced
                        .as_ref()
                        .is_some_and(|d| d.will_wake(cx.waker()))
                    {
                        // The task the wait was taken from is back while
                        // the other still holds it: it is the second one.
                        p.displaced = None;
                        self.parked.set(Some(p));
                        return Poll::Ready(Err(crate::error::socket_busy(dir)));
                    }
                    let previous = std::mem::replace(&mut p.waker, cx.waker().clone());
                    previous.wake_by_ref();
                    p.displaced = Some(previous);
                }
                match p.wait.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.parked.set(Some(p));
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {}
                }
            }
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.parked.set(Some(Parked::new(sock, dir, cx.waker())))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return Poll::Ready(r),
            }
        }
    }

    /// Cancels the parked wait, if any, and wakes whoever parked it.
    pub(crate) fn release(&self) {
        if let Some(p) = self.parked.take() {
            let waker = p.waker.clone();
            drop(p);
            waker.wake();
        }
    }
}

impl fmt::Debug for PollSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.parked.take();
        let parked = p.is_some();
        self.parked.set(p);
        f.debug_struct("PollSlot").field("parked", &parked).finish()
    }
}

/// An owned nonblocking socket that, when dropped inside a runtime, wakes
/// the tasks still waiting on it with `ClosedResource` before closing it.
#[derive(Debug)]
pub(crate) struct Closing<T: AsRawSock>(Option<T>);

impl<T: AsRawSock> Closing<T> {
    pub(crate) fn new(sock: T) -> Self {
        Closing(Some(sock))
    }

    /// Gives the socket back without closing it or notifying anyone.
    pub(crate) fn into_inner(mut self) -> T {
        self.0.take().expect("oneport: socket already taken")
    }
}

impl<T: AsRawSock> Deref for Closing<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Only `into_inner` empties the option, and it consumes `self`.
        self.0.as_ref().expect("oneport: socket already taken")
    }
}

impl<T: AsRawSock> Drop for Closing<T> {
    fn drop(&mut self) {
        if let Some(sock) = self.0.take() {
            lowlevel::notify_closing_on_drop(sock.raw_sock());
            drop(sock);
        }
    }
}
