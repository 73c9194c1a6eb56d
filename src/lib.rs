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
//! Layers, from the top:
//!
//! - the user-facing types: [`net`] (TCP and UDP, built on readiness
//!   waits), [`fs`] (positional file I/O with owned [`buf`] buffers),
//!   [`process`] (children with asynchronous pipes, no thread per child),
//!   [`time`], and on Windows `windows::named_pipe`;
//! - [`lowlevel`]: the waits and primitives every type is built on, public so
//!   programs can wait on their own sockets and handles;
//! - the run loop (tasks, timers, cross-thread wakeups);
//! - one I/O driver per platform: the completion port (with AFD polls for
//!   sockets) on Windows, epoll on Linux. Only the driver knows which
//!   platform it runs on.
//!
//! Cancellation is dropping: every future in oneport can be dropped at any
//! await point. A readiness wait is withdrawn before `drop` returns; an
//! overlapped operation is cancelled and its buffers stay owned by the
//! driver until the kernel is done with them, which is why buffers are
//! passed by value and handed back with the result.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod driver;
mod error;
mod runtime;

pub mod buf;
pub mod fs;
pub mod lowlevel;
pub mod net;
pub mod process;
pub mod time;
#[cfg(windows)]
pub mod windows;

pub use error::{is_closed_resource, ClosedResource};
pub use runtime::{run, spawn, yield_now, JoinHandle, Runtime};
