//! The waiter record of one base socket.
//!
//! One record per base socket holds its reader, its writer and its current
//! poll (WINDOWS.md rule 11): Windows misreports events when two polls on
//! one socket share a port, so the two directions are merged into a single
//! poll for the union of their interests, and that poll is replaced
//! whenever the set of waiters changes.

use std::ptr::NonNull;
use std::task::Waker;

use super::poll::{Events, PollOp};
use crate::driver::{Interest, WaitToken};

/// The poll a record currently relies on. Every other poll submitted for
/// the same socket is stale: its packet is awaited and then ignored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CurrentPoll {
    pub(crate) op: NonNull<PollOp>,
    /// The AFD group (helper handle) it was submitted on.
    pub(crate) group: usize,
    /// What it asks for.
    pub(crate) events: Events,
}

/// A parked task: its token and how to wake it.
pub(crate) type Parked = (WaitToken, Waker);

#[derive(Default)]
pub(crate) struct SockWaiters {
    pub(crate) reader: Option<Parked>,
    pub(crate) writer: Option<Parked>,
    pub(crate) current: Option<CurrentPoll>,
}

impl SockWaiters {
    pub(crate) fn slot(&mut self, dir: Interest) -> &mut Option<Parked> {
        match dir {
            Interest::Read => &mut self.reader,
            Interest::Write => &mut self.writer,
        }
    }

    /// The union of what the parked waiters need.
    pub(crate) fn wanted(&self) -> Events {
        let mut w = Events::NONE;
        if self.reader.is_some() {
            w = w | Events::READABLE;
        }
        if self.writer.is_some() {
            w = w | Events::WRITABLE;
        }
        w
    }

    /// Whether `op` is this record's current poll.
    pub(crate) fn is_current(&self, op: NonNull<PollOp>) -> bool {
        self.current.is_some_and(|c| c.op == op)
    }
}

/// Which waiters a poll's events wake (WINDOWS.md rule 13).
pub(crate) fn woken_directions(events: Events) -> impl Iterator<Item = Interest> {
    [
        (Interest::Read, Events::READABLE),
        (Interest::Write, Events::WRITABLE),
    ]
    .into_iter()
    .filter(move |(_, mask)| events.intersects(*mask))
    .map(|(d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_wake_the_directions_they_concern() {
        let dirs = |e| woken_directions(e).collect::<Vec<_>>();
        assert_eq!(dirs(Events::RECEIVE), [Interest::Read]);
        assert_eq!(dirs(Events::ACCEPT), [Interest::Read]);
        assert_eq!(dirs(Events::DISCONNECT), [Interest::Read]);
        assert_eq!(dirs(Events::SEND), [Interest::Write]);
        assert_eq!(dirs(Events::CONNECT_FAIL), [Interest::Write]);
        assert_eq!(dirs(Events::ABORT), [Interest::Read, Interest::Write]);
        assert_eq!(dirs(Events::LOCAL_CLOSE), [Interest::Read, Interest::Write]);
        assert_eq!(dirs(Events::NONE), []);
        assert_eq!(dirs(Events::RECEIVE_EXPEDITED), []);
    }

    #[test]
    fn the_record_asks_for_the_union_of_its_waiters() {
        let mut r = SockWaiters::default();
        assert!(r.wanted().is_empty());
        *r.slot(Interest::Read) = Some((1, Waker::noop().clone()));
        assert_eq!(r.wanted(), Events::READABLE);
        *r.slot(Interest::Write) = Some((2, Waker::noop().clone()));
        assert_eq!(r.wanted(), Events::READABLE | Events::WRITABLE);
    }
}
