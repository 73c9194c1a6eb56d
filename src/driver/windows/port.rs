//! The completion port itself: creation, the blocking dequeue, posting.
//!
//! One `GetQueuedCompletionStatusEx` call fetches up to 1000 packets into a
//! buffer the driver keeps; `process_events` then dispatches them by key.
//! The port handle is shared with the thread-safe wakers through a lock, so
//! dropping the runtime really closes the port even while some `WakeHandle`
//! lives on in another thread (a wake after that is a no-op).

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, HANDLE, INVALID_HANDLE_VALUE, WAIT_TIMEOUT,
};
use windows_sys::Win32::System::Threading::INFINITE;
#[cfg(test)]
use windows_sys::Win32::System::IO::OVERLAPPED;
use windows_sys::Win32::System::IO::{
    CreateIoCompletionPort, GetQueuedCompletionStatusEx, PostQueuedCompletionStatus,
    OVERLAPPED_ENTRY,
};

use super::keys::KEY_WAKEUP;

/// Packets fetched per `GetQueuedCompletionStatusEx`.
pub(crate) const MAX_ENTRIES: usize = 1000;

/// A completion-port handle that may cross threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PortHandle(pub(crate) HANDLE);

// SAFETY: a completion port is a kernel object; its handle may be used from
// any thread (posting and dequeuing are thread-safe by design).
unsafe impl Send for PortHandle {}
// SAFETY: as above.
unsafe impl Sync for PortHandle {}

/// The port, open until the driver drops it.
pub(crate) struct Port {
    shared: Arc<PortShared>,
    wakeups_received: Cell<u64>,
}

struct PortShared {
    /// `None` once the runtime closed the port.
    handle: RwLock<Option<PortHandle>>,
    /// A wakeup packet is queued and not yet dequeued.
    wakeup_pending: AtomicBool,
}

/// Wakes a blocked `GetQueuedCompletionStatusEx` from any thread.
#[derive(Clone)]
pub(crate) struct DriverWaker(Arc<PortShared>);

impl crate::driver::ForceWakeup for DriverWaker {
    /// Posts one wakeup packet unless one is already queued.
    fn force_wakeup(&self) {
        self.0.wake_with(|h| {
            // SAFETY: the caller holds the read lock, which keeps the port
            // open for the call; a null OVERLAPPED is allowed for posted
            // packets.
            unsafe { PostQueuedCompletionStatus(h, 0, KEY_WAKEUP, std::ptr::null()) != 0 }
        });
    }
}

impl PortShared {
    /// Posts a wakeup with `post` unless one is already queued. A post that
    /// fails (the system is out of memory for packets, say) leaves no packet
    /// behind, so the pending flag is cleared again: otherwise every later
    /// wake would think a packet is on its way and none would ever post.
    fn wake_with(&self, post: impl FnOnce(HANDLE) -> bool) {
        if self.wakeup_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let guard = self.handle.read().unwrap_or_else(|e| e.into_inner());
        let posted = match *guard {
            Some(h) => post(h.0),
            None => false, // the runtime is gone: nothing to wake
        };
        if !posted {
            self.wakeup_pending.store(false, Ordering::Release);
        }
    }
}

impl Port {
    /// `CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0)`.
    pub(crate) fn new() -> io::Result<Port> {
        // SAFETY: creating a fresh port has no preconditions.
        let h = unsafe { CreateIoCompletionPort(INVALID_HANDLE_VALUE, std::ptr::null_mut(), 0, 0) };
        if h.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(Port {
            shared: Arc::new(PortShared {
                handle: RwLock::new(Some(PortHandle(h))),
                wakeup_pending: AtomicBool::new(false),
            }),
            wakeups_received: Cell::new(0),
        })
    }

    pub(crate) fn handle(&self) -> HANDLE {
        self.shared
            .handle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .expect("oneport: completion port used after close")
            .0
    }

    pub(crate) fn waker(&self) -> DriverWaker {
        DriverWaker(self.shared.clone())
    }

    /// Called when a wakeup packet is dequeued: later wakes post again.
    pub(crate) fn wakeup_dequeued(&self) {
        self.shared.wakeup_pending.store(false, Ordering::Release);
        self.wakeups_received.set(self.wakeups_received.get() + 1);
    }

    /// Wakeup packets dequeued so far.
    pub(crate) fn wakeups_received(&self) -> u64 {
        self.wakeups_received.get()
    }

    /// Posts a packet with `key`, `bytes` and `overlapped`.
    #[cfg(test)]
    pub(crate) fn post(
        &self,
        key: usize,
        bytes: u32,
        overlapped: *const OVERLAPPED,
    ) -> io::Result<()> {
        // SAFETY: the port is open (we hold it); the kernel copies the three
        // values and never dereferences `overlapped`.
        if unsafe { PostQueuedCompletionStatus(self.handle(), bytes, key, overlapped) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One `GetQueuedCompletionStatusEx` into `entries` (cleared first).
    /// Returns the number of packets; 0 on timeout. Any other failure is a
    /// bug in oneport and panics.
    pub(crate) fn get_events(
        &self,
        timeout: Option<Duration>,
        entries: &mut Vec<OVERLAPPED_ENTRY>,
    ) -> usize {
        let ms = timeout_ms(timeout);
        entries.clear();
        let mut removed = 0u32;
        // SAFETY: `entries` has capacity for MAX_ENTRIES; the kernel fills
        // at most `removed` of them, and we set the length to that.
        let ok = unsafe {
            GetQueuedCompletionStatusEx(
                self.handle(),
                entries.as_mut_ptr(),
                MAX_ENTRIES as u32,
                &mut removed,
                ms,
                0,
            )
        };
        if ok == 0 {
            // SAFETY: reads this thread's last-error value.
            let code = unsafe { GetLastError() };
            if code == WAIT_TIMEOUT {
                return 0;
            }
            panic!(
                "oneport: GetQueuedCompletionStatusEx failed: {}",
                io::Error::from_raw_os_error(code as i32)
            );
        }
        // SAFETY: the kernel initialised `removed` entries.
        unsafe { entries.set_len(removed as usize) };
        removed as usize
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        let h = self
            .shared
            .handle
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = h {
            // SAFETY: we created the handle and nobody can use it any more:
            // wakers see `None` from now on.
            unsafe { CloseHandle(h.0) };
        }
    }
}

/// How long a dropping driver waits for the packets of operations it still
/// owns (WINDOWS.md rule 29) before it leaks their memory instead.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Dequeues packets from `port` for at most [`DRAIN_LIMIT`], handing each
/// batch to `on_batch`, until it returns `false` (nothing more awaited), the
/// time runs out, or the port fails. `on_batch` is first called with no
/// packets, to ask whether anything is awaited at all.
///
/// Only for a driver that is dropping: it takes back memory the kernel may
/// still write, while the port is still open.
pub(crate) fn drain(port: HANDLE, mut on_batch: impl FnMut(&[OVERLAPPED_ENTRY]) -> bool) {
    if !on_batch(&[]) {
        return;
    }
    let deadline = Instant::now() + DRAIN_LIMIT;
    let mut entries = vec![OVERLAPPED_ENTRY::default(); 64];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let mut n = 0u32;
        // SAFETY: the caller's port is open; `entries` has room for the
        // count given and we read only the `n` entries the kernel filled.
        let ok = unsafe {
            GetQueuedCompletionStatusEx(
                port,
                entries.as_mut_ptr(),
                entries.len() as u32,
                &mut n,
                timeout_ms(Some(left)),
                0,
            )
        };
        if ok == 0 {
            // SAFETY: reads this thread's last-error value.
            if unsafe { GetLastError() } != WAIT_TIMEOUT {
                return; // the port is unusable: the caller leaks what is left
            }
            continue; // the deadline check ends the loop
        }
        if !on_batch(&entries[..n as usize]) {
            return;
        }
    }
}

/// WINDOWS.md rule 3: milliseconds, rounded up (see
/// [`crate::driver::timeout_ms`]), with `None` as `INFINITE` and every
/// finite timeout below it.
pub(crate) fn timeout_ms(timeout: Option<Duration>) -> u32 {
    crate::driver::timeout_ms(timeout)
        .map_or(INFINITE, |ms| ms.min(u128::from(INFINITE - 1)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_wakeup_post_does_not_silence_later_wakes() {
        let port = Port::new().unwrap();
        let calls = std::cell::Cell::new(0);
        port.shared.wake_with(|_| {
            calls.set(calls.get() + 1);
            false // the post failed
        });
        port.shared.wake_with(|_| {
            calls.set(calls.get() + 1);
            true
        });
        assert_eq!(calls.get(), 2, "the wake after a failed post posted again");
        // That one succeeded: a third wake collapses into it.
        port.shared.wake_with(|_| panic!("posted twice"));
    }

    #[test]
    fn timeouts_round_up_and_never_become_infinite() {
        assert_eq!(timeout_ms(None), INFINITE);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_nanos(1))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_micros(1500))), 2);
        assert_eq!(timeout_ms(Some(Duration::from_millis(50))), 50);
        assert_eq!(
            timeout_ms(Some(Duration::from_secs(u64::MAX))),
            INFINITE - 1
        );
    }
}
