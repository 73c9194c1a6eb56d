//! `tokio::io::AsyncRead` and `tokio::io::AsyncWrite` for every oneport
//! stream (feature `tokio-io`, on by default).
//!
//! Why: much of the ecosystem is written against tokio's I/O traits rather
//! than `futures_io`'s — tonic's transports, tokio-rustls, tokio-tungstenite,
//! hyper's tokio adapters, `tokio::io::copy` and the `AsyncReadExt` family.
//! The two families say the same thing in two shapes (tokio reads into a
//! `ReadBuf` that tracks initialised memory; `futures_io` into a `&mut [u8]`
//! and calls shutdown "close"), so oneport's streams can serve both without
//! wrappers: the user passes a `TcpStream` straight to `TlsAcceptor::accept`.
//!
//! Only the trait definitions are used: the `tokio` dependency has no
//! features, so no tokio runtime, reactor or thread is pulled in, and the
//! streams stay driven by oneport's own runtime.
//!
//! Every impl here delegates to the type's `futures_io` impl, so the two
//! families share one I/O path (the same waits, the same busy and closed
//! errors):
//! - `poll_read` reads into the unfilled part of the `ReadBuf` and advances
//!   it; a `ReadBuf` with no room left is ready at once, reading nothing.
//! - `poll_shutdown` is `poll_close`: streams shut their write direction
//!   down (the peer reads end of stream), a child's stdin is closed, a
//!   named pipe is flushed.
//! - no oneport stream has a vectored write of its own, so
//!   `poll_write_vectored`/`is_write_vectored` keep tokio's defaults (the
//!   first non-empty buffer is written; callers that care see `false`).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::ReadBuf;

/// tokio's `poll_read` over a `futures_io` reader.
fn poll_read<R: futures_io::AsyncRead + ?Sized>(
    r: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if buf.remaining() == 0 {
        // tokio's contract: no room means nothing to wait for. Some
        // readers (an overlapped pipe read) would start a zero-byte
        // operation instead.
        return Poll::Ready(Ok(()));
    }
    let n = ready!(r.poll_read(cx, buf.initialize_unfilled()))?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// Implements `tokio::io::AsyncRead` for types that implement
/// `futures_io::AsyncRead`.
macro_rules! tokio_read {
    ($($t:ty),+ $(,)?) => {$(
        impl tokio::io::AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read(self, cx, buf)
            }
        }
    )+};
}

/// Implements `tokio::io::AsyncWrite` for types that implement
/// `futures_io::AsyncWrite`.
macro_rules! tokio_write {
    ($($t:ty),+ $(,)?) => {$(
        impl tokio::io::AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                futures_io::AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures_io::AsyncWrite::poll_close(self, cx)
            }
        }
    )+};
}

mod net {
    use super::*;
    use crate::net::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpStream, WriteHalf};

    tokio_read!(TcpStream, &TcpStream, ReadHalf<'_>, OwnedReadHalf);
    tokio_write!(TcpStream, &TcpStream, WriteHalf<'_>, OwnedWriteHalf);

    use crate::net::UnixStream;
    tokio_read!(UnixStream, &UnixStream);
    tokio_write!(UnixStream, &UnixStream);
}

mod process {
    use super::*;
    use crate::process::{ChildStderr, ChildStdin, ChildStdout};

    tokio_read!(ChildStdout, ChildStderr);
    tokio_write!(ChildStdin);
}

#[cfg(windows)]
mod named_pipe {
    use super::*;
    use crate::windows::named_pipe::{NamedPipeClient, NamedPipeServer};

    tokio_read!(NamedPipeServer, NamedPipeClient);
    tokio_write!(NamedPipeServer, NamedPipeClient);
}
