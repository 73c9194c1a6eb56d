//! The platform half of child processes: how to learn that a child exited,
//! and how to read and write its pipes without blocking the runtime.
//!
//! `process` (above the driver) is written once against this interface:
//!
//! - `ExitSignal::new(&std::process::Child)`, and `ExitSignal::wait()`: a
//!   future that resolves once the child has (probably) exited; the caller
//!   then reaps it with `try_wait`. It may resolve early; the caller checks
//!   and waits again.
//! - `PipeReader::from_stdout` / `from_stderr` and `PipeWriter::from_stdin`
//!   with `poll_read`, `poll_write`, `poll_flush` and `poll_close`, built from
//!   the pipe ends the standard library created for `Stdio::piped()` (its
//!   `Stdio` is opaque, so only the standard library knows which streams are
//!   piped; it creates our end non-inheritable, and on Windows overlapped).
//!
//! Linux: a pidfd (readable when the child exits) and non-blocking pipes,
//! both through `lowlevel::wait_readable` / `wait_writable` on epoll.
//! Windows: `lowlevel::wait_for_object` on the process handle, and
//! overlapped I/O on the pipes through the runtime's completion port.
//! Neither uses a thread per child.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{ExitSignal, PipeReader, PipeWriter};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{ExitSignal, PipeReader, PipeWriter};

use std::future::Future;
use std::io;
use std::pin::Pin;

/// A boxed wait of the driver (readiness, object wait, timer).
pub(crate) type BoxedWait = Pin<Box<dyn Future<Output = io::Result<()>>>>;
