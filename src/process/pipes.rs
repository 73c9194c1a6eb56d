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

/// `ChildStdin` as another child's stdin or stdout (`Stdio::try_from`),
/// like `std::process::ChildStdin` is: see [`ChildStdout`]'s conversion
/// for the platform rules. A pipe closed with
/// [`close`](ChildStdin::close) gives a `BrokenPipe` error. Bytes taken by
/// earlier writes are in the pipe already (Windows: an earlier write makes
/// the conversion fail, as said there).
impl TryFrom<ChildStdin> for std::process::Stdio {
    type Error = io::Error;

    fn try_from(p: ChildStdin) -> io::Result<std::process::Stdio> {
        p.inner.into_stdio()
    }
}

/// `ChildStdout` as another child's stdin (`Stdio::try_from`), to build a
/// pipeline: the second child reads what the first writes, with no copy
/// through this process.
///
/// - **Linux**: always possible. A readiness wait left behind by a dropped
///   read is cancelled, the pipe is made blocking again (children expect
///   that) and its fd becomes the `Stdio`. Bytes not read yet stay in the
///   pipe for the new reader.
/// - **Windows**: possible only while the pipe was never read from (or,
///   for stdin, written to) through oneport. Its first I/O associates the
///   handle with the runtime's I/O completion port, which cannot be
///   undone, and sets `FILE_SKIP_SET_EVENT_ON_HANDLE`, which would leave
///   the other child's ordinary synchronous I/O waiting forever; such a
///   pipe gives an `io::Error` of kind `Unsupported` whose message says it
///   is bound to the completion port. The handle handed over is the
///   parent's end as the standard library created it, opened for
///   overlapped I/O; children doing ordinary synchronous reads and writes
///   on it work (the system waits on the handle for each call to
///   finish), but that wait cannot tell calls apart, so a child that
///   issues several I/O calls on the handle at once, from different
///   threads, may misbehave, as with any overlapped handle used
///   synchronously.
///
/// On an error the pipe is dropped (closed), as the conversion took it.
///
/// ```no_run
/// use oneport::process::Command;
/// use std::process::Stdio;
///
/// oneport::run(async {
///     let mut a = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
///     let out = a.stdout.take().unwrap();
///     let b = Command::new("cat").stdin(Stdio::try_from(out)?).output().await?;
///     assert_eq!(b.stdout, b"hi\n");
///     a.wait().await?;
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
impl TryFrom<ChildStdout> for std::process::Stdio {
    type Error = io::Error;

    fn try_from(p: ChildStdout) -> io::Result<std::process::Stdio> {
        p.inner.into_stdio()
    }
}

/// `ChildStderr` as another child's stdin (`Stdio::try_from`), with the
/// rules of [`ChildStdout`]'s conversion.
impl TryFrom<ChildStderr> for std::process::Stdio {
    type Error = io::Error;

    fn try_from(p: ChildStderr) -> io::Result<std::process::Stdio> {
        p.inner.into_stdio()
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
