//! `examples/graceful_shutdown.rs`: on shutdown, requests in progress are
//! answered, idle connections closed, new ones refused, and what outlasts
//! the grace period is cut off and counted. In-process on every platform;
//! on Linux also the binary itself, stopped by `SIGINT` and by `SIGTERM`.
mod common;

#[allow(dead_code)]
#[path = "../examples/graceful_shutdown.rs"]
mod graceful_shutdown;

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use common::within;
use futures_io::{AsyncRead, AsyncWrite};
use graceful_shutdown::{serve_until, Report, State};
use oneport::net::{TcpListener, TcpStream};

const HANG: Duration = Duration::from_secs(30);

async fn send(s: &mut TcpStream, mut buf: &[u8]) {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *s).poll_write(cx, buf))
            .await
            .unwrap();
        buf = &buf[n..];
    }
}

/// Everything until the server closes the connection.
async fn rest(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match poll_fn(|cx| Pin::new(&mut *s).poll_read(cx, &mut buf)).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&out).into_owned(),
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Waits (bounded) until `cond` holds, yielding to the server meanwhile.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let wait = async {
        while !cond() {
            oneport::time::sleep(Duration::from_millis(1)).await;
        }
    };
    oneport::time::timeout(HANG, wait)
        .await
        .unwrap_or_else(|_| panic!("never: {what}"));
}

/// Starts the server; returns its address, its state, the trigger that
/// stops it and its report.
fn start(
    grace: Duration,
) -> (
    SocketAddr,
    Rc<State>,
    async_channel::Sender<()>,
    oneport::JoinHandle<Report>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Rc::new(State::default());
    let (trigger, stop) = async_channel::bounded::<()>(1);
    let server = oneport::spawn(serve_until(
        listener,
        state.clone(),
        async move {
            let _ = stop.recv().await;
        },
        grace,
    ));
    (addr, state, trigger, server)
}

#[test]
fn shutdown_answers_the_request_in_progress_closes_idle_ones_and_refuses_new_ones() {
    within(60, || {
        oneport::run(async {
            let (addr, state, trigger, server) = start(Duration::from_secs(20));
            let mut quick = TcpStream::connect(addr).await.unwrap();
            send(&mut quick, b"one\n").await;
            let mut busy = TcpStream::connect(addr).await.unwrap();
            let mut idle = TcpStream::connect(addr).await.unwrap();
            until("three connections open", || state.open() == 3).await;
            send(&mut busy, b"slow work\n").await;
            until("the slow request is being worked on", || state.busy() == 1).await;

            drop(trigger);
            // The idle connection closes without an answer, at once.
            let got = oneport::time::timeout(HANG, rest(&mut idle)).await.unwrap();
            assert_eq!(got, "", "the idle connection got {got:?}");
            // The slow one still gets its answer, then the close.
            let got = oneport::time::timeout(HANG, rest(&mut busy)).await.unwrap();
            assert_eq!(got, "echo: slow work\n");
            let got = oneport::time::timeout(HANG, rest(&mut quick))
                .await
                .unwrap();
            assert_eq!(got, "echo: one\n");
            let report = oneport::time::timeout(HANG, server).await.unwrap();
            assert_eq!(
                report,
                Report {
                    finished: 3,
                    cut_off: 0
                }
            );
            assert_eq!(state.open(), 0);
            // The listener is gone: nobody accepts any more.
            assert!(
                TcpStream::connect(addr).await.is_err(),
                "a connection was accepted after shutdown"
            );
        })
    });
}

#[test]
fn what_outlasts_the_grace_period_is_cut_off_and_counted() {
    within(60, || {
        oneport::run(async {
            let (addr, state, trigger, server) = start(Duration::from_millis(100));
            let mut busy = TcpStream::connect(addr).await.unwrap();
            send(&mut busy, b"slow and late\n").await;
            until("the slow request is being worked on", || state.busy() == 1).await;
            drop(trigger);
            let report = oneport::time::timeout(HANG, server).await.unwrap();
            assert_eq!(
                report,
                Report {
                    finished: 0,
                    cut_off: 1
                }
            );
            // Cut off: the connection closes without the answer.
            let got = oneport::time::timeout(HANG, rest(&mut busy)).await.unwrap();
            assert_eq!(got, "");
        })
    });
}

#[test]
fn connections_that_end_before_shutdown_are_reaped_and_counted() {
    within(60, || {
        oneport::run(async {
            let (addr, state, trigger, server) = start(Duration::from_secs(20));
            for i in 0..50 {
                let mut c = TcpStream::connect(addr).await.unwrap();
                send(&mut c, format!("n{i}\n").as_bytes()).await;
                c.shutdown(std::net::Shutdown::Write).unwrap();
                assert_eq!(rest(&mut c).await, format!("echo: n{i}\n"));
            }
            until("all closed", || state.open() == 0).await;
            drop(trigger);
            let report = oneport::time::timeout(HANG, server).await.unwrap();
            assert_eq!(
                report,
                Report {
                    finished: 50,
                    cut_off: 0
                }
            );
        })
    });
}

/// The binary, stopped by a real signal while a slow request is pending.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_drains_on_sigint_and_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    let exe = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/debug/examples/graceful_shutdown");
    let exe = std::env::var_os("CARGO_TARGET_DIR")
        .map(|t| std::path::PathBuf::from(t).join("debug/examples/graceful_shutdown"))
        .unwrap_or(exe);
    if !exe.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} missing under CI",
            exe.display()
        );
        eprintln!("skipped: {} not built", exe.display());
        return;
    }
    /// Kills and reaps the child however the test ends.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // `cargo test --test graceful_shutdown` alone does not rebuild the
    // example; `scripts/test.sh` (the whole workspace) does.
    within(120, move || {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            let child = Command::new(&exe)
                .arg("127.0.0.1:0")
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut child = Reap(child);
            let mut out = BufReader::new(child.0.stdout.take().unwrap());
            let mut first = String::new();
            out.read_line(&mut first).unwrap();
            let addr: SocketAddr = first.trim().rsplit(' ').next().unwrap().parse().unwrap();
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(HANG)).unwrap();
            c.write_all(b"slow\n").unwrap();
            // The signal must come while the request is being worked on.
            let mut working = String::new();
            out.read_line(&mut working).unwrap();
            assert_eq!(working.trim(), "working on: slow");
            // SAFETY: kill takes a pid and a signal number.
            assert_eq!(unsafe { libc::kill(child.0.id() as i32, signal) }, 0);
            let mut answer = String::new();
            c.read_to_string(&mut answer).unwrap();
            assert_eq!(answer, "echo: slow\n", "signal {signal}");
            let status = child.0.wait().unwrap();
            assert!(status.success(), "signal {signal}: {status}");
            let mut last = String::new();
            out.read_to_string(&mut last).unwrap();
            assert_eq!(
                last.trim(),
                "shut down: 1 finished, 0 cut off",
                "signal {signal}"
            );
        }
    });
}
