//! The [`Sleep`] future: one deadline, registered with the runtime that
//! polls it.
//!
//! The deadline lives in the future itself; the runtime's timer structure
//! holds only a copy with the waker, under a key the future keeps. That is
//! why a sleep can be reset without the runtime (an unregistered sleep just
//! changes its field) and why dropping it costs one slab removal.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Instant;

use crate::runtime::{self, Inner, TimerKey};

/// A future that completes at a deadline; made by [`sleep`](super::sleep)
/// and [`sleep_until`](super::sleep_until).
///
/// The deadline is fixed when the `Sleep` is made and can be moved with
/// [`reset`](Sleep::reset). A deadline already in the past when the sleep is
/// first polled still yields once to other tasks. `Sleep` is `Unpin`, so a
/// `&mut Sleep` can be awaited directly and `Pin::new(&mut s)` reaches
/// [`reset`](Sleep::reset). Dropping it removes its deadline from the
/// runtime at once.
///
/// # Panics
/// Polling panics outside a oneport runtime.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    state: State,
}

enum State {
    /// Not polled since it was made or reset.
    Start,
    /// Polled once with its deadline already past; the next poll completes.
    Yielded,
    /// Registered with the runtime that last polled it.
    Registered(Weak<Inner>, TimerKey),
    Done,
}

impl Sleep {
    pub(super) fn new(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            state: State::Start,
        }
    }

    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed (or the sleep already completed).
    /// Awaiting an elapsed sleep takes at most one yield to other tasks.
    pub fn is_elapsed(&self) -> bool {
        matches!(self.state, State::Done) || Instant::now() >= self.deadline
    }

    /// Moves the deadline to `deadline`, earlier or later, whether or not
    /// the sleep has completed: a completed sleep becomes pending again. A
    /// registered sleep keeps its place with the runtime (the waker it
    /// last gave is woken at the new deadline), so a task waiting on it
    /// need not poll it again for the move to take effect.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().reset_deadline(deadline);
    }

    /// [`reset`](Sleep::reset) without the pin, for owners that hold the
    /// sleep unpinned (it is `Unpin`).
    pub(super) fn reset_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.state = match std::mem::replace(&mut self.state, State::Start) {
            State::Registered(rt, key) => match rt.upgrade() {
                Some(live) => match live.reset_timer(key, deadline) {
                    Some(key) => State::Registered(rt, key),
                    // Already fired: its waker was woken, a poll follows.
                    None => State::Start,
                },
                None => State::Start,
            },
            _ => State::Start,
        };
    }

    /// Removes the deadline from its runtime, if registered, and marks the
    /// sleep completed.
    pub(super) fn cancel(&mut self) {
        if let State::Registered(rt, key) = std::mem::replace(&mut self.state, State::Done) {
            if let Some(rt) = rt.upgrade() {
                rt.remove_timer(key);
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let deadline = this.deadline;
        match &this.state {
            State::Start => {
                // A fresh clock read here (the loop's is up to a turn old):
                // a sleep found elapsed now costs a yield, one registered
                // costs a heap entry and its removal.
                if deadline <= Instant::now() {
                    this.state = State::Yielded;
                    cx.waker().wake_by_ref();
                } else {
                    let rt = runtime::current("oneport::time::sleep");
                    let key = rt.add_timer(deadline, cx.waker());
                    this.state = State::Registered(Rc::downgrade(&rt), key);
                }
                Poll::Pending
            }
            State::Yielded | State::Done => {
                this.state = State::Done;
                Poll::Ready(())
            }
            State::Registered(registered, key) => {
                let key = *key;
                let Some(rt) = runtime::try_current() else {
                    if Instant::now() >= deadline {
                        this.cancel();
                        return Poll::Ready(());
                    }
                    panic!(
                        "oneport::time::sleep polled outside a oneport runtime: the runtime \
                         it was registered with was dropped or is not running, and this \
                         thread runs none; poll it inside Runtime::block_on"
                    )
                };
                let same = std::ptr::eq(registered.as_ptr(), Rc::as_ptr(&rt));
                let now = if same {
                    if rt.refresh_timer(key, cx.waker()) {
                        return Poll::Pending;
                    }
                    // Gone: fired, which the loop's clock confirms (a
                    // stale entry that matched after the timer sequence
                    // wrapped could fire it early; that does not pass
                    // this and registers again). `same` cannot be fooled
                    // by a new runtime at a dropped one's address: our
                    // `Weak` keeps that allocation.
                    rt.timer_now()
                } else {
                    // Moved: forget the old runtime's timer, if it lives.
                    if let Some(old) = registered.upgrade() {
                        old.remove_timer(key);
                    }
                    Instant::now()
                };
                if now >= deadline {
                    this.state = State::Done;
                    return Poll::Ready(());
                }
                let key = rt.add_timer(deadline, cx.waker());
                this.state = State::Registered(Rc::downgrade(&rt), key);
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &matches!(self.state, State::Registered(..)))
            .finish()
    }
}
