//! The AFD side of one base socket's waiter record.
//!
//! The shared waiter table ([`crate::driver::waiters`]) holds each base
//! socket's reader and writer; this is what AFD adds to the record: the
//! socket's single current poll (WINDOWS.md rule 11). Windows misreports
//! events when two polls on one socket share a port, so the two directions
//! are merged into a single poll for the union of their interests, and that
//! poll is replaced whenever the set of waiters changes.

use std::ptr::NonNull;

use super::poll::{Events, PollOp};
use crate::driver::waiters::Interests;
use crate::driver::Interest;

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

/// Where a base socket's polling stands.
///
/// There is no "cancelling" state: a superseded poll is cancelled and its
/// replacement submitted at once, so the record only ever waits on its
/// current poll; the cancelled one is no longer the record's business (it
/// stays in the driver's polls in flight, owned until its packet, and is
/// recognised then as stale).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) enum AfdState {
    /// No poll is current: just created, or its poll's packet has just
    /// been dequeued, or it ended with the socket's close.
    #[default]
    Idle,
    /// `CurrentPoll` is in flight for the union of the waiters' interests.
    Polling(CurrentPoll),
}

impl AfdState {
    /// The current poll, if any.
    pub(crate) fn current(self) -> Option<CurrentPoll> {
        match self {
            AfdState::Idle => None,
            AfdState::Polling(cur) => Some(cur),
        }
    }

    /// Whether `op` is this record's current poll.
    pub(crate) fn is_current(self, op: NonNull<PollOp>) -> bool {
        self.current().is_some_and(|c| c.op == op)
    }
}

/// The AFD events that the parked interests need.
pub(crate) fn wanted(i: Interests) -> Events {
    let mut w = Events::NONE;
    if i.read {
        w = w | Events::READABLE;
    }
    if i.write {
        w = w | Events::WRITABLE;
    }
    w
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
        let i = |read, write| wanted(Interests { read, write });
        assert!(i(false, false).is_empty());
        assert_eq!(i(true, false), Events::READABLE);
        assert_eq!(i(false, true), Events::WRITABLE);
        assert_eq!(i(true, true), Events::READABLE | Events::WRITABLE);
    }

    #[test]
    fn only_the_current_poll_is_current() {
        let mut a = 0u8;
        let mut b = 0u8;
        let op = |x: &mut u8| NonNull::from(x).cast::<PollOp>();
        let (pa, pb) = (op(&mut a), op(&mut b));
        assert!(!AfdState::Idle.is_current(pa));
        let s = AfdState::Polling(CurrentPoll {
            op: pa,
            group: 0,
            events: Events::READABLE,
        });
        assert!(s.is_current(pa) && !s.is_current(pb));
        assert_eq!(s.current().map(|c| c.group), Some(0));
    }
}
