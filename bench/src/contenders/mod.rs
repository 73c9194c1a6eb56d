//! The contenders: one file each. Every contender runs the same jobs from
//! [`crate::harness`]; a workload it cannot express returns `None` and shows
//! as "n/a" in the tables.

use std::io;
use std::time::Duration;

use crate::harness::{FileJob, FileOut, NetJob, NetOut, PipeJob, RawSock};

mod compio;
mod mio;
mod oneport;
mod smol;
mod threads;
mod tokio;

/// One runtime (or hand-written loop) under test.
pub trait Contender {
    /// Its name in the tables.
    fn name(&self) -> &'static str;

    /// Runs a TCP echo job (server and clients in this contender).
    fn net(&self, job: &NetJob) -> Option<io::Result<NetOut>>;

    /// Whether [`Contender::idle`] measures anything (so the idle workload
    /// does not start a thread for a contender that cannot).
    fn can_idle(&self) -> bool {
        false
    }

    /// Issues a readiness wait on every socket of `socks` (accepted, silent
    /// TCP streams owned by the caller), then cancels them all; returns the
    /// time from the first issue to the last cancel having been processed.
    fn idle(&self, _socks: &[RawSock]) -> Option<io::Result<Duration>> {
        None
    }

    /// Sleeps once per entry of `deadlines` (all concurrently); returns the
    /// wall time until the last sleep is over.
    fn timers(&self, _deadlines: &[Duration]) -> Option<io::Result<Duration>> {
        None
    }

    /// Runs a random-read job on the prepared file.
    fn files(&self, _job: &FileJob) -> Option<io::Result<FileOut>> {
        None
    }

    /// Runs a named-pipe echo job (Windows); returns completed round trips
    /// and the elapsed time.
    fn pipes(&self, _job: &PipeJob) -> Option<io::Result<NetOut>> {
        None
    }
}

/// Every contender, oneport first (the ratios' reference).
pub fn all() -> Vec<Box<dyn Contender>> {
    vec![
        Box::new(self::oneport::Oneport),
        Box::new(self::tokio::Tokio {
            multi_thread: false,
        }),
        Box::new(self::tokio::Tokio { multi_thread: true }),
        Box::new(self::mio::Mio),
        Box::new(self::smol::Smol),
        Box::new(self::threads::Threads),
        Box::new(self::compio::Compio),
    ]
}

/// The contender called `name`, made afresh (for a run on another thread).
pub fn by_name(name: &str) -> Option<Box<dyn Contender>> {
    all().into_iter().find(|c| c.name() == name)
}
