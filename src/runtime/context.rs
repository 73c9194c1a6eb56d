//! Which runtime the current thread is running, if any.
//!
//! `spawn`, the timers and every `lowlevel` wait find their runtime here
//! rather than taking it as an argument, so user code never threads a handle
//! through. The slot is filled only while `block_on` runs.

use std::cell::RefCell;
use std::rc::Rc;

use super::Inner;

thread_local! {
    static CURRENT: RefCell<Option<Rc<Inner>>> = const { RefCell::new(None) };
}

/// The runtime running on this thread; panics with `what` named otherwise.
pub(crate) fn current(what: &str) -> Rc<Inner> {
    CURRENT.with(|c| c.borrow().clone()).unwrap_or_else(|| {
        panic!(
            "{what} must be called from inside a oneport runtime \
             (within Runtime::block_on or oneport::run), but this thread is not running one"
        )
    })
}

/// The runtime running on this thread, if any (for work that is optional
/// outside a runtime, such as telling waiters a socket is closing on drop).
pub(crate) fn try_current() -> Option<Rc<Inner>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Marks `inner` as this thread's runtime until the guard drops.
pub(crate) fn enter(inner: &Rc<Inner>) -> EnterGuard {
    CURRENT.with(|c| {
        let mut slot = c.borrow_mut();
        if slot.is_some() {
            panic!(
                "Runtime::block_on called while this thread is already running a oneport \
                 runtime: nested block_on would stall the outer runtime; spawn the future \
                 or .await it instead"
            );
        }
        *slot = Some(inner.clone());
    });
    EnterGuard(())
}

/// Makes `inner` this thread's runtime while it is being dropped, whatever
/// runtime (if any) was current, and puts that one back when the guard
/// drops. A runtime may be dropped inside another's `block_on`.
pub(crate) fn enter_teardown(inner: &Rc<Inner>) -> TeardownGuard {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(inner.clone()));
    TeardownGuard(previous)
}

/// Restores the runtime that was current before a teardown.
pub(crate) struct TeardownGuard(Option<Rc<Inner>>);

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        let ours = CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), previous));
        drop(ours);
    }
}

/// Clears the thread's runtime slot on drop (also when `block_on` unwinds).
pub(crate) struct EnterGuard(());

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let old = CURRENT.with(|c| c.borrow_mut().take());
        drop(old);
    }
}
