//! The run loop.
//!
//! One runtime per thread. Each turn of the loop does what Trio's does, in
//! the same order:
//!
//! 1. poll the `block_on` future if it was woken, and run every task that
//!    was runnable when the turn began (a batch, so I/O is never starved by
//!    tasks that keep waking each other);
//! 2. wake the sleeps whose deadlines have passed;
//! 3. ask the driver for events, blocking until the next deadline if nothing
//!    is runnable (`get_events(timeout)`), then let it wake the wakers those
//!    events name (`process_events(n)`);
//! 4. if nothing at all is runnable and a non-blocking poll found nothing,
//!    release the tasks in `wait_all_tasks_blocked`.
//!
//! The runtime knows nothing about sockets or OVERLAPPED: the driver only
//! ever hands it woken `Waker`s.

pub(crate) mod blocking;
mod context;
pub(crate) mod fence;
mod ids;
pub(crate) mod join_set;
mod queue;
mod stats;
mod task;
mod timers;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::driver::{self, Driver as _};

#[cfg(unix)]
pub(crate) use blocking::spawn_detached;
pub(crate) use blocking::{spawn_blocking, spawn_blocking_fenced};
pub(crate) use context::current;
pub(crate) use context::try_current;
pub use join_set::JoinSet;
pub use stats::Statistics;
pub use task::{
    spawn, spawn_blocking as spawn_blocking_task, yield_now, Join, JoinError, JoinHandle,
};
pub(crate) use timers::TimerKey;

pub(crate) use queue::{current_thread_id, Shared};
use timers::Timers;

/// A oneport runtime: one I/O driver (a completion port on Windows, an epoll
/// instance on Linux), a run queue and timers, driven by [`Runtime::block_on`]
/// on the thread that created it.
///
/// A `Runtime` is `!Send`; run one per thread for several cores.
///
/// # Dropping
/// Dropping a runtime drops every task it still owns, on this thread and
/// inside the runtime's context: a destructor may still call `spawn` (the
/// new task is dropped unrun), `lowlevel::statistics`, `notify_closing`, or
/// poll a sleep. It then waits for the blocking-pool calls its tasks had
/// started (at most 10 s; see `spawn_blocking`), so that once the drop
/// returns every future it owned is dropped and every fd/handle it opened
/// is closed (other than those a user keeps, such as a `WakeHandle`). Kernel operations
/// still in flight are cancelled; on Windows the driver then waits for the
/// kernel to give their memory back, for at most 2 seconds per subsystem
/// (AFD polls, then overlapped operations). What has not come back by then
/// is leaked, never freed under the kernel, and reported as a warning
/// through the [`log`](https://docs.rs/log) facade with target `"oneport"`
/// (install any logger to see it). No other output is written.
pub struct Runtime {
    inner: Rc<Inner>,
}

/// Everything a running task can reach through the thread's runtime slot.
pub(crate) struct Inner {
    driver: driver::Current,
    timers: RefCell<Timers>,
    /// When the loop last looked at the clock (to fire timers): what a
    /// woken sleep checks its deadline against, instead of reading the
    /// clock again (on some machines a clock read costs more than the rest
    /// of the timer path).
    now: Cell<Instant>,
    shared: Arc<Shared>,
    /// The waker of every live spawned task, so shutdown can reach them all.
    active: RefCell<Slab<Waker>>,
    /// Tasks parked in `wait_all_tasks_blocked`.
    blocked_waiters: RefCell<Slab<Waker>>,
    /// Bumped each time the blocked waiters are released.
    blocked_generation: Cell<u64>,
    /// The blocking-pool calls this runtime's tasks started.
    pub(crate) blocking: Arc<blocking::Tracker>,
    /// This runtime's id (see `ids.rs`).
    id: u64,
}

impl Runtime {
    /// Creates a runtime with a fresh I/O driver.
    ///
    /// On Windows this creates the completion port and checks that no
    /// layered service provider hides the base sockets (see WINDOWS.md).
    pub fn new() -> std::io::Result<Runtime> {
        let driver = driver::Current::new()?;
        let shared = Shared::new(driver.waker());
        let id = ids::register(&shared);
        Ok(Runtime {
            inner: Rc::new(Inner {
                driver,
                timers: RefCell::new(Timers::default()),
                now: Cell::new(Instant::now()),
                shared,
                active: RefCell::new(Slab::new()),
                blocked_waiters: RefCell::new(Slab::new()),
                blocked_generation: Cell::new(0),
                blocking: Arc::default(),
                id,
            }),
        })
    }

    /// Runs `fut` to completion on this thread, running spawned tasks and
    /// I/O alongside it, and returns its output.
    ///
    /// Tasks still pending when `fut` completes stay on the runtime and run
    /// again at the next `block_on`; they are dropped with the runtime.
    ///
    /// # Panics
    /// When called while this thread is already running a runtime (nested
    /// `block_on`), and when `fut` panics.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let _enter = context::enter(&self.inner);
        let inner = &*self.inner;
        let mut fut = pin!(fut);
        let main_waker = Waker::from(Arc::new(MainWaker(Arc::downgrade(&inner.shared))));
        let mut cx = Context::from_waker(&main_waker);
        inner.shared.wake_main();
        inner.now.set(Instant::now());
        let mut batch = VecDeque::new();
        let mut expired = Vec::new();
        let mut dropped = Vec::new();
        loop {
            if inner.shared.take_main_woken() {
                if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                    return v;
                }
            }
            inner.shared.take_batch(&mut batch);
            while let Some(runnable) = batch.pop_front() {
                task::run_or_drop(runnable);
            }

            inner.shared.take_dropped_timers(&mut dropped);
            if !dropped.is_empty() {
                let mut timers = inner.timers.borrow_mut();
                dropped.drain(..).for_each(|key| timers.remove(key));
            }
            let now = Instant::now();
            inner.now.set(now);
            inner.timers.borrow_mut().take_expired(now, &mut expired);
            expired.drain(..).for_each(Waker::wake);

            let runnable = inner.shared.prepare_to_sleep();
            let want_blocked_check = !inner.blocked_waiters.borrow().is_empty();
            let timeout = if runnable || want_blocked_check {
                Some(Duration::ZERO)
            } else {
                let next = inner.timers.borrow_mut().next_deadline();
                next.map(|d| d.saturating_duration_since(now))
            };
            let n = inner.driver.get_events(timeout);
            inner.driver.process_events(n);
            if n == 0 && !runnable && want_blocked_check {
                inner.release_blocked_waiters();
            }
        }
    }
}

impl Default for Runtime {
    /// Same as [`Runtime::new`].
    ///
    /// # Panics
    /// When the driver cannot be created.
    fn default() -> Self {
        Runtime::new().expect("oneport: cannot create a runtime")
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("tasks", &self.inner.active.borrow().len())
            .finish()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let inner = &*self.inner;
        // Teardown runs inside this runtime's context: a task's destructor
        // may call `spawn`, `notify_closing`, `statistics`, poll a sleep...
        // and must find the runtime that is dropping it, not panic (which,
        // inside a task's drop, aborts the process).
        let _enter = context::enter_teardown(&self.inner);
        ids::unregister(inner.id);
        inner.shared.close();
        // Wake every live task so its runnable lands in the queue, then drop
        // the runnables: that drops the futures (on this thread, where they
        // were spawned), and their own `Drop`s cancel their driver waits.
        // Dropping one future can cancel or spawn another task; go round
        // until no task is left. A task woken from another thread at the
        // same moment (a blocking-pool call finishing) is already marked
        // scheduled, so our wake does nothing and its runnable is on its way
        // to the queue from that thread: wait for it rather than stop early.
        let mut batch = VecDeque::new();
        let mut idle_rounds = 0u32;
        loop {
            let wakers: Vec<Waker> = inner
                .active
                .borrow()
                .iter()
                .map(|(_, w)| w.clone())
                .collect();
            if wakers.is_empty() {
                break;
            }
            wakers.into_iter().for_each(Waker::wake);
            inner.shared.take_batch(&mut batch);
            if batch.is_empty() {
                idle_rounds += 1;
                if idle_rounds < 64 {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(Duration::from_micros(100));
                }
            } else {
                idle_rounds = 0;
            }
            batch.clear();
        }
        // Runnables of tasks spawned and closed meanwhile.
        inner.shared.take_batch(&mut batch);
        batch.clear();
        let timers = inner.timers.borrow_mut().drain();
        drop(timers);
        let blocked = std::mem::take(&mut *inner.blocked_waiters.borrow_mut());
        drop(blocked);
        // The blocking calls these tasks started hold files (and wakers);
        // let them finish so that what they hold is closed when we return.
        let left = inner.blocking.wait_idle(blocking::DROP_WAIT);
        if left > 0 {
            log::warn!(
                target: "oneport",
                "runtime dropped with {left} blocking call(s) still running after {:?}; \
                 what they hold is released when they return",
                blocking::DROP_WAIT
            );
        }
    }
}

/// Runs `fut` on a new runtime on this thread: `Runtime::new()` then
/// `block_on`.
///
/// # Panics
/// When the runtime cannot be created (the driver failed to start), when
/// called inside a runtime, and when `fut` panics.
pub fn run<F: Future>(fut: F) -> F::Output {
    Runtime::new()
        .unwrap_or_else(|e| panic!("oneport::run: cannot create a runtime: {e}"))
        .block_on(fut)
}

/// The waker of the `block_on` future. It holds the queue weakly: a clone
/// kept by another thread after the runtime is gone must not keep the
/// driver's wakeup fd/handle open.
struct MainWaker(std::sync::Weak<Shared>);

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.0.upgrade() {
            shared.wake_main();
        }
    }
}

impl Inner {
    /// The driver's figures plus the run loop's own.
    pub(crate) fn statistics(&self) -> Statistics {
        Statistics::compose(
            self.driver.statistics(),
            self.active.borrow().len(),
            self.shared.queued(),
            self.timers.borrow().len(),
        )
    }

    /// This runtime's I/O manager, for `lowlevel`.
    pub(crate) fn driver(&self) -> &driver::Current {
        &self.driver
    }

    /// A cloneable, thread-safe way to wake the driver.
    pub(crate) fn driver_waker(&self) -> driver::CurrentWaker {
        self.driver.waker()
    }

    /// This runtime's id, never reused in the process.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The live runtime `id`'s cross-thread state, for a sleep dropped away
    /// from its thread.
    pub(crate) fn shared_of(id: u64) -> Option<Arc<Shared>> {
        ids::shared_of(id)
    }

    /// The instant the loop last fired timers at (at most one turn old):
    /// every deadline at or before it whose sleep is registered has fired.
    pub(crate) fn timer_now(&self) -> Instant {
        self.now.get()
    }

    /// Registers `waker` to be woken at `deadline`.
    pub(crate) fn add_timer(&self, deadline: Instant, waker: &Waker) -> TimerKey {
        self.timers.borrow_mut().insert(deadline, waker.clone())
    }

    /// Refreshes the waker of a pending deadline; false if it already fired.
    pub(crate) fn refresh_timer(&self, key: TimerKey, waker: &Waker) -> bool {
        self.timers.borrow_mut().update(key, waker)
    }

    /// Moves a pending deadline; `None` if it already fired.
    pub(crate) fn reset_timer(&self, key: TimerKey, deadline: Instant) -> Option<TimerKey> {
        self.timers.borrow_mut().reset(key, deadline)
    }

    /// Forgets a deadline (its sleep completed or was dropped).
    pub(crate) fn remove_timer(&self, key: TimerKey) {
        self.timers.borrow_mut().remove(key)
    }

    pub(crate) fn blocked_generation(&self) -> u64 {
        self.blocked_generation.get()
    }

    pub(crate) fn add_blocked_waiter(&self, waker: Waker) -> usize {
        self.blocked_waiters.borrow_mut().insert(waker)
    }

    pub(crate) fn update_blocked_waiter(&self, key: usize, waker: &Waker) {
        if let Some(w) = self.blocked_waiters.borrow_mut().get_mut(key) {
            if !w.will_wake(waker) {
                *w = waker.clone();
            }
        }
    }

    pub(crate) fn remove_blocked_waiter(&self, key: usize) {
        self.blocked_waiters.borrow_mut().try_remove(key);
    }

    fn release_blocked_waiters(&self) {
        self.blocked_generation
            .set(self.blocked_generation.get() + 1);
        let waiters = std::mem::take(&mut *self.blocked_waiters.borrow_mut());
        waiters.into_iter().for_each(|(_, w)| w.wake());
    }
}
