//! The completion-key space and the user's key monitors.
//!
//! Keys 0-4 are oneport's own (WINDOWS.md rule 2). From 5 up, keys are handed
//! to `monitor_completion_key()` callers from a counter and never reused, so
//! a late packet for a dropped monitor can never reach a new one: it is
//! discarded and counted. A key above the counter was never handed out; a
//! packet carrying it is a bug somewhere and panics, naming the key.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::task::{Poll, Waker};

use windows_sys::Win32::System::IO::OVERLAPPED_ENTRY;

/// One completion packet delivered to a completion-key monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompletionKeyEventInfo {
    /// The packet's `lpOverlapped`, as an address (for a job object: the
    /// process id; for a posted packet: whatever the poster chose).
    pub overlapped: usize,
    /// The packet's byte count (for a job object: the message code).
    pub bytes_transferred: u32,
}

/// AFD poll completions.
pub(crate) const KEY_AFD: usize = 0;
/// Completions of overlapped operations on registered handles.
pub(crate) const KEY_OVERLAPPED: usize = 1;
/// Posted by oneport when a cancel came too late (WINDOWS.md rule 23).
pub(crate) const KEY_LATE_CANCEL: usize = 2;
/// Posted by `force_wakeup`.
pub(crate) const KEY_WAKEUP: usize = 3;
/// A waited-on kernel object was signalled (`wait_for_object`).
pub(crate) const KEY_OBJECT_WAIT: usize = 4;
/// The first key handed to a monitor.
pub(crate) const FIRST_USER_KEY: usize = 5;

pub(crate) struct Monitors {
    next_key: Cell<usize>,
    live: RefCell<HashMap<usize, MonitorQueue>>,
    discarded: Cell<u64>,
}

#[derive(Default)]
struct MonitorQueue {
    packets: VecDeque<CompletionKeyEventInfo>,
    waker: Option<Waker>,
}

impl Monitors {
    pub(crate) fn new() -> Monitors {
        Monitors {
            next_key: Cell::new(FIRST_USER_KEY),
            live: RefCell::new(HashMap::new()),
            discarded: Cell::new(0),
        }
    }

    /// A fresh key, never handed out before by this port.
    pub(crate) fn create(&self) -> usize {
        let key = self.next_key.get();
        self.next_key.set(
            key.checked_add(1)
                .expect("oneport: completion keys exhausted"),
        );
        self.live.borrow_mut().insert(key, MonitorQueue::default());
        key
    }

    pub(crate) fn remove(&self, key: usize) {
        self.live.borrow_mut().remove(&key);
    }

    /// Dispatches a packet whose key is a user key; returns the waker to
    /// wake, if a monitor is parked.
    pub(crate) fn on_packet(&self, entry: &OVERLAPPED_ENTRY) -> Option<Waker> {
        let key = entry.lpCompletionKey;
        let mut live = self.live.borrow_mut();
        match live.get_mut(&key) {
            Some(q) => {
                q.packets.push_back(CompletionKeyEventInfo {
                    overlapped: entry.lpOverlapped as usize,
                    bytes_transferred: entry.dwNumberOfBytesTransferred,
                });
                q.waker.take()
            }
            None if key < self.next_key.get() => {
                self.discarded.set(self.discarded.get() + 1);
                None
            }
            None => panic!(
                "oneport: completion packet with unknown completion key {key:#x} (overlapped {:p}, \
                 {} bytes): no monitor was ever given this key",
                entry.lpOverlapped, entry.dwNumberOfBytesTransferred
            ),
        }
    }

    /// The next packet of monitor `key`, in arrival order.
    pub(crate) fn poll_next(&self, key: usize, waker: &Waker) -> Poll<CompletionKeyEventInfo> {
        let mut live = self.live.borrow_mut();
        let q = live
            .get_mut(&key)
            .expect("oneport: monitor polled after removal");
        match q.packets.pop_front() {
            Some(info) => Poll::Ready(info),
            None => {
                q.waker = Some(waker.clone());
                Poll::Pending
            }
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.live.borrow().len()
    }

    pub(crate) fn discarded(&self) -> u64 {
        self.discarded.get()
    }
}
