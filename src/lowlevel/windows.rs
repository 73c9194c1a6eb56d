//! The Windows-only part of `lowlevel`: raw access to the completion port.
//!
//! These exist because the port is the one place every Windows event can
//! arrive: foreign code (job objects, other libraries' overlapped I/O) can
//! post to it under a key of its own and a task can wait for those packets,
//! with no thread in between.

use std::rc::Rc;
use std::task::Poll;

use crate::runtime::{self, Inner};

/// A Windows `HANDLE` as the standard library names it.
pub type RawHandle = std::os::windows::io::RawHandle;

/// The current runtime's I/O completion port.
///
/// Foreign code may associate handles with it under a key from
/// [`monitor_completion_key`] or post packets to it. It stays owned by the
/// runtime: do not close it.
///
/// # Panics
/// When called outside a oneport runtime.
pub fn current_iocp() -> RawHandle {
    runtime::current("oneport::lowlevel::current_iocp")
        .driver()
        .port_handle()
}

pub use crate::driver::windows::CompletionKeyEventInfo;

/// Receives every completion packet posted to the port under its key.
///
/// Obtain one with [`monitor_completion_key`]. Packets queue up in arrival
/// order until [`next`](CompletionKeyMonitor::next) takes them. Dropping the
/// monitor retires its key for good: later packets with it are discarded and
/// counted in `Statistics::completion_key_packets_discarded`.
pub struct CompletionKeyMonitor {
    rt: Rc<Inner>,
    key: usize,
}

/// Hands out a fresh completion key (never one used before on this port)
/// and a monitor that receives the packets carrying it.
///
/// # Panics
/// When called outside a oneport runtime.
pub fn monitor_completion_key() -> CompletionKeyMonitor {
    let rt = runtime::current("oneport::lowlevel::monitor_completion_key");
    let key = rt.driver().create_monitor();
    CompletionKeyMonitor { rt, key }
}

impl CompletionKeyMonitor {
    /// The completion key to use with `CreateIoCompletionPort`,
    /// `PostQueuedCompletionStatus` or a job object's port association.
    pub fn key(&self) -> usize {
        self.key
    }

    /// The next packet for this key, in arrival order.
    pub async fn next(&mut self) -> CompletionKeyEventInfo {
        std::future::poll_fn(|cx| self.rt.driver().poll_monitor(self.key, cx.waker())).await
    }

    /// A packet already received, without waiting.
    pub fn try_next(&mut self) -> Option<CompletionKeyEventInfo> {
        match self
            .rt
            .driver()
            .poll_monitor(self.key, std::task::Waker::noop())
        {
            Poll::Ready(info) => Some(info),
            Poll::Pending => None,
        }
    }
}

impl std::fmt::Debug for CompletionKeyMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionKeyMonitor")
            .field("key", &self.key)
            .finish()
    }
}

impl Drop for CompletionKeyMonitor {
    fn drop(&mut self) {
        self.rt.driver().remove_monitor(self.key);
    }
}
