//! Child processes: spawn, talk to their pipes, wait for their exit.
//!
//! [`Command`] is a builder like `std::process::Command` (it wraps one, so
//! programs, arguments, environment, working directory and `Stdio` values
//! behave exactly as in the standard library). [`Child`] is the running
//! process: its pipes are asynchronous, and [`Child::wait`] waits without a
//! thread per child — on Linux through a pidfd on epoll, on Windows through
//! the process handle signalled on the runtime's completion port.
//! [`Command::kill_on_drop`] ties a child's life to its `Child` value, for
//! the common case of a child that must not outlive the task using it; the
//! killed child is reaped by the same exit wait, so it leaves no zombie.
//! A child's pipe can be handed to another child as its `Stdio`
//! (`Stdio::try_from(child.stdout.take().unwrap())`), to build pipelines; on
//! Windows only before any I/O on it (see [`ChildStdout`]'s conversion).
//!
//! ```no_run
//! use oneport::process::Command;
//! use std::process::Stdio;
//!
//! oneport::run(async {
//!     let mut child = Command::new("cat")
//!         .stdin(Stdio::piped())
//!         .stdout(Stdio::piped())
//!         .spawn()?;
//!     let mut stdin = child.stdin.take().unwrap();
//!     stdin.write_all(b"hello").await?;
//!     stdin.close().await?;
//!     let mut out = Vec::new();
//!     child.stdout.as_mut().unwrap().read_to_end(&mut out).await?;
//!     assert_eq!(out, b"hello");
//!     assert!(child.wait().await?.success());
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! ```

mod exit;
mod pipes;

use std::ffi::OsStr;
use std::future::{poll_fn, Future};
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::rc::Rc;
use std::task::Poll;

use exit::{ChildInner, ExitWait};
pub use pipes::{ChildStderr, ChildStdin, ChildStdout};

/// A process builder, like `std::process::Command`.
///
/// Spawning does not need a runtime; waiting and pipe I/O do.
pub struct Command {
    inner: std::process::Command,
    stdin_set: bool,
    stdout_set: bool,
    stderr_set: bool,
    kill_on_drop: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` as the standard
    /// library does), inheriting the environment, directory and streams.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            inner: std::process::Command::new(program),
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
            kill_on_drop: false,
        }
    }

    /// Adds one argument.
    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(a);
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable of the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, val);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what `env` adds).
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// The child's stdin: `Stdio::piped()` gives [`Child::stdin`].
    pub fn stdin(&mut self, s: Stdio) -> &mut Command {
        self.inner.stdin(s);
        self.stdin_set = true;
        self
    }

    /// The child's stdout: `Stdio::piped()` gives [`Child::stdout`].
    pub fn stdout(&mut self, s: Stdio) -> &mut Command {
        self.inner.stdout(s);
        self.stdout_set = true;
        self
    }

    /// The child's stderr: `Stdio::piped()` gives [`Child::stderr`].
    pub fn stderr(&mut self, s: Stdio) -> &mut Command {
        self.inner.stderr(s);
        self.stderr_set = true;
        self
    }

    /// Whether dropping the [`Child`] kills the process (default `false`:
    /// a dropped child runs on, as in the standard library).
    ///
    /// With `true`, dropping the `Child` (or the future of
    /// [`output`](Command::output)) kills the process at once and reaps
    /// it without blocking: on a runtime, a detached task waits for the
    /// exit as [`Child::wait`] does (no thread); outside one, or if the
    /// runtime is dropped first, a blocking-pool thread reaps it on Linux
    /// (Windows leaves no zombie to reap). [`ChildWaiter`]s taken before
    /// the drop still see the exit status.
    pub fn kill_on_drop(&mut self, on: bool) -> &mut Command {
        self.kill_on_drop = on;
        self
    }

    /// The standard library's command underneath, for settings this type
    /// does not mirror (for example `CommandExt` on either platform).
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }

    /// Starts the child. Streams not set are inherited, as in the
    /// standard library.
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::new(self.inner.spawn()?, self.kill_on_drop)
    }

    /// Runs the child to completion and collects its output. Unless set
    /// otherwise, stdin reads nothing and stdout and stderr are captured;
    /// both are read concurrently, so a child that fills one pipe while we
    /// read the other cannot deadlock.
    pub async fn output(&mut self) -> io::Result<Output> {
        let defaults = [!self.stdin_set, !self.stdout_set, !self.stderr_set];
        if defaults[0] {
            self.inner.stdin(Stdio::null());
        }
        if defaults[1] {
            self.inner.stdout(Stdio::piped());
        }
        if defaults[2] {
            self.inner.stderr(Stdio::piped());
        }
        let spawned = self.inner.spawn();
        // Put back the defaults of `spawn` for streams the caller never set.
        if defaults[0] {
            self.inner.stdin(Stdio::inherit());
        }
        if defaults[1] {
            self.inner.stdout(Stdio::inherit());
        }
        if defaults[2] {
            self.inner.stderr(Stdio::inherit());
        }
        Child::new(spawned?, self.kill_on_drop)?
            .wait_with_output()
            .await
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

/// A running (or exited) child process.
///
/// Dropping a `Child` neither kills nor waits for the process, as in the
/// standard library, unless it was spawned with
/// [`Command::kill_on_drop`].
pub struct Child {
    /// The writing end of the child's stdin, if it was `Stdio::piped()`.
    pub stdin: Option<ChildStdin>,
    /// The reading end of the child's stdout, if it was `Stdio::piped()`.
    pub stdout: Option<ChildStdout>,
    /// The reading end of the child's stderr, if it was `Stdio::piped()`.
    pub stderr: Option<ChildStderr>,
    inner: Rc<ChildInner>,
    kill_on_drop: bool,
}

impl Child {
    fn new(mut std_child: std::process::Child, kill_on_drop: bool) -> io::Result<Child> {
        let made = (|| {
            let stdin = std_child.stdin.take().map(ChildStdin::new).transpose()?;
            let stdout = std_child.stdout.take().map(ChildStdout::new).transpose()?;
            let stderr = std_child.stderr.take().map(ChildStderr::new).transpose()?;
            Ok::<_, io::Error>((stdin, stdout, stderr))
        })();
        let (stdin, stdout, stderr) = match made {
            Ok(p) => p,
            Err(e) => {
                // Do not leave a child behind that nobody can wait for.
                let _ = std_child.kill();
                let _ = std_child.wait();
                return Err(e);
            }
        };
        Ok(Child {
            stdin,
            stdout,
            stderr,
            inner: Rc::new(ChildInner::new(std_child)?),
            kill_on_drop,
        })
    }

    /// The operating system's process id.
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Waits for the child to exit and returns its status. Closes nothing:
    /// drop or close [`stdin`](Child::stdin) first if the child waits for
    /// end of input.
    ///
    /// Cancel-safe: dropping the future stops waiting and nothing is lost;
    /// other waiters (see [`waiter`](Child::waiter)) carry on.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        ExitWait::new(self.inner.clone()).await
    }

    /// The exit status if the child has exited (reaping it), without
    /// waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Kills the child (`SIGKILL` on Unix, `TerminateProcess` on Windows).
    /// A child that already exited is not an error.
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// A handle that can wait for this child from other tasks, several at
    /// once (`Child::wait` takes `&mut self`).
    pub fn waiter(&self) -> ChildWaiter {
        ChildWaiter {
            inner: self.inner.clone(),
        }
    }

    /// Closes stdin, reads stdout and stderr to their ends concurrently,
    /// then waits for the exit.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let mut out = Vec::new();
        let mut err = Vec::new();
        {
            let mut stdout = self.stdout.take();
            let mut stderr = self.stderr.take();
            let a = async {
                match &mut stdout {
                    Some(s) => s.read_to_end(&mut out).await.map(drop),
                    None => Ok(()),
                }
            };
            let b = async {
                match &mut stderr {
                    Some(s) => s.read_to_end(&mut err).await.map(drop),
                    None => Ok(()),
                }
            };
            let (ra, rb) = join(a, b).await;
            ra?;
            rb?;
        }
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: out,
            stderr: err,
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.kill_on_drop || self.inner.is_reaped() {
            return;
        }
        let _ = self.inner.kill();
        // Whoever drops the last reference reaps it if nobody did.
        self.inner.reap_on_drop();
        if let Ok(Some(_)) = self.inner.try_wait() {
            return;
        }
        // Wait for the exit as `wait` does, in a task of its own. During a
        // runtime's teardown the task is dropped unrun, and the drop of
        // the child's state reaps it instead.
        if let Some(rt) = crate::runtime::try_current() {
            let wait = ExitWait::new(self.inner.clone());
            rt.spawn(async move {
                let _ = wait.await;
            })
            .detach();
        }
    }
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

/// Waits for a [`Child`] from any task; any number may wait at once, and
/// cancelling some never disturbs the others. Obtain it with
/// [`Child::waiter`]; clone freely.
#[derive(Clone)]
pub struct ChildWaiter {
    inner: Rc<ChildInner>,
}

impl ChildWaiter {
    /// Waits for the child to exit; every waiter gets the same status.
    pub async fn wait(&self) -> io::Result<ExitStatus> {
        ExitWait::new(self.inner.clone()).await
    }

    /// The exit status if the child has exited, without waiting.
    pub fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Kills the child, as [`Child::kill`].
    pub fn kill(&self) -> io::Result<()> {
        self.inner.kill()
    }

    /// The operating system's process id.
    pub fn id(&self) -> u32 {
        self.inner.id()
    }
}

impl std::fmt::Debug for ChildWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildWaiter")
            .field("id", &self.id())
            .finish()
    }
}

/// Runs two futures concurrently in the current task.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}
