//! [`Interval`]: ticks at a fixed period, over one reusable [`Sleep`].
//!
//! Each tick completes the sleep and resets it to the next tick's
//! deadline, so an interval holds at most one timer at a time whatever its
//! period or how long its owner takes between ticks. What "the next tick"
//! is, once the owner has fallen behind by a whole period or more, is the
//! [`MissedTickBehavior`].

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{saturating_add, Sleep};

/// Ticks every `period`, the first tick at once.
///
/// # Errors
/// `io::ErrorKind::InvalidInput` when `period` is zero.
pub fn interval(period: Duration) -> io::Result<Interval> {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Errors
/// `io::ErrorKind::InvalidInput` when `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> io::Result<Interval> {
    if period.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "oneport::time::interval: the period must be greater than zero",
        ));
    }
    Ok(Interval {
        sleep: Sleep::new(start),
        period,
        missed: MissedTickBehavior::default(),
    })
}

/// What an [`Interval`] does when its owner fell behind: a tick was taken
/// so late that one or more later ticks are already due.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MissedTickBehavior {
    /// Deliver every missed tick, one after another without waiting, then
    /// carry on at the original schedule (`start + k * period`). The
    /// default.
    #[default]
    Burst,
    /// Deliver one tick now and count the next period from now: the
    /// schedule shifts by however late the owner was.
    Delay,
    /// Drop the missed ticks and carry on at the next instant of the
    /// original schedule that is still ahead.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline after a tick scheduled at `tick` and taken at `now`.
    fn next(self, tick: Instant, now: Instant, period: Duration) -> Instant {
        let on_time = saturating_add(tick, period);
        if on_time > now {
            return on_time;
        }
        match self {
            MissedTickBehavior::Burst => on_time,
            MissedTickBehavior::Delay => saturating_add(now, period),
            MissedTickBehavior::Skip => {
                let behind = now.duration_since(tick).as_nanos();
                let into_period = behind % period.as_nanos();
                // `into_period < period`, so it fits a Duration.
                let rest = period - Duration::from_nanos(into_period as u64);
                saturating_add(now, rest)
            }
        }
    }
}

/// Ticks at a fixed period; made by [`interval`] and [`interval_at`].
///
/// [`tick`](Interval::tick) waits for the next tick and returns the instant
/// it was scheduled at (not when it was taken). Like every oneport sleep,
/// a tick that is already due still yields once to other tasks before it
/// completes, so a loop over a falling-behind interval never starves the
/// runtime.
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick; returns the instant it was scheduled at.
    ///
    /// Cancel-safe: dropping the future before it completes loses no tick.
    ///
    /// # Panics
    /// Outside a oneport runtime.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick, for hand-written futures: `Ready` with the
    /// tick's scheduled instant, or `Pending` with `cx`'s waker registered.
    ///
    /// # Panics
    /// Outside a oneport runtime.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let tick = self.sleep.deadline();
        let next = self.missed.next(tick, Instant::now(), self.period);
        self.sleep.reset_deadline(next);
        Poll::Ready(tick)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep
            .reset_deadline(saturating_add(Instant::now(), self.period));
    }

    /// Restarts the schedule: the next tick is at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.sleep.reset_deadline(deadline);
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What the interval does when ticks were missed.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets what the interval does when ticks were missed (from the next
    /// tick on).
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }
}
