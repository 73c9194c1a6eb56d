//! The client load of the http workload, the same for every contender.
//!
//! Its servers are single-threaded hyper servers; if the clients ran on
//! the server's runtime, the figure would mix the contender's client code
//! into its server's, and a tokio server driven by oneport clients is no
//! comparison at all. So the load runs on its own threads, the mio loops
//! of [`crate::closed_loop`] (shared with the multicore workload's
//! [`crate::load`]); this file says what an HTTP exchange is. Every connection sends
//! `GET / HTTP/1.1` and waits for the whole answer before the next
//! (closed loop, no pipelining); each answer is checked by
//! [`response::parse`] for status 200 and the exact body.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::closed_loop::{self, Exchange, Plan};

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
    let plan = Plan {
        conns: job.conns,
        threads: job.threads,
        count: job.requests,
        setup_limit: job.setup_limit,
        limit: job.duration,
        name: "bench-http-load",
    };
    let done = closed_loop::drive(addr, &plan, |id| Get {
        id,
        buf: Vec::with_capacity(256),
    })?;
    Ok(HttpOut {
        requests: done.exchanges,
        elapsed: done.elapsed,
    })
}

/// One keep-alive connection's requests: `GET /`, answered 200 with
/// [`BODY`], again and again.
struct Get {
    id: usize,
    /// What has come of the current answer so far.
    buf: Vec<u8>,
}

impl Exchange for Get {
    fn request(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(REQUEST);
    }

    fn received(&mut self, bytes: &[u8]) -> io::Result<bool> {
        self.buf.extend_from_slice(bytes);
        match response::parse(&self.buf, BODY).map_err(|e| with_id(self.id, e))? {
            None => Ok(false),
            Some(len) if len < self.buf.len() => Err(io::Error::other(format!(
                "connection {}: {} bytes beyond the answer (none was asked for)",
                self.id,
                self.buf.len() - len
            ))),
            Some(_) => {
                self.buf.clear();
                Ok(true)
            }
        }
    }

    fn closed(&self) -> io::Error {
        with_id(self.id, response::closed_early(&self.buf))
    }

    fn id(&self) -> usize {
        self.id
    }
}

fn with_id(id: usize, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("connection {id}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

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
