//! Socket readiness through the AFD driver (`IOCTL_AFD_POLL`).
//!
//! Windows has no readiness API that delivers to a completion port, except
//! the one `select` and `WSAPoll` are built on: a poll request sent to the
//! AFD driver (the kernel side of Winsock). Sent through a helper handle
//! associated with the port, a poll that sees one of the requested events
//! completes like any overlapped operation, with key 0. This is how Trio,
//! wepoll, libuv, mio and polling get readiness on Windows.
//!
//! The pieces:
//! - [`base_socket`](super::base_socket): every call first finds the base
//!   socket (a layered provider may hand out sockets of its own);
//! - [`handle`]: the helper handles, at most 500 polls each;
//! - [`poll`]: one request and its kernel-owned memory;
//! - the shared waiter table ([`crate::driver::waiters`]), keyed by base
//!   socket: its reader, its writer, and the AFD record of [`socket`] — an
//!   [`AfdState`]: idle, or polling with the single current poll for the
//!   union of their interests.
//!
//! The state machine, per base socket: a waiter arriving or leaving cancels
//! the current poll and submits one for the new union (or none: the record
//! goes). The
//! cancelled poll's packet still comes and is recognised as stale: it is not
//! the record's current poll. The current poll's packet wakes the waiters
//! its events concern and the next poll is submitted for whoever remains; if
//! that fails (the socket is gone), they get the error. Every submitted poll
//! stays in `polls` — its memory owned by the driver — until its packet is
//! dequeued, whatever happened to the record meanwhile.
//!
//! Woken waiters' results wait in the table until their future collects
//! them; a stale token (generation-tagged) names nothing.

mod handle;
mod poll;
mod socket;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::{Poll, Waker};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Networking::WinSock::WSAENOTSOCK;
use windows_sys::Win32::System::IO::{PostQueuedCompletionStatus, OVERLAPPED_ENTRY};

use super::base_socket::{self, SocketIoctl};
use super::keys::KEY_AFD;
use crate::driver::waiters::{Busy, Sparse, Waiters};
use crate::driver::{DriverStats, Interest, RawSock, WaitToken};
use crate::error::{closed_resource, socket_busy};
use handle::Groups;
use poll::PollOp;
use socket::{AfdState, CurrentPoll};

/// The readiness half of the Windows driver: waiter records, polls in
/// flight and the helper handles they go through.
pub(crate) struct Afd {
    /// The driver's port, which outlives this (it is dropped after us).
    port: HANDLE,
    ioctl: Rc<dyn SocketIoctl>,
    state: RefCell<State>,
}

/// A submitted poll whose packet has not been dequeued.
struct InFlight {
    op: NonNull<PollOp>,
    group: usize,
    /// The base socket it polls (its record may be gone or have moved on).
    sock: RawSock,
}

struct State {
    /// Who waits on which base socket, and where its polling stands. A
    /// record exists while someone waits or a poll is current.
    waiters: Waiters<Sparse<RawSock, AfdState>>,
    /// Every poll the kernel owns, by the address its packet carries.
    polls: HashMap<usize, InFlight>,
    groups: Groups,
    polls_issued: u64,
}

impl Afd {
    /// Checks the provider stack (WINDOWS.md rule 7); helper handles are
    /// opened later, on the first wait, and associated with `port`.
    pub(crate) fn new(port: HANDLE) -> io::Result<Afd> {
        let ioctl = base_socket::for_new_driver();
        base_socket::check_provider_stack(&*ioctl)?;
        Ok(Afd {
            port,
            ioctl,
            state: RefCell::new(State {
                waiters: Waiters::default(),
                polls: HashMap::new(),
                groups: Groups::new(port),
                polls_issued: 0,
            }),
        })
    }

    /// A key-0 packet: some poll finished.
    pub(crate) fn on_completion(&self, entry: &OVERLAPPED_ENTRY, wake: &mut Vec<Waker>) {
        let mut st = self.state.borrow_mut();
        let Some(done) = st.polls.remove(&(entry.lpOverlapped as usize)) else {
            drop(st);
            panic!(
                "oneport: AFD poll completion (key 0) for unknown OVERLAPPED {:p}",
                entry.lpOverlapped
            );
        };
        st.groups.release(done.group);
        let current = st
            .waiters
            .backend(done.sock)
            .is_some_and(|s| s.is_current(done.op));
        // SAFETY: the packet naming this poll has just been dequeued, so the
        // kernel is done with it; it leaves `polls` here, once.
        let outcome = unsafe { poll::reclaim(done.op) };
        if !current {
            return; // stale: superseded or its record is gone (rule 12)
        }
        let sock = done.sock;
        if let Some(s) = st.waiters.backend(sock) {
            *s = AfdState::Idle;
        }
        if let Some(e) = outcome.error() {
            // The poll itself failed (cancelled by someone else, or its
            // helper handle closed): the waiters learn why instead of
            // waiting on a socket nobody polls.
            st.fail_all(sock, &e, wake);
            return;
        }
        for dir in socket::woken_directions(outcome.events) {
            wake.extend(st.waiters.finish(sock, dir, Ok(())));
        }
        if let Err(e) = st.refresh(sock) {
            st.fail_all(sock, &e, wake);
        }
    }

    pub(crate) fn fill_statistics(&self, s: &mut DriverStats) {
        let st = self.state.borrow();
        s.tasks_waiting_read = st.waiters.readers();
        s.tasks_waiting_write = st.waiters.writers();
        s.afd_handles = st.groups.len();
        s.afd_polls_in_flight = st.polls.len();
        s.afd_polls_issued = st.polls_issued;
    }

    pub(crate) fn register_wait(
        &self,
        sock: RawSock,
        dir: Interest,
        waker: &Waker,
    ) -> io::Result<WaitToken> {
        let base = base_socket::resolve(&*self.ioctl, sock)?;
        let mut st = self.state.borrow_mut();
        if st
            .waiters
            .backend(base)
            .is_some_and(|s| s.current().is_some())
        {
            // The waiters there may belong to a socket closed without
            // `notify_closing` whose number `sock` now reuses: its poll has
            // ended (LOCAL_CLOSE) but the packet is not dequeued yet. In
            // either direction: a stale reader must not stay parked on the
            // new socket of a writer.
            let mut wake = Vec::new();
            st.settle_ended_poll(base, &mut wake);
            if !wake.is_empty() {
                drop(st);
                crate::driver::wake_all_or_resume(wake);
                st = self.state.borrow_mut();
            }
        }
        let token = st
            .waiters
            .park(base, dir, waker)
            .map_err(|Busy| socket_busy(dir))?;
        if let Err(e) = st.refresh(base) {
            // A handle that is not a socket at all reads as such (Wine only
            // notices here, see `confirm_socket`).
            let e = base_socket::confirm_socket(base).err().unwrap_or(e);
            // Nothing polls the socket now: withdraw the newcomer, and
            // whoever else waited on it learns the same error (rule 16).
            st.waiters.cancel(token);
            let mut wake = Vec::new();
            st.fail_all(base, &e, &mut wake);
            drop(st);
            crate::driver::wake_all_or_resume(wake);
            return Err(e);
        }
        Ok(token)
    }

    pub(crate) fn poll_wait(&self, token: WaitToken, waker: &Waker) -> Poll<io::Result<()>> {
        self.state.borrow_mut().waiters.poll(token, waker)
    }

    /// A dropped wait (rule 17): the slot is cleared and the socket's poll
    /// brought in line before this returns.
    pub(crate) fn cancel_wait(&self, token: WaitToken) {
        let mut st = self.state.borrow_mut();
        let Some(sock) = st.waiters.cancel(token) else {
            return; // finished (its result is dropped) or stale
        };
        let mut wake = Vec::new();
        // A poll that ended with the socket's close must not be replaced by
        // one for the remaining waiter: the number may name a new socket.
        st.settle_ended_poll(sock, &mut wake);
        if let Err(e) = st.refresh(sock) {
            st.fail_all(sock, &e, &mut wake);
        }
        drop(st);
        crate::driver::wake_all_or_resume(wake);
    }

    /// Rule 15: every waiter on the socket wakes with `ClosedResource`, and
    /// its poll is dropped. Closes nothing.
    pub(crate) fn notify_closing(&self, sock: RawSock) -> io::Result<()> {
        let base = base_socket::resolve(&*self.ioctl, sock)?;
        let mut st = self.state.borrow_mut();
        if !st.waiters.contains(base) {
            drop(st);
            return base_socket::confirm_socket(base);
        }
        let mut wake = Vec::new();
        for dir in Interest::BOTH {
            wake.extend(st.waiters.finish(base, dir, Err(closed_resource())));
        }
        // Nobody waits any more: this only cancels the poll, which cannot fail.
        st.refresh(base).ok();
        drop(st);
        crate::driver::wake_all_or_resume(wake);
        Ok(())
    }
}

impl State {
    /// Acts now on a current poll of `sock` that the kernel has finished
    /// with LOCAL_CLOSE or an error but whose packet is still queued: the
    /// socket was closed without `notify_closing` (WINDOWS.md rule 16) and
    /// the number may already name a new socket, which must start clean.
    /// The waiters get the poll's error, or `WSAENOTSOCK` for a close; the
    /// record goes, and the poll's packet is ignored when it comes.
    fn settle_ended_poll(&mut self, sock: RawSock, wake: &mut Vec<Waker>) {
        let Some(cur) = self.waiters.backend(sock).and_then(|s| s.current()) else {
            return;
        };
        // SAFETY: the current poll is in `polls`: not yet reclaimed.
        let Some(outcome) = (unsafe { poll::peek(cur.op) }) else {
            return;
        };
        let ended = match outcome.error() {
            Some(e) => e,
            None if outcome.events.intersects(poll::Events::LOCAL_CLOSE) => {
                base_socket::wsa_error(WSAENOTSOCK)
            }
            // Any other ending is left to its packet, as usual: the socket
            // is alive, and a superseded poll's events are asked for again.
            None => return,
        };
        if let Some(s) = self.waiters.backend(sock) {
            *s = AfdState::Idle;
        }
        self.fail_all(sock, &ended, wake);
    }

    /// The socket cannot be polled: every waiter gets the error and the
    /// record goes (its poll, if any, becomes stale).
    fn fail_all(&mut self, sock: RawSock, e: &io::Error, wake: &mut Vec<Waker>) {
        self.waiters.fail_all(sock, e, wake);
        if let Some(cur) = self.waiters.backend(sock).and_then(|s| s.current()) {
            self.cancel(cur);
        }
        self.waiters.remove_idle(sock);
    }

    /// Brings the poll of `sock` in line with its waiters (rule 11): keeps
    /// the current poll if it asks for exactly what is wanted; otherwise
    /// cancels it and submits one for the union, or removes the record when
    /// nobody waits. On error no poll is current.
    fn refresh(&mut self, sock: RawSock) -> io::Result<()> {
        let Some(state) = self.waiters.backend(sock).copied() else {
            return Ok(());
        };
        let wanted = socket::wanted(self.waiters.interest(sock));
        if let AfdState::Polling(cur) = state {
            if cur.events == wanted {
                return Ok(());
            }
            if let Some(s) = self.waiters.backend(sock) {
                *s = AfdState::Idle;
            }
            self.cancel(cur);
        }
        if wanted.is_empty() {
            self.waiters.remove_idle(sock);
            return Ok(());
        }
        let (group, afd) = self.groups.acquire()?;
        if self.groups.owns(sock as HANDLE) {
            self.groups.release(group);
            return Err(base_socket::wsa_error(WSAENOTSOCK));
        }
        // SAFETY: `afd` is an open helper handle associated with the port
        // (Groups only hands out such handles).
        match unsafe { poll::submit(afd, sock, wanted) } {
            Ok(op) => {
                self.polls
                    .insert(op.as_ptr() as usize, InFlight { op, group, sock });
                self.polls_issued += 1;
                if let Some(s) = self.waiters.backend(sock) {
                    *s = AfdState::Polling(CurrentPoll {
                        op,
                        group,
                        events: wanted,
                    });
                }
                Ok(())
            }
            Err(e) => {
                self.groups.release(group);
                Err(e)
            }
        }
    }

    /// Asks the kernel to end a superseded poll early. Its packet, and the
    /// release of its memory, come later through `on_completion`.
    fn cancel(&mut self, cur: CurrentPoll) {
        // SAFETY: `cur.op` is in `polls` (its packet has not been dequeued)
        // and was submitted on the handle of `cur.group`, still open.
        // Another failure than "already finished" (ignored inside) leaves
        // the poll to end by itself (an event, or the driver's drop); it is
        // stale either way and its memory stays owned until its packet, so
        // nothing is lost, but it is unexpected and costs a slot of the
        // group until then: say so.
        if let Err(e) = unsafe { poll::cancel(self.groups.handle(cur.group), cur.op) } {
            log::warn!(
                target: "oneport",
                "cancelling a superseded AFD poll {:p} failed: {e}; it stays in flight until \
                 it completes by itself",
                cur.op
            );
        }
    }
}

impl Drop for Afd {
    /// Rule 29: the helper handles are closed, which completes their polls;
    /// the memory of each is freed only once its packet has been dequeued.
    /// Polls whose packet does not come within
    /// [`DRAIN_LIMIT`](super::port::DRAIN_LIMIT) are leaked,
    /// never freed under the kernel. Packets of other keys met while
    /// draining are posted again, in order, for the rest of the driver.
    fn drop(&mut self) {
        let st = self.state.get_mut();
        st.waiters.clear();
        st.groups.close_all();
        let mut others = Vec::new();
        super::port::drain(self.port, |batch| {
            for e in batch {
                if e.lpCompletionKey != KEY_AFD {
                    others.push(*e);
                } else if let Some(done) = st.polls.remove(&(e.lpOverlapped as usize)) {
                    // SAFETY: its packet has just been dequeued.
                    unsafe { poll::reclaim(done.op) };
                }
            }
            !st.polls.is_empty()
        });
        // Whatever is left is leaked (`InFlight` does not free its memory),
        // and said so: the kernel may still write to it.
        if !st.polls.is_empty() {
            log::warn!(
                target: "oneport",
                "{} AFD poll(s) still in flight {:?} after their helper handles were \
                 closed; their memory is leaked rather than freed under the kernel",
                st.polls.len(),
                super::port::DRAIN_LIMIT
            );
        }
        st.polls.clear();
        for e in others {
            // SAFETY: re-posting copies three values into the open port.
            let ok = unsafe {
                PostQueuedCompletionStatus(
                    self.port,
                    e.dwNumberOfBytesTransferred,
                    e.lpCompletionKey,
                    e.lpOverlapped,
                )
            };
            if ok == 0 {
                // The packet belonged to another subsystem (an overlapped
                // operation, a wait, a monitor), which now never sees it:
                // its memory is kept (and reported) by that subsystem's own
                // drain, but the loss must not be silent.
                log::warn!(
                    target: "oneport",
                    "could not re-post a key-{} packet (OVERLAPPED {:p}) met while draining AFD \
                     polls: {}",
                    e.lpCompletionKey,
                    e.lpOverlapped,
                    io::Error::last_os_error()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The driver without a run loop: packets are pumped by hand, so a poll
    //! can be cancelled behind the record's back.

    use super::*;
    use crate::driver::windows::port::Port;
    use std::net::UdpSocket;
    use std::os::windows::io::AsRawSocket;
    use std::time::{Duration, Instant};
    use windows_sys::Win32::System::IO::CancelIoEx;

    /// Dequeues packets until `afd` has no poll in flight.
    fn pump(port: &Port, afd: &Afd, wake: &mut Vec<Waker>) {
        let mut entries = Vec::with_capacity(crate::driver::windows::port::MAX_ENTRIES);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !afd.state.borrow().polls.is_empty() {
            assert!(Instant::now() < deadline, "no packet for a poll in flight");
            let n = port.get_events(Some(Duration::from_millis(100)), &mut entries);
            for e in &entries[..n] {
                assert_eq!(e.lpCompletionKey, KEY_AFD);
                afd.on_completion(e, wake);
            }
        }
    }

    #[test]
    fn a_current_poll_cancelled_by_someone_else_fails_its_waiters() {
        let port = Port::new().unwrap();
        let afd = Afd::new(port.handle()).unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let raw = sock.as_raw_socket();
        let token = afd
            .register_wait(raw, Interest::Read, Waker::noop())
            .unwrap();
        let group = {
            let mut st = afd.state.borrow_mut();
            st.waiters.backend(raw).unwrap().current().unwrap().group
        };
        // Not a supersede: the record still counts on this poll.
        // SAFETY: cancels every request on our own open helper handle.
        unsafe { CancelIoEx(afd.state.borrow().groups.handle(group), std::ptr::null()) };
        let mut wake = Vec::new();
        pump(&port, &afd, &mut wake);
        assert_eq!(wake.len(), 1, "the waiter was woken");
        match afd.poll_wait(token, Waker::noop()) {
            Poll::Ready(Err(e)) => assert_eq!(e.raw_os_error(), Some(995), "{e}"),
            other => panic!("expected ERROR_OPERATION_ABORTED, got {other:?}"),
        }
        let mut s = DriverStats::default();
        afd.fill_statistics(&mut s);
        assert_eq!((s.tasks_waiting_read, s.afd_polls_in_flight), (0, 0));
        assert_eq!(
            afd.state.borrow().waiters.backends().count(),
            0,
            "record removed"
        );

        // The helper handle still serves the next wait.
        let token = afd
            .register_wait(raw, Interest::Write, Waker::noop())
            .unwrap();
        pump(&port, &afd, &mut wake);
        assert!(matches!(
            afd.poll_wait(token, Waker::noop()),
            Poll::Ready(Ok(()))
        ));
    }

    #[test]
    fn polls_in_flight_are_drained_when_the_driver_is_dropped() {
        let port = Port::new().unwrap();
        let socks: Vec<UdpSocket> = (0..5)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let afd = Afd::new(port.handle()).unwrap();
        for s in &socks {
            afd.register_wait(s.as_raw_socket(), Interest::Read, Waker::noop())
                .unwrap();
        }
        // A packet of another subsystem queued before the drain.
        port.post(super::super::keys::KEY_WAKEUP, 7, std::ptr::null())
            .unwrap();
        assert_eq!(afd.state.borrow().polls.len(), 5);
        let started = Instant::now();
        drop(afd);
        assert!(
            started.elapsed() < crate::driver::windows::port::DRAIN_LIMIT,
            "drained, not timed out"
        );
        // The foreign packet was handed back to the port.
        let mut entries = Vec::with_capacity(8);
        let n = port.get_events(Some(Duration::from_secs(1)), &mut entries);
        assert_eq!(n, 1);
        assert_eq!(entries[0].lpCompletionKey, super::super::keys::KEY_WAKEUP);
        assert_eq!(entries[0].dwNumberOfBytesTransferred, 7);
    }
}
