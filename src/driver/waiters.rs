//! Who waits on which socket: the readiness bookkeeping every backend
//! shares, with no syscalls.
//!
//! epoll and AFD (and any later readiness backend) keep the same books: per
//! socket at most one reader and one writer; per waiter a token that its
//! future polls and cancels with; woken waiters' results kept until their
//! future collects them. Keeping those books once, here, leaves each
//! backend only its own part: what it has asked the kernel for, held in the
//! per-key backend record `B`, and how to bring that in line with
//! [`Waiters::interest`] whenever a waiter arrives or leaves.
//!
//! No callbacks: [`Waiters::park`] always changes the interest of its key,
//! and [`Waiters::cancel`] says which key's interest changed, so the backend
//! re-arms (epoll) or re-polls (AFD) right after.
//!
//! Each waiter gets a slab slot whose index, tagged with a generation, is
//! its token. A stale token (its slot since reused) never matches, so it can
//! neither observe nor cancel another waiter.
//!
//! Where the per-key records live is the backend's choice ([`Store`]): epoll
//! indexes a `Vec` by fd ([`Dense`], nothing hashes on its hot path), AFD
//! keys a map by base socket ([`Sparse`]: `SOCKET`s are not small).

use std::collections::HashMap;
use std::hash::Hash;
use std::io;
use std::marker::PhantomData;
use std::task::{Poll, Waker};

use slab::Slab;

use super::{Interest, WaitToken};
use crate::error::copy_error;

/// The waiters of one key and the backend's record of it.
#[derive(Default)]
pub(crate) struct Record<B> {
    reader: Option<usize>,
    writer: Option<usize>,
    /// What the backend has asked the kernel for on this key.
    pub(crate) backend: B,
}

impl<B> Record<B> {
    fn slot(&mut self, d: Interest) -> &mut Option<usize> {
        match d {
            Interest::Read => &mut self.reader,
            Interest::Write => &mut self.writer,
        }
    }

    /// The union of the parked waiters' interests.
    pub(crate) fn interest(&self) -> Interests {
        Interests {
            read: self.reader.is_some(),
            write: self.writer.is_some(),
        }
    }
}

/// The union of the interests parked on one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Interests {
    /// A reader is parked.
    pub(crate) read: bool,
    /// A writer is parked.
    pub(crate) write: bool,
}

impl Interests {
    #[cfg_attr(not(windows), allow(dead_code))] // used by AFD
    /// Nobody waits.
    pub(crate) fn is_empty(self) -> bool {
        !self.read && !self.write
    }
}

/// Where the per-key records live.
pub(crate) trait Store: Default {
    /// How the backend names a socket.
    type Key: Copy + Eq;
    /// The backend's own per-key record.
    type Backend: Default;

    /// The record of `key`, if there is one.
    fn get(&self, key: Self::Key) -> Option<&Record<Self::Backend>>;
    /// The record of `key`, if there is one.
    fn get_mut(&mut self, key: Self::Key) -> Option<&mut Record<Self::Backend>>;
    /// The record of `key`, created if needed.
    fn entry(&mut self, key: Self::Key) -> &mut Record<Self::Backend>;
    #[cfg_attr(not(windows), allow(dead_code))] // used by AFD
    /// Forgets the record of `key` (or resets it to the default).
    fn remove(&mut self, key: Self::Key);
    #[cfg_attr(windows, allow(dead_code))] // used by epoll
    /// Every record there is.
    fn records(&self) -> impl Iterator<Item = &Record<Self::Backend>>;
}

#[cfg_attr(windows, allow(dead_code))] // used by epoll
/// Records in a `Vec` indexed by the key: for small, dense keys (fds).
pub(crate) struct Dense<K, B> {
    recs: Vec<Record<B>>,
    _key: PhantomData<K>,
}

impl<K, B> Default for Dense<K, B> {
    fn default() -> Self {
        Dense {
            recs: Vec::new(),
            _key: PhantomData,
        }
    }
}

impl<K: Copy + Eq, B: Default> Dense<K, B>
where
    usize: TryFrom<K>,
{
    #[cfg_attr(windows, allow(dead_code))] // used by epoll
    /// Whether `key` already has a slot (no growth needed to record it).
    pub(crate) fn covers(&self, key: K) -> bool {
        usize::try_from(key).is_ok_and(|i| i < self.recs.len())
    }
}

impl<K: Copy + Eq, B: Default> Store for Dense<K, B>
where
    usize: TryFrom<K>,
{
    type Key = K;
    type Backend = B;

    fn get(&self, key: K) -> Option<&Record<B>> {
        usize::try_from(key).ok().and_then(|i| self.recs.get(i))
    }

    fn get_mut(&mut self, key: K) -> Option<&mut Record<B>> {
        usize::try_from(key).ok().and_then(|i| self.recs.get_mut(i))
    }

    /// The table grows to the key: the caller checks first that the key is
    /// a real, non-negative one (an open fd), so it is never huge.
    fn entry(&mut self, key: K) -> &mut Record<B> {
        let Ok(i) = usize::try_from(key) else {
            panic!("oneport: a negative key reached the waiter table");
        };
        if i >= self.recs.len() {
            self.recs.resize_with(i + 1, Record::default);
        }
        &mut self.recs[i]
    }

    fn remove(&mut self, key: K) {
        if let Some(r) = self.get_mut(key) {
            *r = Record::default();
        }
    }

    fn records(&self) -> impl Iterator<Item = &Record<B>> {
        self.recs.iter()
    }
}

#[cfg_attr(not(windows), allow(dead_code))] // used by AFD
/// Records in a hash map: for keys that are neither small nor dense.
pub(crate) struct Sparse<K, B> {
    recs: HashMap<K, Record<B>>,
}

impl<K, B> Default for Sparse<K, B> {
    fn default() -> Self {
        Sparse {
            recs: HashMap::new(),
        }
    }
}

impl<K: Copy + Eq + Hash, B: Default> Store for Sparse<K, B> {
    type Key = K;
    type Backend = B;

    fn get(&self, key: K) -> Option<&Record<B>> {
        self.recs.get(&key)
    }

    fn get_mut(&mut self, key: K) -> Option<&mut Record<B>> {
        self.recs.get_mut(&key)
    }

    fn entry(&mut self, key: K) -> &mut Record<B> {
        self.recs.entry(key).or_default()
    }

    fn remove(&mut self, key: K) {
        self.recs.remove(&key);
    }

    fn records(&self) -> impl Iterator<Item = &Record<B>> {
        self.recs.values()
    }
}

struct Slot<K> {
    generation: u32,
    state: SlotState<K>,
}

enum SlotState<K> {
    Parked {
        key: K,
        dir: Interest,
        waker: Waker,
    },
    /// Woken; the result waits for the future to collect it.
    Finished(io::Result<()>),
}

/// A second waiter in a direction already taken.
#[derive(Debug)]
pub(crate) struct Busy;

/// The waiter table of one driver.
pub(crate) struct Waiters<S: Store> {
    store: S,
    slots: Slab<Slot<S::Key>>,
    generation: u32,
    readers: usize,
    writers: usize,
}

impl<S: Store> Default for Waiters<S> {
    fn default() -> Self {
        Waiters {
            store: S::default(),
            slots: Slab::new(),
            generation: 0,
            readers: 0,
            writers: 0,
        }
    }
}

fn token(generation: u32, index: usize) -> WaitToken {
    (u64::from(generation) << 32) | index as u64
}

fn split(token: WaitToken) -> (u32, usize) {
    ((token >> 32) as u32, (token & 0xffff_ffff) as usize)
}

impl<S: Store> Waiters<S> {
    #[cfg_attr(windows, allow(dead_code))] // used by epoll
    /// The records, for what only their store knows (e.g. [`Dense::covers`]).
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    #[cfg_attr(not(windows), allow(dead_code))] // used by AFD
    /// Whether `key` has a record.
    pub(crate) fn contains(&self, key: S::Key) -> bool {
        self.store.get(key).is_some()
    }

    /// The backend record of `key`, if it has a record.
    pub(crate) fn backend(&mut self, key: S::Key) -> Option<&mut S::Backend> {
        self.store.get_mut(key).map(|r| &mut r.backend)
    }

    #[cfg_attr(windows, allow(dead_code))] // used by epoll
    /// The backend records there are.
    pub(crate) fn backends(&self) -> impl Iterator<Item = &S::Backend> {
        self.store.records().map(|r| &r.backend)
    }

    /// The union of the interests parked on `key`.
    pub(crate) fn interest(&self, key: S::Key) -> Interests {
        self.store
            .get(key)
            .map_or_else(Interests::default, |r| r.interest())
    }

    #[cfg_attr(not(windows), allow(dead_code))] // used by AFD
    /// Forgets the record of `key`, backend record included, if nobody is
    /// parked on it (a record with waiters always stays).
    pub(crate) fn remove_idle(&mut self, key: S::Key) {
        if self.interest(key).is_empty() {
            self.store.remove(key);
        }
    }

    /// Parks a waiter on `key` in `dir` (the interest of `key` changes:
    /// the backend brings the kernel in line next).
    pub(crate) fn park(
        &mut self,
        key: S::Key,
        dir: Interest,
        waker: &Waker,
    ) -> Result<WaitToken, Busy> {
        if self.store.entry(key).slot(dir).is_some() {
            return Err(Busy);
        }
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let index = self.slots.insert(Slot {
            generation,
            state: SlotState::Parked {
                key,
                dir,
                waker: waker.clone(),
            },
        });
        *self.store.entry(key).slot(dir) = Some(index);
        self.count(dir, 1);
        Ok(token(generation, index))
    }

    fn slot_of(&mut self, token: WaitToken) -> Option<(usize, &mut Slot<S::Key>)> {
        let (generation, index) = split(token);
        match self.slots.get_mut(index) {
            Some(slot) if slot.generation == generation => Some((index, slot)),
            _ => None,
        }
    }

    /// The result of a finished waiter (its slot is freed), or `Pending`
    /// with the waker refreshed.
    pub(crate) fn poll(&mut self, token: WaitToken, waker: &Waker) -> Poll<io::Result<()>> {
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

    /// Forgets a waiter (its future was dropped). Returns the key whose
    /// interest changed, if it was still parked.
    pub(crate) fn cancel(&mut self, token: WaitToken) -> Option<S::Key> {
        let (index, _) = self.slot_of(token)?;
        match self.slots.remove(index).state {
            SlotState::Finished(_) => None,
            SlotState::Parked { key, dir, .. } => {
                self.count(dir, -1);
                if let Some(rec) = self.store.get_mut(key) {
                    *rec.slot(dir) = None;
                }
                Some(key)
            }
        }
    }

    /// Wakes the waiter of `key` in `dir`, if any, with `result`.
    pub(crate) fn finish(
        &mut self,
        key: S::Key,
        dir: Interest,
        result: io::Result<()>,
    ) -> Option<Waker> {
        let index = self.store.get_mut(key)?.slot(dir).take()?;
        let slot = &mut self.slots[index];
        let SlotState::Parked { waker, .. } =
            std::mem::replace(&mut slot.state, SlotState::Finished(result))
        else {
            unreachable!("a record names a finished slot");
        };
        self.count(dir, -1);
        Some(waker)
    }

    /// Wakes every waiter of `key` with (a copy of) `e`; their wakers go
    /// to `wake`. The record stays: what the backend does with it is its
    /// own business.
    pub(crate) fn fail_all(&mut self, key: S::Key, e: &io::Error, wake: &mut Vec<Waker>) {
        for dir in Interest::BOTH {
            wake.extend(self.finish(key, dir, Err(copy_error(e))));
        }
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

    /// Readers parked right now.
    pub(crate) fn readers(&self) -> usize {
        self.readers
    }

    /// Writers parked right now.
    pub(crate) fn writers(&self) -> usize {
        self.writers
    }

    #[cfg_attr(not(windows), allow(dead_code))] // used by AFD
    /// Forgets everything: records, waiters and results.
    pub(crate) fn clear(&mut self) {
        *self = Waiters::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: Interests = Interests {
        read: true,
        write: true,
    };
    const WRITE: Interests = Interests {
        read: false,
        write: true,
    };

    fn tokens_and_busy<S: Store<Key = i32, Backend = u32>>() {
        let mut w = Waiters::<S>::default();
        let waker = Waker::noop();
        let a = w.park(3, Interest::Read, waker).unwrap();
        assert!(w.park(3, Interest::Read, waker).is_err(), "busy");
        let b = w.park(3, Interest::Write, waker).unwrap();
        assert_eq!(w.interest(3), BOTH);
        assert_eq!(w.cancel(a), Some(3));
        assert_eq!(w.cancel(a), None, "a second cancel is a no-op");
        let c = w.park(3, Interest::Read, waker).unwrap();
        assert_ne!(a, c, "a reused slot gets a new token");
        assert!(
            matches!(w.poll(a, waker), Poll::Ready(Err(_))),
            "a stale token reports a lost wait"
        );
        assert!(w.finish(3, Interest::Read, Ok(())).is_some());
        assert!(w.finish(3, Interest::Read, Ok(())).is_none(), "once");
        assert_eq!(w.interest(3), WRITE);
        assert!(matches!(w.poll(c, waker), Poll::Ready(Ok(()))));
        assert!(
            matches!(w.poll(c, waker), Poll::Ready(Err(_))),
            "a collected result is gone"
        );
        assert_eq!((w.readers(), w.writers()), (0, 1));
        assert_eq!(w.cancel(b), Some(3));
        assert!(w.interest(3).is_empty());
        assert!(w.interest(-1).is_empty());
        assert!(w.interest(1 << 30).is_empty());
        assert_eq!(w.finish(-1, Interest::Read, Ok(())).map(|_| ()), None);
    }

    fn fail_all_and_records<S: Store<Key = i32, Backend = u32>>() {
        let mut w = Waiters::<S>::default();
        let waker = Waker::noop();
        let r = w.park(5, Interest::Read, waker).unwrap();
        let x = w.park(5, Interest::Write, waker).unwrap();
        *w.backend(5).unwrap() = 7;
        w.remove_idle(5);
        assert_eq!(
            w.backend(5).copied(),
            Some(7),
            "a record with waiters stays"
        );
        let mut wake = Vec::new();
        w.fail_all(5, &io::Error::from_raw_os_error(9), &mut wake);
        assert_eq!(wake.len(), 2);
        assert_eq!((w.readers(), w.writers()), (0, 0));
        for t in [r, x] {
            match w.poll(t, waker) {
                Poll::Ready(Err(e)) => assert_eq!(e.raw_os_error(), Some(9)),
                other => panic!("expected the error, got {other:?}"),
            }
        }
        assert_eq!(w.cancel(r), None, "collected: nothing to cancel");
        assert_eq!(w.backends().filter(|b| **b != 0).count(), 1);
        w.remove_idle(5);
        assert_eq!(w.backends().filter(|b| **b != 0).count(), 0);
        // A finished, uncollected result is dropped by cancel.
        let t = w.park(5, Interest::Read, waker).unwrap();
        assert!(w.finish(5, Interest::Read, Ok(())).is_some());
        assert_eq!(w.cancel(t), None);
        assert!(matches!(w.poll(t, waker), Poll::Ready(Err(_))));
        w.clear();
        assert!(!w.contains(5));
    }

    #[test]
    fn dense_tokens_of_reused_slots_never_match_and_busy_is_per_direction() {
        tokens_and_busy::<Dense<i32, u32>>();
    }

    #[test]
    fn sparse_tokens_of_reused_slots_never_match_and_busy_is_per_direction() {
        tokens_and_busy::<Sparse<i32, u32>>();
    }

    #[test]
    fn dense_fail_all_wakes_both_and_records_go_only_when_idle() {
        fail_all_and_records::<Dense<i32, u32>>();
    }

    #[test]
    fn sparse_fail_all_wakes_both_and_records_go_only_when_idle() {
        fail_all_and_records::<Sparse<i32, u32>>();
    }

    #[test]
    fn dense_covers_only_what_it_has_grown_to() {
        let mut w = Waiters::<Dense<i32, u32>>::default();
        assert!(!w.store().covers(4));
        w.park(4, Interest::Read, Waker::noop()).unwrap();
        assert!(w.store().covers(4) && w.store().covers(0));
        assert!(!w.store().covers(5) && !w.store().covers(-1));
    }
}
