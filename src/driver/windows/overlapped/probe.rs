//! Asking the port whether a call that reported failure queued a packet
//! anyway (the module docs of `overlapped` say why the return value cannot
//! tell), and handing the packets dequeued on the way to the run loop.

use std::io;

use windows_sys::Win32::Foundation::{GetLastError, WAIT_TIMEOUT};
use windows_sys::Win32::System::IO::{
    GetQueuedCompletionStatusEx, PostQueuedCompletionStatus, OVERLAPPED, OVERLAPPED_ENTRY,
};

use super::super::keys::{KEY_LATE_CANCEL, KEY_OVERLAPPED};
use super::Overlapped;

impl Overlapped {
    /// After a failed call on `ptr`: posts a probe naming it and dequeues
    /// up to the probe, without waiting. Returns the operation's own packet
    /// if the call had queued one; every other packet is stashed in order.
    pub(super) fn probe(&self, ptr: *mut OVERLAPPED) -> Option<OVERLAPPED_ENTRY> {
        // SAFETY: posting copies three values; the pointer is never
        // dereferenced by the kernel.
        if unsafe { PostQueuedCompletionStatus(self.port, 0, KEY_LATE_CANCEL, ptr) } == 0 {
            // Without the probe the driver cannot know whether a packet will
            // name the block: neither freeing it nor waiting is safe.
            panic!(
                "oneport: could not post to the runtime's own completion port: {}",
                io::Error::last_os_error()
            );
        }
        let mut own = None;
        let mut batch = [OVERLAPPED_ENTRY::default(); 64];
        let mut stash = self.stash.borrow_mut();
        loop {
            let mut n = 0u32;
            // SAFETY: `batch` has room for its length; non-alertable, no wait.
            let ok = unsafe {
                GetQueuedCompletionStatusEx(
                    self.port,
                    batch.as_mut_ptr(),
                    batch.len() as u32,
                    &mut n,
                    0,
                    0,
                )
            };
            if ok == 0 {
                // SAFETY: reads this thread's last error.
                let code = unsafe { GetLastError() };
                // The probe is queued, so even a timeout is a broken port.
                panic!(
                    "oneport: dequeuing up to a probe failed ({}): {}",
                    if code == WAIT_TIMEOUT {
                        "timed out"
                    } else {
                        "error"
                    },
                    io::Error::from_raw_os_error(code as i32)
                );
            }
            let mut seen = false;
            for e in &batch[..n as usize] {
                if seen {
                    stash.push_back(*e);
                } else if e.lpOverlapped == ptr && e.lpCompletionKey == KEY_LATE_CANCEL {
                    seen = true;
                } else if e.lpOverlapped == ptr && e.lpCompletionKey == KEY_OVERLAPPED {
                    own = Some(*e);
                } else {
                    stash.push_back(*e);
                }
            }
            if seen {
                return own;
            }
        }
    }

    /// Moves stashed packets into `entries` (up to its capacity); `true`
    /// if there were any, for the run loop to process before it waits.
    pub(crate) fn take_stashed(&self, entries: &mut Vec<OVERLAPPED_ENTRY>) -> bool {
        let mut stash = self.stash.borrow_mut();
        if stash.is_empty() {
            return false;
        }
        entries.clear();
        let n = stash.len().min(entries.capacity().max(1));
        entries.extend(stash.drain(..n));
        true
    }
}
