//! A small, bounded pool of threads for calls that have no asynchronous form.
//!
//! Linux has no readiness or completion notification for regular files
//! (epoll refuses them), and opening a file or flushing it to disk blocks on
//! both platforms. Such calls run here, off the run loop, and their result is
//! delivered through the task's `Waker` (which, from another thread, wakes
//! the runtime through its driver).
//!
//! The pool is process-wide and bounded: at most [`MAX_THREADS`] threads,
//! started on demand and ended after [`IDLE_TIMEOUT`] without work. Jobs
//! queue up when every thread is busy. A job whose future is dropped still
//! runs to completion (a blocking call cannot be interrupted); its result is
//! dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Threads the pool runs at most.
pub(crate) const MAX_THREADS: usize = 4;
/// How long an idle thread waits for work before it ends.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
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

/// Runs `f` on the pool; the returned future resolves to its result (and
/// resumes its panic, if it panicked).
pub(crate) fn spawn_blocking<T, F>(f: F) -> BlockingTask<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState {
            result: None,
            waker: None,
        }),
    });
    let job_slot = slot.clone();
    POOL.submit(Box::new(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        let waker = {
            let mut s = job_slot.state.lock().unwrap_or_else(|e| e.into_inner());
            s.result = Some(result);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }));
    BlockingTask { slot }
}

impl Pool {
    fn submit(&'static self, job: Job) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.jobs.push_back(job);
        if s.idle > 0 {
            drop(s);
            self.work.notify_one();
            return;
        }
        if s.threads < MAX_THREADS {
            s.threads += 1;
            drop(s);
            let started = std::thread::Builder::new()
                .name("oneport-blocking".into())
                .spawn(move || self.worker());
            if started.is_err() {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                s.threads -= 1;
                if s.threads == 0 {
                    // No thread at all: run the work here rather than never.
                    let jobs: Vec<Job> = s.jobs.drain(..).collect();
                    drop(s);
                    jobs.into_iter().for_each(|j| j());
                }
            }
        }
    }

    fn worker(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = s.jobs.pop_front() {
                drop(s);
                job();
                s = self.state.lock().unwrap_or_else(|e| e.into_inner());
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

struct Slot<T> {
    state: Mutex<SlotState<T>>,
}

struct SlotState<T> {
    result: Option<std::thread::Result<T>>,
    waker: Option<Waker>,
}

/// The result of a job on the pool.
pub(crate) struct BlockingTask<T> {
    slot: Arc<Slot<T>>,
}

impl<T> Future for BlockingTask<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.slot.state.lock().unwrap_or_else(|e| e.into_inner());
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
}
