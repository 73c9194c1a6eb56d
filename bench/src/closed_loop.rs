//! The client side both network loads share (the multicore echo load and
//! the http load): plain threads, each a hand-written mio loop over its
//! share of the connections, every connection doing closed-loop
//! exchanges on its own (one request in flight, the next sent when the
//! answer is whole), so a slow connection never holds up the others.
//!
//! mio is the cheapest readiness loop there is, so as little of the
//! machine as possible goes to the load; what differs between the loads
//! (what a request is, when an answer is whole and right) is an
//! [`Exchange`].

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// One connection's protocol: what it sends, and what it accepts back.
pub trait Exchange: Send {
    /// Writes the next request into `out` (cleared by the caller).
    fn request(&mut self, out: &mut Vec<u8>);

    /// Takes bytes of the answer; `Ok(true)` once the answer is whole
    /// (and checked), after which the next request follows. Bytes beyond
    /// a whole answer are an error (nothing else was asked for).
    fn received(&mut self, bytes: &[u8]) -> io::Result<bool>;

    /// The error for a connection the server closed.
    fn closed(&self) -> io::Error;

    /// The connection's id, for error messages.
    fn id(&self) -> usize;
}

/// How much load, spread how.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Connections in all.
    pub conns: usize,
    /// Client threads the connections are spread over (round robin).
    pub threads: usize,
    /// Measured exchanges per connection (after one warm-up exchange).
    pub count: u64,
    /// Bound on connecting and the warm-up: past it, an error.
    pub setup_limit: Duration,
    /// Time bound of the measured part: clients stop at it and the figure
    /// is what they did by then.
    pub limit: Duration,
    /// Names the client threads (`{name}-{t}`).
    pub name: &'static str,
}

/// What the load did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Done {
    /// Measured exchanges, all connections together.
    pub exchanges: u64,
    /// From the start signal to the last client thread's end.
    pub elapsed: Duration,
    /// Whether the time bound cut the run short.
    pub cut_short: bool,
    /// CPU time the whole process used over the same span, where the
    /// platform tells ([`process_cpu`]).
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

/// Connects `plan.conns` connections to `addr` (connection `id` speaking
/// `make(id)`), does one warm-up exchange on each, then the measured ones;
/// returns the totals.
pub fn drive<E: Exchange>(
    addr: SocketAddr,
    plan: &Plan,
    make: impl Fn(usize) -> E + Sync,
) -> io::Result<Done> {
    let threads = plan.threads.clamp(1, plan.conns.max(1));
    let start_line = Barrier::new(threads + 1);
    let make = &make;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let ids: Vec<usize> = (t..plan.conns).step_by(threads).collect();
                let start_line = &start_line;
                std::thread::Builder::new()
                    .name(format!("{}-{t}", plan.name))
                    .spawn_scoped(scope, move || {
                        client_thread(addr, plan, ids.into_iter().map(make), start_line)
                    })
            })
            .collect::<io::Result<_>>()?;
        start_line.wait();
        let start = Instant::now();
        let cpu0 = process_cpu();
        let mut out = Done::default();
        let mut first_err = None;
        for w in workers {
            match w.join() {
                Ok(Ok((n, cut))) => {
                    out.exchanges += n;
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
/// measured exchanges. Reaches the start line even when setting up failed,
/// so the other threads and the caller are never left waiting there.
fn client_thread<E: Exchange>(
    addr: SocketAddr,
    plan: &Plan,
    conns: impl Iterator<Item = E>,
    start_line: &Barrier,
) -> io::Result<(u64, bool)> {
    let setup = (|| {
        let mut l = Loop::connect(addr, conns)?;
        let (_, cut) = l.run(1, Instant::now() + plan.setup_limit)?;
        if cut {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the warm-up exchange did not come back in time",
            ));
        }
        Ok::<_, io::Error>(l)
    })();
    start_line.wait();
    let mut l = setup?;
    let r = l.run(plan.count, Instant::now() + plan.limit);
    l.close();
    r
}

/// One connection's state.
struct Conn<E> {
    s: TcpStream,
    proto: E,
    /// Exchanges done on it (warm-up included).
    done: u64,
    /// The run's target: finished once `done == target`.
    target: u64,
}

/// A client thread's mio loop over its connections.
struct Loop<E> {
    poll: Poll,
    conns: Vec<Conn<E>>,
    out: Vec<u8>,
    scratch: Vec<u8>,
}

impl<E: Exchange> Loop<E> {
    fn connect(addr: SocketAddr, protos: impl Iterator<Item = E>) -> io::Result<Loop<E>> {
        let poll = Poll::new()?;
        let mut conns = Vec::new();
        for (k, proto) in protos.enumerate() {
            // A blocking connect, then non-blocking for the loop: the
            // connection is established before any exchange starts.
            let s = std::net::TcpStream::connect(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("connection {}: {e}", proto.id())))?;
            s.set_nodelay(true)?;
            s.set_nonblocking(true)?;
            let mut s = TcpStream::from_std(s);
            poll.registry()
                .register(&mut s, Token(k), Interest::READABLE)?;
            conns.push(Conn {
                s,
                proto,
                done: 0,
                target: 0,
            });
        }
        Ok(Loop {
            poll,
            conns,
            out: Vec::new(),
            scratch: vec![0; 4096],
        })
    }

    /// Has every connection do `count` more exchanges, or fewer when
    /// `deadline` passes first; returns those done and whether the
    /// deadline cut the run.
    fn run(&mut self, count: u64, deadline: Instant) -> io::Result<(u64, bool)> {
        let mut left = 0;
        let mut done = 0;
        for k in 0..self.conns.len() {
            let c = &mut self.conns[k];
            c.target = c.done + count;
            if count > 0 {
                self.send(k)?;
                left += 1;
            }
        }
        let mut events = Events::with_capacity(1024);
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

    /// Writes connection `k`'s next request.
    fn send(&mut self, k: usize) -> io::Result<()> {
        let c = &mut self.conns[k];
        self.out.clear();
        c.proto.request(&mut self.out);
        let mut off = 0;
        while off < self.out.len() {
            match c.s.write(&self.out[off..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => off += n,
                // Not expected for a request this small with none other in
                // flight; the server drains it soon, so wait by yielding.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what connection `k` has until it would block (so the next
    /// event is armed, which mio on Windows needs), passing it to the
    /// protocol and sending the next request after each whole answer;
    /// returns the exchanges completed and whether the connection reached
    /// its target now.
    fn on_readable(&mut self, k: usize) -> io::Result<(u64, bool)> {
        let mut n_done = 0;
        loop {
            let c = &mut self.conns[k];
            let finished = c.done == c.target;
            match c.s.read(&mut self.scratch) {
                Ok(0) => return Err(c.proto.closed()),
                Ok(_) if finished => {
                    return Err(io::Error::other(format!(
                        "connection {}: bytes nobody asked for after the last answer",
                        c.proto.id()
                    )))
                }
                Ok(n) => {
                    if !c.proto.received(&self.scratch[..n])? {
                        continue;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((n_done, finished && n_done > 0))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("connection {}: {e}", c.proto.id()),
                    ))
                }
            }
            c.done += 1;
            n_done += 1;
            if c.done < c.target {
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
