//! hyper's I/O traits over `futures-io`: the [`Io`] wrapper, and the same
//! traits directly on oneport's own streams.
//!
//! hyper reads into memory it has not initialised (a `ReadBufCursor`).
//! oneport's own streams receive into it directly. Other `futures-io`
//! readers take an initialised `&mut [u8]`, so for them [`Io`] zeroes the
//! part of hyper's buffer it lends out, at most [`READ_CHUNK`] bytes a
//! call, so that the cost stays bounded however large hyper's buffer
//! grows.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::hyper::rt::ReadBufCursor;
use futures_io::{AsyncRead, AsyncWrite};

/// The most one read lends to the reader (and so zeroes first).
const READ_CHUNK: usize = 64 * 1024;

/// Adapts any `futures-io` stream (a named pipe, a child's pipes, a TLS
/// stream from futures-rustls...) to hyper's
/// [`Read`](::hyper::rt::Read) and [`Write`](::hyper::rt::Write).
///
/// oneport's [`TcpStream`](crate::net::TcpStream) and `UnixStream` have
/// hyper's traits themselves and need no wrapper. `poll_shutdown` is
/// `futures-io`'s `poll_close`.
#[derive(Debug, Default)]
pub struct Io<T> {
    inner: T,
}

impl<T> Io<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Io<T> {
        Io { inner }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// Reads from `reader` into the unfilled part of hyper's buffer.
fn read_into<R: AsyncRead + ?Sized>(
    reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    mut buf: ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: we never de-initialise bytes through this slice: the part we
    // lend is first written with zeroes, and `advance` below counts only
    // bytes the reader wrote (n <= the lent length).
    let unfilled = unsafe { buf.as_mut() };
    let len = unfilled.len().min(READ_CHUNK);
    let lent = &mut unfilled[..len];
    lent.fill(MaybeUninit::new(0));
    // SAFETY: every byte of `lent` was just initialised, and
    // `MaybeUninit<u8>` has the layout of `u8`.
    let lent = unsafe { &mut *(lent as *mut [MaybeUninit<u8>] as *mut [u8]) };
    match reader.poll_read(cx, lent) {
        Poll::Ready(Ok(n)) => {
            // A reader claiming more than it was given is broken; do not
            // let it make hyper read past the lent bytes.
            if n > len {
                return Poll::Ready(Err(io::Error::other(
                    "oneport::hyper: the reader returned more bytes than it was given",
                )));
            }
            // SAFETY: the first `n` bytes of the unfilled part are
            // initialised (zeroed, then written by the reader).
            unsafe { buf.advance(n) };
            Poll::Ready(Ok(()))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

impl<T: AsyncRead + Unpin> ::hyper::rt::Read for Io<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        read_into(Pin::new(&mut self.get_mut().inner), cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> ::hyper::rt::Write for Io<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// hyper's traits on one of oneport's stream types, through its
/// `futures-io` impls.
macro_rules! hyper_io_for {
    ($t:ty) => {
        impl ::hyper::rt::Read for $t {
            /// Straight into hyper's buffer: the socket writes it, nothing
            /// zeroes it first.
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: the kernel only writes into this slice (recv), and
                // nothing through it is de-initialised.
                let unfilled = unsafe { buf.as_mut() };
                let len = unfilled.len();
                match self.sock.poll_read_uninit(cx, unfilled) {
                    Poll::Ready(Ok(n)) => {
                        debug_assert!(n <= len);
                        // SAFETY: recv initialised the first `n` bytes of
                        // the unfilled part (`n <= len`: recv never returns
                        // more than it was given).
                        unsafe { buf.advance(n.min(len)) };
                        Poll::Ready(Ok(()))
                    }
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                }
            }
        }

        impl ::hyper::rt::Write for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_close(self, cx)
            }
        }
    };
}

hyper_io_for!(crate::net::TcpStream);
hyper_io_for!(crate::net::UnixStream);
