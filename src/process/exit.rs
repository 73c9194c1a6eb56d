//! Waiting for a child to exit, from any number of tasks at once.
//!
//! The driver gives one exit signal per child (a pidfd readiness wait, a
//! wait on the process handle), and only one task should hold it at a time:
//! a pidfd has one reader slot, and one registration is cheaper than many.
//! So the waiters of a child take turns: the first to poll becomes the
//! *leader* and holds the driver wait; the others only park their wakers.
//! When the child is reaped, every waiter is woken with the status. When the
//! leader is cancelled (its future dropped), it wakes one of the others,
//! which takes over on its next poll. Cancelling any waiter therefore never
//! strands the rest.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::ExitStatus;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::sys::{process::ExitSignal, BoxedWait};

/// The shared state of one child process.
pub(crate) struct ChildInner {
    // Field order is drop order: the exit signal (a pidfd) closes before
    // the standard library's child handle.
    signal: ExitSignal,
    child: RefCell<std::process::Child>,
    status: Cell<Option<ExitStatus>>,
    waiters: RefCell<Waiters>,
    /// Set when a `Child` made with `kill_on_drop` was dropped: the last
    /// owner to let go reaps the child if nobody waited for it.
    reap_on_drop: Cell<bool>,
}

#[derive(Default)]
struct Waiters {
    parked: Slab<Option<Waker>>,
    /// The slot of the waiter that holds the driver wait, if any.
    leader: Option<usize>,
}

impl ChildInner {
    pub(crate) fn new(child: std::process::Child) -> io::Result<ChildInner> {
        Ok(ChildInner {
            signal: ExitSignal::new(&child)?,
            child: RefCell::new(child),
            status: Cell::new(None),
            waiters: RefCell::default(),
            reap_on_drop: Cell::new(false),
        })
    }

    pub(crate) fn id(&self) -> u32 {
        self.child.borrow().id()
    }

    pub(crate) fn kill(&self) -> io::Result<()> {
        if self.status.get().is_some() {
            return Ok(());
        }
        self.child.borrow_mut().kill()
    }

    /// Asks the last owner of this child to reap it (see `Drop`).
    pub(crate) fn reap_on_drop(&self) {
        self.reap_on_drop.set(true);
    }

    /// Whether the child has been reaped.
    pub(crate) fn is_reaped(&self) -> bool {
        self.status.get().is_some()
    }

    /// Reaps the child if it has exited; wakes every parked waiter then.
    pub(crate) fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        if let Some(s) = self.status.get() {
            return Ok(Some(s));
        }
        let status = self.child.borrow_mut().try_wait()?;
        if let Some(s) = status {
            self.status.set(Some(s));
            let wakers: Vec<Waker> = {
                let mut w = self.waiters.borrow_mut();
                w.leader = None;
                w.parked.iter_mut().filter_map(|(_, w)| w.take()).collect()
            };
            wakers.into_iter().for_each(Waker::wake);
        }
        Ok(status)
    }
}

impl Drop for ChildInner {
    /// A child killed on drop that nobody reaped (no runtime was left to
    /// wait for it, or the runtime dropped the reaping task) is reaped off
    /// the caller's thread, so it does not stay a zombie.
    fn drop(&mut self) {
        if !self.reap_on_drop.get() || self.status.get().is_some() {
            return;
        }
        let child = self.child.get_mut();
        let _ = child.kill();
        if let Ok(None) = child.try_wait() {
            crate::sys::process::reap_later(child.id());
        }
    }
}

/// One task's wait for the exit of a child.
pub(crate) struct ExitWait {
    inner: Rc<ChildInner>,
    slot: Option<usize>,
    /// The driver wait, held only while this waiter leads.
    os: Option<BoxedWait>,
}

impl ExitWait {
    pub(crate) fn new(inner: Rc<ChildInner>) -> ExitWait {
        ExitWait {
            inner,
            slot: None,
            os: None,
        }
    }

    /// Leaves the waiter set. If nobody leads afterwards, one parked waiter
    /// is woken to take the driver wait over.
    fn leave(&mut self) {
        self.os = None;
        let Some(slot) = self.slot.take() else {
            return;
        };
        let next = {
            let mut w = self.inner.waiters.borrow_mut();
            w.parked.remove(slot);
            match w.leader {
                Some(l) if l != slot => return,
                // We led, or leadership was handed to us by a waker and we
                // were dropped before taking it up: hand it on.
                _ => w.leader = None,
            }
            w.parked.iter_mut().find_map(|(_, w)| w.take())
        };
        if let Some(next) = next {
            next.wake();
        }
    }
}

impl Future for ExitWait {
    type Output = io::Result<ExitStatus>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            if let Some(s) = this.inner.status.get() {
                this.leave();
                return Poll::Ready(Ok(s));
            }
            let leads = {
                let mut w = this.inner.waiters.borrow_mut();
                let slot = match this.slot {
                    Some(s) => {
                        w.parked[s] = Some(cx.waker().clone());
                        s
                    }
                    None => {
                        let s = w.parked.insert(Some(cx.waker().clone()));
                        this.slot = Some(s);
                        s
                    }
                };
                match w.leader {
                    None => {
                        w.leader = Some(slot);
                        true
                    }
                    Some(l) => l == slot,
                }
            };
            if !leads {
                return Poll::Pending;
            }
            // Leading: check first (the child may be gone already), then
            // hold the driver's exit signal.
            match this.inner.try_wait() {
                Ok(Some(s)) => {
                    this.leave();
                    return Poll::Ready(Ok(s));
                }
                Ok(None) => {}
                Err(e) => {
                    this.leave();
                    return Poll::Ready(Err(e));
                }
            }
            let os = this.os.get_or_insert_with(|| this.inner.signal.wait());
            match os.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                // Signalled: loop to reap (and wait again if it was early).
                Poll::Ready(Ok(())) => this.os = None,
                Poll::Ready(Err(e)) => {
                    this.leave();
                    return Poll::Ready(Err(e));
                }
            }
        }
    }
}

impl Drop for ExitWait {
    fn drop(&mut self) {
        self.leave();
    }
}
