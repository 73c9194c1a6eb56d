//! Runtime ids: a number no other runtime of the process ever had, so a
//! sleep can name the runtime it is registered with without holding it
//! (holding it meant an atomic count up and down per sleep), and the table
//! that finds a live runtime's shared state by id, for the rare sleep
//! dropped away from its runtime's thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::Shared;

static NEXT: AtomicU64 = AtomicU64::new(1);

/// The live runtimes, by id (a handful: one per thread that runs one).
static LIVE: Mutex<Vec<(u64, Weak<Shared>)>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<(u64, Weak<Shared>)>> {
    // Every critical section leaves the table consistent.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh id for the runtime whose shared state is `shared`.
pub(crate) fn register(shared: &Arc<Shared>) -> u64 {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    live().push((id, Arc::downgrade(shared)));
    id
}

/// Forgets `id` (its runtime is being dropped).
pub(crate) fn unregister(id: u64) {
    live().retain(|(i, _)| *i != id);
}

/// The shared state of the live runtime `id`, if it still lives.
pub(crate) fn shared_of(id: u64) -> Option<Arc<Shared>> {
    live()
        .iter()
        .find(|(i, _)| *i == id)
        .and_then(|(_, w)| w.upgrade())
}
