//! `wait_for_object`: wait until a Windows kernel object is signalled.
//!
//! A process handle is signalled when the process exits, an event when it
//! is set, and so on. The wait costs no thread of oneport's own: the
//! signal arrives as a packet on the runtime's completion port (see the
//! driver's `wait` module for how).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::RawHandle;
use crate::driver::windows::{Started, WaitId};
use crate::runtime::{self, Inner};

/// Waits until `handle` is signalled (a process exited, an event was set,
/// ...). Returns at once if it already is.
///
/// The handle must stay open while the wait is pending. An invalid handle
/// gives the OS error (`ERROR_INVALID_HANDLE`). Dropping the future cancels
/// the wait: once `drop` returns nothing of it remains, and a signal that
/// races with the drop is discarded (counted in
/// `Statistics::object_wait_packets_discarded`).
///
/// Like any wait, this consumes the signal of an auto-reset event or takes
/// ownership of a mutex.
///
/// # Panics
/// When polled outside a oneport runtime.
pub async fn wait_for_object(handle: RawHandle) -> io::Result<()> {
    ObjectWait {
        handle,
        state: None,
    }
    .await
}

struct ObjectWait {
    handle: RawHandle,
    state: Option<(Rc<Inner>, WaitId)>,
}

impl Future for ObjectWait {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.state {
            None => {
                let rt = runtime::current("oneport::lowlevel::wait_for_object");
                match rt.driver().start_object_wait(self.handle, cx.waker())? {
                    Started::Signalled => Poll::Ready(Ok(())),
                    Started::Waiting(id) => {
                        self.state = Some((rt, id));
                        Poll::Pending
                    }
                }
            }
            Some((rt, id)) => match rt.driver().poll_object_wait(*id, cx.waker()) {
                Poll::Ready(()) => {
                    self.state = None;
                    Poll::Ready(Ok(()))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl Drop for ObjectWait {
    fn drop(&mut self) {
        if let Some((rt, id)) = self.state.take() {
            rt.driver().cancel_object_wait(id);
        }
    }
}
