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
//! Layers, from the top: the user-facing types ([`time`], and later `net`,
//! `fs`, `process`), then [`lowlevel`] (the waits every type is built on),
//! then the run loop, then one I/O driver per platform. Only the driver knows
//! which platform it runs on.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod driver;
mod error;
mod runtime;

pub mod buf;
pub mod fs;
pub mod lowlevel;
pub mod net;
pub mod time;
#[cfg(windows)]
pub mod windows;

pub use error::{is_closed_resource, ClosedResource};
pub use runtime::{run, spawn, yield_now, JoinHandle, Runtime};
