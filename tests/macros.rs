//! `#[oneport::main]` and `#[oneport::test]` as users write them: main-like
//! functions called from ordinary tests, tests returning `io::Result`,
//! and the attributes the macros must keep (`#[should_panic]`,
//! `#[ignore]`, `#[cfg]`, visibility). The error cases are the
//! compile-fail doc tests on the re-exports in `src/lib.rs`.
#![deny(non_snake_case)]
mod common;

use std::io;
use std::time::Duration;

use common::within;
use oneport::net::{TcpListener, TcpStream};
use oneport::time::timeout;

/// A hang bound for the network steps (only catches hangs).
const BOUND: Duration = Duration::from_secs(60);

fn timed_out(_: oneport::time::Elapsed) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "hung")
}

/// A whole program in the shape of `main`: a server and a client on one
/// runtime, `?` on every step, the echoed byte count as the result.
#[oneport::main]
async fn echo_program() -> io::Result<usize> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = oneport::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await?;
        stream.write_all(&buf[..n]).await?;
        io::Result::Ok(n)
    });
    let client = timeout(BOUND, TcpStream::connect(addr))
        .await
        .map_err(timed_out)??;
    client.write_all(b"through the macro").await?;
    let mut back = [0u8; 64];
    let n = timeout(BOUND, client.read(&mut back))
        .await
        .map_err(timed_out)??;
    assert_eq!(&back[..n], b"through the macro");
    let served = timeout(BOUND, server).await.map_err(timed_out)??;
    assert_eq!(served, n);
    Ok(n)
}

#[test]
fn a_main_like_function_runs_its_body_to_the_end() {
    assert_eq!(within(120, echo_program).unwrap(), 17);
}

/// `?` leaves the body early with the error, as in a hand-written `main`.
#[oneport::main]
async fn fails_at_the_first_error() -> io::Result<()> {
    oneport::fs::read("/no/such/dir/oneport-macro-test").await?;
    panic!("the error above returns before this line");
}

#[test]
fn question_mark_in_a_main_like_function_returns_the_error() {
    let e = within(60, fails_at_the_first_error).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
}

/// Any return type, here one that is not a `Result`.
#[oneport::main]
async fn sleeps_then_answers() -> u32 {
    oneport::time::sleep(Duration::from_millis(5)).await;
    oneport::spawn(async { 21 }).await * 2
}

#[test]
fn a_main_like_function_may_return_any_type() {
    assert_eq!(within(60, sleeps_then_answers), 42);
}

#[test]
fn each_call_gets_a_fresh_runtime() {
    // A thread runs one runtime at a time (`block_on` panics when nested):
    // the second call works because the first runtime ended with its call.
    within(60, || {
        assert_eq!(sleeps_then_answers(), 42);
        assert_eq!(sleeps_then_answers(), 42);
    });
}

mod visibility {
    /// Callable from outside the module only if `pub` is kept.
    #[oneport::main]
    pub async fn answer() -> &'static str {
        oneport::yield_now().await;
        "public"
    }
}

#[test]
fn the_visibility_is_kept() {
    assert_eq!(visibility::answer(), "public");
}

// The attributes after the macro's are kept: this file denies
// non-snake-case names, so each function below builds only while its
// `#[allow]` survives the expansion.
#[oneport::main]
#[allow(non_snake_case)]
async fn MainKeepsAttributes() -> u8 {
    7
}

#[oneport::test]
#[allow(non_snake_case)]
async fn TestKeepsAttributes() {
    // Not called here directly: this thread already runs a runtime.
    assert_eq!(oneport::spawn_blocking(MainKeepsAttributes).await, 7);
}

#[oneport::test]
async fn a_test_may_return_io_result() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let accept = oneport::spawn(async move { listener.accept().await });
    let client = timeout(BOUND, TcpStream::connect(addr))
        .await
        .map_err(timed_out)??;
    let (server, _) = timeout(BOUND, accept).await.map_err(timed_out)??;
    assert_eq!(server.peer_addr()?, client.local_addr()?);
    Ok(())
}

#[oneport::test]
async fn a_test_without_return_type_runs_on_the_runtime() {
    let s = oneport::lowlevel::statistics();
    assert!(["epoll", "windows"].contains(&s.backend), "{}", s.backend);
    oneport::time::sleep(Duration::from_millis(2)).await;
}

#[oneport::test]
#[should_panic(expected = "a task's panic reaches the test")]
async fn should_panic_is_kept() {
    oneport::spawn(async { panic!("a task's panic reaches the test") }).await
}

#[oneport::test]
#[ignore = "kept ignored: it fails if #[ignore] is dropped"]
async fn ignore_is_kept() {
    panic!("#[ignore] was dropped by #[oneport::test]");
}

mod imported {
    // With the attribute imported as `test`, a plain `#[test]` is ours; the
    // expansion names the standard `#[test]` by its full path, so this is
    // not expanded again.
    use oneport::test;

    #[test]
    async fn the_imported_name_works() -> std::io::Result<()> {
        oneport::yield_now().await;
        Ok(())
    }
}
