//! Linux: `SIGINT` through `signal-hook-registry`, one eventfd per waiter.
//!
//! A signal handler may only make async-signal-safe calls and may not
//! lock, so the set of waiters it sees is a fixed table of atomics holding
//! eventfds; the handler writes 1 to each. A waiter that leaves clears its
//! entry and then waits for every handler that is running to finish
//! (`IN_HANDLER`) before closing its eventfd, so a handler never writes to
//! a descriptor number that was closed and perhaps reused.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;

use crate::lowlevel::wait_readable;

/// Waits that can be pending at once in the process.
const SLOTS: usize = 256;

/// The eventfd of each pending wait, `-1` for a free entry.
static FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
/// Handlers running now, on any thread.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler once; later calls get the first call's outcome.
fn install() -> io::Result<()> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            // SAFETY: `on_sigint` is async-signal-safe: it touches only
            // atomics and calls write(2) on eventfds.
            unsafe { signal_hook_registry::register(libc::SIGINT, on_sigint) }
                .map(drop)
                .map_err(|e| format!("installing the SIGINT handler: {e}"))
        })
        .clone()
        .map_err(io::Error::other)
}

/// The signal handler: wakes every pending wait.
fn on_sigint() {
    IN_HANDLER.fetch_add(1, SeqCst);
    for slot in &FDS {
        let fd = slot.load(SeqCst);
        if fd >= 0 {
            let one: u64 = 1;
            // SAFETY: write(2) is async-signal-safe; `fd` is an eventfd
            // that stays open while `IN_HANDLER` is above 0 (see
            // `Waiter::drop`), and the 8 bytes are a live local.
            unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        }
    }
    IN_HANDLER.fetch_sub(1, SeqCst);
}

/// One pending `ctrl_c`: its eventfd and its entry in `FDS`.
pub(crate) struct Waiter {
    fd: OwnedFd,
    slot: usize,
}

impl Waiter {
    pub(crate) fn new() -> io::Result<Waiter> {
        install()?;
        // SAFETY: eventfd takes plain values and returns a new fd or -1.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just gave us this fd; nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let slot = FDS
            .iter()
            .position(|s| s.compare_exchange(-1, raw, SeqCst, SeqCst).is_ok())
            .ok_or_else(|| {
                io::Error::other(format!(
                    "more than {SLOTS} oneport::signal::ctrl_c waits pending at once"
                ))
            })?;
        Ok(Waiter { fd, slot })
    }

    pub(crate) async fn wait(self) -> io::Result<()> {
        loop {
            wait_readable(self.fd.as_raw_fd()).await?;
            let mut n: u64 = 0;
            // SAFETY: reads 8 bytes into a live local from our own eventfd.
            let r = unsafe { libc::read(self.fd.as_raw_fd(), (&mut n as *mut u64).cast(), 8) };
            if r == 8 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        FDS[self.slot].store(-1, SeqCst);
        // A handler that read our fd before the store is counted here; one
        // that starts later cannot see it. A handler interrupting this very
        // thread finishes before we resume, so this never waits for itself.
        while IN_HANDLER.load(SeqCst) != 0 {
            std::thread::yield_now();
        }
        crate::lowlevel::notify_closing_on_drop(self.fd.as_raw_fd());
    }
}
