//! Deadlines and the wakers waiting for them.
//!
//! An ordered map keyed by `(deadline, sequence)`: the earliest deadline is
//! the first entry, equal deadlines fire in the order they were set, and a
//! cancelled sleep removes its own entry in O(log n) when it is dropped.

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Instant;

/// Identifies one registered deadline.
pub(crate) type TimerKey = (Instant, u64);

#[derive(Default)]
pub(crate) struct Timers {
    pending: BTreeMap<TimerKey, Waker>,
    next_seq: u64,
}

impl Timers {
    /// Registers `waker` to be woken at `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let key = (deadline, self.next_seq);
        self.next_seq += 1;
        self.pending.insert(key, waker);
        key
    }

    /// Replaces the waker of a still-pending deadline; false if it already fired.
    pub(crate) fn update(&mut self, key: TimerKey, waker: &Waker) -> bool {
        match self.pending.get_mut(&key) {
            Some(w) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// Forgets a deadline (a dropped sleep).
    pub(crate) fn remove(&mut self, key: TimerKey) {
        self.pending.remove(&key);
    }

    /// The earliest pending deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.pending.first_key_value().map(|(k, _)| k.0)
    }

    /// Removes every deadline at or before `now`, in deadline order.
    pub(crate) fn take_expired(&mut self, now: Instant, out: &mut Vec<Waker>) {
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            out.push(entry.remove());
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Every pending waker, for shutdown.
    pub(crate) fn drain(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.pending).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
    }
}
