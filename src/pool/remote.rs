//! Handles to tasks on another runtime of a pool.
//!
//! A task's own [`JoinHandle`](crate::JoinHandle) lives on its runtime's
//! thread. A remote handle is its `Send` stand-in: the task's runtime runs
//! a small forwarding task beside it that sends the outcome back over a
//! one-value channel and listens for control messages (detach, abort) from
//! the handle. Both channels are `async_channel`s, so the handle can be
//! awaited on any runtime or executor, or from a plain thread through
//! `oneport::run`. Dropping the handle closes the control channel, which
//! the forwarder takes as "cancel", matching what dropping a local
//! `JoinHandle` does.

use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::JoinError;

/// What a remote handle can ask of its task's forwarder.
enum Control {
    /// Let the task run on without a handle.
    Detach,
    /// Cancel the task (as `JoinHandle::abort`).
    Abort,
}

/// A `Send` handle to a task spawned on a runtime of a
/// [`Pool`](super::Pool).
///
/// Awaiting it gives the task's value, resuming its panic (as awaiting a
/// [`JoinHandle`](crate::JoinHandle) does); [`join`](Self::join) gives
/// `Result<T, JoinError>` instead. Dropping it cancels the task (its future
/// is dropped on its own runtime's thread), unless it was
/// [`detach`](Self::detach)ed. A task whose runtime stopped (the pool was
/// dropped) before it finished reports [`JoinError::is_cancelled`].
#[must_use = "dropping a RemoteJoinHandle cancels its task; call .detach() to let it run"]
pub struct RemoteJoinHandle<T> {
    // Boxed: a receiver is `!Unpin` (it holds an event listener).
    outcome: Pin<Box<async_channel::Receiver<Result<T, JoinError>>>>,
    control: Option<async_channel::Sender<Control>>,
}

/// The future of [`RemoteJoinHandle::join`].
#[must_use = "futures do nothing unless awaited"]
pub struct RemoteJoin<T> {
    handle: RemoteJoinHandle<T>,
}

impl<T> RemoteJoinHandle<T> {
    /// Lets the task run on without a handle; its value is dropped.
    pub fn detach(mut self) {
        if let Some(control) = self.control.take() {
            let _ = control.try_send(Control::Detach);
        }
    }

    /// Cancels the task: it ends at its next poll on its own runtime and
    /// then reports [`JoinError::is_cancelled`]; a task that completed first
    /// keeps its value. Callable from any thread.
    pub fn abort(&self) {
        if let Some(control) = &self.control {
            let _ = control.try_send(Control::Abort);
        }
    }

    /// Waits for the task and reports how it ended.
    pub fn join(self) -> RemoteJoin<T> {
        RemoteJoin { handle: self }
    }

    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        match self.outcome.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(outcome)) => Poll::Ready(outcome),
            // The forwarder ended without an outcome: the task's runtime
            // dropped it (or never received it).
            Poll::Ready(None) => Poll::Ready(Err(JoinError::cancelled())),
        }
    }
}

impl<T> Future for RemoteJoinHandle<T> {
    type Output = T;

    /// # Panics
    /// Resumes the task's panic; panics when the task was cancelled.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.poll_outcome(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(v)) => Poll::Ready(v),
            Poll::Ready(Err(e)) if e.is_panic() => panic::resume_unwind(e.into_panic()),
            Poll::Ready(Err(_)) => panic!(
                "oneport: awaited the RemoteJoinHandle of a task that was cancelled \
                 (aborted, or its pool stopped) and has no value; \
                 await RemoteJoinHandle::join() to get Err(JoinError) instead"
            ),
        }
    }
}

impl<T> Future for RemoteJoin<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.handle.poll_outcome(cx)
    }
}

impl<T> fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJoinHandle")
            .field("detached", &self.control.is_none())
            .finish()
    }
}

impl<T> fmt::Debug for RemoteJoin<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJoin").finish()
    }
}

/// A remote handle and the job that, run on the target runtime, builds the
/// task with `make`, spawns it, and forwards its outcome to the handle.
pub(super) fn pair<M, F>(make: M) -> (RemoteJoinHandle<F::Output>, impl FnOnce() + Send + 'static)
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    let (outcome_tx, outcome) = async_channel::bounded(1);
    let (control, control_rx) = async_channel::unbounded();
    let mut control_rx = Box::pin(control_rx);
    let handle = RemoteJoinHandle {
        outcome: Box::pin(outcome),
        control: Some(control),
    };
    let job = move || {
        // `make` is the user's code: a panic in it is the task's panic, not
        // the runtime thread's.
        let fut = match panic::catch_unwind(AssertUnwindSafe(make)) {
            Ok(fut) => fut,
            Err(payload) => {
                let _ = outcome_tx.try_send(Err(JoinError::panicked(payload)));
                return;
            }
        };
        let mut task = crate::spawn(fut);
        crate::spawn(async move {
            let mut watching = true;
            let outcome = poll_fn(|cx| {
                if let Poll::Ready(outcome) = task.poll_outcome(cx) {
                    return Poll::Ready(Some(outcome));
                }
                while watching {
                    match control_rx.as_mut().poll_next(cx) {
                        Poll::Ready(Some(Control::Detach)) => watching = false,
                        Poll::Ready(Some(Control::Abort)) => task.abort(),
                        // The handle was dropped: cancel.
                        Poll::Ready(None) => return Poll::Ready(None),
                        Poll::Pending => break,
                    }
                }
                Poll::Pending
            })
            .await;
            match outcome {
                Some(outcome) => {
                    let _ = outcome_tx.try_send(outcome);
                }
                // Dropping `task` (with this future) cancels it.
                None => drop(task),
            }
        })
        .detach();
    };
    (handle, job)
}
