//! The client load of the multicore workload, the same for every contender.
//!
//! The servers of that workload use every core they are given, so their
//! clients cannot live on the server's runtime (they would take its
//! threads) nor differ per contender (the figure would then measure the
//! clients). They run here instead, on the threads and mio loops of
//! [`crate::closed_loop`]; this file says what an echo exchange is. Every
//! connection does closed-loop round
//! trips on its own, one message in flight, so a slow connection never
//! holds up the others; each echoed message is checked byte for byte.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::closed_loop::{self, Exchange, Plan};

/// The largest message: one write of it must fit an empty socket buffer,
/// so a client never has to wait for writability.
pub const MAX_MSG: usize = 4 << 10;

/// What the load does.
#[derive(Clone, Debug)]
pub struct LoadJob {
    /// Connections in all.
    pub conns: usize,
    /// Client threads the connections are spread over (round robin).
    pub threads: usize,
    /// Bytes per message (1..=[`MAX_MSG`]).
    pub msg: usize,
    /// Measured round trips per connection (after one warm-up round trip).
    pub rounds: u64,
    /// Time bound of the measured part: clients stop at it, and the
    /// figure is computed from what they did by then.
    pub limit: Duration,
}

/// What the load did.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOut {
    /// Measured round trips, all connections together.
    pub rounds: u64,
    /// From the start signal to the last client thread's end.
    pub elapsed: Duration,
    /// Whether the time bound cut the run short.
    pub cut_short: bool,
    /// CPU time the whole process (servers and load) used over the same
    /// span, where the platform tells
    /// ([`process_cpu`](crate::closed_loop::process_cpu)).
    pub cpu: Option<Duration>,
}

/// Server side of the multicore workload: a running echo server.
pub trait Serving {
    /// Where it listens.
    fn addr(&self) -> SocketAddr;

    /// Stops it, returning once every thread it started has ended (or an
    /// error saying which did not end cleanly).
    fn stop(self: Box<Self>) -> io::Result<()>;
}

/// Drives `load` against a server just started, then stops it (also when
/// the load failed): the load's result and how long stopping took.
pub fn load_then_stop<O>(
    server: io::Result<Box<dyn Serving>>,
    load: impl FnOnce(SocketAddr) -> io::Result<O>,
) -> io::Result<(O, Duration)> {
    let server = server?;
    let out = load(server.addr());
    let t0 = std::time::Instant::now();
    let stopped = server.stop();
    let stop_time = t0.elapsed();
    let out = out?;
    stopped?;
    Ok((out, stop_time))
}

/// Connects the job's connections to `addr`, does one warm-up round trip on
/// each, then the measured ones; returns the totals.
pub fn drive(addr: SocketAddr, job: &LoadJob) -> io::Result<LoadOut> {
    let plan = Plan {
        conns: job.conns,
        threads: job.threads,
        count: job.rounds,
        setup_limit: job.limit,
        limit: job.limit,
        name: "bench-load",
    };
    let msg = job.msg;
    let done = closed_loop::drive(addr, &plan, |id| Echo {
        id,
        msg,
        round: 0,
        back: Vec::with_capacity(msg),
    })?;
    Ok(LoadOut {
        rounds: done.exchanges,
        elapsed: done.elapsed,
        cut_short: done.cut_short,
        cpu: done.cpu,
    })
}

/// The byte at `i` of connection `id`'s message in round `round`: differs
/// between connections and rounds, so a crossed or stale echo is caught.
fn pattern(id: usize, round: u64, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ id.wrapping_mul(7) ^ round as usize) as u8
}

/// One connection's echo round trips: a message of its own per round,
/// which must come back byte for byte.
struct Echo {
    id: usize,
    msg: usize,
    /// Round trips done (warm-up included).
    round: u64,
    /// The current echo so far.
    back: Vec<u8>,
}

impl Exchange for Echo {
    fn request(&mut self, out: &mut Vec<u8>) {
        out.extend((0..self.msg).map(|i| pattern(self.id, self.round, i)));
    }

    fn received(&mut self, bytes: &[u8]) -> io::Result<bool> {
        if self.back.len() + bytes.len() > self.msg {
            return Err(io::Error::other(format!(
                "connection {}: bytes beyond the echo of round {}",
                self.id, self.round
            )));
        }
        self.back.extend_from_slice(bytes);
        if self.back.len() < self.msg {
            return Ok(false);
        }
        if let Some(i) = (0..self.msg).find(|&i| self.back[i] != pattern(self.id, self.round, i)) {
            return Err(io::Error::other(format!(
                "connection {}: wrong byte at {i} of round {}",
                self.id, self.round
            )));
        }
        self.back.clear();
        self.round += 1;
        Ok(true)
    }

    fn closed(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("connection {}: the server closed it", self.id),
        )
    }

    fn id(&self) -> usize {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::closed_loop::process_cpu;
    use std::io::{Read, Write};
    use std::time::Instant;

    /// A thread-per-connection std echo server, enough to test the load.
    fn echo_server(corrupt: bool) -> SocketAddr {
        let l = std::net::TcpListener::bind(crate::harness::loopback()).unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = s.read(&mut buf) {
                        if corrupt {
                            buf[0] ^= 1;
                        }
                        if s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn job() -> LoadJob {
        LoadJob {
            conns: 5,
            threads: 2,
            msg: 100,
            rounds: 20,
            limit: Duration::from_secs(30),
        }
    }

    #[test]
    fn counts_every_round_trip() {
        let out = drive(echo_server(false), &job()).unwrap();
        assert_eq!(out.rounds, 5 * 20);
        assert!(!out.cut_short);
        assert_eq!(out.cpu.is_some(), cfg!(target_os = "linux"));
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let Some(a) = process_cpu() else { return };
        // Spin until the figure moves by two ticks (a generous hang bound
        // on a loaded machine).
        let t0 = Instant::now();
        let mut x = 0u64;
        while process_cpu().unwrap() < a + Duration::from_millis(20) {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "CPU time stuck at {a:?}"
            );
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
    }

    #[test]
    fn a_wrong_echo_is_an_error() {
        let e = drive(echo_server(true), &job()).unwrap_err();
        assert!(e.to_string().contains("wrong byte"), "{e}");
    }
}
