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
//! first I/O, so a child can be spawned outside a runtime.

use std::future::Future;
use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle, RawHandle};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use windows_sys::Wdk::Storage::FileSystem::{
    FileModeInformation, NtQueryInformationFile, FILE_MODE_INFORMATION, FILE_SYNCHRONOUS_IO_ALERT,
    FILE_SYNCHRONOUS_IO_NONALERT,
};
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

use crate::lowlevel::{read_overlapped, register_with_iocp, wait_for_object, write_overlapped};
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

/// Operations on a pipe end carry at most this many bytes at once.
const MAX_IO: usize = 1 << 20;

/// An overlapped read or write in flight: the driver owns its buffer until
/// the completion packet arrives, even if this future is dropped.
type PendingIo = Pin<Box<dyn Future<Output = (io::Result<usize>, Vec<u8>)>>>;

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

/// Registers `h` with the current runtime's port once.
fn ensure_registered(registered: &mut bool, h: &OwnedHandle) -> io::Result<()> {
    if !*registered {
        register_with_iocp(h.as_raw_handle())?;
        *registered = true;
    }
    Ok(())
}

/// Our reading end of a child's stdout or stderr.
pub(crate) struct PipeReader {
    // Field order is drop order: a read still in flight is cancelled (the
    // driver keeps its buffer) before the handle closes.
    pending: Option<PendingIo>,
    /// Bytes read but not yet handed out (`data[pos..]`).
    data: Vec<u8>,
    pos: usize,
    eof: bool,
    registered: bool,
    handle: OwnedHandle,
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
            pending: None,
            data: Vec::new(),
            pos: 0,
            eof: false,
            registered: false,
            handle,
        })
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.pos < self.data.len() {
            return Poll::Ready(Ok(self.take_into(out)));
        }
        if self.eof || out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if self.pending.is_none() {
            ensure_registered(&mut self.registered, &self.handle)?;
            // Read with the caller's size: no fixed internal buffer.
            let mut buf = std::mem::take(&mut self.data);
            buf.clear();
            buf.reserve(out.len().min(MAX_IO));
            self.pos = 0;
            self.pending = Some(Box::pin(read_overlapped(
                self.handle.as_raw_handle(),
                buf,
                0,
            )));
        }
        let (res, buf) = ready!(self
            .pending
            .as_mut()
            .expect("a read is pending")
            .as_mut()
            .poll(cx));
        self.pending = None;
        self.data = buf;
        self.pos = 0;
        match res {
            Ok(0) => {
                self.eof = true;
                Poll::Ready(Ok(0))
            }
            Ok(_) => Poll::Ready(Ok(self.take_into(out))),
            // The child closed its end: end of output.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.eof = true;
                Poll::Ready(Ok(0))
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn take_into(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.data.len() - self.pos);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

/// Our writing end of a child's stdin.
///
/// A write holds a copy of (up to 1 MiB of) the caller's bytes until its
/// completion. If the caller gives up on a write (drops its future) and
/// then writes other bytes, the abandoned write is waited for first and
/// the new bytes go after it: an abandoned write may still have been
/// written, as with any cancelled write on Windows.
pub(crate) struct PipeWriter {
    pending: Option<PendingIo>,
    /// The bytes of the pending write (also kept in its buffer), to tell a
    /// retry of the same write from a new one.
    pending_bytes: Vec<u8>,
    registered: bool,
    /// `None` once closed.
    handle: Option<OwnedHandle>,
}

impl PipeWriter {
    pub(crate) fn from_stdin(p: std::process::ChildStdin) -> io::Result<PipeWriter> {
        let handle: OwnedHandle = p.into();
        check_asynchronous(&handle)?;
        Ok(PipeWriter {
            pending: None,
            pending_bytes: Vec::new(),
            registered: false,
            handle: Some(handle),
        })
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let Some(handle) = &self.handle else {
                return Poll::Ready(Err(closed_pipe()));
            };
            if let Some(p) = &mut self.pending {
                let (res, _) = ready!(p.as_mut().poll(cx));
                self.pending = None;
                let retry = data.starts_with(&self.pending_bytes);
                self.pending_bytes.clear();
                if retry {
                    return Poll::Ready(res);
                }
                // An abandoned write finished; now start the new one.
                continue;
            }
            if data.is_empty() {
                return Poll::Ready(Ok(0));
            }
            ensure_registered(&mut self.registered, handle)?;
            let chunk = &data[..data.len().min(MAX_IO)];
            self.pending_bytes.extend_from_slice(chunk);
            let raw = handle.as_raw_handle();
            self.pending = Some(Box::pin(write_overlapped(raw, chunk.to_vec(), 0)));
        }
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes complete only when the pipe took the bytes; an abandoned
        // one is waited for here.
        if let Some(p) = &mut self.pending {
            let (res, _) = ready!(p.as_mut().poll(cx));
            self.pending = None;
            self.pending_bytes.clear();
            res?;
        }
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = ready!(self.poll_flush(cx));
        self.handle = None;
        Poll::Ready(flushed)
    }
}
