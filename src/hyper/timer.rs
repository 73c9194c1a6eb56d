//! [`Timer`]: hyper's timeouts on oneport's timers.

use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::time::{self, Sleep};

/// A [`hyper::rt::Timer`](::hyper::rt::Timer) whose sleeps are oneport
/// [`Sleep`]s: hyper's header-read and keep-alive timeouts (HTTP/1) and
/// keep-alive pings (HTTP/2) then run on the runtime that polls them.
///
/// Give it to a connection builder with `.timer(oneport::hyper::Timer)`.
/// Resetting one of its sleeps moves the deadline in place, without a new
/// allocation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer;

impl ::hyper::rt::Sleep for Sleep {}

impl ::hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(time::sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(time::sleep_until(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.reset(new_deadline),
            // Another timer's sleep: replace it with one of ours.
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
