//! The I/O managers: one per platform, all with the shape of [`Driver`].
//!
//! This is the bottom layer of oneport. It knows the kernel's event
//! mechanism (the completion port on Windows, epoll on Linux) and nothing
//! above it: no tasks beyond `Waker`s, no files or processes, no public
//! API. Everything it needs from the crate is defined here, at the bottom:
//! the socket name ([`RawSock`]), the direction of a wait ([`Interest`]),
//! the name of a parked waiter ([`WaitToken`]) and the driver's own
//! figures ([`DriverStats`]). The run loop composes the public
//! `Statistics` from the latter; `lowlevel` re-exports what users see.
//!
//! The contract with the run loop is Trio's: [`Driver::get_events`] blocks
//! at most the given time and returns how many events it collected;
//! [`Driver::process_events`] wakes the wakers those events name. The
//! readiness waits ([`Driver::register_wait`] and friends) are the whole of
//! what `lowlevel::wait_readable`/`wait_writable` need. A backend whose
//! kernel completes operations on memory it was given (the Windows port)
//! also implements [`Completions`], the owned-operation surface.
//!
//! Who waits on which socket is kept the same way by every readiness
//! backend, in [`waiters`]: per key a reader, a writer and the backend's own
//! record of what it asked the kernel for; per waiter a generation-tagged
//! token. A backend only brings the kernel in line with the interest the
//! table reports (epoll re-arms, AFD re-polls).
//!
//! The run loop names the backend through [`Current`], chosen by `cfg` here
//! and nowhere else.

#[cfg(unix)]
mod epoll;
#[cfg(target_os = "linux")]
pub(crate) mod uring;
mod waiters;
#[cfg(windows)]
pub(crate) mod windows;

use std::io;
use std::task::{Poll, Waker};
use std::time::Duration;

/// The backend this build runs on.
#[cfg(unix)]
pub(crate) type Current = epoll::Driver;
/// The backend this build runs on.
#[cfg(windows)]
pub(crate) type Current = windows::Driver;

/// The thread-safe wakeup handle of [`Current`].
pub(crate) type CurrentWaker = <Current as Driver>::Waker;

/// A socket as the operating system names it: a `SOCKET` on Windows.
#[cfg(windows)]
pub type RawSock = std::os::windows::io::RawSocket;
/// A socket as the operating system names it: a file descriptor on Unix.
#[cfg(unix)]
pub type RawSock = std::os::fd::RawFd;

/// Which half of a socket a task waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Data (or a connection, or a hang-up) to read.
    Read,
    /// Room to write (or a connect outcome).
    Write,
}

impl Interest {
    /// Both interests, readers first.
    pub(crate) const BOTH: [Interest; 2] = [Interest::Read, Interest::Write];
}

/// Names one registered readiness waiter: a slot of the waiter table tagged
/// with a generation, so a stale token (its slot since reused) can neither
/// cancel nor observe another waiter.
pub(crate) type WaitToken = u64;

/// Names one owned operation of a [`Completions`] backend: the address of
/// its kernel-visible block, unique while the driver knows the operation.
#[cfg_attr(not(windows), allow(dead_code))] // until a Linux completion backend
pub(crate) type OpId = usize;

/// Names one task waiting on an owned operation (one at a time).
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) type OpWaiter = u64;

/// The driver's own figures; the run loop adds its own to make the public
/// `lowlevel::Statistics`. Fields a backend does not have stay 0 / empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DriverStats {
    pub(crate) backend: &'static str,
    pub(crate) tasks_waiting_read: usize,
    pub(crate) tasks_waiting_write: usize,
    pub(crate) tasks_waiting_overlapped: usize,
    pub(crate) completion_key_monitors: usize,
    pub(crate) afd_handles: usize,
    pub(crate) afd_polls_in_flight: usize,
    pub(crate) afd_polls_issued: u64,
    pub(crate) overlapped_orphaned: usize,
    pub(crate) completion_key_packets_discarded: u64,
    pub(crate) wakeups_received: u64,
    pub(crate) epoll_registered: usize,
    pub(crate) object_waits: usize,
    pub(crate) object_wait_packets_discarded: u64,
    pub(crate) object_wait_mechanism: &'static str,
    pub(crate) file_backend: &'static str,
    pub(crate) ring_orphaned: usize,
}

/// Makes a blocked [`Driver::get_events`] return, from any thread.
pub(crate) trait ForceWakeup: Clone + Send + Sync + 'static {
    /// Wakes the driver's current or next blocking wait. Many calls before
    /// the driver looks may collapse into one.
    fn force_wakeup(&self);
}

/// What every I/O manager provides. The compiler checks each backend
/// against it; the run loop and `lowlevel` use nothing else of a backend
/// but its platform-only extras (the Windows port's keys and waits).
pub(crate) trait Driver: Sized {
    /// The `Send + Sync` handle other threads wake the driver with.
    type Waker: ForceWakeup;

    /// Opens the kernel objects the driver needs (a port, an epoll
    /// instance, a wakeup channel).
    fn new() -> io::Result<Self>;

    /// Blocks for at most `timeout` (`None`: until an event) and returns
    /// how many events were collected. A positive timeout is never rounded
    /// down to zero (no busy loop).
    fn get_events(&self, timeout: Option<Duration>) -> usize;

    /// Wakes the wakers that the last `n` collected events name.
    fn process_events(&self, n: usize);

    /// A handle that makes a blocked `get_events` return.
    fn waker(&self) -> Self::Waker;

    /// The driver's figures.
    fn statistics(&self) -> DriverStats;

    /// Parks `waker` until `sock` is ready for `interest`. A second waiter
    /// in the same direction gets `ResourceBusy`; an invalid socket the OS
    /// error.
    fn register_wait(
        &self,
        sock: RawSock,
        interest: Interest,
        waker: &Waker,
    ) -> io::Result<WaitToken>;

    /// The result of a parked wait once it was woken, or `Pending` with
    /// its waker refreshed.
    fn poll_wait(&self, token: WaitToken, waker: &Waker) -> Poll<io::Result<()>>;

    /// Withdraws a wait (its future was dropped); synchronous.
    fn cancel_wait(&self, token: WaitToken);

    /// Wakes every waiter on `sock` with `ClosedResource`. Closes nothing.
    fn notify_closing(&self, sock: RawSock) -> io::Result<()>;
}

/// The owned-operation surface of a completion backend: the kernel reads
/// and writes memory it was handed until the operation's completion is
/// dequeued, so the driver owns that memory (and the resources around it)
/// from submission to completion, whatever happens to the future that
/// started it. Submission itself is backend-specific (it takes the
/// kernel's own operation description); everything after it is this.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) trait Completions {
    /// What a dequeued completion said.
    type Outcome: Copy;

    /// A fresh waiter id, so a second waiter can be told apart.
    fn new_op_waiter(&self) -> OpWaiter;

    /// Ready once the operation's completion has been dequeued; parks
    /// `waiter` until then. A second waiter gets `ResourceBusy`.
    fn poll_op(&self, id: OpId, waiter: OpWaiter, waker: &Waker) -> Poll<io::Result<()>>;

    /// A waiter went away without the operation being abandoned.
    fn stop_waiting_op(&self, id: OpId, waiter: OpWaiter);

    /// Whether the operation's completion has been dequeued.
    fn is_op_done(&self, id: OpId) -> bool;

    /// Asks the kernel to end the operation early; its completion still
    /// comes.
    fn cancel_op(&self, id: OpId);

    /// The outcome and resources of a finished operation; `None` while it
    /// is in flight.
    fn take_op<R: 'static>(&self, id: OpId) -> Option<(Self::Outcome, R)>;

    /// The owner is gone: the driver cancels the operation and frees its
    /// memory once the kernel is done with it.
    fn abandon_op(&self, id: OpId);
}

/// Wakes every waker of `wakers`, even if some of them panic: a waker is
/// user code, and one that panics must not strand the waiters after it in
/// the same batch, whose results are already recorded as finished. The
/// first panic goes on unwinding once the rest are woken (their own panics
/// are dropped: a second panic while unwinding would abort). On the normal
/// path this costs nothing beyond the wakes: the guard only acts while
/// unwinding.
pub(crate) fn wake_all_or_resume(wakers: impl IntoIterator<Item = Waker>) {
    struct WakeRestOnUnwind<I: Iterator<Item = Waker>>(I);
    impl<I: Iterator<Item = Waker>> Drop for WakeRestOnUnwind<I> {
        fn drop(&mut self) {
            // Wakers are left here only when one of them panicked.
            for w in self.0.by_ref() {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.wake()));
            }
        }
    }
    let mut rest = WakeRestOnUnwind(wakers.into_iter());
    for w in rest.0.by_ref() {
        w.wake();
    }
}

/// Milliseconds for a kernel timeout, rounded *up*: a positive timeout
/// never becomes 0 (a busy loop), and rounding up never wakes before a
/// deadline. `None` stays `None` (wait for ever); the caller clamps to its
/// kernel's largest finite value.
pub(crate) fn timeout_ms(timeout: Option<Duration>) -> Option<u128> {
    timeout.map(|d| d.as_nanos().div_ceil(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(timeout_ms(None), None);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), Some(0));
        assert_eq!(timeout_ms(Some(Duration::from_nanos(1))), Some(1));
        assert_eq!(timeout_ms(Some(Duration::from_micros(1500))), Some(2));
        assert_eq!(timeout_ms(Some(Duration::from_millis(50))), Some(50));
    }
}
