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
use std::rc::Rc;
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
/// `Sleep` is `Send + Sync`. It registers with the runtime that polls it;
/// dropped on another thread (or outside its runtime's `block_on`), its
/// deadline is forgotten at that runtime's next turn. A sleep registered
/// with one runtime and then polled by another moves to the new one.
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
    /// Registered with the runtime that last polled it, named by its id.
    /// `moved` is set when the deadline was reset away from that runtime:
    /// the entry still holds the old deadline and the next poll there
    /// moves it.
    Registered {
        rt: u64,
        key: TimerKey,
        moved: bool,
    },
    Done,
}

/// The runtime `rt` names, if it is the one running on this thread now:
/// only then may its timer structure be touched.
fn owner_here(rt: u64) -> Option<Rc<Inner>> {
    runtime::try_current().filter(|live| live.id() == rt)
}

/// Forgets `key` in the runtime `rt` names: at once on its own thread,
/// else at its next turn.
fn forget(rt: u64, key: TimerKey) {
    match owner_here(rt) {
        Some(live) => live.remove_timer(key),
        None => {
            if let Some(shared) = Inner::shared_of(rt) {
                shared.drop_timer_later(key);
            }
        }
    }
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
    ///
    /// Reset on a thread other than its runtime's (or outside that
    /// runtime's `block_on`), the move reaches the runtime at the sleep's
    /// next poll; until then the task is woken at the old deadline if that
    /// comes first.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().reset_deadline(deadline);
    }

    /// [`reset`](Sleep::reset) without the pin, for owners that hold the
    /// sleep unpinned (it is `Unpin`).
    pub(super) fn reset_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.state = match std::mem::replace(&mut self.state, State::Start) {
            State::Registered { rt, key, .. } => match owner_here(rt) {
                Some(live) => match live.reset_timer(key, deadline) {
                    Some(key) => State::Registered {
                        rt,
                        key,
                        moved: false,
                    },
                    // Already fired: its waker was woken, a poll follows.
                    None => State::Start,
                },
                None if Inner::shared_of(rt).is_some() => State::Registered {
                    rt,
                    key,
                    moved: true,
                },
                None => State::Start,
            },
            _ => State::Start,
        };
    }

    /// Removes the deadline from its runtime, if registered, and marks the
    /// sleep completed.
    pub(super) fn cancel(&mut self) {
        if let State::Registered { rt, key, .. } = std::mem::replace(&mut self.state, State::Done) {
            forget(rt, key);
        }
    }

    fn register(&mut self, rt: &Rc<Inner>, waker: &std::task::Waker) {
        let key = rt.add_timer(self.deadline, waker);
        self.state = State::Registered {
            rt: rt.id(),
            key,
            moved: false,
        };
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
                    this.register(&rt, cx.waker());
                }
                Poll::Pending
            }
            State::Yielded | State::Done => {
                this.state = State::Done;
                Poll::Ready(())
            }
            State::Registered {
                rt: registered,
                key,
                moved,
            } => {
                let (registered, key, moved) = (*registered, *key, *moved);
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
                let same = rt.id() == registered;
                let now = if same {
                    if moved {
                        // Reset while away: move the entry now.
                        rt.remove_timer(key);
                        Instant::now()
                    } else if rt.refresh_timer(key, cx.waker()) {
                        return Poll::Pending;
                    } else {
                        // Gone: fired, which the loop's clock confirms (a
                        // stale entry that matched after the timer sequence
                        // wrapped could fire it early; that does not pass
                        // this and registers again).
                        rt.timer_now()
                    }
                } else {
                    // Moved to another runtime: forget the old one's entry.
                    forget(registered, key);
                    Instant::now()
                };
                if now >= deadline {
                    this.state = State::Done;
                    return Poll::Ready(());
                }
                this.register(&rt, cx.waker());
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
            .field(
                "registered",
                &matches!(self.state, State::Registered { .. }),
            )
            .finish()
    }
}
