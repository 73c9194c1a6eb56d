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
//! # Did the kernel take it? (rules 20-21)
//!
//! A call that returns success or `ERROR_IO_PENDING` has queued, or will
//! queue, a packet. A call that fails with anything else *usually* queued
//! nothing, but not always: NT warning and informational statuses
//! (`ERROR_MORE_DATA` is `STATUS_BUFFER_OVERFLOW`) complete the operation
//! and queue a packet, and Wine queues a packet for a file read or write
//! the file system refused (`WriteFile` at an offset past `i64::MAX` fails
//! with error 87 *and* queues a packet naming the OVERLAPPED). Freeing the
//! block then would let the packet name freed memory.
//!
//! The Win32 return cannot tell these apart, and neither can
//! `OVERLAPPED.Internal`: it is still `STATUS_PENDING` after the call both
//! when Wine queued a packet and when Windows refused the call before the
//! driver saw it (and queued nothing). The port can: a packet that a
//! failing call queues is queued before the call returns. So after such a
//! failure the driver posts a probe (a key-2 packet naming the same
//! `OVERLAPPED`) and dequeues, without waiting, up to it. If the
//! operation's own packet was ahead of the probe, the operation finished:
//! it is recorded as done with that packet's status (for a warning, that
//! is a success with bytes). Otherwise the kernel holds nothing and the
//! error and resources go back at once. Other packets dequeued on the way
//! are kept, in order, and handed to the run loop by the next `get_events`.
//!
//! # Results (rule 22)
//!
//! The packet's `OVERLAPPED.Internal` is the NTSTATUS (or, where the kernel
//! left it at `STATUS_PENDING`, as Wine does for a refused call, the status
//! the packet carries): 0 is success with the packet's byte count; anything
//! else goes through `RtlNtStatusToDosError`.
//! `ERROR_OPERATION_ABORTED` that nobody asked for means another task closed
//! the handle, which is reported as `ClosedResource`.

mod op;
mod probe;
mod shutdown;
mod state;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::task::{Poll, Waker};

use windows_sys::Win32::Foundation::{
    GetHandleInformation, GetLastError, ERROR_IO_PENDING, ERROR_NOT_FOUND, HANDLE, NTSTATUS,
    STATUS_PENDING,
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
use state::{Action, Event, State};

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
    /// Packets dequeued while probing a failed submission (see the module
    /// docs), in arrival order, for the run loop's next `get_events`.
    stash: RefCell<VecDeque<OVERLAPPED_ENTRY>>,
    /// Alive exactly as long as this driver: handles registered here keep a
    /// `Weak` of it, to tell "another runtime" and "a dropped runtime" from
    /// their own (a handle is bound to one port for life).
    tag: std::sync::Arc<PortTag>,
}

/// The identity of one runtime's port, for handles bound to it.
#[derive(Debug)]
pub(crate) struct PortTag;

/// The driver's state for one submitted operation.
struct Record {
    handle: HANDLE,
    /// What the operation is, for messages ("read_overlapped", ...).
    what: &'static str,
    mem: ErasedMem,
    state: State,
}

impl Record {
    /// One transition; an impossible event is an internal error, raised
    /// with the operation's name and pointer.
    fn step(&mut self, event: Event<'_>) -> Action {
        match self.state.step(event) {
            Ok(a) => a,
            Err(why) => panic!(
                "oneport: internal error: {why}, for {} on handle {:p} (OVERLAPPED {:p})",
                self.what,
                self.handle,
                self.mem.ptr()
            ),
        }
    }
}

/// The NTSTATUS of a dequeued operation: what the kernel wrote into
/// `OVERLAPPED.Internal`, or, when it wrote nothing there (it is still the
/// `STATUS_PENDING` set before the call: Wine's packet for a call that
/// failed at once), the status the packet itself carries.
///
/// # Safety
/// The operation's packet has been dequeued.
unsafe fn packet_status(mem: &ErasedMem, entry: &OVERLAPPED_ENTRY) -> NTSTATUS {
    // SAFETY: forwarded from the caller.
    let status = unsafe { mem.status() };
    if status == STATUS_PENDING {
        entry.Internal as u32 as NTSTATUS
    } else {
        status
    }
}

impl Overlapped {
    pub(crate) fn new(port: HANDLE) -> Overlapped {
        Overlapped {
            port,
            ops: RefCell::new(HashMap::new()),
            next_waiter: Cell::new(0),
            stash: RefCell::new(VecDeque::new()),
            tag: std::sync::Arc::new(PortTag),
        }
    }

    /// This port's identity; dies with the driver.
    pub(crate) fn tag(&self) -> &std::sync::Arc<PortTag> {
        &self.tag
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
    /// with its `OVERLAPPED` (`Internal` preset to `STATUS_PENDING`, as
    /// kernel32 does) and the resources at their final address.
    ///
    /// `submit` returns `Ok(())` when the call succeeded, or the call's error
    /// (`io::Error::last_os_error()`). Success and `ERROR_IO_PENDING` mean a
    /// packet will come. After any other error the port is asked whether
    /// the call queued a packet anyway (module docs): if it did, the
    /// operation is already done, with that packet's status; if not, the
    /// resources come back with the error at once.
    ///
    /// # Safety
    /// `submit` may start at most one overlapped operation, on `handle`, with
    /// the `OVERLAPPED` it is given, and that operation may only use memory
    /// inside the resources (or memory that outlives it). If `submit` returns
    /// an error other than `ERROR_IO_PENDING`, the operation is not in
    /// progress (finished, or never started).
    pub(crate) unsafe fn submit<R: 'static>(
        &self,
        handle: HANDLE,
        what: &'static str,
        resources: R,
        submit: impl FnOnce(*mut OVERLAPPED, &mut R) -> io::Result<()>,
    ) -> Result<OpId, (io::Error, R)> {
        let mut mem = ErasedMem::new(resources);
        let ptr = mem.ptr();
        // SAFETY: the block is fresh and nobody else uses it yet.
        unsafe { (*ptr).Internal = STATUS_PENDING as u32 as usize };
        // SAFETY: nothing has been submitted with this block yet and it holds
        // an R. If `submit` panics, `mem` is leaked (its Drop frees nothing
        // while panicking): the kernel may already use it.
        let started = submit(ptr, unsafe { mem.resources_mut::<R>() });
        let mut state = State::new();
        if let Err(e) = started {
            if e.raw_os_error() != Some(ERROR_IO_PENDING as i32) {
                match self.probe(ptr) {
                    None => {
                        // SAFETY: the call failed and queued no packet on
                        // this port: the kernel holds nothing.
                        return Err((e, unsafe { mem.into_resources::<R>() }));
                    }
                    Some(entry) => {
                        // SAFETY: its packet has been dequeued.
                        let status = unsafe { packet_status(&mem, &entry) };
                        let bytes = entry.dwNumberOfBytesTransferred as usize;
                        let closed = status != 0 && handle_is_closed(handle);
                        let packet = Event::Packet {
                            status,
                            bytes,
                            handle_closed: closed,
                        };
                        let woke = state.step(packet);
                        debug_assert!(matches!(woke, Ok(Action::Nothing)));
                    }
                }
            }
        }
        self.ops.borrow_mut().insert(
            ptr as OpId,
            Record {
                handle,
                what,
                mem,
                state,
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
        match rec.step(Event::Poll(waiter, waker)) {
            Action::Ready => Poll::Ready(Ok(())),
            Action::Busy => Poll::Ready(Err(resource_busy("on this overlapped operation"))),
            _ => Poll::Pending,
        }
    }

    /// A waiter went away (its future was dropped): frees its slot.
    pub(crate) fn stop_waiting(&self, id: OpId, waiter: WaiterId) {
        let action = match self.ops.borrow_mut().get_mut(&id) {
            Some(rec) => rec.step(Event::StopWaiting(waiter)),
            None => Action::Nothing,
        };
        if let Action::Release(waker) = action {
            drop(waker); // outside the borrow: dropping a waker may run code
        }
    }

    /// Whether the operation's packet has been dequeued.
    pub(crate) fn is_done(&self, id: OpId) -> bool {
        self.ops
            .borrow()
            .get(&id)
            .is_some_and(|r| r.state.is_done())
    }

    /// Asks the kernel to cancel the operation (the owner still waits for
    /// the packet). Cancelling a finished operation does nothing.
    pub(crate) fn cancel(&self, id: OpId) {
        let mut ops = self.ops.borrow_mut();
        let Some(rec) = ops.get_mut(&id) else { return };
        if let Action::CancelIo = rec.step(Event::Cancel) {
            // SAFETY: the OVERLAPPED is live (owned by us until its packet).
            if unsafe { CancelIoEx(rec.handle, rec.mem.ptr()) } == 0 {
                // SAFETY: reads this thread's last error.
                warn_cancel_failed(unsafe { GetLastError() }, rec.what);
            }
        }
    }

    /// The owner takes back the outcome and the resources of a finished
    /// operation; `None` while it is still in flight.
    pub(crate) fn take<R: 'static>(&self, id: OpId) -> Option<(Outcome, R)> {
        let mut ops = self.ops.borrow_mut();
        let Action::Take(outcome) = ops.get_mut(&id)?.step(Event::Take) else {
            return None; // still in flight: nothing to take
        };
        let rec = ops.remove(&id).expect("present");
        drop(ops);
        // SAFETY: the packet was dequeued: the kernel is done with the block.
        Some((outcome, unsafe { rec.mem.into_resources::<R>() }))
    }

    /// The owner is gone (its future was dropped). A finished operation is
    /// freed at once; one in flight is cancelled and orphaned (rule 23).
    pub(crate) fn abandon(&self, id: OpId) {
        let mut ops = self.ops.borrow_mut();
        let Some(rec) = ops.get_mut(&id) else { return };
        match rec.step(Event::Abandon) {
            Action::Free => {
                let rec = ops.remove(&id).expect("present");
                drop(ops);
                // SAFETY: the packet was dequeued: the kernel is done.
                unsafe { rec.mem.free() };
            }
            Action::CancelOrphan(old_waiter) => {
                self.cancel_orphan(rec);
                drop(ops);
                drop(old_waiter);
            }
            _ => {}
        }
    }

    /// `CancelIoEx` for an operation whose owner left; if it came too late,
    /// a late-cancel marker finds out whether the packet reaches this port.
    fn cancel_orphan(&self, rec: &mut Record) {
        let ptr = rec.mem.ptr();
        // SAFETY: the OVERLAPPED is live (owned by us until its packet).
        if unsafe { CancelIoEx(rec.handle, ptr) } != 0 {
            return;
        }
        // SAFETY: reads this thread's last error.
        let code = unsafe { GetLastError() };
        if code != ERROR_NOT_FOUND {
            warn_cancel_failed(code, rec.what);
            return;
        }
        // Too late: the kernel finished it. Its packet is queued if the
        // handle is registered; find out with a marker behind it.
        // SAFETY: posting copies three values; the pointer is never
        // dereferenced by the kernel.
        if unsafe { PostQueuedCompletionStatus(self.port, 0, KEY_LATE_CANCEL, ptr) } != 0 {
            rec.step(Event::LateCancelPosted);
        } else {
            // Without the marker a missing registration goes unnoticed: the
            // block then waits for a packet that never comes (it is leaked
            // when the runtime drops, with a warning). Nothing is freed early.
            log::warn!(
                target: "oneport",
                "could not post the late-cancel marker for {}: {}",
                rec.what,
                io::Error::last_os_error()
            );
        }
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
        // SAFETY: the packet is dequeued: the kernel is done writing.
        let status = unsafe { packet_status(&rec.mem, entry) };
        let orphan = rec.state.is_orphan();
        let packet = Event::Packet {
            status,
            bytes: entry.dwNumberOfBytesTransferred as usize,
            handle_closed: status != 0 && !orphan && handle_is_closed(rec.handle),
        };
        match rec.step(packet) {
            Action::Wake(w) => wake.push(w),
            Action::Free => {
                let rec = ops.remove(&id).expect("present");
                drop(ops);
                // SAFETY: the packet is dequeued and no marker names it.
                unsafe { rec.mem.free() };
            }
            _ => {}
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
        match rec.step(Event::Marker) {
            Action::Free => {
                let rec = ops.remove(&id).expect("present");
                drop(ops);
                // SAFETY: both packets naming the block have been dequeued.
                unsafe { rec.mem.free() };
            }
            Action::ForgotRegister => {
                // The operation finished in the kernel (CancelIoEx said so)
                // but its packet did not come before the marker: it went to
                // no port, or another one. Forget the record (leaking the
                // block rather than guessing) and report the caller's bug.
                let rec = ops.remove(&id).expect("present");
                drop(ops);
                let (what, handle) = (rec.what, rec.handle);
                rec.mem.leak();
                panic!(
                    "oneport: {what} on handle {handle:p} (OVERLAPPED {:p}) finished in the kernel, \
                     but its completion packet never reached this runtime's port: did you forget \
                     to call register_with_iocp()?",
                    entry.lpOverlapped
                );
            }
            _ => {}
        }
    }

    pub(crate) fn fill_statistics(&self, s: &mut DriverStats) {
        let ops = self.ops.borrow();
        s.tasks_waiting_overlapped = ops.values().filter(|r| r.state.has_waiter()).count();
        s.overlapped_orphaned = ops.values().filter(|r| r.state.is_orphan()).count();
    }
}

/// A `CancelIoEx` that failed with something other than `ERROR_NOT_FOUND`
/// (already finished). The usual cause is a handle closed under the
/// operation, which cancels its I/O itself, so the packet still comes and
/// nothing is lost; but the block then waits on the kernel alone, so the
/// failure is worth a line in the log.
fn warn_cancel_failed(code: u32, what: &str) {
    log::warn!(
        target: "oneport",
        "CancelIoEx for {what} failed: {}; waiting for its completion packet anyway",
        io::Error::from_raw_os_error(code as i32)
    );
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
