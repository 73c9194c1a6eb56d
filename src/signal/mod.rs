//! Waiting for Ctrl-C.
//!
//! A signal (Linux) or console control event (Windows) arrives on a thread
//! the program does not choose: inside a signal handler, where almost
//! nothing is allowed, or on a thread Windows starts for the purpose. So
//! the handler only *posts* an event into each runtime that has a task
//! waiting, through the runtime's ordinary event source, and the task is
//! woken by its own run loop like any I/O waiter. No thread is started per
//! wait, and nothing blocks.
//!
//! - Linux: `SIGINT` is caught through `signal-hook-registry` (which
//!   chains with handlers other libraries installed). Each waiting
//!   [`ctrl_c`] owns an eventfd that the handler writes to, and waits for
//!   it on epoll like a socket.
//! - Windows: one `SetConsoleCtrlHandler` handler; for `CTRL_C_EVENT` it
//!   posts a completion packet to the port of every runtime with a waiting
//!   [`ctrl_c`], under that waiter's own completion key.
//!
//! On Unix, `unix::signal` gives a stream of any catchable signal
//! (`SIGTERM`, `SIGHUP`, `SIGUSR1`...) on the same machinery.
//!
//! What catching changes, per platform: on Linux, once a `ctrl_c` has been
//! polled, `SIGINT` no longer ends the process, even when nobody waits any
//! more (the handler stays installed for the life of the process; the
//! interrupts nobody waits for are dropped). On Windows the handler says it
//! handled the event only when some `ctrl_c` was waiting, so with nobody
//! waiting Ctrl-C ends the process as usual.

// The platform halves (a signal handler feeding eventfds on Linux, a
// console control handler posting to ports on Windows) are adapters in
// `sys/`, like every other platform difference above the drivers.
use crate::sys::signal as imp;

use std::io;

/// Waits for the next Ctrl-C (`SIGINT` on Linux, `CTRL_C_EVENT` on
/// Windows) received after this future was first polled.
///
/// Any number of tasks, on any number of runtimes, may wait at once; each
/// is woken by each Ctrl-C. Dropping the future stops waiting.
///
/// ```no_run
/// oneport::run(async {
///     oneport::signal::ctrl_c().await?;
///     println!("interrupted, shutting down");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
///
/// Errors: installing the handler failed (the operating system's error),
/// or, on Linux, more than 256 waits are pending at once in the process
/// (each holds an eventfd the signal handler writes to, kept in a fixed
/// table a handler can read without locking).
///
/// See the [module docs](self) for how catching Ctrl-C changes the
/// default behaviour on each platform. Under Wine a process without a
/// Wine console (as under `cargo test`) cannot be sent Ctrl-C at all:
/// `GenerateConsoleCtrlEvent` fails with `ERROR_INVALID_ACCESS` and
/// `AllocConsole` is refused, so there only the handler's own delivery is
/// tested (by calling it as Windows would).
///
/// # Panics
/// When polled outside a oneport runtime.
pub async fn ctrl_c() -> io::Result<()> {
    let waiter = imp::Waiter::new()?;
    waiter.wait().await
}

#[cfg(unix)]
pub mod unix;
