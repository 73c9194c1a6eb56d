//! Spawning tasks and joining them.
//!
//! Tasks are built with async-task: it owns the task allocation, the waker
//! vtable and the state machine (scheduled / running / completed / closed),
//! and it catches a panicking task so the panic resumes in whoever awaits the
//! task's `JoinHandle`. Each task also holds a slot in the runtime's list of
//! live tasks, so a dropped runtime can find and drop every pending future.

use std::any::Any;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::{context, Inner};

/// Spawns `fut` as a new task on the current thread's runtime.
///
/// The task starts running at the runtime's next turn, concurrently with the
/// caller. Dropping the returned [`JoinHandle`] cancels the task; call
/// [`JoinHandle::detach`] to let it run on unobserved.
///
/// While the runtime is being dropped (a task's destructor spawning), the
/// new task is dropped with the others without ever running.
///
/// # Panics
/// When the current thread is not running a oneport runtime.
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    context::current("oneport::spawn").spawn(fut)
}

/// Runs the blocking closure `f` on oneport's blocking pool (a thread of
/// its own, off the run loop) and returns a handle to its result.
///
/// Use it for calls that block (a synchronous library, a long computation,
/// a file call oneport does not wrap). The pool is shared by every runtime
/// of the process; it starts threads on demand up to
/// [`MAX_BLOCKING_THREADS`](crate::MAX_BLOCKING_THREADS) (512), so a
/// closure never waits for a thread while fewer are busy, and a thread
/// idle for [`BLOCKING_IDLE_TIMEOUT`](crate::BLOCKING_IDLE_TIMEOUT)
/// (10 s) ends. Beyond the bound, closures queue in arrival order.
///
/// The handle is a task of the current runtime that waits for the closure:
/// awaiting it gives `f`'s value (and resumes its panic). Cancelling the
/// handle (dropping it, or [`JoinHandle::abort`]) before a pool thread took
/// the closure means it never runs; once it runs, it runs to completion (a
/// blocking call cannot be interrupted) and its value is dropped. Call
/// [`JoinHandle::detach`] to let it run regardless. A runtime being dropped
/// waits (at most 10 s) for the closures its tasks started.
///
/// # Panics
/// When the current thread is not running a oneport runtime.
pub fn spawn_blocking<T, F>(f: F) -> JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let rt = context::current("oneport::spawn_blocking");
    let job = super::blocking::spawn_blocking(f);
    rt.spawn(job)
}

impl Inner {
    pub(crate) fn spawn<F>(self: &Rc<Self>, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let mut active = self.active.borrow_mut();
        let entry = active.vacant_entry();
        let slot = LiveTaskSlot {
            runtime: Rc::downgrade(self),
            index: entry.key(),
        };
        let aborted = Arc::new(AtomicBool::new(false));
        let abort_flag = aborted.clone();
        // Weak: a waker kept by another thread after the runtime is gone
        // must not keep the queue, and the driver's wakeup fd, alive. Every
        // task is closed before the runtime lets go of the queue, and
        // async-task never schedules a closed task, so the upgrade only
        // fails when nothing is left to schedule.
        let shared = Arc::downgrade(&self.shared);
        let (runnable, task) = async_task::Builder::new()
            .propagate_panic(true)
            .spawn_local(
                move |()| async move {
                    let _slot = slot;
                    let mut fut = pin!(fut);
                    // `None`: aborted. Returning drops `fut` at once.
                    poll_fn(|cx| {
                        if abort_flag.load(Ordering::Acquire) {
                            Poll::Ready(None)
                        } else {
                            fut.as_mut().poll(cx).map(Some)
                        }
                    })
                    .await
                },
                move |runnable| match shared.upgrade() {
                    Some(shared) => shared.schedule(runnable),
                    // Unreachable in practice (see above); a runnable that
                    // is not ours to drop here is leaked, never run.
                    None => std::mem::forget(runnable),
                },
            );
        let waker = runnable.waker();
        entry.insert(waker.clone());
        drop(active);
        runnable.schedule();
        JoinHandle {
            task: task.fallible(),
            aborted,
            waker,
        }
    }
}

/// Removes a task from the runtime's list of live tasks when its future is
/// dropped (it completed, or it was cancelled).
struct LiveTaskSlot {
    runtime: Weak<Inner>,
    index: usize,
}

impl Drop for LiveTaskSlot {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.upgrade() {
            rt.active.borrow_mut().try_remove(self.index);
        }
    }
}

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives the task's value; if the task panicked, the panic
/// resumes in the awaiting task. Awaiting it directly (`handle.await`, the
/// `Future<Output = T>` of the API contract) panics with a message saying
/// so when the task was cancelled ([`abort`](JoinHandle::abort), or dropped
/// with its runtime). To observe cancellation and panics as values, await
/// [`join`](JoinHandle::join) instead: `Result<T, JoinError>`, as tokio's
/// handles give.
///
/// Dropping the handle cancels the task. The future is not dropped inside
/// `drop` itself: the task is scheduled once more and its future is dropped
/// (never polled again) on the runtime's thread at the runtime's next turn,
/// or when the runtime is dropped if it does not run again. A task that is
/// running when its handle is dropped (the handle dropped by the task
/// itself) finishes its current poll first.
#[must_use = "dropping a JoinHandle cancels its task; call .detach() to let it run"]
pub struct JoinHandle<T> {
    task: async_task::FallibleTask<Option<T>>,
    aborted: Arc<AtomicBool>,
    waker: Waker,
}

impl<T> JoinHandle<T> {
    /// Lets the task run to completion with nobody awaiting it. Its output is
    /// dropped; a panic in a detached task is discarded with it.
    pub fn detach(self) {
        self.task.detach();
    }

    /// Whether the task is over: it completed, panicked, or was cancelled
    /// (awaiting or joining it will not block).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Cancels the task and keeps the handle: the task's future is dropped,
    /// never polled again, at the runtime's next turn (the task is woken
    /// for that). [`join`](JoinHandle::join) then gives
    /// [`JoinError::is_cancelled`]; a task that completed first keeps its
    /// value. Callable from any thread.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        self.waker.wake_by_ref();
    }

    /// Waits for the task and reports how it ended: its value, or a
    /// [`JoinError`] saying it was cancelled or panicked (the panic is not
    /// resumed; take it with [`JoinError::into_panic`]).
    pub fn join(self) -> Join<T> {
        Join { handle: self }
    }

    pub(super) fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let task = &mut self.task;
        match panic::catch_unwind(AssertUnwindSafe(|| Pin::new(task).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Some(Some(v)))) => Poll::Ready(Ok(v)),
            Ok(Poll::Ready(_)) => Poll::Ready(Err(JoinError(Repr::Cancelled))),
            Err(p) => Poll::Ready(Err(JoinError(Repr::Panic(p)))),
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    /// # Panics
    /// Resumes the task's panic; panics when the task was cancelled.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.poll_outcome(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(v)) => Poll::Ready(v),
            Poll::Ready(Err(JoinError(Repr::Panic(p)))) => panic::resume_unwind(p),
            Poll::Ready(Err(JoinError(Repr::Cancelled))) => panic!(
                "oneport: awaited the JoinHandle of a task that was cancelled \
                 (JoinHandle::abort, or dropped with its runtime) and has no value; \
                 await JoinHandle::join() to get Err(JoinError) instead"
            ),
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

/// The future of [`JoinHandle::join`].
#[must_use = "futures do nothing unless awaited; dropping it cancels the task"]
#[derive(Debug)]
pub struct Join<T> {
    handle: JoinHandle<T>,
}

impl<T> Future for Join<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.handle.poll_outcome(cx)
    }
}

/// How a task ended without a value: cancelled, or panicked.
pub struct JoinError(Repr);

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    /// The task was cancelled ([`JoinHandle::abort`], or its runtime was
    /// dropped) before it completed.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.0, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.0, Repr::Panic(_))
    }

    /// The task's panic payload, to resume with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// When the task was cancelled, not panicked.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.0 {
            Repr::Panic(p) => p,
            Repr::Cancelled => panic!("JoinError::into_panic on a cancelled task"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(_) => f.write_str("JoinError::Panic(..)"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panic(_) => f.write_str("task panicked"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Lets every other runnable task run once before the caller continues.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}
