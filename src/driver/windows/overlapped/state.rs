//! Where one overlapped operation is in its life, and every way it moves on.
//!
//! An operation has an owner (its future) until the owner takes the result
//! or goes away, and the kernel holds its memory until the completion packet
//! is dequeued; a late-cancel marker (rule 23) may name the block too. Five
//! loose flags could describe impossible mixes (a waiter on an orphan, a
//! marker on an operation nobody abandoned), so the record has one [`State`]
//! and every transition is in one `match`, [`State::step`]. The match only
//! decides; the caller performs the [`Action`] it returns (the kernel calls,
//! freeing, waking), outside any borrow of the driver's table.

use std::task::Waker;

use super::op::Outcome;
use super::WaiterId;
use windows_sys::Win32::Foundation::NTSTATUS;

/// The life of one operation the driver knows.
pub(super) enum State {
    /// In the kernel: its packet has not been dequeued. The owner may be
    /// parked on it (one waiter at a time, rule 24).
    InFlight {
        waiter: Option<(WaiterId, Waker)>,
        /// The owner asked for a `CancelIoEx`.
        cancel_requested: bool,
    },
    /// The packet was dequeued; the owner has not taken the outcome yet.
    Done(Outcome),
    /// The owner went away before the packet; the block is freed when it
    /// comes. `late_cancel`: `CancelIoEx` came too late and a late-cancel
    /// marker naming the block is queued behind the packet.
    Orphaned { late_cancel: bool },
    /// The owner is gone and the packet came, but the late-cancel marker
    /// naming the block is still queued: the block waits for it.
    AwaitingMarker,
}

/// Something that happened to an operation.
pub(super) enum Event<'a> {
    /// The owner polls (waiter id and its current waker).
    Poll(WaiterId, &'a Waker),
    /// A waiter's future was dropped; the owner stays.
    StopWaiting(WaiterId),
    /// The owner asks the kernel to cancel.
    Cancel,
    /// The owner went away.
    Abandon,
    /// After [`Action::CancelOrphan`]: `CancelIoEx` said `ERROR_NOT_FOUND`
    /// and a late-cancel marker was posted.
    LateCancelPosted,
    /// The completion packet (key 1) was dequeued.
    Packet {
        status: NTSTATUS,
        bytes: usize,
        /// Whether the handle was found closed (asked only on failure).
        handle_closed: bool,
    },
    /// The late-cancel marker (key 2) was dequeued.
    Marker,
    /// The owner takes the outcome and resources.
    Take,
}

/// What the caller must do after a transition.
pub(super) enum Action {
    /// Nothing (a poll that parked, a cancel of a finished operation, ...).
    Nothing,
    /// A poll: the outcome is there.
    Ready,
    /// A poll: another waiter is parked (`ResourceBusy`).
    Busy,
    /// Wake this waker (the packet came for a parked owner).
    Wake(Waker),
    /// Drop this waker, outside the table's borrow (it may run code).
    Release(Waker),
    /// Call `CancelIoEx` for the owner; the packet still comes.
    CancelIo,
    /// The owner left mid-flight: call `CancelIoEx`; if it says
    /// `ERROR_NOT_FOUND` post a late-cancel marker and report
    /// [`Event::LateCancelPosted`]. The waker, if any, is released.
    CancelOrphan(Option<Waker>),
    /// Remove the record and free the block: the kernel is done with it.
    Free,
    /// Remove the record and hand the outcome and resources to the owner.
    Take(Outcome),
    /// `Take` before the packet: nothing to take yet.
    NotYet,
    /// The marker came before the packet although `CancelIoEx` said the
    /// operation had finished: the packet went to another port (or none).
    /// Remove the record and leak the block; the caller reports the bug.
    ForgotRegister,
}

impl State {
    /// A freshly submitted operation.
    pub(super) fn new() -> State {
        State::InFlight {
            waiter: None,
            cancel_requested: false,
        }
    }

    /// Whether a task is parked on the operation.
    pub(super) fn has_waiter(&self) -> bool {
        matches!(
            self,
            State::InFlight {
                waiter: Some(_),
                ..
            }
        )
    }

    /// Whether the owner has gone and the driver still keeps the block.
    pub(super) fn is_orphan(&self) -> bool {
        matches!(self, State::Orphaned { .. } | State::AwaitingMarker)
    }

    /// Whether the packet has been dequeued and the owner may take it.
    pub(super) fn is_done(&self) -> bool {
        matches!(self, State::Done(_))
    }

    /// The one transition function. `Err(message)` is an internal error
    /// (a second packet, a marker nobody posted) for the caller to raise
    /// with the operation's name and pointer.
    pub(super) fn step(&mut self, event: Event<'_>) -> Result<Action, &'static str> {
        use State::*;
        let action = match (&mut *self, event) {
            // The owner's side.
            (Done(_), Event::Poll(..)) => Action::Ready,
            (InFlight { waiter, .. }, Event::Poll(id, waker)) => match waiter {
                Some((w, k)) if *w == id => {
                    if !k.will_wake(waker) {
                        *k = waker.clone();
                    }
                    Action::Nothing
                }
                Some(_) => Action::Busy,
                None => {
                    *waiter = Some((id, waker.clone()));
                    Action::Nothing
                }
            },
            (InFlight { waiter, .. }, Event::StopWaiting(id)) => match waiter {
                Some((w, _)) if *w == id => Action::Release(waiter.take().expect("matched Some").1),
                _ => Action::Nothing,
            },
            (Done(_), Event::StopWaiting(_)) | (Done(_), Event::Cancel) => Action::Nothing,
            (
                InFlight {
                    cancel_requested, ..
                },
                Event::Cancel,
            ) => {
                if *cancel_requested {
                    Action::Nothing
                } else {
                    *cancel_requested = true;
                    Action::CancelIo
                }
            }
            (Done(o), Event::Take) => {
                let o = *o;
                Action::Take(o)
            }
            (InFlight { .. }, Event::Take) => Action::NotYet,
            (Done(_), Event::Abandon) => Action::Free,
            (InFlight { waiter, .. }, Event::Abandon) => {
                let w = waiter.take().map(|(_, k)| k);
                *self = Orphaned { late_cancel: false };
                Action::CancelOrphan(w)
            }
            (Orphaned { late_cancel }, Event::LateCancelPosted) => {
                *late_cancel = true;
                Action::Nothing
            }

            // The kernel's side.
            (
                InFlight {
                    waiter,
                    cancel_requested,
                },
                Event::Packet {
                    status,
                    bytes,
                    handle_closed,
                },
            ) => {
                let w = waiter.take().map(|(_, k)| k);
                *self = Done(Outcome {
                    status,
                    bytes,
                    cancel_requested: *cancel_requested,
                    handle_closed: status != 0 && handle_closed,
                });
                w.map_or(Action::Nothing, Action::Wake)
            }
            (Orphaned { late_cancel: false }, Event::Packet { .. }) => Action::Free,
            (Orphaned { late_cancel: true }, Event::Packet { .. }) => {
                *self = AwaitingMarker;
                Action::Nothing
            }
            (AwaitingMarker, Event::Marker) => Action::Free,
            (Orphaned { late_cancel: true }, Event::Marker) => Action::ForgotRegister,

            // Everything else cannot happen while the driver is correct.
            (Done(_) | AwaitingMarker, Event::Packet { .. }) => {
                return Err("second completion packet (key 1)")
            }
            (_, Event::Marker) => return Err("late-cancel packet (key 2) nobody posted"),
            (_, Event::LateCancelPosted) => return Err("late-cancel posted for a live owner"),
            (Orphaned { .. } | AwaitingMarker, _) => {
                return Err("the owner used an operation it had abandoned")
            }
        };
        Ok(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(status: NTSTATUS) -> Event<'static> {
        Event::Packet {
            status,
            bytes: 3,
            handle_closed: false,
        }
    }

    #[test]
    fn an_owned_operation_waits_wakes_and_is_taken() {
        let waker = std::task::Waker::noop();
        let mut s = State::new();
        assert!(matches!(s.step(Event::Poll(1, waker)), Ok(Action::Nothing)));
        assert!(s.has_waiter());
        assert!(matches!(s.step(Event::Poll(2, waker)), Ok(Action::Busy)));
        assert!(matches!(s.step(Event::Cancel), Ok(Action::CancelIo)));
        assert!(matches!(s.step(Event::Cancel), Ok(Action::Nothing)));
        assert!(matches!(s.step(packet(0)), Ok(Action::Wake(_))));
        assert!(s.is_done());
        assert!(matches!(s.step(Event::Poll(1, waker)), Ok(Action::Ready)));
        match s.step(Event::Take) {
            Ok(Action::Take(o)) => assert!(o.cancel_requested && o.bytes == 3),
            _ => panic!("not taken"),
        }
        assert!(s.step(packet(0)).is_err(), "a second packet is a bug");
    }

    #[test]
    fn an_orphan_is_freed_by_its_packet_or_after_its_marker() {
        let mut s = State::new();
        assert!(matches!(
            s.step(Event::Abandon),
            Ok(Action::CancelOrphan(None))
        ));
        assert!(s.is_orphan());
        assert!(matches!(s.step(packet(0)), Ok(Action::Free)));

        let mut s = State::new();
        s.step(Event::Abandon).unwrap();
        s.step(Event::LateCancelPosted).unwrap();
        assert!(matches!(s.step(packet(0)), Ok(Action::Nothing)));
        assert!(matches!(s.step(Event::Marker), Ok(Action::Free)));

        let mut s = State::new();
        s.step(Event::Abandon).unwrap();
        s.step(Event::LateCancelPosted).unwrap();
        assert!(matches!(s.step(Event::Marker), Ok(Action::ForgotRegister)));
    }

    #[test]
    fn impossible_events_are_reported_not_absorbed() {
        let mut s = State::new();
        assert!(s.step(Event::Marker).is_err());
        assert!(s.step(Event::LateCancelPosted).is_err());
        let mut s = State::new();
        s.step(Event::Abandon).unwrap();
        assert!(s.step(Event::Take).is_err());
        assert!(matches!(State::new().step(Event::Take), Ok(Action::NotYet)));
    }
}
