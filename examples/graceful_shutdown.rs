//! A line server that shuts down gracefully: on Ctrl-C (or `SIGTERM` on
//! Unix) it stops accepting, lets every request in progress finish and
//! be answered, closes idle connections, and exits once all are done or
//! a grace period runs out (the rest are cut off and counted).
//!
//! ```sh
//! cargo run --example graceful_shutdown -- 127.0.0.1:7100
//! # another terminal: each line comes back as "echo: LINE"; a line
//! # starting with "slow" takes two seconds to answer
//! nc 127.0.0.1 7100
//! ```
//!
//! Press Ctrl-C while a slow line is pending: its answer still arrives,
//! then the server prints `shut down: N finished, M cut off` and exits.
//! `tests/graceful_shutdown.rs` drives the same functions in-process on
//! every platform, and the binary with real signals on Linux.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
// Racing futures: the well-kept crate the README recommends.
use futures_lite::future::or;
use oneport::net::{TcpListener, TcpStream};
use oneport::JoinSet;

/// How long a line starting with "slow" takes to answer.
pub const SLOW_WORK: Duration = Duration::from_secs(2);
/// How long requests in progress may take to finish after shutdown starts.
pub const GRACE: Duration = Duration::from_secs(10);

/// What the server is doing, for its owner (and the tests) to watch.
#[derive(Debug, Default)]
pub struct State {
    open: Cell<usize>,
    busy: Cell<usize>,
    /// Print a line when slow work starts (the binary does, for whoever
    /// watches it).
    pub verbose: bool,
}

impl State {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.get()
    }

    /// Requests being worked on now.
    pub fn busy(&self) -> usize {
        self.busy.get()
    }
}

/// How the shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Connections that ended on their own or after their last answer.
    pub finished: usize,
    /// Connections still working when the grace period ran out.
    pub cut_off: usize,
}

async fn write_all(s: &mut TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *s).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Serves one connection: answers each line; once the server is stopping,
/// finishes the line in progress, then closes.
///
/// `stop` is closed when the server stops: every connection waiting on it
/// is woken at once (a channel nobody sends on, used as a broadcast).
async fn connection(
    mut stream: TcpStream,
    state: Rc<State>,
    stop: async_channel::Receiver<()>,
) -> io::Result<()> {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            state.busy.set(state.busy.get() + 1);
            if line.starts_with("slow") {
                if state.verbose {
                    println!("working on: {line}");
                }
                oneport::time::sleep(SLOW_WORK).await;
            }
            let answered = write_all(&mut stream, format!("echo: {line}\n").as_bytes()).await;
            state.busy.set(state.busy.get() - 1);
            answered?;
            if stop.is_closed() {
                return Ok(());
            }
        }
        let read = poll_fn(|cx| Pin::new(&mut stream).poll_read(cx, &mut buf));
        // `stop.recv()` only ever ends with the channel closed.
        let stopped = async {
            let _ = stop.recv().await;
            None
        };
        match or(stopped, async { Some(read.await) }).await {
            None | Some(Ok(0)) => return Ok(()),
            Some(Ok(n)) => pending.extend_from_slice(&buf[..n]),
            Some(Err(e)) => return Err(e),
        }
    }
}

/// What woke the accept loop.
enum Event {
    Stop,
    Accepted(io::Result<(TcpStream, std::net::SocketAddr)>),
    Reaped,
}

/// Accepts connections on `listener` until `shutdown` completes, then
/// drains them: no new connection is accepted (the listener is closed),
/// idle connections are closed, requests in progress get their answers,
/// and after `grace` whatever is still running is cut off.
pub async fn serve_until(
    listener: TcpListener,
    state: Rc<State>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> Report {
    let mut connections: JoinSet<io::Result<()>> = JoinSet::new();
    let mut finished = 0;
    let mut shutdown = pin!(shutdown);
    let (stopping, stop) = async_channel::bounded::<()>(1);
    loop {
        let stopped = async {
            shutdown.as_mut().await;
            Event::Stop
        };
        let accept = async { Event::Accepted(listener.accept().await) };
        let reap = poll_fn(|cx| match connections.poll_join_next(cx) {
            Poll::Ready(Some(_)) => Poll::Ready(Event::Reaped),
            _ => Poll::Pending,
        });
        // Polled in this order: a shutdown wins over a new connection.
        match or(or(stopped, accept), reap).await {
            Event::Stop => break,
            Event::Accepted(Ok((stream, _peer))) => {
                let (state, stop) = (state.clone(), stop.clone());
                state.open.set(state.open.get() + 1);
                connections.spawn(async move {
                    let r = connection(stream, state.clone(), stop).await;
                    state.open.set(state.open.get() - 1);
                    r
                });
            }
            Event::Accepted(Err(e)) => eprintln!("graceful_shutdown: accept: {e}"),
            Event::Reaped => finished += 1,
        }
    }
    // No new connections; wake every idle one to close.
    drop(listener);
    drop(stopping);
    let drain = async {
        while connections.join_next().await.is_some() {
            finished += 1;
        }
    };
    let all_done = oneport::time::timeout(grace, drain).await.is_ok();
    let cut_off = if all_done { 0 } else { connections.len() };
    connections.abort_all();
    Report { finished, cut_off }
}

/// Ctrl-C, or on Unix also `SIGTERM`: whichever comes first.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use oneport::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM");
        let ctrl_c = async {
            let _ = oneport::signal::ctrl_c().await;
        };
        let term = async {
            let _ = term.recv().await;
        };
        or(ctrl_c, term).await;
    }
    #[cfg(not(unix))]
    {
        let _ = oneport::signal::ctrl_c().await;
    }
}

#[allow(dead_code)]
fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7100".into());
    let result = oneport::run(async move {
        let listener = TcpListener::bind(addr)?;
        println!("graceful_shutdown listening on {}", listener.local_addr()?);
        let state = Rc::new(State {
            verbose: true,
            ..State::default()
        });
        let report = serve_until(listener, state, stop_requested(), GRACE).await;
        println!(
            "shut down: {} finished, {} cut off",
            report.finished, report.cut_off
        );
        io::Result::Ok(())
    });
    if let Err(e) = result {
        eprintln!("graceful_shutdown: {e}");
        std::process::exit(1);
    }
}
