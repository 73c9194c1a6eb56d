//! The [`Timeout`] future: a future raced against a [`Sleep`].
//!
//! The inner future is polled first on every poll, so one that is ready
//! never loses to a deadline that passed meanwhile. Whichever side
//! finishes, the other is released at once (the inner future dropped in
//! place, or the deadline removed), not when the `Timeout` itself is
//! dropped.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{Elapsed, Sleep};

/// A future that runs an inner future until a deadline; made by
/// [`timeout`](super::timeout) and [`timeout_at`](super::timeout_at).
///
/// Its output is the inner future's value, or [`Elapsed`] when the
/// deadline came first (the inner future is then dropped before `Elapsed`
/// is returned). It is `Unpin` when the inner future is.
///
/// # Panics
/// Polling panics outside a oneport runtime, and when polled again after it
/// completed.
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    /// Pinned whenever the `Timeout` is (structural); `None` once it
    /// finished, dropped in place.
    fut: Option<F>,
    sleep: Sleep,
    /// What `Elapsed` reports.
    limit: Duration,
}

impl<F> Timeout<F> {
    pub(super) fn new(fut: F, deadline: Instant, limit: Duration) -> Timeout<F> {
        Timeout {
            fut: Some(fut),
            sleep: Sleep::new(deadline),
            limit,
        }
    }

    /// The instant the inner future is given up at.
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `fut` is pinned structurally: it is only ever reached
        // through the `Pin` made here, never moved out (it is dropped in
        // place with `Pin::set`), `Timeout` has no `Drop` impl, and it is
        // `Unpin` only when `F` is (auto trait). `sleep` and `limit` are not
        // pinned (`Sleep` is `Unpin`) and are used through `&mut` freely.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.fut` stays where the pinned `Timeout` is.
        let mut fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let Some(inner) = fut.as_mut().as_pin_mut() else {
            panic!("oneport::time::Timeout polled after it completed");
        };
        if let Poll::Ready(v) = inner.poll(cx) {
            fut.set(None);
            this.sleep.cancel();
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => {
                fut.set(None);
                Poll::Ready(Err(Elapsed(this.limit)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.sleep.deadline())
            .field("finished", &self.fut.is_none())
            .finish()
    }
}
