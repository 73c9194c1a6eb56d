//! The client load of the http workload, the same for every contender.
//!
//! Its servers are single-threaded hyper servers; if the clients ran on
//! the server's runtime, the figure would mix the contender's client code
//! into its server's, and a tokio server driven by oneport clients is no
//! comparison at all. So the load runs here, on its own threads, each a
//! hand-written mio loop over its share of the keep-alive connections (as
//! [`crate::load`] does for the multicore workload, and for the same
//! reason: mio is the cheapest readiness loop, so as little of the
//! machine as possible goes to the load). Every connection sends
//! `GET / HTTP/1.1` and waits for the whole answer before the next
//! (closed loop, no pipelining); each answer is checked by
//! [`response::parse`] for status 200 and the exact body.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

pub mod response;

/// The body every server answers `GET /` with.
pub const BODY: &[u8] = b"Hello, world!";

/// The request every client sends, again and again on its connection.
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";

/// What the load does.
#[derive(Clone, Debug)]
pub struct HttpJob {
    /// Keep-alive connections in all.
    pub conns: usize,
    /// Client threads the connections are spread over (round robin).
    pub threads: usize,
    /// Measured requests per connection at most (after one warm-up
    /// request each): the count bound.
    pub requests: u64,
    /// The time bound of the measured part: clients stop at it and the
    /// figure is what they did by then.
    pub duration: Duration,
    /// Bound on setting up (connecting, warm-up): past it, an error.
    pub setup_limit: Duration,
}

/// What the load did.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpOut {
    /// Measured requests answered, all connections together.
    pub requests: u64,
    /// From the start signal to the last client thread's end.
    pub elapsed: Duration,
}

/// Raises this process's open-file limit to at least `need` descriptors
/// where the hard limit allows (Unix; Windows has no such limit on
/// sockets). Returns the limit in force afterwards, `None` where there is
/// none.
pub fn raise_fd_limit(need: u64) -> Option<u64> {
    // `rlim_t` is not 64 bits on every Unix: the casts are needed there.
    #[cfg(unix)]
    #[allow(clippy::unnecessary_cast)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid rlimit for the call to fill.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return None;
        }
        if (lim.rlim_cur as u64) < need {
            let want = libc::rlimit {
                rlim_cur: (need as libc::rlim_t).min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            // SAFETY: `want` is a valid rlimit, its soft limit within the
            // hard one.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
                lim = want;
            }
        }
        Some(lim.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = need;
        None
    }
}

/// Opens the job's connections to `addr`, sends one warm-up request on
/// each, then the measured ones; returns the totals.
pub fn drive(addr: SocketAddr, job: &HttpJob) -> io::Result<HttpOut> {
    let threads = job.threads.clamp(1, job.conns.max(1));
    let start_line = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let ids: Vec<usize> = (t..job.conns).step_by(threads).collect();
                let start_line = &start_line;
                std::thread::Builder::new()
                    .name(format!("bench-http-load-{t}"))
                    .spawn_scoped(scope, move || client_thread(addr, job, &ids, start_line))
            })
            .collect::<io::Result<_>>()?;
        start_line.wait();
        let start = Instant::now();
        let mut out = HttpOut::default();
        let mut first_err = None;
        for w in workers {
            match w.join() {
                Ok(Ok(n)) => out.requests += n,
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(io::Error::other("a client thread panicked"));
                }
            }
        }
        out.elapsed = start.elapsed();
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    })
}

/// One client thread: its connections, warm-up, the start line, the
/// measured requests. Reaches the start line even when setting up failed,
/// so the other threads and the caller are never left waiting there.
fn client_thread(
    addr: SocketAddr,
    job: &HttpJob,
    ids: &[usize],
    start_line: &Barrier,
) -> io::Result<u64> {
    let setup = (|| {
        let mut l = Loop::connect(addr, ids)?;
        let (_, cut) = l.run(1, Instant::now() + job.setup_limit)?;
        if cut {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the warm-up request was not answered in time",
            ));
        }
        Ok::<_, io::Error>(l)
    })();
    start_line.wait();
    let mut l = setup?;
    let r = l.run(job.requests, Instant::now() + job.duration);
    l.close();
    r.map(|(n, _)| n)
}

/// One keep-alive connection's state.
struct Conn {
    s: TcpStream,
    id: usize,
    /// Requests answered on it (warm-up included).
    done: u64,
    /// The run's target: finished once `done == target`.
    target: u64,
    /// What has come of the current answer so far.
    buf: Vec<u8>,
}

/// A client thread's mio loop over its connections.
struct Loop {
    poll: Poll,
    conns: Vec<Conn>,
    scratch: Vec<u8>,
}

impl Loop {
    fn connect(addr: SocketAddr, ids: &[usize]) -> io::Result<Loop> {
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(ids.len());
        for (k, &id) in ids.iter().enumerate() {
            // A blocking connect, then non-blocking for the loop.
            let s = std::net::TcpStream::connect(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("connection {id}: {e}")))?;
            s.set_nodelay(true)?;
            s.set_nonblocking(true)?;
            let mut s = TcpStream::from_std(s);
            poll.registry()
                .register(&mut s, Token(k), Interest::READABLE)?;
            conns.push(Conn {
                s,
                id,
                done: 0,
                target: 0,
                buf: Vec::with_capacity(256),
            });
        }
        Ok(Loop {
            poll,
            conns,
            scratch: vec![0; 4096],
        })
    }

    /// Has every connection make `requests` more requests, or fewer when
    /// `deadline` passes first; returns those answered and whether the
    /// deadline cut the run.
    fn run(&mut self, requests: u64, deadline: Instant) -> io::Result<(u64, bool)> {
        let mut left = 0;
        let mut done = 0;
        for k in 0..self.conns.len() {
            let c = &mut self.conns[k];
            c.target = c.done.saturating_add(requests);
            if requests > 0 {
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

    /// Writes the request on connection `k`.
    fn send(&mut self, k: usize) -> io::Result<()> {
        let c = &mut self.conns[k];
        c.buf.clear();
        let mut off = 0;
        while off < REQUEST.len() {
            match c.s.write(&REQUEST[off..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => off += n,
                // Not expected for a request this small with nothing else
                // in flight; the server drains it soon, so wait by yielding.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what connection `k` has until it would block (so the next
    /// event is armed, which mio on Windows needs), checking each complete
    /// answer and sending the next request; returns the answers completed
    /// and whether the connection reached its target now.
    fn on_readable(&mut self, k: usize) -> io::Result<(u64, bool)> {
        let mut n_done = 0;
        loop {
            let c = &mut self.conns[k];
            let finished = c.done == c.target;
            match c.s.read(&mut self.scratch) {
                Ok(0) => {
                    return Err(with_id(c.id, response::closed_early(&c.buf)));
                }
                Ok(_) if finished => {
                    return Err(io::Error::other(format!(
                        "connection {}: bytes nobody asked for after the last answer",
                        c.id
                    )))
                }
                Ok(n) => c.buf.extend_from_slice(&self.scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((n_done, finished && n_done > 0))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(with_id(c.id, e)),
            }
            match response::parse(&c.buf, BODY).map_err(|e| with_id(c.id, e))? {
                None => continue,
                Some(len) if len < c.buf.len() => {
                    return Err(io::Error::other(format!(
                        "connection {}: {} bytes beyond the answer (none was asked for)",
                        c.id,
                        c.buf.len() - len
                    )))
                }
                Some(_) => {}
            }
            c.done += 1;
            n_done += 1;
            if c.done < c.target {
                self.send(k)?;
            } else {
                c.buf.clear();
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

fn with_id(id: usize, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("connection {id}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread-per-connection std server that answers every request with
    /// `reply` (it reads until the blank line of each request).
    fn server(reply: &'static [u8]) -> SocketAddr {
        let l = std::net::TcpListener::bind(crate::harness::loopback()).unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 1024];
                    while let Ok(n @ 1..) = s.read(&mut buf) {
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..i + 4);
                            // In two writes, so answers also come split.
                            let (a, b) = reply.split_at(reply.len() / 2);
                            if s.write_all(a).is_err() || s.write_all(b).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    fn job() -> HttpJob {
        HttpJob {
            conns: 5,
            threads: 2,
            requests: 20,
            duration: Duration::from_secs(60),
            setup_limit: Duration::from_secs(60),
        }
    }

    #[test]
    fn counts_every_answer() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nHello, world!";
        let out = drive(server(ok), &job()).unwrap();
        assert_eq!(out.requests, 5 * 20);
    }

    #[test]
    fn a_wrong_answer_is_an_error() {
        let e = drive(
            server(b"HTTP/1.1 503 Busy\r\ncontent-length: 13\r\n\r\nHello, world!"),
            &job(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("503"), "{e}");
    }

    #[test]
    fn a_short_answer_then_close_is_an_error() {
        let l = std::net::TcpListener::bind(crate::harness::loopback()).unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nHello");
                // Dropped: the connection closes with the body short.
            }
        });
        let job = HttpJob { conns: 1, ..job() };
        let e = drive(addr, &job).unwrap_err();
        assert!(e.to_string().contains("short body"), "{e}");
    }

    #[test]
    fn the_fd_limit_is_at_least_what_was_asked_where_allowed() {
        match raise_fd_limit(256) {
            Some(n) => assert!(n >= 256, "{n}"),
            None if cfg!(unix) => panic!("no open-file limit found on Unix"),
            None => {}
        }
    }
}
