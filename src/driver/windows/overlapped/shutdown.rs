//! Dropping the driver with operations in flight (WINDOWS.md rule 29).
//!
//! By the time the driver drops, every future has been dropped, so every
//! operation left is an orphan. Each one still in the kernel is cancelled,
//! then the port is drained for their packets for a bounded time (the port
//! is closed only after this, by the driver). Whatever has not come back by
//! then may still be written by the kernel: it is leaked, and the count is
//! reported as a warning through the `log` facade (target `oneport`).
//! Memory the kernel may write is never freed.

use super::super::keys::{KEY_LATE_CANCEL, KEY_OVERLAPPED};
use super::state::{Action, Event};
use super::{handle_is_closed, packet_status, OpId, Overlapped};

impl Drop for Overlapped {
    fn drop(&mut self) {
        // The driver hands stashed packets to the dispatcher before this
        // runs; any left (a probe during the last poll) are seen first here.
        let stashed: Vec<_> = self.stash.get_mut().drain(..).collect();
        if self.ops.get_mut().is_empty() {
            return;
        }
        // Finished but never collected: free now. Still in the kernel:
        // cancel and orphan (the owners are all gone by now).
        let ids: Vec<OpId> = self.ops.get_mut().keys().copied().collect();
        for id in ids {
            let ops = self.ops.get_mut();
            let rec = ops.get_mut(&id).expect("present");
            if rec.state.is_orphan() {
                continue;
            }
            match rec.step(Event::Abandon) {
                Action::Free => {
                    let rec = ops.remove(&id).expect("present");
                    // SAFETY: the packet was dequeued: the kernel is done.
                    unsafe { rec.mem.free() };
                }
                Action::CancelOrphan(_) => self.cancel_orphan_at(id),
                _ => {}
            }
        }

        let on_packet =
            |ops: &mut std::collections::HashMap<OpId, super::Record>,
             e: &windows_sys::Win32::System::IO::OVERLAPPED_ENTRY| {
                let id = e.lpOverlapped as OpId;
                let Some(rec) = ops.get_mut(&id) else {
                    return; // another subsystem's packet: nobody waits any more
                };
                let action = match e.lpCompletionKey {
                    KEY_OVERLAPPED => {
                        // SAFETY: the packet is dequeued.
                        let status = unsafe { packet_status(&rec.mem, e) };
                        let closed = status != 0 && handle_is_closed(rec.handle);
                        rec.state.step(Event::Packet {
                            status,
                            bytes: e.dwNumberOfBytesTransferred as usize,
                            handle_closed: closed,
                        })
                    }
                    KEY_LATE_CANCEL => rec.state.step(Event::Marker),
                    _ => return,
                };
                match action {
                    Ok(Action::Free) => {
                        let rec = ops.remove(&id).expect("present");
                        // SAFETY: every packet naming the block is dequeued.
                        unsafe { rec.mem.free() };
                    }
                    Ok(Action::ForgotRegister) => {
                        // Never registered: no packet will come. Do not panic in
                        // a drop; leak it quietly.
                        ops.remove(&id).expect("present").mem.leak();
                    }
                    // Nothing else is possible for orphans; an internal error
                    // is not raised in a drop (the block just stays listed and
                    // is leaked below).
                    _ => {}
                }
            };
        let ops = self.ops.get_mut();
        for e in &stashed {
            on_packet(ops, e);
        }
        super::super::port::drain(self.port, |batch| {
            for e in batch {
                on_packet(ops, e);
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

impl Overlapped {
    /// [`Overlapped::cancel_orphan`] for the record `id`, from `drop`.
    fn cancel_orphan_at(&mut self, id: OpId) {
        let mut rec = self.ops.get_mut().remove(&id).expect("present");
        self.cancel_orphan(&mut rec);
        self.ops.get_mut().insert(id, rec);
    }
}
