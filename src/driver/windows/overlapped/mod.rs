//! Overlapped I/O on handles registered with the port (WINDOWS.md rules
//! 19-24 and 29).
//!
//! # Why the driver owns every operation
//!
//! An overlapped call (`ReadFile`, `WriteFile`, `DeviceIoControl`,
//! `ConnectNamedPipe`, ...) returns at once and the kernel goes on using the
//! `OVERLAPPED` and the buffers it was given until it queues a completion
//! packet on the port. A Rust future can be dropped at any moment, so the
//! memory cannot belong to the future: each operation is one heap block
//! (`op::OpMem`), created at submission and owned by this module, keyed by
//! its address (which is the `lpOverlapped` of its packet). The future only
//! holds the key. The block is freed (or its resources handed back to the
//! owner) only after the packet has been dequeued.
//!
//! # Cancellation (rule 23)
//!
//! When the owner goes away before the packet arrived, the operation becomes
//! an *orphan*: the driver calls `CancelIoEx(handle, overlapped)` and keeps
//! the block until the packet comes (with `STATUS_CANCELLED`, or with the
//! real result if it won the race). If `CancelIoEx` says `ERROR_NOT_FOUND`,
//! the kernel had already finished the operation, so its packet is queued
//! — *if* the handle is associated with this port. To find out, the driver
//! posts a late-cancel packet (key 2) naming the same `OVERLAPPED`: packets
//! are dequeued in order, so if the late-cancel marker arrives while the
//! operation still has no completion, its packet went somewhere else and the
//! caller forgot `register_with_iocp()`; that is a bug in the caller and
//! panics, saying so. Otherwise the marker is consumed quietly and frees the
//! orphan.
//!
//! # Results (rule 22)
//!
//! The packet's `OVERLAPPED.Internal` is the NTSTATUS: 0 is success with the
//! packet's byte count; anything else goes through `RtlNtStatusToDosError`.
//! `ERROR_OPERATION_ABORTED` that nobody asked for means another task closed
//! the handle, which is reported as `ClosedResource`.

mod op;
mod shutdown;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::task::{Poll, Waker};

use windows_sys::Win32::Foundation::{
    GetHandleInformation, GetLastError, ERROR_IO_PENDING, ERROR_MORE_DATA, ERROR_NOT_FOUND, HANDLE,
};
use windows_sys::Win32::Storage::FileSystem::SetFileCompletionNotificationModes;
use windows_sys::Win32::System::WindowsProgramming::FILE_SKIP_SET_EVENT_ON_HANDLE;
use windows_sys::Win32::System::IO::{
    CancelIoEx, CreateIoCompletionPort, PostQueuedCompletionStatus, OVERLAPPED, OVERLAPPED_ENTRY,
};

use super::keys::{KEY_LATE_CANCEL, KEY_OVERLAPPED};
use crate::driver::DriverStats;
use crate::error::resource_busy;
use op::ErasedMem;
pub(crate) use op::Outcome;

/// Names one operation: the address of its `OVERLAPPED`. Unique while the
/// operation is known to the driver, since the block lives until then.
pub(crate) use crate::driver::OpId;

/// Names one task waiting on an operation (rule 24: one at a time).
pub(crate) use crate::driver::OpWaiter as WaiterId;

pub(crate) struct Overlapped {
    /// The runtime's port; outlives this struct (the driver drops it later).
    port: HANDLE,
    ops: RefCell<HashMap<OpId, Record>>,
    next_waiter: Cell<WaiterId>,
}

/// The driver's state for one submitted operation.
struct Record {
    handle: HANDLE,
    /// What the operation is, for messages ("read_overlapped", ...).
    what: &'static str,
    mem: ErasedMem,
    /// Set when the completion packet has been dequeued.
    outcome: Option<Outcome>,
    waiter: Option<(WaiterId, Waker)>,
    /// The owner is gone; the driver frees the block when the kernel is done.
    orphaned: bool,
    /// `CancelIoEx` was called for this operation.
    cancel_requested: bool,
    /// A late-cancel packet naming this operation is queued.
    late_cancel_queued: bool,
}

impl Overlapped {
    pub(crate) fn new(port: HANDLE) -> Overlapped {
        Overlapped {
            port,
            ops: RefCell::new(HashMap::new()),
            next_waiter: Cell::new(0),
        }
    }

    /// Rule 19: associates `handle` with the port under key 1 and stops the
    /// kernel from signalling the handle itself on every completion.
    pub(crate) fn register(&self, handle: HANDLE) -> io::Result<()> {
        // SAFETY: associating a handle with our open port; an invalid handle
        // makes the call fail, which we report.
        let r = unsafe { CreateIoCompletionPort(handle, self.port, KEY_OVERLAPPED, 0) };
        if r.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: plain call on the handle the caller gave us.
        if unsafe {
            SetFileCompletionNotificationModes(handle, FILE_SKIP_SET_EVENT_ON_HANDLE as u8)
        } == 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Moves `resources` into a fresh operation block and calls `submit`
    /// with its `OVERLAPPED` and the resources at their final address.
    ///
    /// `submit` returns `Ok(())` when the call succeeded, or the call's error
    /// (`io::Error::last_os_error()`). Rules 20-21: success and
    /// `ERROR_IO_PENDING` both mean a packet will come; so does
    /// `ERROR_MORE_DATA`, a warning status for which the kernel queues a
    /// packet too. Any other error means nothing was started: the resources
    /// come back with the error at once.
    ///
    /// # Safety
    /// `submit` may start at most one overlapped operation, on `handle`, with
    /// the `OVERLAPPED` it is given, and that operation may only use memory
    /// inside the resources (or memory that outlives it). If `submit` returns
    /// an error other than the three above, no operation may be in progress.
    pub(crate) unsafe fn submit<R: 'static>(
        &self,
        handle: HANDLE,
        what: &'static str,
        resources: R,
        submit: impl FnOnce(*mut OVERLAPPED, &mut R) -> io::Result<()>,
    ) -> Result<OpId, (io::Error, R)> {
        let mut mem = ErasedMem::new(resources);
        let ptr = mem.ptr();
        // SAFETY: nothing has been submitted with this block yet and it holds
        // an R. If `submit` panics, `mem` is leaked (its Drop frees nothing
        // while panicking): the kernel may already use it.
        let started = submit(ptr, unsafe { mem.resources_mut::<R>() });
        if let Err(e) = started {
            let code = e.raw_os_error().map(|c| c as u32);
            if code != Some(ERROR_IO_PENDING) && code != Some(ERROR_MORE_DATA) {
                // SAFETY: the call failed outright; the kernel holds nothing.
                return Err((e, unsafe { mem.into_resources::<R>() }));
            }
        }
        self.ops.borrow_mut().insert(
            ptr as OpId,
            Record {
                handle,
                what,
                mem,
                outcome: None,
                waiter: None,
                orphaned: false,
                cancel_requested: false,
                late_cancel_queued: false,
            },
        );
        Ok(ptr as OpId)
    }

    /// A fresh waiter id, so the driver can tell a second waiter (rule 24).
    pub(crate) fn new_waiter(&self) -> WaiterId {
        let id = self.next_waiter.get();
        self.next_waiter.set(id + 1);
        id
    }

    /// Ready once the operation's packet has been dequeued; parks `waiter`
    /// until then. A second waiter while one is parked gets `ResourceBusy`.
    pub(crate) fn poll_done(
        &self,
        id: OpId,
        waiter: WaiterId,
        waker: &Waker,
    ) -> Poll<io::Result<()>> {
        let mut ops = self.ops.borrow_mut();
        let rec = ops.get_mut(&id).expect(
            "oneport: internal error: polled an overlapped operation the driver does not know",
        );
        if rec.outcome.is_some() {
            return Poll::Ready(Ok(()));
        }
        match &mut rec.waiter {
            Some((w, k)) if *w == waiter => {
                if !k.will_wake(waker) {
                    *k = waker.clone();
                }
            }
            Some(_) => {
                return Poll::Ready(Err(resource_busy("on this overlapped operation")));
            }
            None => rec.waiter = Some((waiter, waker.clone())),
        }
        Poll::Pending
    }

    /// A waiter went away (its future was dropped): frees its slot.
    pub(crate) fn stop_waiting(&self, id: OpId, waiter: WaiterId) {
        let old = {
            let mut ops = self.ops.borrow_mut();
            match ops.get_mut(&id) {
                Some(rec) if matches!(rec.waiter, Some((w, _)) if w == waiter) => rec.waiter.take(),
                _ => None,
            }
        };
        drop(old);
    }

    /// Whether the operation's packet has been dequeued.
    pub(crate) fn is_done(&self, id: OpId) -> bool {
        self.ops
            .borrow()
            .get(&id)
            .is_some_and(|r| r.outcome.is_some())
    }

    /// Asks the kernel to cancel the operation (the owner still waits for
    /// the packet). Cancelling a finished operation does nothing.
    pub(crate) fn cancel(&self, id: OpId) {
        let mut ops = self.ops.borrow_mut();
        if let Some(rec) = ops.get_mut(&id) {
            if rec.outcome.is_none() && !rec.cancel_requested {
                rec.cancel_requested = true;
                // SAFETY: the OVERLAPPED is live (owned by us); an error
                // (ERROR_NOT_FOUND: already finished) needs no action, the
                // packet comes either way.
                unsafe { CancelIoEx(rec.handle, rec.mem.ptr()) };
            }
        }
    }

    /// The owner takes back the outcome and the resources of a finished
    /// operation; `None` while it is still in flight.
    pub(crate) fn take<R: 'static>(&self, id: OpId) -> Option<(Outcome, R)> {
        let rec = {
            let mut ops = self.ops.borrow_mut();
            ops.get(&id)?.outcome?; // still in flight: nothing to take
            ops.remove(&id)?
        };
        let outcome = rec.outcome?;
        // SAFETY: the packet was dequeued: the kernel is done with the block.
        Some((outcome, unsafe { rec.mem.into_resources::<R>() }))
    }

    /// The owner is gone (its future was dropped). A finished operation is
    /// freed at once; one in flight is cancelled and orphaned (rule 23).
    pub(crate) fn abandon(&self, id: OpId) {
        let mut ops = self.ops.borrow_mut();
        let Some(rec) = ops.get_mut(&id) else { return };
        if rec.outcome.is_some() {
            let rec = ops.remove(&id).expect("present");
            drop(ops);
            // SAFETY: the packet was dequeued: the kernel is done.
            unsafe { rec.mem.free() };
            return;
        }
        rec.orphaned = true;
        let old_waiter = rec.waiter.take();
        let ptr = rec.mem.ptr();
        rec.cancel_requested = true;
        // SAFETY: the OVERLAPPED is live (owned by us until its packet).
        if unsafe { CancelIoEx(rec.handle, ptr) } == 0 {
            // SAFETY: reads this thread's last error.
            let code = unsafe { GetLastError() };
            if code == ERROR_NOT_FOUND {
                // Too late: the kernel finished it. Its packet is queued if
                // the handle is registered; find out with a marker behind it.
                // SAFETY: posting copies three values; the pointer is never
                // dereferenced by the kernel.
                let posted =
                    unsafe { PostQueuedCompletionStatus(self.port, 0, KEY_LATE_CANCEL, ptr) };
                rec.late_cancel_queued = posted != 0;
            }
            // Any other failure (the handle was closed already, which
            // cancels its I/O itself): the packet still comes.
        }
        drop(ops);
        drop(old_waiter);
    }

    /// Key 1: an operation's completion packet.
    pub(crate) fn on_completion(&self, entry: &OVERLAPPED_ENTRY, wake: &mut Vec<Waker>) {
        let id = entry.lpOverlapped as OpId;
        let mut ops = self.ops.borrow_mut();
        let Some(rec) = ops.get_mut(&id) else {
            panic!(
                "oneport: overlapped completion (key 1) for unknown OVERLAPPED {:p}",
                entry.lpOverlapped
            );
        };
        assert!(
            rec.outcome.is_none(),
            "oneport: second completion packet (key 1) for OVERLAPPED {:p} ({})",
            entry.lpOverlapped,
            rec.what
        );
        // SAFETY: the packet is dequeued: the kernel is done writing.
        let status = unsafe { rec.mem.status() };
        rec.outcome = Some(Outcome {
            status,
            bytes: entry.dwNumberOfBytesTransferred as usize,
            cancel_requested: rec.cancel_requested,
            handle_closed: status != 0 && !rec.orphaned && handle_is_closed(rec.handle),
        });
        if rec.orphaned {
            if !rec.late_cancel_queued {
                let rec = ops.remove(&id).expect("present");
                drop(ops);
                // SAFETY: the packet is dequeued and no marker names it.
                unsafe { rec.mem.free() };
            }
        } else if let Some((_, w)) = rec.waiter.take() {
            wake.push(w);
        }
    }

    /// Key 2: the marker posted after a cancel came too late.
    pub(crate) fn on_late_cancel(&self, entry: &OVERLAPPED_ENTRY, _wake: &mut Vec<Waker>) {
        let id = entry.lpOverlapped as OpId;
        let mut ops = self.ops.borrow_mut();
        let Some(rec) = ops.get_mut(&id) else {
            panic!(
                "oneport: late-cancel packet (key 2) for unknown OVERLAPPED {:p}",
                entry.lpOverlapped
            );
        };
        rec.late_cancel_queued = false;
        if rec.outcome.is_none() {
            // The operation finished in the kernel (CancelIoEx said so) but
            // its packet did not come before the marker: it went to no port,
            // or another one. Forget the record (leaking the block rather
            // than guessing) and report the caller's bug.
            let rec = ops.remove(&id).expect("present");
            drop(ops);
            let (what, handle) = (rec.what, rec.handle);
            rec.mem.leak();
            panic!(
                "oneport: {what} on handle {handle:p} (OVERLAPPED {:p}) finished in the kernel, but \
                 its completion packet never reached this runtime's port: did you forget to call \
                 register_with_iocp()?",
                entry.lpOverlapped
            );
        }
        if rec.orphaned {
            let rec = ops.remove(&id).expect("present");
            drop(ops);
            // SAFETY: both packets naming the block have been dequeued.
            unsafe { rec.mem.free() };
        }
    }

    pub(crate) fn fill_statistics(&self, s: &mut DriverStats) {
        let ops = self.ops.borrow();
        s.tasks_waiting_overlapped = ops.values().filter(|r| r.waiter.is_some()).count();
        s.overlapped_orphaned = ops.values().filter(|r| r.orphaned).count();
    }
}

/// Whether `handle` no longer names an open handle. Asked only after an
/// operation on it failed, to tell "another task closed it" (rule 22) on
/// systems that report that with the device's own error. A closed handle
/// whose value was reused already reads as open: the device's error is
/// reported then, which is still true.
fn handle_is_closed(handle: HANDLE) -> bool {
    let mut flags = 0u32;
    // SAFETY: a query with an out-pointer to a live u32; an invalid handle
    // makes it fail.
    unsafe { GetHandleInformation(handle, &mut flags) == 0 }
}
