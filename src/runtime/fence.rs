//! Per-file ordering of operations that were given up while running.
//!
//! A dropped file operation that has not started yet never starts (the
//! blocking pool skips it, see `blocking.rs`). One that has started cannot
//! be stopped: a blocking `pwrite` runs on, and an overlapped write the
//! kernel holds may complete at any time. Without an order, such a write
//! could land *after* a later write to the same bytes and silently undo it.
//! So each file has a fence: an operation given up while running leaves a
//! [`Signal`] in it, fired when the operation is really over, and every
//! later operation on that file first waits until all such signals fired.
//! Operations that are merely concurrent (both still wanted) are not
//! ordered; that is the caller's choice, as with the OS.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A one-shot, thread-safe "it is over" flag that many tasks can wait on.
#[derive(Default)]
pub(crate) struct Signal {
    state: Mutex<SignalState>,
}

#[derive(Default)]
struct SignalState {
    fired: bool,
    wakers: Vec<Waker>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here can be left half-updated by a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Signal {
    pub(crate) fn new() -> Arc<Signal> {
        Arc::new(Signal::default())
    }

    /// Marks the operation over and wakes everyone waiting.
    pub(crate) fn fire(&self) {
        let wakers = {
            let mut s = lock(&self.state);
            s.fired = true;
            std::mem::take(&mut s.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    fn poll_fired(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = lock(&self.state);
        if s.fired {
            return Poll::Ready(());
        }
        if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            s.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Fires its signal when dropped: the operation is over however its task
/// ends (completed, or dropped with the runtime).
pub(crate) struct FireOnDrop(pub(crate) Arc<Signal>);

impl Drop for FireOnDrop {
    fn drop(&mut self) {
        self.0.fire();
    }
}

/// The abandoned-but-running operations of one file.
#[derive(Default)]
pub(crate) struct Fence {
    pending: Mutex<Vec<Arc<Signal>>>,
}

impl std::fmt::Debug for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fence")
            .field("pending", &lock(&self.pending).len())
            .finish()
    }
}

impl Fence {
    pub(crate) fn new() -> Arc<Fence> {
        Arc::new(Fence::default())
    }

    /// Records an operation that was given up while it ran.
    pub(crate) fn push(&self, s: Arc<Signal>) {
        lock(&self.pending).push(s);
    }

    /// Waits until every operation recorded so far is over.
    pub(crate) async fn wait(&self) {
        poll_fn(|cx| {
            let mut pending = lock(&self.pending);
            while let Some(first) = pending.first() {
                if first.poll_fired(cx).is_pending() {
                    return Poll::Pending;
                }
                pending.remove(0);
            }
            Poll::Ready(())
        })
        .await
    }
}
