//! Overlapped I/O on registered handles.
//!
//! Not yet implemented: no operation is ever submitted, so a completion with
//! key 1 or 2 can only be a bug, and panics naming the pointer.

use std::task::Waker;

use windows_sys::Win32::System::IO::OVERLAPPED_ENTRY;

use crate::lowlevel::Statistics;

pub(crate) struct Overlapped {}

impl Overlapped {
    pub(crate) fn new() -> Overlapped {
        Overlapped {}
    }

    pub(crate) fn on_completion(&self, entry: &OVERLAPPED_ENTRY, _wake: &mut Vec<Waker>) {
        panic!(
            "oneport: overlapped completion (key 1) for unknown OVERLAPPED {:p}",
            entry.lpOverlapped
        );
    }

    pub(crate) fn on_late_cancel(&self, entry: &OVERLAPPED_ENTRY, _wake: &mut Vec<Waker>) {
        panic!(
            "oneport: late-cancel packet (key 2) for unknown OVERLAPPED {:p}",
            entry.lpOverlapped
        );
    }

    pub(crate) fn fill_statistics(&self, _s: &mut Statistics) {}
}
