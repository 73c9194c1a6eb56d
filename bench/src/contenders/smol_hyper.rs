//! hyper on smol: a small adapter from `Async<TcpStream>` to hyper's I/O
//! traits, and a hyper timer on smol's timers.
//!
//! Reads go straight into hyper's unfilled buffer (socket2's `recv`
//! takes uninitialised memory), trying the socket first and waiting for
//! readiness only when it would block, which is what smol's own
//! `poll_read` does; writes are smol's.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::net::TcpStream;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::ReadBufCursor;
use smol::io::AsyncWrite;
use smol::Async;

/// A smol TCP stream with hyper's `Read` and `Write`.
pub struct SmolIo(pub Async<TcpStream>);

impl hyper::rt::Read for SmolIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            // SAFETY: `recv` only writes into the slice (never
            // de-initialises it), and only the `n` bytes it reports
            // written are advanced over below.
            let unfilled: &mut [MaybeUninit<u8>] = unsafe { buf.as_mut() };
            match socket2::SockRef::from(this.0.get_ref()).recv(unfilled) {
                Ok(n) => {
                    // SAFETY: `recv` initialised the first `n` bytes.
                    unsafe { buf.advance(n) };
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(this.0.poll_readable(cx))?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl hyper::rt::Write for SmolIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}

/// hyper's timer on smol's (async-io's) timers.
#[derive(Clone, Copy, Debug)]
pub struct SmolTimer;

/// A smol timer as hyper's `Sleep` (which must yield `()`).
struct SmolSleep(smol::Timer);

impl Future for SmolSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx).map(|_| ())
    }
}

impl hyper::rt::Sleep for SmolSleep {}

impl hyper::rt::Timer for SmolTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(SmolSleep(smol::Timer::after(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(SmolSleep(smol::Timer::at(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<SmolSleep>() {
            Some(ours) => ours.get_mut().0.set_at(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
