//! The child's standard streams, as seen from the parent.
//!
//! Each type owns one end of a pipe the standard library created for
//! `Stdio::piped()`, and does its I/O through the driver without blocking
//! the runtime. Besides the `futures_io` traits, the common operations are
//! inherent `async fn`s, so no extension crate is needed.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::sys::process::{PipeReader, PipeWriter};

/// Writes to a child's stdin. Dropping it (or [`close`](ChildStdin::close))
/// closes the pipe: the child reads end of input.
///
/// If the child closes its stdin (or exits) while we write, the write fails
/// with `io::ErrorKind::BrokenPipe`.
///
/// On Windows a write returns once its bytes (up to 1 MiB) were copied and
/// handed to the pipe as one overlapped write, the write semantics of every
/// oneport pipe; if that write then fails, the next `write`, `flush` or
/// [`close`](ChildStdin::close) reports the error. No error is dropped, and
/// a write future given up on never leaves bytes half-taken: call `close`
/// to know that everything was written.
pub struct ChildStdin {
    inner: PipeWriter,
}

/// Reads a child's stdout. End of output reads as `Ok(0)`.
pub struct ChildStdout {
    inner: PipeReader,
}

/// Reads a child's stderr. End of output reads as `Ok(0)`.
pub struct ChildStderr {
    inner: PipeReader,
}

impl ChildStdin {
    pub(crate) fn new(p: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Ok(ChildStdin {
            inner: PipeWriter::from_stdin(p)?,
        })
    }

    /// Writes some of `buf`; returns how many bytes were taken.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.inner.poll_write(cx, buf)).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Waits until everything written has been handed to the pipe, then
    /// closes it: the child reads end of input. Later writes fail.
    pub async fn close(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.inner.poll_flush(cx)).await?;
        poll_fn(|cx| self.inner.poll_close(cx)).await
    }
}

macro_rules! reader_methods {
    ($t:ident, $from:ident, $std:ty) => {
        impl $t {
            pub(crate) fn new(p: $std) -> io::Result<$t> {
                Ok($t {
                    inner: PipeReader::$from(p)?,
                })
            }

            /// Reads some bytes into `buf`; `Ok(0)` at end of output.
            pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                poll_fn(|cx| self.inner.poll_read(cx, buf)).await
            }

            /// Reads until end of output, appending to `buf`; returns how
            /// many bytes were appended.
            pub async fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
                read_to_end(&mut self.inner, buf).await
            }
        }

        impl futures_io::AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().inner.poll_read(cx, buf)
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    };
}

reader_methods!(ChildStdout, from_stdout, std::process::ChildStdout);
reader_methods!(ChildStderr, from_stderr, std::process::ChildStderr);

/// Reads `r` to its end, growing `buf` as it fills.
pub(crate) async fn read_to_end(r: &mut PipeReader, buf: &mut Vec<u8>) -> io::Result<usize> {
    const CHUNK: usize = 64 * 1024;
    let start = buf.len();
    loop {
        let len = buf.len();
        buf.resize(len + CHUNK, 0);
        let r = poll_fn(|cx| r.poll_read(cx, &mut buf[len..])).await;
        match r {
            Ok(0) => {
                buf.truncate(len);
                return Ok(len - start);
            }
            Ok(n) => buf.truncate(len + n),
            Err(e) => {
                buf.truncate(len);
                return Err(e);
            }
        }
    }
}

impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_close(cx)
    }
}

impl std::fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildStdin").finish_non_exhaustive()
    }
}
