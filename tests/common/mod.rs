//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

pub mod http;
pub mod log_capture;
pub mod stress;
pub mod wine_example;

/// Runs `f` on its own thread and fails the test if it has not finished
/// within `secs` (a generous bound that only catches hangs). A panic in `f`
/// is resumed here.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match t.join().unwrap() {
            Ok(v) => v,
            Err(p) => panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung: not finished within {secs} s"),
    }
}

/// The message of a panic payload.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".into()
    }
}

/// Polls `fut`, catching a panic into `Err(message)`.
pub struct CatchUnwind<F>(pub Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(p) => Poll::Ready(Err(panic_message(&*p))),
        }
    }
}

/// Sets its flag when dropped: shows that a future was dropped.
pub struct DropFlag(pub std::rc::Rc<std::cell::Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A small deterministic pseudo-random generator (xorshift) for tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The child-process helper program (target/<profile>/examples/child_helper[.exe]).
pub fn child_helper() -> oneport::process::Command {
    let exe = std::env::current_exe().unwrap();
    let p = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples")
        .join(format!("child_helper{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.exists(),
        "{} missing: `cargo test` builds it; with `--test process` run `cargo build --examples` first",
        p.display()
    );
    oneport::process::Command::new(p)
}

/// The raw socket of a std socket, as `oneport::lowlevel` takes it.
#[cfg(unix)]
pub fn raw(s: &impl std::os::fd::AsRawFd) -> oneport::lowlevel::RawSock {
    s.as_raw_fd()
}
/// The raw socket of a std socket, as `oneport::lowlevel` takes it.
#[cfg(windows)]
pub fn raw(s: &impl std::os::windows::io::AsRawSocket) -> oneport::lowlevel::RawSock {
    s.as_raw_socket()
}

/// A connected loopback TCP pair, both ends nonblocking.
pub fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// A fresh path in the temporary directory, unique within this process
/// (`tag` says which test made it).
pub fn temp_path(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "oneport-test-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A waker that counts its wakes and, if `panics`, panics on each (a user
/// waker misbehaving inside the driver's wake loop).
pub struct CountingWaker {
    pub panics: bool,
    pub woken: std::sync::atomic::AtomicUsize,
}

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.panics {
            panic!("a user waker panics");
        }
    }
}
