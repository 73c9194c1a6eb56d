//! The contenders: one file each. Every contender runs the same jobs from
//! [`crate::harness`]; a workload it cannot express returns `None` and shows
//! as "n/a" in the tables.

use std::io;
use std::time::Duration;

use crate::harness::{FileJob, FileOut, NetJob, NetOut, PipeJob, RawSock};
use crate::load::Serving;

mod compio;
mod mio;
mod oneport;
mod smol;
mod smol_hyper;
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

    /// Starts a TCP echo server on 127.0.0.1 that uses `cores` threads
    /// (the multicore workload; its clients are [`crate::load`]'s).
    fn serve_multicore(&self, _cores: usize) -> Option<io::Result<Box<dyn Serving>>> {
        None
    }

    /// Starts a single-threaded hyper HTTP/1.1 server on 127.0.0.1 on a
    /// thread of its own (the http workload; its clients are
    /// [`crate::httpload`]'s).
    fn serve_http(&self) -> Option<io::Result<Box<dyn Serving>>> {
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::load::{self, LoadJob};

    /// Every multicore server echoes what the load checks, and stops
    /// (every thread joined) well within a generous bound.
    #[test]
    fn multicore_servers_serve_and_stop() {
        let job = LoadJob {
            conns: 6,
            threads: 2,
            msg: 64,
            rounds: 20,
            limit: Duration::from_secs(60),
        };
        let mut served = Vec::new();
        for c in super::all() {
            let Some(server) = c.serve_multicore(2) else {
                continue;
            };
            let server = server.unwrap_or_else(|e| panic!("{}: {e}", c.name()));
            let out = load::drive(server.addr(), &job);
            let t0 = Instant::now();
            server
                .stop()
                .unwrap_or_else(|e| panic!("{}: stop: {e}", c.name()));
            assert!(t0.elapsed() < Duration::from_secs(30), "{}", c.name());
            let out = out.unwrap_or_else(|e| panic!("{}: {e}", c.name()));
            assert_eq!(out.rounds, 6 * 20, "{}", c.name());
            served.push(c.name());
        }
        assert_eq!(served, ["oneport", "tokio-mt", "smol"]);
    }

    /// Every http server answers what the load checks over keep-alive
    /// connections, and stops (its thread joined) within a generous bound.
    #[test]
    fn http_servers_serve_and_stop() {
        let job = crate::httpload::HttpJob {
            conns: 4,
            threads: 2,
            requests: 25,
            duration: Duration::from_secs(60),
            setup_limit: Duration::from_secs(60),
        };
        let mut served = Vec::new();
        for c in super::all() {
            let Some(server) = c.serve_http() else {
                continue;
            };
            let server = server.unwrap_or_else(|e| panic!("{}: {e}", c.name()));
            let out = crate::httpload::drive(server.addr(), &job);
            let t0 = Instant::now();
            server
                .stop()
                .unwrap_or_else(|e| panic!("{}: stop: {e}", c.name()));
            assert!(t0.elapsed() < Duration::from_secs(30), "{}", c.name());
            let out = out.unwrap_or_else(|e| panic!("{}: {e}", c.name()));
            assert_eq!(out.requests, 4 * 25, "{}", c.name());
            served.push(c.name());
        }
        assert_eq!(served, ["oneport", "tokio-ct", "smol"]);
    }
}
