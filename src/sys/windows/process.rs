//! Windows: the process handle is waited on through the completion port
//! (`lowlevel::wait_for_object`), and the pipes are read and written with
//! overlapped I/O on the same port.
//!
//! The pipes are the ones the standard library creates for
//! `Stdio::piped()`: our end is a pipe opened for overlapped I/O (the
//! standard library needs that itself), the child's end is synchronous, as
//! children expect. Because an overlapped call on a synchronous handle would
//! block the whole runtime, each end is checked when it is wrapped
//! (`FileModeInformation`) and refused with a clear error if it is not
//! asynchronous. A handle is registered with the runtime's port on its
//! first I/O, so a child can be spawned outside a runtime; from then on it
//! is bound to that runtime (another one gets a clear error). Both ends are
//! the shared `OverlappedStream` adapter, with its one write semantics.
//!
//! A pipe can become another child's `Stdio` only while it was never bound
//! to a port: an association with a completion port cannot be undone, and
//! registration also sets `FILE_SKIP_SET_EVENT_ON_HANDLE`, so a child's
//! ordinary synchronous `ReadFile`, which waits on the handle for an
//! operation that went pending, would never wake. An unbound handle is
//! still an overlapped one; a child doing synchronous I/O on it works (the
//! system waits on the handle for it), as with the standard library's own
//! parent-side pipe ends.

use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle, RawHandle};
use std::task::{ready, Context, Poll};

use windows_sys::Wdk::Storage::FileSystem::{
    FileModeInformation, NtQueryInformationFile, FILE_MODE_INFORMATION, FILE_SYNCHRONOUS_IO_ALERT,
    FILE_SYNCHRONOUS_IO_NONALERT,
};
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

use super::stream::OverlappedStream;
use crate::lowlevel::wait_for_object;
use crate::sys::{closed_pipe, BoxedWait};

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

/// One `poll_write` on a child's stdin takes at most this many bytes.
const MAX_IO: usize = 1 << 20;

/// Nothing to do: a Windows process leaves no zombie behind; once it is
/// terminated, closing its handle (when the `Child` is dropped) is all.
pub(crate) fn reap_later(_pid: u32) {}

/// Checks that `h` was opened for overlapped I/O.
fn check_asynchronous(h: &OwnedHandle) -> io::Result<()> {
    let mut iosb = IO_STATUS_BLOCK::default();
    let mut info = FILE_MODE_INFORMATION::default();
    // SAFETY: `info` and `iosb` are valid for writes of their sizes.
    let status = unsafe {
        NtQueryInformationFile(
            h.as_raw_handle(),
            &mut iosb,
            (&mut info as *mut FILE_MODE_INFORMATION).cast(),
            std::mem::size_of::<FILE_MODE_INFORMATION>() as u32,
            FileModeInformation,
        )
    };
    if status < 0 {
        return Err(crate::error::ntstatus_error(status));
    }
    if info.Mode & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT) != 0 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "oneport: the standard library gave a synchronous pipe for the child; \
             asynchronous child pipes need one opened for overlapped I/O",
        ));
    }
    Ok(())
}

/// Our reading end of a child's stdout or stderr: an [`OverlappedStream`]
/// (reads of the caller's size, nothing lost to a dropped future, end of
/// output as `Ok(0)`).
pub(crate) struct PipeReader {
    stream: OverlappedStream,
}

impl PipeReader {
    pub(crate) fn from_stdout(p: std::process::ChildStdout) -> io::Result<PipeReader> {
        Self::new(p.into())
    }

    pub(crate) fn from_stderr(p: std::process::ChildStderr) -> io::Result<PipeReader> {
        Self::new(p.into())
    }

    fn new(handle: OwnedHandle) -> io::Result<PipeReader> {
        check_asynchronous(&handle)?;
        Ok(PipeReader {
            stream: OverlappedStream::unbound(handle, MAX_IO),
        })
    }

    /// The pipe as a `Stdio` for another child, if no I/O ever bound it
    /// to a completion port (see `OverlappedStream::into_unbound_handle`).
    pub(crate) fn into_stdio(self) -> io::Result<std::process::Stdio> {
        Ok(self.stream.into_unbound_handle()?.into())
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read(cx, out)
    }
}

/// Our writing end of a child's stdin: an [`OverlappedStream`], with its
/// write semantics (a `poll_write` accepts up to 1 MiB and starts writing
/// it; a failure is reported by the next `poll_write`, `poll_flush` or
/// `poll_close`). Closing flushes, then closes the handle.
pub(crate) struct PipeWriter {
    /// `None` once closed.
    stream: Option<OverlappedStream>,
}

impl PipeWriter {
    pub(crate) fn from_stdin(p: std::process::ChildStdin) -> io::Result<PipeWriter> {
        let handle: OwnedHandle = p.into();
        check_asynchronous(&handle)?;
        Ok(PipeWriter {
            stream: Some(OverlappedStream::unbound(handle, MAX_IO)),
        })
    }

    /// The pipe as a `Stdio` for another child, if no I/O ever bound it
    /// to a completion port; a pipe this side closed is an error.
    pub(crate) fn into_stdio(self) -> io::Result<std::process::Stdio> {
        match self.stream {
            Some(s) => Ok(s.into_unbound_handle()?.into()),
            None => Err(closed_pipe()),
        }
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            Some(s) => s.poll_write(cx, data),
            None => Poll::Ready(Err(closed_pipe())),
        }
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Some(s) => s.poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = ready!(self.poll_flush(cx));
        self.stream = None;
        Poll::Ready(flushed)
    }
}
