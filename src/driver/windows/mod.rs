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
//! | 2   | a cancel came too late (late-cancel marker) | `overlapped` |
//! | 3   | a wakeup from another thread | `port` |
//! | 4.. | a user's completion-key monitor | `keys` |
//!
//! A packet whose key or OVERLAPPED the driver does not know is a bug and
//! panics with the key and pointer (rule 5): a silently dropped packet would
//! mean a waiter that never wakes, or memory freed under the kernel.

mod afd;
mod base_socket;
pub(crate) mod keys;
pub(crate) mod overlapped;
mod port;

use std::cell::RefCell;
use std::io;
use std::task::{Poll, Waker};
use std::time::Duration;

use windows_sys::Win32::System::IO::OVERLAPPED_ENTRY;

pub(crate) use port::DriverWaker;

use super::WaitToken;
use crate::lowlevel::{Direction, RawSock, Statistics};
use keys::{Monitors, KEY_AFD, KEY_LATE_CANCEL, KEY_OVERLAPPED, KEY_WAKEUP};
use port::{Port, MAX_ENTRIES};

pub(crate) struct Driver {
    // Field order is drop order: the subsystems (which may hold memory the
    // kernel writes) go before the port they are associated with.
    afd: afd::Afd,
    pub(crate) overlapped: overlapped::Overlapped,
    pub(crate) monitors: Monitors,
    entries: RefCell<Vec<OVERLAPPED_ENTRY>>,
    port: Port,
}

impl Driver {
    pub(crate) fn new() -> io::Result<Driver> {
        let port = Port::new()?;
        Ok(Driver {
            afd: afd::Afd::new(port.handle())?,
            overlapped: overlapped::Overlapped::new(port.handle()),
            monitors: Monitors::new(),
            entries: RefCell::new(Vec::with_capacity(MAX_ENTRIES)),
            port,
        })
    }

    pub(crate) fn waker(&self) -> DriverWaker {
        self.port.waker()
    }

    pub(crate) fn port_handle(&self) -> windows_sys::Win32::Foundation::HANDLE {
        self.port.handle()
    }

    pub(crate) fn post(
        &self,
        key: usize,
        bytes: u32,
        overlapped: *const windows_sys::Win32::System::IO::OVERLAPPED,
    ) -> io::Result<()> {
        self.port.post(key, bytes, overlapped)
    }

    pub(crate) fn get_events(&self, timeout: Option<Duration>) -> usize {
        self.port
            .get_events(timeout, &mut self.entries.borrow_mut())
    }

    pub(crate) fn process_events(&self, n: usize) {
        let entries = self.entries.borrow();
        let mut wake = Vec::new();
        for entry in &entries[..n] {
            match entry.lpCompletionKey {
                KEY_AFD => self.afd.on_completion(entry, &mut wake),
                KEY_OVERLAPPED => self.overlapped.on_completion(entry, &mut wake),
                KEY_LATE_CANCEL => self.overlapped.on_late_cancel(entry, &mut wake),
                KEY_WAKEUP => self.port.wakeup_dequeued(),
                _ => wake.extend(self.monitors.on_packet(entry)),
            }
        }
        drop(entries);
        wake.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn statistics(&self) -> Statistics {
        let mut s = Statistics {
            backend: "windows",
            completion_key_monitors: self.monitors.count(),
            completion_key_packets_discarded: self.monitors.discarded(),
            wakeups_received: self.port.wakeups_received(),
            ..Statistics::default()
        };
        self.afd.fill_statistics(&mut s);
        self.overlapped.fill_statistics(&mut s);
        s
    }

    pub(crate) fn register_wait(
        &self,
        sock: RawSock,
        dir: Direction,
        waker: &Waker,
    ) -> io::Result<WaitToken> {
        self.afd.register_wait(sock, dir, waker)
    }

    pub(crate) fn poll_wait(&self, token: WaitToken, waker: &Waker) -> Poll<io::Result<()>> {
        self.afd.poll_wait(token, waker)
    }

    pub(crate) fn cancel_wait(&self, token: WaitToken) {
        self.afd.cancel_wait(token)
    }

    pub(crate) fn notify_closing(&self, sock: RawSock) -> io::Result<()> {
        self.afd.notify_closing(sock)
    }
}
