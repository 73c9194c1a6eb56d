//! Deadlines and the wakers waiting for them.
//!
//! A binary heap of `(deadline, sequence, slot)` orders the deadlines (16
//! bytes an entry: the deadline as nanoseconds since the structure was
//! made, a 32-bit sequence and slot, since at 100,000 timers the memory
//! touched is what costs, more than the comparisons); the
//! wakers live in a slab. Equal deadlines fire in the order they were set
//! (the sequence breaks ties). A cancelled sleep frees its slab slot at once
//! (O(1)) and leaves its heap entry behind: the entry is recognised as stale
//! when it reaches the top (its slot is empty or holds a later sequence) and
//! skipped. So that `timeout()` around many quick operations cannot grow the
//! heap without bound, its stale entries are dropped whenever they
//! outnumber live ones by far.
//!
//! (An ordered map did the same with less code, but allocated a node per
//! insert; with 100,000 sleeps it was the largest cost of the timer path.)

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

/// Identifies one registered deadline: its slab slot and sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    slot: u32,
    seq: u32,
}

/// A deadline as nanoseconds since the structure's epoch: 8 bytes instead
/// of an `Instant`'s 16, and one integer comparison per heap step.
type Nanos = u64;

/// A pending deadline's slab entry (24 bytes: the deadline itself lives
/// only in the heap).
struct Entry {
    seq: u32,
    waker: Waker,
}

/// One heap entry: 16 bytes. Ordered by deadline, then by sequence (the
/// order deadlines were set in), then slot.
type HeapEntry = Reverse<(Nanos, u32, u32)>;

pub(crate) struct Timers {
    epoch: Instant,
    heap: BinaryHeap<HeapEntry>,
    live: Slab<Entry>,
    /// Wraps after 2^32 deadlines; see `is_live` for why that is harmless.
    next_seq: u32,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            epoch: Instant::now(),
            heap: BinaryHeap::new(),
            live: Slab::new(),
            next_seq: 0,
        }
    }
}

impl Timers {
    /// `t` in nanoseconds since the epoch; an instant before the epoch is
    /// 0 (it is due at once either way), one beyond 584 years saturates.
    fn nanos(&self, t: Instant) -> Nanos {
        let d = t.saturating_duration_since(self.epoch).as_nanos();
        Nanos::try_from(d).unwrap_or(Nanos::MAX)
    }

    fn instant(&self, n: Nanos) -> Instant {
        self.epoch + Duration::from_nanos(n)
    }

    fn take_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }

    /// Registers `waker` to be woken at `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let seq = self.take_seq();
        let deadline = self.nanos(deadline);
        let slot = self.live.insert(Entry { seq, waker });
        // Four billion pending deadlines would need 128 GiB of entries.
        let slot = u32::try_from(slot).expect("oneport: more than 2^32 pending timers");
        self.heap.push(Reverse((deadline, seq, slot)));
        TimerKey { slot, seq }
    }

    fn entry_mut(&mut self, key: TimerKey) -> Option<&mut Entry> {
        self.live
            .get_mut(key.slot as usize)
            .filter(|e| e.seq == key.seq)
    }

    /// Replaces the waker of a still-pending deadline; false if it already fired.
    pub(crate) fn update(&mut self, key: TimerKey, waker: &Waker) -> bool {
        match self.entry_mut(key) {
            Some(e) => {
                if !e.waker.will_wake(waker) {
                    e.waker = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// Moves a still-pending deadline to `deadline`, keeping its waker, and
    /// returns its new key; `None` if it already fired. The old heap entry
    /// turns stale (its slot now holds a later sequence).
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: Instant) -> Option<TimerKey> {
        self.entry_mut(key)?;
        let seq = self.take_seq();
        let deadline = self.nanos(deadline);
        self.entry_mut(key).expect("checked above").seq = seq;
        self.heap.push(Reverse((deadline, seq, key.slot)));
        self.compact_if_mostly_stale();
        Some(TimerKey {
            slot: key.slot,
            seq,
        })
    }

    /// Forgets a deadline (a dropped sleep).
    pub(crate) fn remove(&mut self, key: TimerKey) {
        if self.entry_mut(key).is_some() {
            self.live.remove(key.slot as usize);
            self.compact_if_mostly_stale();
        }
    }

    /// Whether a heap entry still names a live deadline.
    ///
    /// After the sequence wraps, a stale entry could in principle match a
    /// new deadline in the same slot; the worst that does is wake its sleep
    /// early, and a sleep woken before its deadline registers again.
    fn is_live(&self, seq: u32, slot: u32) -> bool {
        self.live.get(slot as usize).is_some_and(|e| e.seq == seq)
    }

    /// Drops stale entries from the top of the heap.
    fn skip_stale(&mut self) {
        while let Some(&Reverse((_, seq, slot))) = self.heap.peek() {
            if self.is_live(seq, slot) {
                break;
            }
            self.heap.pop();
        }
    }

    fn compact_if_mostly_stale(&mut self) {
        if self.heap.len() > 1024 && self.heap.len() > 4 * self.live.len() {
            let live = &self.live;
            self.heap.retain(|&Reverse((_, seq, slot))| {
                live.get(slot as usize).is_some_and(|e| e.seq == seq)
            });
        }
    }

    /// The earliest pending deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.skip_stale();
        let next = self.heap.peek().map(|&Reverse((d, _, _))| d);
        next.map(|d| self.instant(d))
    }

    /// Removes every deadline at or before `now`, in deadline order.
    pub(crate) fn take_expired(&mut self, now: Instant, out: &mut Vec<Waker>) {
        let now = self.nanos(now);
        while let Some(&Reverse((deadline, seq, slot))) = self.heap.peek() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if self.is_live(seq, slot) {
                out.push(self.live.remove(slot as usize).waker);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    /// Every pending waker, for shutdown.
    pub(crate) fn drain(&mut self) -> Vec<Waker> {
        self.heap.clear();
        self.live.drain().map(|e| e.waker).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_deadlines_come_out_in_order_and_removed_ones_never() {
        let mut t = Timers::default();
        let now = Instant::now();
        let w = Waker::noop();
        let late = t.insert(now + Duration::from_secs(5), w.clone());
        let b = t.insert(now + Duration::from_millis(2), w.clone());
        let _a = t.insert(now + Duration::from_millis(1), w.clone());
        t.remove(b);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(1)));
        let mut out = Vec::new();
        t.take_expired(now + Duration::from_millis(3), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(t.len(), 1);
        assert!(t.update(late, w));
        assert!(!t.update(b, w));
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(5)));
    }

    #[test]
    fn a_reused_slot_is_not_mistaken_for_the_removed_deadline() {
        let mut t = Timers::default();
        let now = Instant::now();
        let w = Waker::noop();
        let old = t.insert(now, w.clone());
        t.remove(old);
        let new = t.insert(now + Duration::from_secs(1), w.clone());
        assert_ne!(old, new);
        t.remove(old); // stale: must not remove the new deadline
        assert_eq!(t.len(), 1);
        let mut out = Vec::new();
        t.take_expired(now, &mut out);
        assert!(
            out.is_empty(),
            "the stale heap entry fired the new deadline"
        );
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(1)));
    }

    #[test]
    fn entries_stay_small() {
        // What 100,000 pending sleeps cost in memory is what they cost.
        assert_eq!(std::mem::size_of::<HeapEntry>(), 16);
        assert!(std::mem::size_of::<Entry>() <= 24);
        assert!(std::mem::size_of::<crate::time::Sleep>() <= 40);
    }

    #[test]
    fn a_reset_deadline_fires_at_its_new_time_only() {
        let mut t = Timers::default();
        let now = Instant::now();
        let w = Waker::noop();
        let k = t.insert(now + Duration::from_secs(5), w.clone());
        let k2 = t.reset(k, now + Duration::from_millis(1)).unwrap();
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(1)));
        assert!(!t.update(k, w), "the old key still names the deadline");
        let k3 = t.reset(k2, now + Duration::from_secs(9)).unwrap();
        let mut out = Vec::new();
        t.take_expired(now + Duration::from_secs(6), &mut out);
        assert!(out.is_empty(), "a stale entry fired the moved deadline");
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(9)));
        t.take_expired(now + Duration::from_secs(9), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(t.reset(k3, now), None, "reset of a fired deadline");
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn many_cancelled_deadlines_do_not_grow_the_heap_without_bound() {
        let mut t = Timers::default();
        let now = Instant::now();
        let keep = t.insert(now + Duration::from_secs(60), Waker::noop().clone());
        for i in 0..100_000u64 {
            let k = t.insert(now + Duration::from_secs(30 + i % 7), Waker::noop().clone());
            t.remove(k);
        }
        assert!(
            t.heap.len() <= 4 * 1024,
            "heap holds {} entries",
            t.heap.len()
        );
        assert_eq!(t.len(), 1);
        assert!(t.update(keep, Waker::noop()));
    }
}
