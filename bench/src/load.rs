//! The client load of the multicore workload, the same for every contender.
//!
//! The servers of that workload use every core they are given, so their
//! clients cannot live on the server's runtime (they would take its
//! threads) nor differ per contender (the figure would then measure the
//! clients). They run here instead: a few plain threads, each a
//! hand-written mio loop over its share of the connections (mio is the
//! cheapest readiness loop there is, so as little of the machine as
//! possible goes to the load). Every connection does closed-loop round
//! trips on its own, one message in flight, so a slow connection never
//! holds up the others; each echoed message is checked byte for byte.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

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
    /// span, where the platform tells ([`process_cpu`]).
    pub cpu: Option<Duration>,
}

/// CPU time (user and system) used so far by every thread of this process,
/// ended ones included. Linux only (`/proc/self/stat`, in the kernel's
/// fixed 100 Hz user ticks: 10 ms resolution, fine for runs of seconds);
/// `None` elsewhere.
pub fn process_cpu() -> Option<Duration> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces, so split after
    // its closing parenthesis): utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let ticks = f.next()?.parse::<u64>().ok()? + f.next()?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Server side of the multicore workload: a running echo server.
pub trait Serving {
    /// Where it listens.
    fn addr(&self) -> SocketAddr;

    /// Stops it, returning once every thread it started has ended (or an
    /// error saying which did not end cleanly).
    fn stop(self: Box<Self>) -> io::Result<()>;
}

/// Connects the job's connections to `addr`, does one warm-up round trip on
/// each, then the measured ones; returns the totals.
pub fn drive(addr: SocketAddr, job: &LoadJob) -> io::Result<LoadOut> {
    let threads = job.threads.clamp(1, job.conns.max(1));
    let start_line = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let ids: Vec<usize> = (t..job.conns).step_by(threads).collect();
                let start_line = &start_line;
                std::thread::Builder::new()
                    .name(format!("bench-load-{t}"))
                    .spawn_scoped(scope, move || client_thread(addr, job, &ids, start_line))
            })
            .collect::<io::Result<_>>()?;
        start_line.wait();
        let start = Instant::now();
        let cpu0 = process_cpu();
        let mut out = LoadOut::default();
        let mut first_err = None;
        for w in workers {
            match w.join() {
                Ok(Ok((rounds, cut))) => {
                    out.rounds += rounds;
                    out.cut_short |= cut;
                }
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(io::Error::other("a client thread panicked"));
                }
            }
        }
        out.elapsed = start.elapsed();
        out.cpu = process_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    })
}

/// One client thread: its connections, warm-up, the start line, the
/// measured rounds. Reaches the start line even when setting up failed, so
/// the other threads and the caller are never left waiting there.
fn client_thread(
    addr: SocketAddr,
    job: &LoadJob,
    ids: &[usize],
    start_line: &Barrier,
) -> io::Result<(u64, bool)> {
    let setup = (|| {
        let mut l = Loop::connect(addr, job, ids)?;
        l.run(1, Instant::now() + job.limit)
            .and_then(|(_, cut)| match cut {
                false => Ok(()),
                true => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the warm-up round trip did not come back in time",
                )),
            })?;
        Ok::<_, io::Error>(l)
    })();
    start_line.wait();
    let mut l = setup?;
    let r = l.run(job.rounds, Instant::now() + job.limit);
    l.close();
    r
}

/// One connection's state.
struct Conn {
    s: TcpStream,
    id: usize,
    /// Round trips done on it (warm-up included).
    round: u64,
    /// The round's target: done once `round == target`.
    target: u64,
    /// Bytes of the current echo read so far.
    got: usize,
}

/// The byte at `i` of connection `id`'s message in round `round`: differs
/// between connections and rounds, so a crossed or stale echo is caught.
fn pattern(id: usize, round: u64, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ id.wrapping_mul(7) ^ round as usize) as u8
}

/// A client thread's mio loop over its connections.
struct Loop {
    poll: Poll,
    conns: Vec<Conn>,
    msg: usize,
    out: Vec<u8>,
    back: Vec<u8>,
}

impl Loop {
    fn connect(addr: SocketAddr, job: &LoadJob, ids: &[usize]) -> io::Result<Loop> {
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(ids.len());
        for (k, &id) in ids.iter().enumerate() {
            // A blocking connect, then non-blocking for the loop: the
            // connection is established before any round trip starts.
            let s = std::net::TcpStream::connect(addr)?;
            s.set_nodelay(true)?;
            s.set_nonblocking(true)?;
            let mut s = TcpStream::from_std(s);
            poll.registry()
                .register(&mut s, Token(k), Interest::READABLE)?;
            conns.push(Conn {
                s,
                id,
                round: 0,
                target: 0,
                got: 0,
            });
        }
        Ok(Loop {
            poll,
            conns,
            msg: job.msg,
            out: vec![0; job.msg],
            back: vec![0; job.msg],
        })
    }

    /// Does `rounds` more round trips on every connection, or fewer when
    /// `deadline` passes first; returns those done and whether it was cut.
    fn run(&mut self, rounds: u64, deadline: Instant) -> io::Result<(u64, bool)> {
        let mut left = 0;
        let mut done = 0;
        for k in 0..self.conns.len() {
            self.conns[k].target = self.conns[k].round + rounds;
            if rounds > 0 {
                self.send(k)?;
                left += 1;
            }
        }
        let mut events = Events::with_capacity(256);
        while left > 0 {
            let now = Instant::now();
            if now >= deadline {
                return Ok((done, true));
            }
            self.poll.poll(&mut events, Some(deadline - now))?;
            for e in events.iter() {
                let (n, finished) = self.on_readable(e.token().0)?;
                done += n;
                left -= usize::from(finished);
            }
        }
        Ok((done, false))
    }

    /// Writes connection `k`'s message for its current round.
    fn send(&mut self, k: usize) -> io::Result<()> {
        let c = &mut self.conns[k];
        for (i, b) in self.out.iter_mut().enumerate() {
            *b = pattern(c.id, c.round, i);
        }
        c.got = 0;
        let mut off = 0;
        while off < self.msg {
            match c.s.write(&self.out[off..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => off += n,
                // Not expected for a message this small with none other in
                // flight; the server drains it soon, so wait by yielding.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what connection `k` has until it would block (so the next
    /// event is armed, which mio on Windows needs), checking and counting
    /// each complete echo and sending the next message; returns the round
    /// trips completed and whether the connection reached its target now.
    fn on_readable(&mut self, k: usize) -> io::Result<(u64, bool)> {
        let mut n_done = 0;
        loop {
            let c = &mut self.conns[k];
            let finished = c.round == c.target;
            // Past its target a connection expects nothing: read anyway,
            // to hit "would block" (or catch stray bytes).
            let into = if finished {
                &mut self.back[..]
            } else {
                &mut self.back[c.got..self.msg]
            };
            match c.s.read(into) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("connection {}: the server closed it", c.id),
                    ))
                }
                Ok(_) if finished => {
                    return Err(io::Error::other(format!(
                        "connection {}: bytes beyond the last echo",
                        c.id
                    )))
                }
                Ok(n) => c.got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((n_done, finished && n_done > 0))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if c.got < self.msg {
                continue;
            }
            if let Some(i) = (0..self.msg).find(|&i| self.back[i] != pattern(c.id, c.round, i)) {
                return Err(io::Error::other(format!(
                    "connection {}: wrong byte at {i} of round {}",
                    c.id, c.round
                )));
            }
            c.round += 1;
            n_done += 1;
            if c.round < c.target {
                self.send(k)?;
            }
        }
    }

    /// Closes every connection with a reset, so no TIME_WAIT piles up.
    fn close(self) {
        for c in &self.conns {
            crate::harness::abortive_close(crate::harness::raw_of(&c.s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
