//! The Windows driver: one I/O completion port carries every event.
//!
//! This is a port of Trio's Windows I/O manager. Everything the runtime
//! waits on arrives as a completion packet on one port, and the packet's
//! completion key says which part of the driver it belongs to
//! (WINDOWS.md rule 2):
//!
//! | key | meaning | handled by |
//! |-----|---------|------------|
//! | 0   | an AFD poll finished (socket readiness) | `afd` |
//! | 1   | an overlapped operation finished | `overlapped` |
//! | 2   | a cancel came too late (late-cancel marker), or a probe after a refused submission | `overlapped` |
//! | 3   | a wakeup from another thread | `port` |
//! | 4   | a waited-on object was signalled | `wait` |
//! | 5.. | a user's completion-key monitor, never reused | `keys` |
//!
//! The subsystems are private: the run loop and `lowlevel` reach them only
//! through the methods below (the [`Driver`](super::Driver) and
//! [`Completions`](super::Completions) traits, and the Windows-only extras:
//! the port handle, handle registration, owned submissions, object waits
//! and key monitors).
//!
//! A packet whose key or OVERLAPPED the driver does not know is a bug and
//! panics with the key and pointer (rule 5): a silently dropped packet would
//! mean a waiter that never wakes, or memory freed under the kernel.

mod afd;
mod base_socket;
mod keys;
mod overlapped;
mod port;
mod wait;

/// The fake layered provider of `base_socket`, for tests above the driver.
#[cfg(test)]
pub(crate) use base_socket::tests as layered_fake;

use std::cell::RefCell;
use std::io;
use std::task::{Poll, Waker};
use std::time::Duration;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::IO::{OVERLAPPED, OVERLAPPED_ENTRY};

pub use keys::CompletionKeyEventInfo;
pub(crate) use overlapped::{Outcome, PortTag};
pub(crate) use port::DriverWaker;
pub(crate) use wait::{Started, WaitId};

use super::{Completions, DriverStats, Interest, OpId, OpWaiter, RawSock, WaitToken};
use keys::{Monitors, KEY_AFD, KEY_LATE_CANCEL, KEY_OBJECT_WAIT, KEY_OVERLAPPED, KEY_WAKEUP};
use port::{Port, MAX_ENTRIES};

pub(crate) struct Driver {
    // Field order is drop order: the subsystems (which may hold memory the
    // kernel writes) go before the port they are associated with.
    afd: afd::Afd,
    overlapped: overlapped::Overlapped,
    waits: wait::Waits,
    monitors: Monitors,
    entries: RefCell<Vec<OVERLAPPED_ENTRY>>,
    port: Port,
}

impl super::Driver for Driver {
    type Waker = DriverWaker;

    fn new() -> io::Result<Driver> {
        let port = Port::new()?;
        let monitors = Monitors::new();
        let waits = wait::Waits::new(port.handle());
        Ok(Driver {
            afd: afd::Afd::new(port.handle())?,
            overlapped: overlapped::Overlapped::new(port.handle()),
            waits,
            monitors,
            entries: RefCell::new(Vec::with_capacity(MAX_ENTRIES)),
            port,
        })
    }

    fn waker(&self) -> DriverWaker {
        self.port.waker()
    }

    fn get_events(&self, timeout: Option<Duration>) -> usize {
        let mut entries = self.entries.borrow_mut();
        // Packets dequeued while probing a failed submission come first, in
        // their order, without waiting (see `overlapped`).
        if self.overlapped.take_stashed(&mut entries) {
            return entries.len();
        }
        self.port.get_events(timeout, &mut entries)
    }

    fn process_events(&self, n: usize) {
        let entries = self.entries.borrow();
        let mut wake = Vec::new();
        for entry in &entries[..n] {
            match entry.lpCompletionKey {
                KEY_AFD => self.afd.on_completion(entry, &mut wake),
                KEY_OVERLAPPED => self.overlapped.on_completion(entry, &mut wake),
                KEY_LATE_CANCEL => self.overlapped.on_late_cancel(entry, &mut wake),
                KEY_WAKEUP => self.port.wakeup_dequeued(),
                KEY_OBJECT_WAIT => wake.extend(self.waits.on_packet(entry)),
                _ => wake.extend(self.monitors.on_packet(entry)),
            }
        }
        drop(entries);
        // Panic-safe: a user's waker that panics must not strand the
        // waiters after it, whose results are already recorded.
        super::wake_all_or_resume(wake);
    }

    fn statistics(&self) -> DriverStats {
        let mut s = DriverStats {
            backend: "windows",
            file_backend: "windows",
            completion_key_monitors: self.monitors.count(),
            completion_key_packets_discarded: self.monitors.discarded(),
            wakeups_received: self.port.wakeups_received(),
            ..DriverStats::default()
        };
        self.afd.fill_statistics(&mut s);
        self.overlapped.fill_statistics(&mut s);
        self.waits.fill_statistics(&mut s);
        s
    }

    fn register_wait(
        &self,
        sock: RawSock,
        interest: Interest,
        waker: &Waker,
    ) -> io::Result<WaitToken> {
        self.afd.register_wait(sock, interest, waker)
    }

    fn poll_wait(&self, token: WaitToken, waker: &Waker) -> Poll<io::Result<()>> {
        self.afd.poll_wait(token, waker)
    }

    fn cancel_wait(&self, token: WaitToken) {
        self.afd.cancel_wait(token)
    }

    fn notify_closing(&self, sock: RawSock) -> io::Result<()> {
        self.afd.notify_closing(sock)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Packets a submission probe dequeued during the last turn of the
        // loop go to their subsystems first, so that each subsystem's own
        // shutdown drain accounts for all of its packets.
        loop {
            let n = {
                let mut entries = self.entries.borrow_mut();
                if !self.overlapped.take_stashed(&mut entries) {
                    break;
                }
                entries.len()
            };
            super::Driver::process_events(self, n);
        }
    }
}

impl Completions for Driver {
    type Outcome = Outcome;

    fn new_op_waiter(&self) -> OpWaiter {
        self.overlapped.new_waiter()
    }

    fn poll_op(&self, id: OpId, waiter: OpWaiter, waker: &Waker) -> Poll<io::Result<()>> {
        self.overlapped.poll_done(id, waiter, waker)
    }

    fn stop_waiting_op(&self, id: OpId, waiter: OpWaiter) {
        self.overlapped.stop_waiting(id, waiter)
    }

    fn is_op_done(&self, id: OpId) -> bool {
        self.overlapped.is_done(id)
    }

    fn cancel_op(&self, id: OpId) {
        self.overlapped.cancel(id)
    }

    fn take_op<R: 'static>(&self, id: OpId) -> Option<(Outcome, R)> {
        self.overlapped.take(id)
    }

    fn abandon_op(&self, id: OpId) {
        self.overlapped.abandon(id)
    }
}

/// The Windows-only extras, for `lowlevel`'s port, key and wait functions.
impl Driver {
    /// The completion port (WINDOWS.md rule 26).
    pub(crate) fn port_handle(&self) -> HANDLE {
        self.port.handle()
    }

    /// Rule 19: associates `handle` with the port for overlapped I/O.
    pub(crate) fn register_handle(&self, handle: HANDLE) -> io::Result<()> {
        self.overlapped.register(handle)
    }

    /// This port's identity, for handles bound to it (dies with the driver).
    pub(crate) fn port_tag(&self) -> &std::sync::Arc<PortTag> {
        self.overlapped.tag()
    }

    /// Starts one owned overlapped operation; see
    /// `overlapped::Overlapped::submit`.
    ///
    /// # Safety
    /// As for `Overlapped::submit`: `submit` starts at most one operation on
    /// `handle` with the `OVERLAPPED` it is given, using only memory inside
    /// `resources`, and reports failure to start truthfully.
    pub(crate) unsafe fn submit_op<R: 'static>(
        &self,
        handle: HANDLE,
        what: &'static str,
        resources: R,
        submit: impl FnOnce(*mut OVERLAPPED, &mut R) -> io::Result<()>,
    ) -> Result<OpId, (io::Error, R)> {
        // SAFETY: forwarded from the caller.
        unsafe { self.overlapped.submit(handle, what, resources, submit) }
    }

    /// Starts waiting for `handle` to be signalled (rule 27).
    pub(crate) fn start_object_wait(&self, handle: HANDLE, waker: &Waker) -> io::Result<Started> {
        self.waits.start(handle, waker)
    }

    /// `Ready` once the object wait `id` was signalled.
    pub(crate) fn poll_object_wait(&self, id: WaitId, waker: &Waker) -> Poll<()> {
        self.waits.poll(id, waker)
    }

    /// Withdraws the object wait `id` (its future was dropped).
    pub(crate) fn cancel_object_wait(&self, id: WaitId) {
        self.waits.cancel(id)
    }

    /// A fresh completion key and its packet queue (rule 25).
    pub(crate) fn create_monitor(&self) -> usize {
        self.monitors.create()
    }

    /// The next packet of monitor `key`.
    pub(crate) fn poll_monitor(&self, key: usize, waker: &Waker) -> Poll<CompletionKeyEventInfo> {
        self.monitors.poll_next(key, waker)
    }

    /// Retires monitor `key` for good.
    pub(crate) fn remove_monitor(&self, key: usize) {
        self.monitors.remove(key)
    }
}
