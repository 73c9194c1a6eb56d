//! # oneport
//!
//! An async I/O runtime whose Windows core is **one I/O completion port** that
//! carries every kind of event: socket readiness (through the AFD driver's
//! `IOCTL_AFD_POLL`), overlapped I/O on files and pipes, raw completion packets
//! with user-chosen keys, process exit and cross-thread wakeups. No helper
//! thread per socket, pipe or child. The same public API runs on Linux over
//! epoll, so programs are portable and the test suite runs on both.
//!
//! The runtime is single-threaded: one [`Runtime`] per thread, tasks are
//! `!Send` futures, wakers are `Send + Sync`.
//!
//! ```
//! use std::time::Duration;
//!
//! let answer = oneport::run(async {
//!     let task = oneport::spawn(async {
//!         oneport::time::sleep(Duration::from_millis(1)).await;
//!         21
//!     });
//!     task.await * 2
//! });
//! assert_eq!(answer, 42);
//! ```
//!
//! Tasks: [`spawn`] gives a [`JoinHandle`]; awaiting it gives the task's
//! value (the contract of the API), while [`JoinHandle::join`] gives
//! `Result<T, JoinError>` and so also reports a task that was cancelled
//! ([`JoinHandle::abort`], or dropped with its runtime) or panicked.
//! [`spawn_blocking`] runs a blocking closure on the process's blocking
//! pool (grown on demand up to [`MAX_BLOCKING_THREADS`], idle threads end
//! after [`BLOCKING_IDLE_TIMEOUT`]). A [`JoinSet`] holds many tasks and
//! gives their results in the order they finish (also at [`task`], with
//! the other task items).
//!
//! Dropping a [`Runtime`] drops every task it owns, inside the runtime's
//! context (so destructors may still call `spawn`, `statistics`,
//! `notify_closing`, or poll a sleep), waits for the blocking calls its
//! tasks started, and closes every fd/handle it opened.
//!
//! Programs and tests: [`macro@main`] turns `async fn main() -> R` into
//! the plain `main` that runs it under [`run`], and [`macro@test`] does the
//! same for `#[test]` functions, keeping their attributes and return type.
//!
//! ## Channels, locks and select
//!
//! oneport has no channels or locks of its own: its wakers are
//! `Send + Sync` and a wake from any thread reaches the runtime, so the
//! runtime-agnostic crates work as they are, between tasks and between a
//! task and a plain thread. Use `async-channel` for channels (oneport
//! depends on it already; bounded, many-to-many, with blocking calls for
//! threads), `async-lock` for a `Mutex`, `RwLock` or `Semaphore` whose
//! guard may be held across an `.await`, and `futures-lite`'s
//! `future::race`/`future::or` to wait for the first of two futures, such
//! as a receive against [`time::sleep`] (the loser is dropped, which every
//! oneport future allows). `examples/channels.rs` uses all three, and the
//! README shows them together.
//!
//! ```
//! use std::time::Duration;
//!
//! oneport::run(async {
//!     let (tx, rx) = async_channel::bounded::<&str>(1);
//!     oneport::spawn_blocking(move || tx.send_blocking("from a thread").unwrap()).await;
//!     let got = futures_lite::future::race(
//!         async { rx.recv().await.ok() },
//!         async {
//!             oneport::time::sleep(Duration::from_secs(60)).await; // a bound only
//!             None
//!         },
//!     )
//!     .await;
//!     assert_eq!(got, Some("from a thread"));
//! });
//! ```
//!
//! HTTP: with the `hyper` feature (on by default), `oneport::hyper` has
//! the executor, timer and I/O glue hyper 1.x needs.
//!
//! I/O traits: every stream ([`net::TcpStream`] and its halves,
//! `net::UnixStream`, the [`process`] pipes, named pipes) implements
//! `futures_io::AsyncRead`/`AsyncWrite`. The cargo feature `tokio-io`, on
//! by default, adds `tokio::io::AsyncRead`/`AsyncWrite` for the same types,
//! delegating to the `futures_io` ones, so crates written against tokio's
//! traits (tokio-rustls, tokio-tungstenite, tonic) take oneport streams as
//! they are; only the traits come from tokio, never its runtime. The
//! README's "tokio's I/O traits" has an example.
//!
//! Every core: [`pool::Pool`] starts one runtime per thread and hands out
//! `Send` handles to spawn on them and to serve one port with all of them.
//!
//! Layers, from the top (each uses only the ones below it):
//!
//! - the user-facing types: [`net`] (TCP and UDP, built on readiness
//!   waits), [`fs`] (positional file I/O with owned [`buf`] buffers),
//!   [`process`] (children with asynchronous pipes, no thread per child),
//!   [`time`], [`signal`] (Ctrl-C, posted into the waiting runtimes by the
//!   signal or console handler), and on Windows `windows::named_pipe`;
//! - `sys/`: the platform adapters those types need (files, child exit
//!   and pipes, per platform), built only on `lowlevel` and the blocking
//!   pool;
//! - [`lowlevel`]: the waits and primitives every type is built on, public so
//!   programs can wait on their own sockets and handles; thin calls into the
//!   driver through the run loop;
//! - `runtime/`: the run loop (tasks, timers, cross-thread wakeups, the
//!   blocking pool) and the public [`lowlevel::Statistics`];
//! - `driver/`: the I/O managers, one per platform, each implementing the
//!   `Driver` trait of `driver/mod.rs` (which also holds the bottom types:
//!   the raw socket, the interest of a wait, the driver's figures). The
//!   readiness backends (epoll, AFD) share one waiter table,
//!   `driver/waiters.rs`, and keep only what they asked the kernel for.
//!   Only `driver/` and `sys/` know which platform they run on.
//!
//! Where the rules of the Windows I/O manager live, by file under
//! `src/driver/windows/`: the port, its dequeue and timeouts (rules 1, 3, 4,
//! 29's drain) in `port.rs`; the completion keys and monitors (2, 5, 25) in
//! `keys.rs`; base-socket resolution and the start-up check (6, 7) in
//! `base_socket.rs`; AFD helper handles and groups (8, 9) in
//! `afd/handle.rs`; the poll request and its memory (10, 12, 20) in
//! `afd/poll.rs`; the per-socket poll state and merged poll (11, 13-17)
//! in `afd/socket.rs` and `afd/mod.rs` (the waiters themselves in the
//! shared `src/driver/waiters.rs`); overlapped registration, results,
//! cancellation and late cancel (19-24) in `overlapped/`, where one
//! operation's life is the state enum of `overlapped/state.rs`, "did the
//! kernel take a refused call" is decided in `overlapped/probe.rs`, and the
//! bounded drain at drop in `overlapped/shutdown.rs`; waits on kernel
//! objects (27) in `wait.rs`; the port and key helpers users see (26) in
//! `src/lowlevel/windows.rs`. Rule 16 (a socket closed without
//! `notify_closing`) holds on Linux too, in `src/driver/epoll/mod.rs`.
//!
//! Above the drivers: owned-buffer overlapped streams (named pipes, child
//! pipes) share one adapter, `src/sys/windows/stream.rs`; a file's calls
//! are ordered by its fence (`src/runtime/fence.rs`), so an operation given
//! up on never lands after a later one.
//!
//! Completion keys 0 to 4 are oneport's own on every port: 0 AFD polls, 1
//! overlapped I/O, 2 late-cancel markers, 3 cross-thread wakeups, 4 object
//! waits (`wait_for_object`, process exit). Foreign code must not post with
//! them; take a key of your own from `lowlevel::monitor_completion_key`.
//!
//! Cancellation is dropping: every future in oneport can be dropped at any
//! await point. A readiness wait is withdrawn before `drop` returns; an
//! overlapped operation is cancelled and its buffers stay owned by the
//! driver until the kernel is done with them, which is why buffers are
//! passed by value and handed back with the result.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod compat;
mod driver;
mod error;
mod runtime;
mod sys;

pub mod buf;
pub mod fs;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod lowlevel;
pub mod net;
pub mod pool;
pub mod process;
pub mod signal;
pub mod task;
pub mod time;
#[cfg(windows)]
pub mod windows;

pub use error::{is_closed_resource, ClosedResource};
pub use runtime::blocking::{
    IDLE_TIMEOUT as BLOCKING_IDLE_TIMEOUT, MAX_THREADS as MAX_BLOCKING_THREADS,
};
pub use runtime::{
    run, spawn, spawn_blocking_task as spawn_blocking, yield_now, Join, JoinError, JoinHandle,
    JoinSet, Runtime,
};

/// Runs an `async fn` on a fresh runtime on the calling thread: the
/// program's `main`, or any function without parameters.
///
/// `#[oneport::main] async fn main() -> R { body }` becomes
/// `fn main() -> R { oneport::run(async move { body }) }`. Attributes,
/// visibility and the return type `R` (any type, such as
/// `std::io::Result<()>`) are kept, so `?` works in the body:
///
/// ```
/// #[oneport::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = oneport::net::TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let client = oneport::spawn(async move { oneport::net::TcpStream::connect(addr).await });
///     let (_server_side, _) = listener.accept().await?;
///     client.await?;
///     Ok(())
/// }
/// ```
///
/// The generated code names the runtime as `::oneport`, so the dependency
/// must keep that name. Mistakes are compile errors pointing at the
/// offending tokens. The function must be `async`:
///
/// ```compile_fail
/// #[oneport::main]
/// fn main() {} // error: #[oneport::main] needs an `async fn`
/// ```
///
/// It cannot take parameters (nor be generic):
///
/// ```compile_fail
/// #[oneport::main]
/// async fn main(port: u16) {} // error: the function it starts cannot take parameters
/// ```
///
/// The attribute goes on functions only:
///
/// ```compile_fail
/// #[oneport::main]
/// struct Server; // error: this item is not a function
/// fn main() {}
/// ```
///
/// And it takes no arguments (a runtime is one thread; for every core use
/// [`pool::Pool`]):
///
/// ```compile_fail
/// #[oneport::main(threads = 4)] // error: #[oneport::main] takes no arguments
/// async fn main() {}
/// ```
#[doc(inline)]
pub use oneport_macros::main;

/// Marks an `async fn` as a test whose body runs on a fresh runtime.
///
/// `#[oneport::test] async fn name() { body }` becomes
/// `#[test] fn name() { oneport::run(async { body }) }`. Other attributes
/// (`#[should_panic]`, `#[ignore]`, ...) and a return type such as
/// `std::io::Result<()>` are kept, as `#[test]` allows them:
///
/// ```
/// #[oneport::test]
/// async fn sleeps_and_spawns() -> std::io::Result<()> {
///     oneport::time::sleep(std::time::Duration::from_millis(1)).await;
///     assert_eq!(oneport::spawn(async { 6 * 7 }).await, 42);
///     Ok(())
/// }
///
/// #[oneport::test]
/// #[should_panic(expected = "boom")]
/// async fn panics_reach_the_test_harness() {
///     oneport::spawn(async { panic!("boom") }).await
/// }
/// # fn main() {}
/// ```
///
/// Like the standard `#[test]` it shares a name with, it is best written
/// with its path. A glob import (`use oneport::*;`) brings it in as
/// `test`, and a plain `#[test]` in that module is then an "ambiguous
/// name" error; import the items you use by name instead.
///
/// Mistakes are compile errors pointing at the offending tokens. The
/// function must be `async`:
///
/// ```compile_fail
/// #[oneport::test]
/// fn not_async() {} // error: #[oneport::test] needs an `async fn`
/// # fn main() {}
/// ```
///
/// It cannot take parameters (nor be generic):
///
/// ```compile_fail
/// #[oneport::test]
/// async fn with_input(n: u32) {} // error: a test function cannot take parameters
/// # fn main() {}
/// ```
///
/// The attribute goes on functions only:
///
/// ```compile_fail
/// #[oneport::test]
/// mod tests {} // error: this item is not a function
/// # fn main() {}
/// ```
///
/// It takes no arguments:
///
/// ```compile_fail
/// #[oneport::test(timeout = 5)] // error: #[oneport::test] takes no arguments
/// async fn slow() {}
/// # fn main() {}
/// ```
///
/// And it adds `#[test]` itself:
///
/// ```compile_fail
/// #[oneport::test]
/// #[test] // error: #[oneport::test] already adds #[test]: remove this one
/// async fn twice() {}
/// # fn main() {}
/// ```
#[doc(inline)]
pub use oneport_macros::test;

/// The README's code blocks, compiled and run as doc tests so the README
/// never shows code that does not work.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
