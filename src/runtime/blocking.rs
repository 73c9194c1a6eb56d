//! The pool of threads for calls that have no asynchronous form.
//!
//! Linux has no readiness or completion notification for regular files
//! (epoll refuses them), and opening a file or flushing it to disk blocks on
//! both platforms. Such calls run here, off the run loop, and their result is
//! delivered through the task's `Waker` (which, from another thread, wakes
//! the runtime through its driver).
//!
//! The pool is process-wide and shared by every runtime, so it must not be
//! small: an `open()` of a FIFO blocks until a writer appears, and a handful
//! of those would otherwise stall every file operation of every runtime.
//! A job never waits for a thread while fewer than [`MAX_THREADS`] are busy:
//! a thread is started whenever the queued jobs outnumber the idle threads.
//! Jobs beyond that bound queue in arrival order (first come, first served,
//! whichever runtime they come from). A thread with no work for
//! [`IDLE_TIMEOUT`] ends.
//!
//! A job whose future is dropped before a thread picks it up never runs
//! (its closure is dropped at once, on the dropping thread). One that has
//! started cannot be interrupted: it runs to completion and its result is
//! dropped; a file's [`Fence`] orders it before that file's later calls.
//! Each runtime counts the jobs its tasks started, and waits for them (at
//! most [`DROP_WAIT`]) when it is dropped, so the files they hold are
//! closed when the drop returns.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::fence::{Fence, Signal};

/// Threads the pool runs at most.
pub const MAX_THREADS: usize = 512;
/// How long an idle thread waits for work before it ends.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a dropped runtime waits for the blocking calls it started.
pub(crate) const DROP_WAIT: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its state consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A queued unit of work; `run` skips it if it was cancelled meanwhile.
trait Job: Send + Sync {
    fn run(self: Arc<Self>);
}

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    jobs: VecDeque<Arc<dyn Job>>,
    threads: usize,
    idle: usize,
}

static POOL: Pool = Pool {
    state: Mutex::new(PoolState {
        jobs: VecDeque::new(),
        threads: 0,
        idle: 0,
    }),
    work: Condvar::new(),
};

impl Pool {
    fn submit(&'static self, job: Arc<dyn Job>) {
        let mut s = lock(&self.state);
        s.jobs.push_back(job);
        // Idle threads that were notified but have not woken yet still count
        // as idle; comparing with the queue length starts a thread for each
        // job no idle thread will take.
        let start = s.jobs.len() > s.idle && s.threads < MAX_THREADS;
        if start {
            s.threads += 1;
        }
        drop(s);
        self.work.notify_one();
        if start {
            let started = std::thread::Builder::new()
                .name("oneport-blocking".into())
                .spawn(move || self.worker());
            if started.is_err() {
                let mut s = lock(&self.state);
                s.threads -= 1;
                if s.threads == 0 {
                    // No thread at all: run the work here rather than never.
                    let jobs: Vec<_> = s.jobs.drain(..).collect();
                    drop(s);
                    jobs.into_iter().for_each(|j| j.run());
                }
            }
        }
    }

    fn worker(&self) {
        let mut s = lock(&self.state);
        loop {
            if let Some(job) = s.jobs.pop_front() {
                drop(s);
                job.run();
                s = lock(&self.state);
                continue;
            }
            s.idle += 1;
            let (guard, timeout) = self
                .work
                .wait_timeout(s, IDLE_TIMEOUT)
                .unwrap_or_else(|e| e.into_inner());
            s = guard;
            s.idle -= 1;
            if timeout.timed_out() && s.jobs.is_empty() {
                s.threads -= 1;
                return;
            }
        }
    }
}

/// Counts one runtime's blocking calls that have not finished (or been
/// cancelled), so its drop can wait for them.
#[derive(Default)]
pub(crate) struct Tracker {
    running: Mutex<usize>,
    zero: Condvar,
}

impl Tracker {
    fn add(&self) {
        *lock(&self.running) += 1;
    }

    fn done(&self) {
        let mut n = lock(&self.running);
        *n -= 1;
        if *n == 0 {
            self.zero.notify_all();
        }
    }

    /// Waits until no call is left, at most `limit`; returns how many are.
    pub(crate) fn wait_idle(&self, limit: Duration) -> usize {
        let end = Instant::now() + limit;
        let mut n = lock(&self.running);
        while *n > 0 {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            n = self
                .zero
                .wait_timeout(n, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *n
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Running,
    Finished,
    Cancelled,
}

struct Slot<T> {
    state: Mutex<SlotState<T>>,
    tracker: Option<Arc<Tracker>>,
}

type Work<T> = Box<dyn FnOnce() -> T + Send>;

struct SlotState<T> {
    phase: Phase,
    work: Option<Work<T>>,
    result: Option<std::thread::Result<T>>,
    waker: Option<Waker>,
    /// The future was dropped: nobody will take the result.
    abandoned: bool,
    /// Fired when the call is over, for a file's fence.
    on_done: Option<Arc<Signal>>,
}

impl<T: Send> Job for Slot<T> {
    fn run(self: Arc<Self>) {
        let work = {
            let mut s = lock(&self.state);
            match (s.phase, s.work.take()) {
                (Phase::Queued, Some(w)) => {
                    s.phase = Phase::Running;
                    w
                }
                _ => return, // cancelled before it started
            }
        };
        let result = panic::catch_unwind(AssertUnwindSafe(work));
        let (waker, on_done, unwanted) = {
            let mut s = lock(&self.state);
            s.phase = Phase::Finished;
            let unwanted = if s.abandoned {
                Some(result)
            } else {
                s.result = Some(result);
                None
            };
            (s.waker.take(), s.on_done.take(), unwanted)
        };
        // Whatever the result holds (an opened file, say) is closed before
        // the call counts as finished.
        drop(unwanted);
        if let Some(w) = waker {
            w.wake();
        }
        if let Some(sig) = on_done {
            sig.fire();
        }
        if let Some(t) = &self.tracker {
            t.done();
        }
    }
}

/// Runs `f` on the pool; the returned future resolves to its result (and
/// resumes its panic, if it panicked). Dropping the future before a thread
/// took the job means it never runs.
pub(crate) fn spawn_blocking<T, F>(f: F) -> BlockingTask<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    submit(Box::new(f), None)
}

/// [`spawn_blocking`] for a call on a file: if its future is dropped while
/// the call runs, the file's `fence` holds later calls until it is over.
pub(crate) fn spawn_blocking_fenced<T, F>(fence: &Arc<Fence>, f: F) -> BlockingTask<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    submit(Box::new(f), Some(fence.clone()))
}

fn submit<T: Send + 'static>(work: Work<T>, fence: Option<Arc<Fence>>) -> BlockingTask<T> {
    let tracker = super::try_current().map(|rt| rt.blocking.clone());
    if let Some(t) = &tracker {
        t.add();
    }
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState {
            phase: Phase::Queued,
            work: Some(work),
            result: None,
            waker: None,
            abandoned: false,
            on_done: None,
        }),
        tracker,
    });
    POOL.submit(slot.clone());
    BlockingTask { slot, fence }
}

/// Runs `f` on the pool with nobody awaiting it, for clean-up that must
/// not block the caller and has nobody left to report to (reaping a child
/// killed on drop outside any runtime). A panic in `f` is discarded.
#[cfg(unix)]
pub(crate) fn spawn_detached(f: impl FnOnce() + Send + 'static) {
    POOL.submit(Arc::new(Detached(Mutex::new(Some(Box::new(f))))));
}

/// A job of [`spawn_detached`].
#[cfg(unix)]
struct Detached(Mutex<Option<Box<dyn FnOnce() + Send>>>);

#[cfg(unix)]
impl Job for Detached {
    fn run(self: Arc<Self>) {
        if let Some(f) = lock(&self.0).take() {
            let _ = panic::catch_unwind(AssertUnwindSafe(f));
        }
    }
}

/// The result of a job on the pool.
pub(crate) struct BlockingTask<T> {
    slot: Arc<Slot<T>>,
    fence: Option<Arc<Fence>>,
}

impl<T> Future for BlockingTask<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = lock(&self.slot.state);
        match s.result.take() {
            Some(Ok(v)) => Poll::Ready(v),
            Some(Err(p)) => {
                drop(s);
                panic::resume_unwind(p)
            }
            None => {
                match &mut s.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    w => *w = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for BlockingTask<T> {
    fn drop(&mut self) {
        let mut s = lock(&self.slot.state);
        s.abandoned = true;
        s.waker = None;
        match s.phase {
            Phase::Queued => {
                s.phase = Phase::Cancelled;
                let work = s.work.take();
                drop(s);
                drop(work);
                if let Some(t) = &self.slot.tracker {
                    t.done();
                }
            }
            Phase::Running => {
                if let Some(fence) = &self.fence {
                    let sig = Signal::new();
                    s.on_done = Some(sig.clone());
                    fence.push(sig);
                }
            }
            Phase::Finished => {
                let result = s.result.take();
                drop(s);
                drop(result);
            }
            Phase::Cancelled => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_off_thread_and_their_results_come_back() {
        let here = std::thread::current().id();
        let results = crate::run(async move {
            let tasks: Vec<_> = (0..20u32)
                .map(|i| spawn_blocking(move || (i * 2, std::thread::current().id())))
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await);
            }
            out
        });
        for (i, (v, id)) in results.into_iter().enumerate() {
            assert_eq!(v, i as u32 * 2);
            assert_ne!(id, here);
        }
        assert!(POOL.state.lock().unwrap().threads <= MAX_THREADS);
    }

    #[test]
    fn a_job_dropped_while_running_holds_its_fence_until_it_is_over() {
        crate::run(async {
            let fence = Fence::new();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
            let job = spawn_blocking_fenced(&fence, move || {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
            });
            started_rx.recv().unwrap();
            drop(job);
            let mut wait = Box::pin(fence.wait());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            go_tx.send(()).unwrap();
            wait.await; // the job is over now
        });
    }

    #[test]
    fn a_job_dropped_before_it_starts_never_runs() {
        // Fill every thread the pool may have with jobs that wait, so the
        // next one must queue; then drop it and release them.
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        crate::run(async {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let rx = Arc::new(Mutex::new(rx));
            let blockers: Vec<_> = (0..MAX_THREADS)
                .map(|_| {
                    let rx = rx.clone();
                    spawn_blocking(move || {
                        let _ = lock(&rx).recv();
                    })
                })
                .collect();
            let r = ran.clone();
            let queued = spawn_blocking(move || r.store(true, std::sync::atomic::Ordering::SeqCst));
            drop(queued);
            for _ in 0..MAX_THREADS {
                tx.send(()).unwrap();
            }
            for b in blockers {
                b.await;
            }
        });
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
