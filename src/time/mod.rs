//! Sleeping, deadlines and periodic ticks.
//!
//! Timers live in the run loop, not the driver: the loop computes how long it
//! may block from the earliest deadline and hands that to the driver's
//! `get_events(timeout)`. Every sleep, even one whose deadline has already
//! passed, yields once, so `sleep(Duration::ZERO)` lets other tasks run.
//!
//! The futures are named types ([`Sleep`], [`Timeout`], [`Interval`]'s
//! ticks) rather than `async fn`s so they can be stored in structs, reset
//! and inspected. A deadline is fixed when the future is made (`sleep(d)`
//! means `d` from the call, not from the first poll), so a sleep made
//! early and awaited late is not stretched by the delay in between.
//!
//! A sleep belongs to no runtime in particular: it registers its deadline
//! with whichever runtime polls it. Moved to another runtime (a boxed sleep
//! passed between `block_on`s of different runtimes, or polled after the
//! runtime it first ran on was dropped), it moves its deadline there at its
//! next poll instead of waiting on a timer nobody fires. It holds its
//! runtime weakly, so a forgotten sleep never keeps a dropped runtime's
//! driver open. Polled outside any runtime it panics, saying so. Dropping a
//! sleep removes its deadline at once (`lowlevel::statistics().timers`
//! counts the pending ones).

mod interval;
mod sleep;
mod timeout;

use std::fmt;
use std::time::{Duration, Instant};

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::Sleep;
pub use timeout::Timeout;

/// Waits until `d` has passed, counted from this call.
///
/// The future may be polled by another runtime than the one it started on
/// (see the module docs).
///
/// # Panics
/// When polled outside a oneport runtime (with the message "oneport::time::sleep
/// polled outside a oneport runtime ...").
pub fn sleep(d: Duration) -> Sleep {
    Sleep::new(deadline_after(d))
}

/// Waits until `deadline`. A deadline in the past still yields once.
///
/// # Panics
/// When polled outside a oneport runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

/// Runs `fut` for at most `d` (counted from this call). When the time runs
/// out first, `fut` is dropped (cancelling whatever it was waiting on) and
/// [`Elapsed`] is returned. A future that is ready when first polled always
/// wins.
pub fn timeout<F: std::future::Future>(d: Duration, fut: F) -> Timeout<F> {
    Timeout::new(fut, deadline_after(d), d)
}

/// Runs `fut` until `deadline` at the latest; otherwise as [`timeout`].
/// A deadline in the past still lets `fut` be polled once.
pub fn timeout_at<F: std::future::Future>(deadline: Instant, fut: F) -> Timeout<F> {
    let limit = deadline.saturating_duration_since(Instant::now());
    Timeout::new(fut, deadline, limit)
}

/// The error of [`timeout`] and [`timeout_at`]: the time ran out before the
/// future completed.
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

/// A deadline far enough away to mean "never", from `from`.
fn far_future(from: Instant) -> Instant {
    from + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// `from + d`, saturating at a deadline that means "never".
fn saturating_add(from: Instant, d: Duration) -> Instant {
    from.checked_add(d).unwrap_or_else(|| far_future(from))
}

/// `now + d`, saturating at a deadline that means "never".
fn deadline_after(d: Duration) -> Instant {
    saturating_add(Instant::now(), d)
}
