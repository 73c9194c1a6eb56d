//! Every core: one runtime per thread, and a `Send` handle to reach them.
//!
//! A oneport runtime is single-threaded on purpose (one completion port or
//! epoll instance, `!Send` tasks, no locks on the I/O path). The way to use
//! every core is therefore the thread-per-core pattern: start one runtime
//! per core and give each its own share of the work. [`Pool`] does the
//! plumbing: it starts the threads, keeps one job queue per runtime (an
//! [`async_channel`] the runtime's main future drains, so a job sent from
//! any thread wakes that runtime through its ordinary cross-thread wakeup),
//! and hands back [`RemoteJoinHandle`]s that are `Send` and work on any
//! executor.
//!
//! Two ways to put work on a runtime of the pool:
//! - [`Pool::spawn`] / [`Pool::spawn_on`] take a `Send` future and move it;
//! - [`Pool::spawn_local_on`] takes a `Send` closure that *builds* the
//!   future on the target runtime, so the task itself may hold `!Send`
//!   state (`Rc`, a `TcpStream`, a `File`).
//!
//! [`Pool::serve`] spreads one TCP port over the runtimes (see `serve.rs`).

mod remote;
mod serve;

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

pub use remote::{RemoteJoin, RemoteJoinHandle};

/// A piece of work sent to one runtime: run on that runtime's thread,
/// inside its context (so it may call `oneport::spawn`).
type Job = Box<dyn FnOnce() + Send + 'static>;

/// What every handle to the pool shares: one job queue per runtime.
struct Shared {
    queues: Vec<async_channel::Sender<Job>>,
    next: AtomicUsize,
}

impl Shared {
    /// Sends `job` to runtime `index`. A job that cannot be delivered (the
    /// pool is shutting down) is dropped, which its remote handle reports as
    /// a cancelled task.
    fn send(&self, index: usize, job: Job) {
        let _ = self.queues[index].try_send(job);
    }

    fn round_robin(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len()
    }

    fn check(&self, index: usize) -> io::Result<()> {
        if index < self.queues.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "oneport::pool: runtime index {index} out of range (the pool has {})",
                    self.queues.len()
                ),
            ))
        }
    }
}

/// A set of runtimes, one per thread, started together and stopped
/// together.
///
/// Dropping the pool stops every runtime: the jobs already queued run,
/// then each runtime is dropped on its own thread (its tasks are dropped
/// and its fds/handles closed, as when any [`Runtime`](crate::Runtime) is
/// dropped), and the drop returns once every thread has ended. Handles
/// ([`PoolHandle`]) that outlive the pool can still be called; what they
/// spawn then reports a cancelled task.
///
/// ```
/// use std::time::Duration;
///
/// let pool = oneport::pool::Pool::new(2)?;
/// let answer = pool.spawn(async { 21 });
/// let doubled = pool.spawn_local_on(1, || async {
///     // Built on runtime 1: `!Send` state (an `Rc`, a sleep, a socket) is fine.
///     let local = std::rc::Rc::new(2);
///     oneport::time::sleep(Duration::from_millis(1)).await;
///     *local
/// })?;
/// let (a, b) = oneport::run(async { (answer.await, doubled.await) });
/// assert_eq!(a * b, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Pool {
    shared: Arc<Shared>,
    threads: Vec<thread::JoinHandle<()>>,
}

/// A `Send + Sync` handle to a [`Pool`]'s runtimes, to spawn from any
/// thread or task.
#[derive(Clone)]
pub struct PoolHandle {
    shared: Arc<Shared>,
}

impl Pool {
    /// Starts `runtimes` runtimes, each on its own thread
    /// (`oneport-pool-N`).
    ///
    /// Zero runtimes is an `InvalidInput` error; an error creating any
    /// runtime (or thread) is returned after the ones already started have
    /// been stopped.
    pub fn new(runtimes: usize) -> io::Result<Pool> {
        if runtimes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "oneport::pool: a pool needs at least one runtime",
            ));
        }
        let mut queues = Vec::with_capacity(runtimes);
        let mut threads = Vec::with_capacity(runtimes);
        let mut failure = None;
        for index in 0..runtimes {
            match start_runtime(index) {
                Ok((queue, thread)) => {
                    queues.push(queue);
                    threads.push(thread);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let pool = Pool {
            shared: Arc::new(Shared {
                queues,
                next: AtomicUsize::new(0),
            }),
            threads,
        };
        match failure {
            // Dropping `pool` stops what was started.
            Some(e) => Err(e),
            None => Ok(pool),
        }
    }

    /// Starts one runtime per core the OS reports as available
    /// (`std::thread::available_parallelism`, 1 if it cannot tell).
    pub fn per_core() -> io::Result<Pool> {
        Pool::new(thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// How many runtimes the pool has.
    pub fn len(&self) -> usize {
        self.shared.queues.len()
    }

    /// Always false: a pool has at least one runtime.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A `Send + Sync` handle for spawning from other threads or tasks.
    pub fn handle(&self) -> PoolHandle {
        PoolHandle {
            shared: self.shared.clone(),
        }
    }

    /// Spawns a `Send` future on the next runtime, round robin.
    pub fn spawn<F>(&self, fut: F) -> RemoteJoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.shared, self.shared.round_robin(), || fut)
    }

    /// Spawns a `Send` future on runtime `index` (`0..len()`); an index out
    /// of range is an `InvalidInput` error. As [`PoolHandle::spawn_on`].
    pub fn spawn_on<F>(&self, index: usize, fut: F) -> io::Result<RemoteJoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn_on(index, fut)
    }

    /// Builds a task on runtime `index` with `make`, which runs on that
    /// runtime's thread; the future it returns need not be `Send`. As
    /// [`PoolHandle::spawn_local_on`].
    pub fn spawn_local_on<M, F>(
        &self,
        index: usize,
        make: M,
    ) -> io::Result<RemoteJoinHandle<F::Output>>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn_local_on(index, make)
    }

    /// Runs `fut` on the next runtime of the pool and blocks the calling
    /// thread until it completes, returning its output (or resuming its
    /// panic).
    ///
    /// # Panics
    /// When called on a thread that is already running a oneport runtime,
    /// and when the task panics or is cancelled.
    pub fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::run(self.spawn(fut))
    }
}

impl PoolHandle {
    /// How many runtimes the pool has.
    pub fn len(&self) -> usize {
        self.shared.queues.len()
    }

    /// Always false: a pool has at least one runtime.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// As [`Pool::spawn`].
    pub fn spawn<F>(&self, fut: F) -> RemoteJoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.shared, self.shared.round_robin(), || fut)
    }

    /// As [`Pool::spawn_on`].
    pub fn spawn_on<F>(&self, index: usize, fut: F) -> io::Result<RemoteJoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.check(index)?;
        Ok(spawn_on(&self.shared, index, || fut))
    }

    /// As [`Pool::spawn_local_on`].
    pub fn spawn_local_on<M, F>(
        &self,
        index: usize,
        make: M,
    ) -> io::Result<RemoteJoinHandle<F::Output>>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.shared.check(index)?;
        Ok(spawn_on(&self.shared, index, make))
    }

    /// Runs `job` on runtime `index`'s thread, inside its context, without
    /// a handle (what [`Pool::serve`] uses to hand a connection over).
    pub(crate) fn run_on(&self, index: usize, job: impl FnOnce() + Send + 'static) {
        self.shared.send(index, Box::new(job));
    }

    /// The next runtime, round robin.
    pub(crate) fn next_index(&self) -> usize {
        self.shared.round_robin()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for queue in &self.shared.queues {
            queue.close();
        }
        for thread in self.threads.drain(..) {
            // A runtime thread only panics if a runtime's own teardown
            // panicked; there is nothing better to do with that here than
            // to let the other threads finish.
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("runtimes", &self.len())
            .finish()
    }
}

impl std::fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolHandle")
            .field("runtimes", &self.len())
            .finish()
    }
}

/// Sends a job that builds the task on runtime `index` and forwards its
/// outcome to the returned handle.
fn spawn_on<M, F>(shared: &Shared, index: usize, make: M) -> RemoteJoinHandle<F::Output>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    let (handle, forward) = remote::pair(make);
    shared.send(index, Box::new(forward));
    handle
}

/// Starts runtime `index` on its own thread and waits until it exists, so
/// a failure to create it is the caller's error.
fn start_runtime(index: usize) -> io::Result<(async_channel::Sender<Job>, thread::JoinHandle<()>)> {
    let (queue, jobs) = async_channel::unbounded::<Job>();
    let (started, outcome) = mpsc::channel::<io::Result<()>>();
    let thread = thread::Builder::new()
        .name(format!("oneport-pool-{index}"))
        .spawn(move || {
            let rt = match crate::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = started.send(Err(e));
                    return;
                }
            };
            let _ = started.send(Ok(()));
            rt.block_on(async move {
                while let Ok(job) = jobs.recv().await {
                    job();
                }
            });
        })?;
    match outcome.recv() {
        Ok(Ok(())) => Ok((queue, thread)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(io::Error::other(
                "oneport::pool: a runtime thread ended before it started",
            ))
        }
    }
}
