//! Spawning tasks and joining them.
//!
//! Tasks are built with async-task: it owns the task allocation, the waker
//! vtable and the state machine (scheduled / running / completed / closed),
//! and it catches a panicking task so the panic resumes in whoever awaits the
//! task's `JoinHandle`. Each task also holds a slot in the runtime's list of
//! live tasks, so a dropped runtime can find and drop every pending future.

use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use super::{context, Inner};

/// Spawns `fut` as a new task on the current thread's runtime.
///
/// The task starts running at the runtime's next turn, concurrently with the
/// caller. Dropping the returned [`JoinHandle`] cancels the task; call
/// [`JoinHandle::detach`] to let it run on unobserved.
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
        let shared = self.shared.clone();
        let (runnable, task) = async_task::Builder::new()
            .propagate_panic(true)
            .spawn_local(
                move |()| async move {
                    let _slot = slot;
                    fut.await
                },
                move |runnable| shared.schedule(runnable),
            );
        entry.insert(runnable.waker());
        drop(active);
        runnable.schedule();
        JoinHandle { task }
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
/// Awaiting it gives the task's value; if the task panicked, the panic resumes
/// in the awaiting task. Dropping it cancels the task: its future is dropped
/// at once if idle, or at its next scheduled turn.
#[must_use = "dropping a JoinHandle cancels its task; call .detach() to let it run"]
pub struct JoinHandle<T> {
    task: async_task::Task<T>,
}

impl<T> JoinHandle<T> {
    /// Lets the task run to completion with nobody awaiting it. Its output is
    /// dropped; a panic in a detached task is discarded with it.
    pub fn detach(self) {
        self.task.detach();
    }

    /// Whether the task has finished (awaiting it will not block).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.task).poll(cx)
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

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
