//! The readiness-driven I/O of a connected byte stream, written once for
//! every kind of stream socket (TCP, Unix).
//!
//! A stream is a nonblocking socket plus one [`PollSlot`] per direction for
//! the poll-based `futures_io` traits. Reads and writes — `async fn`s and
//! polls alike — go through here, so a TCP and a Unix stream wait, release
//! abandoned waits and report busy or closed exactly the same way; the
//! public types add only what is specific to their address family.

use std::cell::Cell;
use std::io::{self, Read, Write};
#[cfg(feature = "hyper")]
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::task::{Context, Poll};

use super::readiness::{retry, AsRawSock, Closing, PollSlot};
use crate::lowlevel::{self, Interest};

/// A nonblocking stream socket `S` and the waits of its two directions.
#[derive(Debug)]
pub(crate) struct StreamIo<S: AsRawSock> {
    // Declared first so their waits are cancelled before the socket closes.
    read_slot: PollSlot,
    write_slot: PollSlot,
    /// The last read returned less than it was asked for: the receive
    /// queue was empty when it returned, so the next read waits first
    /// instead of making a call that would only say `WouldBlock`. Only a
    /// hint: waits check the socket's state when they are armed, so a
    /// byte that arrived meanwhile ends the wait at once.
    drained: Cell<bool>,
    sock: Closing<S>,
}

impl<S: AsRawSock> Deref for StreamIo<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.sock
    }
}

fn is_would_block<T>(r: &io::Result<T>) -> bool {
    matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

impl<S: AsRawSock> StreamIo<S>
where
    for<'a> &'a S: Read + Write,
{
    /// Wraps a socket already in nonblocking mode.
    pub(crate) fn new(sock: S) -> Self {
        StreamIo {
            read_slot: PollSlot::default(),
            write_slot: PollSlot::default(),
            drained: Cell::new(false),
            sock: Closing::new(sock),
        }
    }

    /// Gives the socket back without closing it.
    pub(crate) fn into_inner(self) -> S {
        let StreamIo {
            read_slot,
            write_slot,
            sock,
            ..
        } = self;
        drop((read_slot, write_slot));
        sock.into_inner()
    }

    /// Runs a receive-side `op` until it does not say `WouldBlock`.
    ///
    /// An `async fn` that has to wait first releases the poll-based read
    /// slot, so a `poll_read` abandoned half-way never makes this wait look
    /// like a second reader.
    pub(crate) async fn read_with<T>(
        &self,
        mut op: impl FnMut(&S) -> io::Result<T>,
    ) -> io::Result<T> {
        retry(self.sock.raw_sock(), Interest::Read, || {
            let r = op(&self.sock);
            if is_would_block(&r) {
                self.read_slot.release();
            }
            r
        })
        .await
    }

    /// [`read_with`](StreamIo::read_with) for the send side.
    pub(crate) async fn write_with<T>(
        &self,
        mut op: impl FnMut(&S) -> io::Result<T>,
    ) -> io::Result<T> {
        retry(self.sock.raw_sock(), Interest::Write, || {
            let r = op(&self.sock);
            if is_would_block(&r) {
                self.write_slot.release();
            }
            r
        })
        .await
    }

    /// Finishes a nonblocking `connect` whose first call returned
    /// `started`: waits until the socket is writable, then reports the
    /// connect's error (`take_error`) or checks that it has a peer
    /// (`peer`, which says `NotConnected` while still connecting).
    pub(crate) async fn finish_connect<A>(
        &self,
        started: io::Result<()>,
        take_error: impl Fn(&S) -> io::Result<Option<io::Error>>,
        peer: impl Fn(&S) -> io::Result<A>,
    ) -> io::Result<()> {
        match started {
            Ok(()) => return Ok(()),
            Err(e) if crate::sys::connect_in_progress(&e) => {}
            Err(e) => return Err(e),
        }
        let raw = self.sock.raw_sock();
        loop {
            lowlevel::wait_writable(raw).await?;
            if let Some(e) = take_error(&self.sock)? {
                return Err(e);
            }
            // Writable with no error means connected; a socket still
            // connecting has no peer yet, so wait again.
            match peer(&self.sock) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Notes whether a read of `asked` bytes drained the receive queue.
    fn note_read(&self, r: &io::Result<usize>, asked: usize) {
        self.drained.set(matches!(r, Ok(n) if *n > 0 && *n < asked));
    }

    /// Reads into `buf`, waiting until at least one byte (or end of stream).
    /// An empty `buf` reads nothing and returns 0 at once (a zero-length
    /// receive on a stream socket would wait for data on some systems).
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.drained.replace(false) {
            self.read_slot.release();
            lowlevel::wait_readable(self.sock.raw_sock()).await?;
        }
        let asked = buf.len();
        let r = self.read_with(|mut s| s.read(buf)).await;
        self.note_read(&r, asked);
        r
    }

    /// Writes some of `buf`, waiting until the socket takes at least one byte.
    pub(crate) async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|mut s| s.write(buf)).await
    }

    /// Writes all of `buf`.
    pub(crate) async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Waits until readable, reading nothing.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        // A poll-based read abandoned half-way still holds its wait in the
        // slot; it would make this wait look like a second reader.
        self.read_slot.release();
        lowlevel::wait_readable(self.sock.raw_sock()).await
    }

    /// Waits until writable, writing nothing.
    pub(crate) async fn writable(&self) -> io::Result<()> {
        self.write_slot.release();
        lowlevel::wait_writable(self.sock.raw_sock()).await
    }

    /// Reads what is there now; `WouldBlock` if nothing is.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.sock).read(buf)
    }

    /// Writes what the socket takes now; `WouldBlock` if nothing.
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self.sock).write(buf)
    }

    /// `AsyncRead::poll_read`, parking in the read slot.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let asked = buf.len();
        self.poll_read_with(cx, asked, || (&*self.sock).read(buf))
    }

    /// [`poll_read`](StreamIo::poll_read) into memory that need not be
    /// initialised (hyper's read buffers): the kernel writes it, nothing
    /// zeroes it first. On `Ok(n)`, the first `n` bytes of `buf` are
    /// initialised.
    #[cfg(feature = "hyper")]
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>
    where
        for<'a> socket2::SockRef<'a>: From<&'a S>,
    {
        let asked = buf.len();
        self.poll_read_with(cx, asked, || socket2::SockRef::from(&*self.sock).recv(buf))
    }

    /// The read loop of both poll forms: `op` reads at most `asked` bytes.
    fn poll_read_with(
        &self,
        cx: &mut Context<'_>,
        asked: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        if asked == 0 {
            return Poll::Ready(Ok(0));
        }
        let raw = self.sock.raw_sock();
        let wait_first = self.drained.get();
        let r = self
            .read_slot
            .poll_io_after(raw, Interest::Read, cx, wait_first, op);
        if let Poll::Ready(r) = &r {
            self.note_read(r, asked);
        } else {
            // Parked: the wait's end says there is something to read.
            self.drained.set(false);
        }
        r
    }

    /// `AsyncWrite::poll_write`, parking in the write slot.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let raw = self.sock.raw_sock();
        self.write_slot
            .poll_io(raw, Interest::Write, cx, || (&*self.sock).write(buf))
    }
}

/// Implements `futures_io::AsyncRead` + `AsyncWrite` for a stream type and
/// for references to it. The type's `sock` field is a [`StreamIo`]; its
/// `shutdown(Shutdown)` method closes the write direction on `poll_close`.
macro_rules! impl_async_io {
    ($t:ty) => {
        impl futures_io::AsyncRead for &$t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.sock.poll_read(cx, buf)
            }
        }

        impl futures_io::AsyncWrite for &$t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.sock.poll_write(cx, buf)
            }

            /// Data is handed to the kernel on every write: nothing to flush.
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            /// Shuts down the write direction: the peer reads end of stream.
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.shutdown(std::net::Shutdown::Write))
            }
        }

        impl futures_io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.sock.poll_read(cx, buf)
            }
        }

        impl futures_io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.sock.poll_write(cx, buf)
            }

            /// Data is handed to the kernel on every write: nothing to flush.
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            /// Shuts down the write direction: the peer reads end of stream.
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.shutdown(std::net::Shutdown::Write))
            }
        }
    };
}
pub(crate) use impl_async_io;
