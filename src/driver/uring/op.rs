//! The future of one ring operation.
//!
//! An [`Op`] holds what the kernel may touch (`K`: the buffer, the file
//! that keeps the fd open) for as long as the operation can run. Awaited to
//! the end, it gives `K` back with the kernel's result. Dropped early, it
//! gives `K` to the ring's record instead, which keeps it until the
//! operation's completion arrives (see the module docs of `uring`).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use io_uring::squeue;

use super::Ring;

/// One operation on `ring`, holding `K` while the kernel may use it.
pub(crate) struct Op<K: 'static> {
    ring: Rc<Ring>,
    key: usize,
    /// `None` once the result was taken.
    keep: Option<K>,
}

impl<K: 'static> Op<K> {
    /// Queues `sqe` on `ring` for its next flush.
    ///
    /// # Safety
    /// Every pointer and fd in `sqe` must stay valid for as long as `keep`
    /// lives: `keep` owns them (a heap buffer that does not move when
    /// `keep` moves, an `Arc` of the file).
    pub(crate) unsafe fn new(ring: Rc<Ring>, sqe: squeue::Entry, keep: K) -> Op<K> {
        let key = ring.submit(sqe);
        Op {
            ring,
            key,
            keep: Some(keep),
        }
    }

    /// Whether the operation reached the kernel and has not completed:
    /// dropping it now leaves it running until its completion.
    pub(crate) fn is_running(&self) -> bool {
        self.keep.is_some() && self.ring.is_running(self.key)
    }

    /// What the operation keeps alive (to add to it before a drop).
    pub(crate) fn keep_mut(&mut self) -> Option<&mut K> {
        self.keep.as_mut()
    }
}

impl<K: 'static> Unpin for Op<K> {}

impl<K: 'static> Future for Op<K> {
    /// The kernel's result (a count, or a negated errno) and `K`.
    type Output = (i32, K);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(i32, K)> {
        assert!(
            self.keep.is_some(),
            "oneport: a ring operation was polled after it completed"
        );
        if self.ring.is_closed() {
            // Its runtime is gone: nothing drives the ring any more, so
            // look for the completion here.
            self.ring.flush(false);
            self.ring.on_eventfd();
            let (mut wake, mut free) = (Vec::new(), Vec::new());
            self.ring.reap(&mut wake, &mut free);
            drop(free);
            super::super::wake_all_or_resume(wake);
        }
        let r = std::task::ready!(self.ring.poll(self.key, cx.waker()));
        let keep = self.keep.take().expect("checked above");
        Poll::Ready((r, keep))
    }
}

impl<K: 'static> Drop for Op<K> {
    fn drop(&mut self) {
        if let Some(keep) = self.keep.take() {
            // Dropped here (outside the ring's borrow) when the kernel has
            // nothing of it; otherwise the record owns it now.
            drop(self.ring.abandon(self.key, Box::new(keep)));
        }
    }
}
