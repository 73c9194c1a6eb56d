//! Dropping the driver with operations in flight (WINDOWS.md rule 29).
//!
//! By the time the driver drops, every future has been dropped, so every
//! operation left is an orphan. Each one still in the kernel is cancelled,
//! then the port is drained for their packets for a bounded time (the port
//! is closed only after this, by the driver). Whatever has not come back by
//! then may still be written by the kernel: it is leaked, and the count is
//! reported as a warning through the `log` facade (target `oneport`).
//! Memory the kernel may write is never freed.

use windows_sys::Win32::System::IO::CancelIoEx;

use super::super::keys::{KEY_LATE_CANCEL, KEY_OVERLAPPED};
use super::{OpId, Overlapped};

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

        super::super::port::drain(self.port, |batch| {
            for e in batch {
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
            !ops.is_empty()
        });
        if !ops.is_empty() {
            log::warn!(
                target: "oneport",
                "runtime dropped with {} overlapped operation(s) whose completion never \
                 arrived within {:?}; their memory is leaked rather than freed under the kernel",
                ops.len(),
                super::super::port::DRAIN_LIMIT
            );
            for (_, rec) in ops.drain() {
                rec.mem.leak();
            }
        }
    }
}
