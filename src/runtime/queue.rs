//! The run queue: the one piece of the runtime other threads may touch.
//!
//! Wakers must be `Send + Sync`, so a wake can come from any thread. A wake
//! pushes the task onto this mutex-protected queue. A wake from another
//! thread must also make sure the runtime is not asleep in the driver: it
//! sets `notified` and, if nobody had set it since the runtime last looked,
//! asks the driver for a wakeup (one packet, however many wakes). The runtime
//! clears `notified` just before it decides whether it may sleep, so a wake
//! that lands after that check always posts.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use super::task::TaskMeta;
use super::TimerKey;

type Runnable = async_task::Runnable<TaskMeta>;

use crate::driver::{CurrentWaker, ForceWakeup as _};

pub(crate) struct Shared {
    queue: Mutex<VecDeque<Runnable>>,
    /// The `block_on` future was woken and must be polled.
    main_woken: AtomicBool,
    /// A cross-thread wake has asked the driver to wake up since the runtime
    /// last cleared this flag.
    notified: AtomicBool,
    /// The runtime is being dropped: runnables still arrive here (from any
    /// thread) so that the drop can drop them on the owning thread, but
    /// none is run.
    closed: AtomicBool,
    owner: ThreadId,
    waker: CurrentWaker,
    /// Deadlines whose sleeps were dropped (or moved) where this runtime
    /// could not be reached directly: on another thread, or on this one
    /// outside `block_on`. The loop removes them at its next turn.
    dropped_timers: Mutex<Vec<TimerKey>>,
    /// `dropped_timers` is not empty: one load per turn instead of a lock.
    has_dropped_timers: AtomicBool,
}

impl Shared {
    pub(crate) fn new(waker: CurrentWaker) -> Arc<Shared> {
        Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            main_woken: AtomicBool::new(true),
            notified: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            owner: current_thread_id(),
            waker,
            dropped_timers: Mutex::new(Vec::new()),
            has_dropped_timers: AtomicBool::new(false),
        })
    }

    fn on_owner_thread(&self) -> bool {
        current_thread_id() == self.owner
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Runnable>> {
        // A panic while the lock is held cannot leave the deque inconsistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by async-task whenever a task is woken, from any thread.
    ///
    /// Every runnable is queued, also while the runtime is being dropped:
    /// the drop waits for the runnables of its live tasks and drops them on
    /// the owning thread. (Forgetting one that arrives from another thread
    /// at that moment leaked its future, whatever it held, and this queue
    /// with the driver's wakeup fd.)
    pub(crate) fn schedule(&self, runnable: Runnable) {
        let on_owner = self.on_owner_thread();
        self.lock().push_back(runnable);
        if !on_owner && !self.closed.load(Ordering::Acquire) {
            self.notify();
        }
    }

    /// Marks the main future as woken.
    ///
    /// Both halves of this handshake with [`prepare_to_sleep`] are SeqCst:
    /// this side stores `main_woken` then reads `notified`, that side stores
    /// `notified` then reads `main_woken` (a store-buffer pattern). With a
    /// weaker order on either side both reads may see the old values: the
    /// waker would not post and the runtime would sleep through the wake.
    ///
    /// [`prepare_to_sleep`]: Shared::prepare_to_sleep
    pub(crate) fn wake_main(&self) {
        self.main_woken.store(true, Ordering::SeqCst);
        if !self.on_owner_thread() {
            self.notify();
        }
    }

    fn notify(&self) {
        if !self.notified.swap(true, Ordering::SeqCst) {
            self.waker.force_wakeup();
        }
    }

    /// Takes the woken flag of the main future.
    pub(crate) fn take_main_woken(&self) -> bool {
        self.main_woken.swap(false, Ordering::SeqCst)
    }

    /// Moves every queued runnable into `batch` (one lock per batch). An
    /// empty `batch` (the usual case) trades buffers with the queue instead
    /// of copying: two buffers alternate, neither grows past the largest
    /// batch.
    pub(crate) fn take_batch(&self, batch: &mut VecDeque<Runnable>) {
        let mut queue = self.lock();
        if batch.is_empty() {
            std::mem::swap(&mut *queue, batch);
        } else {
            batch.append(&mut queue);
        }
    }

    /// Clears `notified`, then reports whether anything is runnable. After a
    /// `false`, any wake from another thread will post a wakeup.
    pub(crate) fn prepare_to_sleep(&self) -> bool {
        self.notified.store(false, Ordering::SeqCst);
        self.main_woken.load(Ordering::SeqCst) || !self.lock().is_empty()
    }

    pub(crate) fn queued(&self) -> usize {
        self.lock().len()
    }

    /// Asks the loop to forget a deadline at its next turn (a sleep dropped
    /// where its runtime cannot be reached directly). No wakeup is posted:
    /// a forgotten deadline only costs memory until then, and if it fires
    /// first its waker's task has already let go of it.
    pub(crate) fn drop_timer_later(&self, key: TimerKey) {
        self.dropped_timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(key);
        self.has_dropped_timers.store(true, Ordering::Release);
    }

    /// Takes the deadlines `drop_timer_later` collected, if any.
    pub(crate) fn take_dropped_timers(&self, out: &mut Vec<TimerKey>) {
        if self.has_dropped_timers.swap(false, Ordering::Acquire) {
            out.append(
                &mut self
                    .dropped_timers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
        }
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// This thread's id, cached: every wake asks, and `thread::current()`
/// costs a reference count round trip each time.
pub(crate) fn current_thread_id() -> ThreadId {
    thread_local! {
        static ID: ThreadId = thread::current().id();
    }
    ID.with(|id| *id)
}

impl Drop for Shared {
    fn drop(&mut self) {
        let rest = std::mem::take(self.queue.get_mut().unwrap_or_else(|e| e.into_inner()));
        if current_thread_id() != self.owner {
            // A task's future is `!Send` and may only be dropped on the
            // thread that spawned it; leaking it is the only safe choice.
            // (The runtime's drop leaves nothing here: every task is closed
            // by then, and closed tasks are never scheduled again.)
            rest.into_iter().for_each(std::mem::forget);
        }
    }
}
