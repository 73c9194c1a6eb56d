//! Sleeping and deadlines.
//!
//! Timers live in the run loop, not the driver: the loop computes how long it
//! may block from the earliest deadline and hands that to the driver's
//! `get_events(timeout)`. Every sleep, even one whose deadline has already
//! passed, yields once, so `sleep(Duration::ZERO)` lets other tasks run.

use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::runtime::{self, Inner, TimerKey};

/// Waits until `d` has passed.
///
/// # Panics
/// When polled outside a oneport runtime.
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
    Registered(Rc<Inner>, TimerKey),
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
                    self.state = SleepState::Registered(rt, key);
                }
                Poll::Pending
            }
            SleepState::Yielded | SleepState::Done => {
                self.state = SleepState::Done;
                Poll::Ready(())
            }
            SleepState::Registered(rt, key) => {
                if Instant::now() >= deadline {
                    rt.remove_timer(*key);
                    self.state = SleepState::Done;
                    return Poll::Ready(());
                }
                if !rt.refresh_timer(*key, cx.waker()) {
                    let key = rt.add_timer(deadline, cx.waker());
                    let rt = rt.clone();
                    self.state = SleepState::Registered(rt, key);
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let SleepState::Registered(rt, key) = &self.state {
            rt.remove_timer(*key);
        }
    }
}
