//! Sleeping and deadlines.
//!
//! Timers live in the run loop, not the driver: the loop computes how long it
//! may block from the earliest deadline and hands that to the driver's
//! `get_events(timeout)`. Every sleep, even one whose deadline has already
//! passed, yields once, so `sleep(Duration::ZERO)` lets other tasks run.
//!
//! A sleep belongs to no runtime in particular: it registers its deadline
//! with whichever runtime polls it. Moved to another runtime (a boxed sleep
//! passed between `block_on`s of different runtimes, or polled after the
//! runtime it first ran on was dropped), it moves its deadline there at its
//! next poll instead of waiting on a timer nobody fires. It holds its
//! runtime weakly, so a forgotten sleep never keeps a dropped runtime's
//! driver open. Polled outside any runtime it panics, saying so.

use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::runtime::{self, Inner, TimerKey};

/// Waits until `d` has passed.
///
/// The future may be polled by another runtime than the one it started on
/// (see the module docs).
///
/// # Panics
/// When polled outside a oneport runtime (with the message "oneport::time::sleep
/// polled outside a oneport runtime ...").
pub async fn sleep(d: Duration) {
    sleep_until(deadline_after(d)).await
}

/// Waits until `deadline`. A deadline in the past still yields once.
///
/// # Panics
/// When polled outside a oneport runtime.
pub async fn sleep_until(deadline: Instant) {
    Sleep {
        deadline,
        state: SleepState::Start,
    }
    .await
}

/// Runs `fut` for at most `d`. When the time runs out first, `fut` is
/// dropped (cancelling whatever it was waiting on) and [`Elapsed`] is
/// returned. A future that is ready when first polled always wins.
pub async fn timeout<F: Future>(d: Duration, fut: F) -> Result<F::Output, Elapsed> {
    let mut fut = pin!(fut);
    let mut timer = pin!(sleep(d));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        timer.as_mut().poll(cx).map(|()| Err(Elapsed(d)))
    })
    .await
}

/// The error of [`timeout`]: the time ran out before the future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(Duration);

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deadline of {:?} elapsed", self.0)
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// `now + d`, saturating at a deadline far enough away to mean "never".
fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

struct Sleep {
    deadline: Instant,
    state: SleepState,
}

enum SleepState {
    Start,
    Yielded,
    /// Registered with the runtime that last polled it.
    Registered(Weak<Inner>, TimerKey),
    Done,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        match &self.state {
            SleepState::Start => {
                if deadline <= Instant::now() {
                    self.state = SleepState::Yielded;
                    cx.waker().wake_by_ref();
                } else {
                    let rt = runtime::current("oneport::time::sleep");
                    let key = rt.add_timer(deadline, cx.waker());
                    self.state = SleepState::Registered(Rc::downgrade(&rt), key);
                }
                Poll::Pending
            }
            SleepState::Yielded | SleepState::Done => {
                self.state = SleepState::Done;
                Poll::Ready(())
            }
            SleepState::Registered(registered, key) => {
                let key = *key;
                if Instant::now() >= deadline {
                    if let Some(rt) = registered.upgrade() {
                        rt.remove_timer(key);
                    }
                    self.state = SleepState::Done;
                    return Poll::Ready(());
                }
                let Some(rt) = runtime::try_current() else {
                    panic!(
                        "oneport::time::sleep polled outside a oneport runtime: the runtime \
                         it was registered with was dropped or is not running, and this \
                         thread runs none; poll it inside Runtime::block_on"
                    )
                };
                let same = std::ptr::eq(registered.as_ptr(), Rc::as_ptr(&rt));
                if same && rt.refresh_timer(key, cx.waker()) {
                    return Poll::Pending;
                }
                if !same {
                    // Moved: forget the old runtime's timer, if it lives.
                    if let Some(old) = registered.upgrade() {
                        old.remove_timer(key);
                    }
                }
                let key = rt.add_timer(deadline, cx.waker());
                self.state = SleepState::Registered(Rc::downgrade(&rt), key);
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let SleepState::Registered(rt, key) = &self.state {
            if let Some(rt) = rt.upgrade() {
                rt.remove_timer(*key);
            }
        }
    }
}
