//! Who waits on which fd: the epoll driver's bookkeeping, with no syscalls.
//!
//! Every wait touches this several times (park, poll, wake, re-arm,
//! collect), so nothing here hashes: the per-fd records live in a `Vec`
//! indexed by fd (descriptors are small and dense), and each waiter gets a
//! slab slot whose index, tagged with a generation, is its token. A stale
//! token (its slot since reused) never matches, so it can neither observe
//! nor cancel another waiter.

use std::io;
use std::os::fd::RawFd;
use std::task::{Poll, Waker};

use slab::Slab;

use crate::driver::{Interest, WaitToken};

#[derive(Default)]
pub(super) struct Waiters {
    fds: Vec<FdWaiters>,
    slots: Slab<Slot>,
    generation: u32,
    readers: usize,
    writers: usize,
}

/// The waiters of one fd and what is armed for it in epoll.
#[derive(Default)]
pub(super) struct FdWaiters {
    reader: Option<usize>,
    writer: Option<usize>,
    /// Interest currently armed in epoll (0: disarmed or not registered).
    pub(super) armed: u32,
}

struct Slot {
    generation: u32,
    state: SlotState,
}

enum SlotState {
    Parked {
        fd: RawFd,
        dir: Interest,
        waker: Waker,
    },
    /// Woken; the result waits for the future to collect it.
    Finished(io::Result<()>),
}

/// A second waiter in a direction already taken.
pub(super) struct Busy;

impl FdWaiters {
    fn slot(&mut self, d: Interest) -> &mut Option<usize> {
        match d {
            Interest::Read => &mut self.reader,
            Interest::Write => &mut self.writer,
        }
    }
}

fn token(generation: u32, index: usize) -> WaitToken {
    (u64::from(generation) << 32) | index as u64
}

fn split(token: WaitToken) -> (u32, usize) {
    ((token >> 32) as u32, (token & 0xffff_ffff) as usize)
}

impl Waiters {
    /// Whether the table already has a record for `fd` (no growth needed).
    pub(super) fn covers(&self, fd: RawFd) -> bool {
        (fd as usize) < self.fds.len()
    }

    /// The record of `fd`, created (with the table grown) if needed.
    /// `fd` must be non-negative and open: the caller checks.
    pub(super) fn record(&mut self, fd: RawFd) -> &mut FdWaiters {
        let i = fd as usize;
        if i >= self.fds.len() {
            self.fds.resize_with(i + 1, FdWaiters::default);
        }
        &mut self.fds[i]
    }

    pub(super) fn get(&mut self, fd: RawFd) -> Option<&mut FdWaiters> {
        usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i))
    }

    /// The epoll interest the waiters of `fd` need.
    pub(super) fn wanted(&self, fd: RawFd) -> u32 {
        let Some(rec) = usize::try_from(fd).ok().and_then(|i| self.fds.get(i)) else {
            return 0;
        };
        let mut w = 0;
        if rec.reader.is_some() {
            w |= libc::EPOLLIN as u32;
        }
        if rec.writer.is_some() {
            w |= libc::EPOLLOUT as u32;
        }
        w
    }

    /// Parks a waiter on `fd` in `dir`.
    pub(super) fn park(
        &mut self,
        fd: RawFd,
        dir: Interest,
        waker: &Waker,
    ) -> Result<WaitToken, Busy> {
        if self.record(fd).slot(dir).is_some() {
            return Err(Busy);
        }
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let index = self.slots.insert(Slot {
            generation,
            state: SlotState::Parked {
                fd,
                dir,
                waker: waker.clone(),
            },
        });
        *self.record(fd).slot(dir) = Some(index);
        self.count(dir, 1);
        Ok(token(generation, index))
    }

    fn slot_of(&mut self, token: WaitToken) -> Option<(usize, &mut Slot)> {
        let (generation, index) = split(token);
        match self.slots.get_mut(index) {
            Some(slot) if slot.generation == generation => Some((index, slot)),
            _ => None,
        }
    }

    /// The result of a finished waiter (its slot is freed), or `Pending`
    /// with the waker refreshed.
    pub(super) fn poll(&mut self, token: WaitToken, waker: &Waker) -> Poll<io::Result<()>> {
        let Some((index, slot)) = self.slot_of(token) else {
            return Poll::Ready(Err(io::Error::other(
                "oneport: readiness wait lost by the driver",
            )));
        };
        match &mut slot.state {
            SlotState::Parked { waker: w, .. } => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                Poll::Pending
            }
            SlotState::Finished(_) => match self.slots.remove(index).state {
                SlotState::Finished(result) => Poll::Ready(result),
                SlotState::Parked { .. } => unreachable!(),
            },
        }
    }

    /// Forgets a waiter (its future was dropped). Returns the fd whose
    /// interest changed, if it was still parked.
    pub(super) fn cancel(&mut self, token: WaitToken) -> Option<RawFd> {
        let (index, _) = self.slot_of(token)?;
        match self.slots.remove(index).state {
            SlotState::Finished(_) => None,
            SlotState::Parked { fd, dir, .. } => {
                self.count(dir, -1);
                *self.record(fd).slot(dir) = None;
                Some(fd)
            }
        }
    }

    /// Wakes the waiter of `fd` in `dir`, if any, with `result`.
    pub(super) fn finish(
        &mut self,
        fd: RawFd,
        dir: Interest,
        result: io::Result<()>,
    ) -> Option<Waker> {
        let index = self.get(fd)?.slot(dir).take()?;
        let slot = &mut self.slots[index];
        let SlotState::Parked { waker, .. } =
            std::mem::replace(&mut slot.state, SlotState::Finished(result))
        else {
            unreachable!("a record names a finished slot");
        };
        self.count(dir, -1);
        Some(waker)
    }

    fn count(&mut self, dir: Interest, delta: isize) {
        let c = match dir {
            Interest::Read => &mut self.readers,
            Interest::Write => &mut self.writers,
        };
        *c = c
            .checked_add_signed(delta)
            .expect("oneport: waiter count underflow");
    }

    pub(super) fn readers(&self) -> usize {
        self.readers
    }

    pub(super) fn writers(&self) -> usize {
        self.writers
    }

    /// Fds armed in epoll right now.
    pub(super) fn armed(&self) -> usize {
        self.fds.iter().filter(|r| r.armed != 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_reused_slots_never_match_and_busy_is_per_direction() {
        let mut w = Waiters::default();
        let waker = Waker::noop();
        let a = w.park(3, Interest::Read, waker).ok().unwrap();
        assert!(w.park(3, Interest::Read, waker).is_err());
        let b = w.park(3, Interest::Write, waker).ok().unwrap();
        assert_eq!(w.wanted(3), (libc::EPOLLIN | libc::EPOLLOUT) as u32);
        assert_eq!(w.cancel(a), Some(3));
        assert_eq!(w.cancel(a), None, "a second cancel is a no-op");
        let c = w.park(3, Interest::Read, waker).ok().unwrap();
        assert_ne!(a, c, "a reused slot gets a new token");
        assert!(
            w.poll(a, waker).is_ready(),
            "a stale token reports a lost wait"
        );
        assert!(w.finish(3, Interest::Read, Ok(())).is_some());
        assert_eq!(w.wanted(3), libc::EPOLLOUT as u32);
        assert!(matches!(w.poll(c, waker), Poll::Ready(Ok(()))));
        assert_eq!((w.readers(), w.writers()), (0, 1));
        assert_eq!(w.cancel(b), Some(3));
        assert_eq!(w.wanted(3), 0);
        assert_eq!(w.wanted(-1), 0);
        assert_eq!(w.wanted(1 << 30), 0);
    }
}
