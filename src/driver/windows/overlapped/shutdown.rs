//! Dropping the driver with operations in flight (WINDOWS.md rule 29).
//!
//! By the time the driver drops, every future has been dropped, so every
//! operation left is an orphan. Each one still in the kernel is cancelled,
//! then the port is drained for their packets for a bounded time (the port
//! is closed only after this, by the driver). Whatever has not come back by
//! then may still be written by the kernel: it is leaked, and the count is
//! reported on stderr. Memory the kernel may write is never freed.

use std::time::{Duration, Instant};

use windows_sys::Win32::System::IO::{CancelIoEx, GetQueuedCompletionStatusEx, OVERLAPPED_ENTRY};

use super::super::keys::{KEY_LATE_CANCEL, KEY_OVERLAPPED};
use super::{OpId, Overlapped};

/// How long the driver waits for the packets of cancelled operations.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

impl Drop for Overlapped {
    fn drop(&mut self) {
        let ops = self.ops.get_mut();
        if ops.is_empty() {
            return;
        }
        // Finished but never collected: free now. Still in the kernel:
        // cancel (once).
        let done: Vec<OpId> = ops
            .iter()
            .filter(|(_, r)| r.outcome.is_some() && !r.late_cancel_queued)
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            let rec = ops.remove(&id).expect("present");
            // SAFETY: the packet was dequeued: the kernel is done.
            unsafe { rec.mem.free() };
        }
        for rec in ops.values_mut() {
            if rec.outcome.is_none() && !rec.cancel_requested {
                rec.cancel_requested = true;
                // SAFETY: the OVERLAPPED is live; a failure changes nothing.
                unsafe { CancelIoEx(rec.handle, rec.mem.ptr()) };
            }
            rec.orphaned = true;
        }

        let deadline = Instant::now() + DRAIN_LIMIT;
        let mut entries: Vec<OVERLAPPED_ENTRY> = Vec::with_capacity(64);
        while !ops.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut n = 0u32;
            // SAFETY: the port is still open (the driver closes it after us);
            // `entries` has room for 64 entries and we read only `n`.
            let ok = unsafe {
                GetQueuedCompletionStatusEx(
                    self.port,
                    entries.as_mut_ptr(),
                    64,
                    &mut n,
                    left.as_millis().max(1) as u32,
                    0,
                )
            };
            if ok == 0 {
                continue; // timeout: the deadline check ends the loop
            }
            // SAFETY: the kernel initialised `n` entries.
            unsafe { entries.set_len(n as usize) };
            for e in entries.drain(..) {
                let id = e.lpOverlapped as OpId;
                let Some(rec) = ops.get_mut(&id) else {
                    continue; // another subsystem's packet: nobody waits any more
                };
                match e.lpCompletionKey {
                    KEY_OVERLAPPED => {
                        rec.outcome = Some(super::Outcome {
                            status: 0,
                            bytes: 0,
                            cancel_requested: true,
                            handle_closed: false,
                        });
                        if !rec.late_cancel_queued {
                            let rec = ops.remove(&id).expect("present");
                            // SAFETY: its packet is dequeued; no marker left.
                            unsafe { rec.mem.free() };
                        }
                    }
                    KEY_LATE_CANCEL => {
                        rec.late_cancel_queued = false;
                        let rec = ops.remove(&id).expect("present");
                        if rec.outcome.is_some() {
                            // SAFETY: both packets naming it are dequeued.
                            unsafe { rec.mem.free() };
                        } else {
                            // Never registered: no packet will come. Do not
                            // panic in a drop; leak it quietly.
                            rec.mem.leak();
                        }
                    }
                    _ => {}
                }
            }
        }
        if !ops.is_empty() {
            eprintln!(
                "oneport: runtime dropped with {} overlapped operation(s) whose completion never \
                 arrived within {:?}; their memory is leaked rather than freed under the kernel",
                ops.len(),
                DRAIN_LIMIT
            );
            for (_, rec) in ops.drain() {
                rec.mem.leak();
            }
        }
    }
}
