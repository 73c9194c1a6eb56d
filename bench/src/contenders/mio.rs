//! A hand-written mio loop: no tasks, no wakers, one state machine per
//! connection. It is the floor for readiness I/O: what the OS costs with
//! nothing on top.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};

use super::Contender;
use crate::harness::{self, raw_of, ClientPlan, NetJob, NetOut, RawSock};

/// The mio contender.
pub struct Mio;

const LISTENER: Token = Token(usize::MAX);
/// Extra time, past the job's own bound, after which a stuck loop errs out.
const GRACE: Duration = Duration::from_secs(30);

impl Contender for Mio {
    fn name(&self) -> &'static str {
        "mio"
    }

    fn net(&self, job: &NetJob) -> Option<io::Result<NetOut>> {
        Some(net(job))
    }

    fn can_idle(&self) -> bool {
        true
    }

    fn idle(&self, socks: &[RawSock]) -> Option<io::Result<Duration>> {
        Some(idle(socks))
    }
}

fn idle(socks: &[RawSock]) -> io::Result<Duration> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let start = Instant::now();
    let mut streams: Vec<TcpStream> = socks
        .iter()
        // SAFETY: the caller owns each socket for the whole call; the loan
        // ends through `release` below, which does not close it.
        .map(|&s| TcpStream::from_std(unsafe { harness::borrow_std(s) }))
        .collect();
    for (i, s) in streams.iter_mut().enumerate() {
        poll.registry().register(s, Token(i), Interest::READABLE)?;
    }
    poll.poll(&mut events, Some(Duration::ZERO))?;
    if events.iter().any(|e| e.is_readable()) {
        return Err(io::Error::other("a silent socket was readable"));
    }
    for s in streams.iter_mut() {
        poll.registry().deregister(s)?;
    }
    poll.poll(&mut events, Some(Duration::ZERO))?;
    let elapsed = start.elapsed();
    streams.into_iter().for_each(release);
    Ok(elapsed)
}

/// Ends a loan of a caller's socket without closing it.
#[cfg(unix)]
fn release(s: TcpStream) {
    let _ = std::os::fd::IntoRawFd::into_raw_fd(s);
}
/// Ends a loan of a caller's socket without closing it.
#[cfg(windows)]
fn release(s: TcpStream) {
    let _ = std::os::windows::io::IntoRawSocket::into_raw_socket(s);
}

/// An accepted connection that echoes what it reads.
struct Echoer {
    s: TcpStream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Echoer {
    /// Moves data until the socket would block; `Ok(true)` once the peer
    /// has gone (end of stream or an error: the caller closes).
    fn drive(&mut self) -> bool {
        loop {
            while self.start < self.end {
                match self.s.write(&self.buf[self.start..self.end]) {
                    Ok(n) => self.start += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return true,
                }
            }
            match self.s.read(&mut self.buf) {
                Ok(0) => return true,
                Ok(n) => (self.start, self.end) = (0, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    /// Between round trips: decide whether to stop, reconnect or go on.
    Idle,
    Connecting,
    Writing,
    Reading,
    Done,
}

/// One client loop: its plan, its current connection and where it is in
/// the round trip.
struct Client {
    plan: ClientPlan,
    s: Option<TcpStream>,
    phase: Phase,
    off: usize,
    began: Instant,
    back: Vec<u8>,
}

impl Client {
    fn close(&mut self, registry: &Registry) -> io::Result<()> {
        if let Some(mut old) = self.s.take() {
            harness::abortive_close(raw_of(&old));
            registry.deregister(&mut old)?;
        }
        Ok(())
    }

    /// Runs the state machine until the socket would block or the client is
    /// done.
    fn advance(
        &mut self,
        reg: &Registry,
        token: Token,
        addr: SocketAddr,
        msg: &[u8],
    ) -> io::Result<()> {
        loop {
            match self.phase {
                Phase::Done => return Ok(()),
                Phase::Idle => {
                    if !self.plan.more() {
                        self.close(reg)?;
                        self.phase = Phase::Done;
                    } else if self.plan.needs_connect() {
                        self.close(reg)?;
                        let mut s = TcpStream::connect(addr)?;
                        reg.register(&mut s, token, Interest::READABLE | Interest::WRITABLE)?;
                        self.s = Some(s);
                        self.plan.connected();
                        self.phase = Phase::Connecting;
                    } else {
                        self.began = Instant::now();
                        self.off = 0;
                        self.phase = Phase::Writing;
                    }
                }
                Phase::Connecting => {
                    let s = self.s.as_ref().expect("connecting socket");
                    match s.take_error()? {
                        // Wine reports "not connected" while a connect is
                        // still in progress.
                        Some(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                        Some(e) => return Err(e),
                        None => {}
                    }
                    match s.peer_addr() {
                        Ok(_) => {
                            // Only once connected: Wine refuses TCP_NODELAY
                            // on a socket whose connect is in progress.
                            s.set_nodelay(true)?;
                            self.phase = Phase::Idle
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
                Phase::Writing => {
                    let s = self.s.as_mut().expect("connected socket");
                    match s.write(&msg[self.off..]) {
                        Ok(n) => self.off += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                        // Wine can report a peer address before the connect
                        // is done; the connect's own event comes later.
                        Err(e) if e.kind() == io::ErrorKind::NotConnected && self.off == 0 => {
                            return Ok(())
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                    if self.off == msg.len() {
                        self.off = 0;
                        self.phase = Phase::Reading;
                    }
                }
                Phase::Reading => {
                    let s = self.s.as_mut().expect("connected socket");
                    match s.read(&mut self.back[self.off..]) {
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(n) => self.off += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                    if self.off == self.back.len() {
                        self.plan.round_done(self.began);
                        self.phase = Phase::Idle;
                    }
                }
            }
        }
    }
}

fn net(job: &NetJob) -> io::Result<NetOut> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut listener = TcpListener::bind(harness::loopback())?;
    let addr = listener.local_addr()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let n = job.conns;
    let start = Instant::now();
    let msg: Vec<u8> = ClientPlan::new(job, start).message();
    let mut clients: Vec<Client> = (0..n)
        .map(|_| Client {
            plan: ClientPlan::new(job, start),
            s: None,
            phase: Phase::Idle,
            off: 0,
            began: start,
            back: vec![0; job.msg],
        })
        .collect();
    // Server connections use tokens n.. ; `free` recycles their slots.
    let mut servers: Vec<Option<Echoer>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        c.advance(poll.registry(), Token(i), addr, &msg)?;
    }
    let give_up = start + job.duration + GRACE;
    while clients.iter().any(|c| c.phase != Phase::Done) {
        if Instant::now() > give_up {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "mio loop made no progress",
            ));
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for ev in events.iter() {
            match ev.token() {
                LISTENER => loop {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nodelay(true)?;
                            let idx = free.pop().unwrap_or_else(|| {
                                servers.push(None);
                                servers.len() - 1
                            });
                            let mut e = Echoer {
                                s,
                                buf: vec![0; 64 << 10].into(),
                                start: 0,
                                end: 0,
                            };
                            let both = Interest::READABLE | Interest::WRITABLE;
                            poll.registry().register(&mut e.s, Token(n + idx), both)?;
                            servers[idx] = Some(e);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // Wine's accept sometimes fails with "not connected"
                        // and the connection is still there for the next one.
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
                        Err(e) => return Err(e),
                    }
                },
                Token(t) if t < n => clients[t].advance(poll.registry(), Token(t), addr, &msg)?,
                Token(t) => {
                    let idx = t - n;
                    let gone = servers
                        .get_mut(idx)
                        .and_then(Option::as_mut)
                        .is_some_and(Echoer::drive);
                    if gone {
                        if let Some(mut e) = servers[idx].take() {
                            poll.registry().deregister(&mut e.s)?;
                            free.push(idx);
                        }
                    }
                }
            }
        }
    }
    let mut out = NetOut {
        elapsed: start.elapsed(),
        ..NetOut::default()
    };
    for c in clients {
        out.add(c.plan.out);
    }
    Ok(out)
}
