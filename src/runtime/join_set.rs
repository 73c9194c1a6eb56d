//! A set of spawned tasks, joined in the order they finish.
//!
//! Waiting for "whichever finishes first" among many tasks must not poll
//! all of them each time one makes progress: with n tasks that is O(n) per
//! completion and O(n²) to drain the set. So each task's handle is polled
//! with a waker of its own, which puts the task's slot on a ready list and
//! wakes the task awaiting [`JoinSet::join_next`]. `join_next` only polls
//! the slots on that list: O(1) per completion, plus one poll per spurious
//! wake. A slot is on the list at most once at a time (a flag in its
//! waker), so a task that wakes often cannot grow the list.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use super::task::{spawn, JoinError, JoinHandle};

/// A set of tasks spawned on the current runtime, whose results are taken
/// in the order the tasks finish.
///
/// ```
/// use std::time::Duration;
/// use oneport::JoinSet;
///
/// oneport::run(async {
///     let mut set = JoinSet::new();
///     for ms in [30u64, 10, 20] {
///         set.spawn(async move {
///             oneport::time::sleep(Duration::from_millis(ms)).await;
///             ms
///         });
///     }
///     let mut done = Vec::new();
///     while let Some(r) = set.join_next().await {
///         done.push(r.unwrap()); // the shortest sleep first, as a rule
///     }
///     done.sort();
///     assert_eq!(done, [10, 20, 30]);
/// });
/// ```
///
/// A task that panicked or was cancelled ([`abort_all`](JoinSet::abort_all))
/// comes back as a [`JoinError`], never as a panic in the caller.
///
/// Dropping the set cancels every task still in it, as dropping their
/// [`JoinHandle`]s does: each task's future is dropped at the runtime's
/// next turn. [`detach_all`](JoinSet::detach_all) lets them run on instead.
///
/// Must be used on the runtime its tasks were spawned on.
pub struct JoinSet<T> {
    tasks: Slab<Entry<T>>,
    ready: Arc<ReadyList>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    /// The slot's waker, and the same object typed, for its flag.
    waker: Waker,
    queue: Arc<SlotWaker>,
}

/// The slots whose tasks woke since `join_next` last looked, and the waker
/// of the task awaiting `join_next`.
#[derive(Default)]
struct ReadyList {
    state: Mutex<ReadyState>,
}

#[derive(Default)]
struct ReadyState {
    slots: VecDeque<usize>,
    waiter: Option<Waker>,
}

impl ReadyList {
    fn lock(&self) -> MutexGuard<'_, ReadyState> {
        // Every critical section leaves the state consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The waker one slot's task is polled with: it queues the slot.
struct SlotWaker {
    slot: usize,
    queued: AtomicBool,
    list: Arc<ReadyList>,
}

impl SlotWaker {
    /// Puts the slot on the ready list unless it is there already.
    fn queue(&self) -> Option<Waker> {
        if self.queued.swap(true, Ordering::AcqRel) {
            return None;
        }
        let mut s = self.list.lock();
        s.slots.push_back(self.slot);
        s.waiter.take()
    }
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Woken outside the lock: the waiter's wake may run anything.
        if let Some(w) = self.queue() {
            w.wake();
        }
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            tasks: Slab::new(),
            ready: Arc::default(),
        }
    }

    /// How many tasks are in the set (running, or finished and not yet
    /// taken by [`join_next`](JoinSet::join_next)).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Cancels every task in the set. They stay in it:
    /// [`join_next`](JoinSet::join_next) gives each one's outcome, a
    /// [`JoinError::is_cancelled`] for those that had not completed (a task
    /// that completed first keeps its value).
    pub fn abort_all(&mut self) {
        for (_, e) in &self.tasks {
            e.handle.abort();
        }
    }

    /// Empties the set, letting every task run to completion unobserved
    /// (see [`JoinHandle::detach`]).
    pub fn detach_all(&mut self) {
        for e in self.tasks.drain() {
            e.handle.detach();
        }
        self.ready.lock().slots.clear();
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns `fut` on the current runtime, as [`crate::spawn`] does, and
    /// adds it to the set.
    ///
    /// # Panics
    /// When the current thread is not running a oneport runtime.
    pub fn spawn<F>(&mut self, fut: F)
    where
        F: Future<Output = T> + 'static,
    {
        let handle = spawn(fut);
        let entry = self.tasks.vacant_entry();
        let waker = Arc::new(SlotWaker {
            slot: entry.key(),
            queued: AtomicBool::new(false),
            list: self.ready.clone(),
        });
        // Queued once so that `join_next` polls it a first time, which
        // hands the task its waker.
        let wake_waiter = waker.queue();
        entry.insert(Entry {
            handle,
            waker: Waker::from(waker.clone()),
            queue: waker,
        });
        if let Some(w) = wake_waiter {
            w.wake();
        }
    }

    /// Waits for the next task of the set to finish and removes it: its
    /// value, or a [`JoinError`] if it panicked or was cancelled. `None`
    /// when the set is empty.
    ///
    /// Cancel-safe: dropping the future loses no result; the next call
    /// finds it.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The polling form of [`join_next`](JoinSet::join_next), for hand
    /// written futures: `Ready(None)` when the set is empty, `Pending`
    /// (with `cx`'s waker kept) while no task has finished.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        loop {
            let next = {
                let mut s = self.ready.lock();
                match s.slots.pop_front() {
                    Some(slot) => Some(slot),
                    None => {
                        if self.tasks.is_empty() {
                            s.waiter = None;
                            return Poll::Ready(None);
                        }
                        match &s.waiter {
                            Some(w) if w.will_wake(cx.waker()) => {}
                            _ => s.waiter = Some(cx.waker().clone()),
                        }
                        None
                    }
                }
            };
            let Some(slot) = next else {
                return Poll::Pending;
            };
            // A slot freed (or freed and reused) since it was queued: a
            // stale wake, at worst a spurious poll of the new task.
            let Some(entry) = self.tasks.get_mut(slot) else {
                continue;
            };
            // Cleared before the poll: a wake during or after it queues the
            // slot again.
            entry.queue.queued.store(false, Ordering::Release);
            let mut task_cx = Context::from_waker(&entry.waker);
            if let Poll::Ready(r) = entry.handle.poll_outcome(&mut task_cx) {
                self.tasks.remove(slot);
                return Poll::Ready(Some(r));
            }
        }
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.tasks.len())
            .finish()
    }
}
