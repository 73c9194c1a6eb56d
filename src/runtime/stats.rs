//! The public figures of a runtime: the driver's, composed with the run
//! loop's own.
//!
//! The driver reports what it knows (waiters, polls, registrations) as its
//! own `DriverStats`; only here do they meet the run loop's tasks and
//! timers, so the driver never depends on this public type.

use crate::driver::DriverStats;

/// A snapshot of the current runtime's I/O manager and run loop.
///
/// Fields may be added in later versions; build it only through
/// `oneport::lowlevel::statistics()`.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Statistics {
    /// `"windows"` (completion port + AFD) or `"epoll"`.
    pub backend: &'static str,
    /// Tasks parked in `wait_readable`.
    pub tasks_waiting_read: usize,
    /// Tasks parked in `wait_writable`.
    pub tasks_waiting_write: usize,
    /// Tasks waiting on an overlapped operation (always 0 on epoll).
    pub tasks_waiting_overlapped: usize,
    /// Live completion-key monitors (always 0 on epoll).
    pub completion_key_monitors: usize,
    /// AFD helper handles open (Windows; 0 on epoll).
    pub afd_handles: usize,
    /// AFD polls submitted and not yet dequeued, stale ones included
    /// (Windows; 0 on epoll).
    pub afd_polls_in_flight: usize,
    /// AFD polls submitted since the runtime started (Windows; 0 on epoll).
    pub afd_polls_issued: u64,
    /// Overlapped operations whose future was dropped and whose completion
    /// packet has not been dequeued yet; the driver owns their memory.
    pub overlapped_orphaned: usize,
    /// Packets that arrived for the key of a dropped completion-key monitor
    /// and were discarded.
    pub completion_key_packets_discarded: u64,
    /// Wakeups from other threads the driver has received (collapsed wakes
    /// count once).
    pub wakeups_received: u64,
    /// File descriptors armed in epoll for a parked waiter (Linux; 0 on
    /// Windows).
    pub epoll_registered: usize,
    /// Spawned tasks not yet finished.
    pub tasks_alive: usize,
    /// Tasks queued to run.
    pub tasks_runnable: usize,
    /// Sleeps with a pending deadline.
    pub timers: usize,
    /// Tasks waiting in `wait_for_object` (Windows; 0 on epoll).
    pub object_waits: usize,
    /// Packets that arrived for an object wait dropped after its object was
    /// signalled, and were discarded (Windows; 0 on epoll).
    pub object_wait_packets_discarded: u64,
    /// How `wait_for_object` is delivered: `"wait-packet"`
    /// (`NtAssociateWaitCompletionPacket`), `"thread-pool"` (the system's
    /// `RegisterWaitForSingleObject` fallback) or `""` (epoll).
    pub object_wait_mechanism: &'static str,
    /// How `fs::File` reads, writes and syncs: `"io_uring"` (Linux, when
    /// the runtime's probe found a usable ring and `ONEPORT_DRIVER` does
    /// not say `epoll`), `"pool"` (Linux, the blocking pool) or
    /// `"windows"` (overlapped I/O on the completion port).
    pub file_backend: &'static str,
    /// io_uring file operations whose future was dropped and whose
    /// completion has not arrived yet; the driver owns their memory
    /// (Linux; 0 elsewhere).
    pub ring_orphaned: usize,
}

impl Statistics {
    /// The driver's figures plus the run loop's.
    pub(crate) fn compose(
        d: DriverStats,
        tasks_alive: usize,
        tasks_runnable: usize,
        timers: usize,
    ) -> Statistics {
        Statistics {
            backend: d.backend,
            tasks_waiting_read: d.tasks_waiting_read,
            tasks_waiting_write: d.tasks_waiting_write,
            tasks_waiting_overlapped: d.tasks_waiting_overlapped,
            completion_key_monitors: d.completion_key_monitors,
            afd_handles: d.afd_handles,
            afd_polls_in_flight: d.afd_polls_in_flight,
            afd_polls_issued: d.afd_polls_issued,
            overlapped_orphaned: d.overlapped_orphaned,
            completion_key_packets_discarded: d.completion_key_packets_discarded,
            wakeups_received: d.wakeups_received,
            epoll_registered: d.epoll_registered,
            object_waits: d.object_waits,
            object_wait_packets_discarded: d.object_wait_packets_discarded,
            object_wait_mechanism: d.object_wait_mechanism,
            file_backend: d.file_backend,
            ring_orphaned: d.ring_orphaned,
            tasks_alive,
            tasks_runnable,
            timers,
        }
    }
}
