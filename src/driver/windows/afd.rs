//! Socket readiness through the AFD driver (`IOCTL_AFD_POLL`).
//!
//! Not yet implemented: every wait reports `Unsupported`. A completion with
//! key 0 can therefore only be a bug, and panics.

use std::io;
use std::task::{Poll, Waker};

use windows_sys::Win32::System::IO::OVERLAPPED_ENTRY;

use crate::driver::WaitToken;
use crate::lowlevel::{Direction, RawSock, Statistics};

pub(crate) struct Afd {}

impl Afd {
    pub(crate) fn new() -> io::Result<Afd> {
        Ok(Afd {})
    }

    pub(crate) fn on_completion(&self, entry: &OVERLAPPED_ENTRY, _wake: &mut Vec<Waker>) {
        panic!(
            "oneport: AFD poll completion (key 0) for unknown OVERLAPPED {:p}",
            entry.lpOverlapped
        );
    }

    pub(crate) fn fill_statistics(&self, _s: &mut Statistics) {}

    pub(crate) fn register_wait(
        &self,
        _sock: RawSock,
        _dir: Direction,
        _waker: &Waker,
    ) -> io::Result<WaitToken> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "socket readiness is not implemented on Windows yet",
        ))
    }

    pub(crate) fn poll_wait(&self, _token: WaitToken, _waker: &Waker) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "socket readiness is not implemented on Windows yet",
        )))
    }

    pub(crate) fn cancel_wait(&self, _token: WaitToken) {}

    pub(crate) fn notify_closing(&self, _sock: RawSock) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "socket readiness is not implemented on Windows yet",
        ))
    }
}
