//! `read_at`, `write_at` and `sync` as io_uring operations, ordered by the
//! file's fence when given up in flight.
//!
//! This is the one place above `driver/` that names the ring: files are the
//! only users of its owned operations, and the fence rule (a call given up
//! while it ran finishes before the file's next call) is theirs.

use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use io_uring::{opcode, types};

use crate::buf::{self, IoBuf, IoBufMut};
use crate::driver::uring::{Op, Ring};
use crate::runtime::fence::{Fence, FireOnDrop, Signal};

/// The most one read or write asks for (Linux's own cap per call).
const MAX_RW: usize = 0x7fff_f000;

/// The current runtime's file ring, if it has one.
pub(super) fn current() -> Option<Rc<Ring>> {
    crate::runtime::try_current().and_then(|rt| rt.driver().file_ring().cloned())
}

/// What the kernel may touch while an operation runs: the buffer, and the
/// file (so its fd stays open and is never reused under the operation).
/// `done` is set when the operation is given up while running: it fires
/// the fence's signal when the ring frees this, after the completion.
struct Held<B> {
    buf: B,
    _file: Arc<std::fs::File>,
    done: Option<FireOnDrop>,
}

/// An [`Op`] that, dropped while the kernel runs it, leaves a signal in
/// the file's fence (fired by its completion).
struct Fenced<'a, B: 'static> {
    op: Op<Held<B>>,
    fence: &'a Arc<Fence>,
}

impl<B: 'static> Future for Fenced<'_, B> {
    type Output = (i32, Held<B>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.op).poll(cx)
    }
}

impl<B: 'static> Drop for Fenced<'_, B> {
    fn drop(&mut self) {
        if self.op.is_running() {
            let done = FireOnDrop(Signal::new());
            self.fence.push(done.0.clone());
            if let Some(h) = self.op.keep_mut() {
                h.done = Some(done);
            }
        }
    }
}

/// Runs `sqe` holding `buf` and `file`; the result as an `io::Result`.
///
/// # Safety
/// Every pointer in `sqe` must point into `buf`'s stable heap memory, and
/// its fd must be `file`'s.
async unsafe fn run<B: 'static>(
    ring: Rc<Ring>,
    fence: &Arc<Fence>,
    sqe: io_uring::squeue::Entry,
    buf: B,
    file: &Arc<std::fs::File>,
) -> (io::Result<usize>, B) {
    let held = Held {
        buf,
        _file: file.clone(),
        done: None,
    };
    // SAFETY: forwarded from the caller; `held` owns the buffer and the file.
    let op = unsafe { Op::new(ring, sqe, held) };
    let (r, held) = Fenced { op, fence }.await;
    let res = if r < 0 {
        Err(io::Error::from_raw_os_error(-r))
    } else {
        Ok(r as usize)
    };
    (res, held.buf)
}

pub(super) async fn read_at<B: IoBufMut>(
    ring: Rc<Ring>,
    file: &Arc<std::fs::File>,
    fence: &Arc<Fence>,
    mut buf: B,
    pos: u64,
) -> (io::Result<usize>, B) {
    let (ptr, room) = buf::spare(&mut buf);
    let len = room.min(MAX_RW) as u32;
    let sqe = opcode::Read::new(types::Fd(file.as_raw_fd()), ptr, len)
        .offset(pos)
        .build();
    // SAFETY: `ptr` is `buf`'s spare capacity, valid for `len` bytes and
    // stable while `buf` moves (IoBufMut); the fd is `file`'s.
    let (res, mut buf) = unsafe { run(ring, fence, sqe, buf, file) }.await;
    if let Ok(n) = res {
        // SAFETY: the kernel wrote `n <= len` bytes into the spare capacity.
        unsafe { buf::advance(&mut buf, n) };
    }
    (res, buf)
}

pub(super) async fn write_at<B: IoBuf>(
    ring: Rc<Ring>,
    file: &Arc<std::fs::File>,
    fence: &Arc<Fence>,
    buf: B,
    pos: u64,
) -> (io::Result<usize>, B) {
    let len = buf.bytes_init().min(MAX_RW) as u32;
    let sqe = opcode::Write::new(types::Fd(file.as_raw_fd()), buf.stable_ptr(), len)
        .offset(pos)
        .build();
    // SAFETY: `stable_ptr` has `len` initialised bytes and stays put while
    // `buf` moves (IoBuf); the fd is `file`'s.
    unsafe { run(ring, fence, sqe, buf, file) }.await
}

pub(super) async fn sync(
    ring: Rc<Ring>,
    file: &Arc<std::fs::File>,
    fence: &Arc<Fence>,
    data_only: bool,
) -> io::Result<()> {
    let mut op = opcode::Fsync::new(types::Fd(file.as_raw_fd()));
    if data_only {
        op = op.flags(types::FsyncFlags::DATASYNC);
    }
    // SAFETY: no memory is passed; the fd is `file`'s.
    unsafe { run(ring, fence, op.build(), (), file) }
        .await
        .0
        .map(drop)
}
