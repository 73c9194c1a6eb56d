//! Unix: signals through `signal-hook-registry`, one eventfd per waiter.
//!
//! A signal handler may only make async-signal-safe calls and may not
//! lock, so the set of waiters it sees is a fixed table of atomics: each
//! entry holds the signal it waits for and an eventfd, and the handler
//! for signal `n` writes 1 to the eventfd of every entry waiting for `n`.
//! A waiter that leaves clears its eventfd and then waits for every
//! handler that is running to finish (`IN_HANDLER`) before closing it, so
//! a handler never writes to a descriptor number that was closed and
//! perhaps reused. The signal number is set before the eventfd and cleared
//! after it, so a handler that sees an eventfd also sees whose it is.
//!
//! One handler is installed per signal number, the first time anything
//! waits for it, and stays for the life of the process (the registry
//! chains it with handlers other libraries installed).

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use crate::lowlevel::wait_readable;

/// The numbers behind `signal::unix::SignalKind`'s constructors (the
/// public module stays free of the platform's headers).
pub(crate) mod numbers {
    pub(crate) const INTERRUPT: i32 = libc::SIGINT;
    pub(crate) const TERMINATE: i32 = libc::SIGTERM;
    pub(crate) const HANGUP: i32 = libc::SIGHUP;
    pub(crate) const QUIT: i32 = libc::SIGQUIT;
    pub(crate) const USER1: i32 = libc::SIGUSR1;
    pub(crate) const USER2: i32 = libc::SIGUSR2;
    pub(crate) const CHILD: i32 = libc::SIGCHLD;
    pub(crate) const ALARM: i32 = libc::SIGALRM;
    pub(crate) const PIPE: i32 = libc::SIGPIPE;
    pub(crate) const WINDOW_CHANGE: i32 = libc::SIGWINCH;
}

/// Waits that can be pending at once in the process (over all signals).
pub(crate) const SLOTS: usize = 256;

/// One table entry: `signum` 0 and `fd` -1 when free.
struct Slot {
    signum: AtomicI32,
    fd: AtomicI32,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        signum: AtomicI32::new(0),
        fd: AtomicI32::new(-1),
    }
}; SLOTS];
/// Handlers running now, on any thread.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler for `signum` once; later calls get the first
/// call's outcome.
fn install(signum: i32) -> io::Result<()> {
    static INSTALLED: Mutex<Option<HashMap<i32, Result<(), String>>>> = Mutex::new(None);
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    let outcome = installed
        .get_or_insert_with(HashMap::new)
        .entry(signum)
        .or_insert_with(|| {
            // SAFETY: the action is async-signal-safe: it touches only
            // atomics and calls write(2) on eventfds.
            unsafe { signal_hook_registry::register(signum, move || on_signal(signum)) }
                .map(drop)
                .map_err(|e| format!("installing a handler for signal {signum}: {e}"))
        });
    outcome.clone().map_err(io::Error::other)
}

/// The signal handler: wakes every pending wait for `signum`.
fn on_signal(signum: i32) {
    IN_HANDLER.fetch_add(1, SeqCst);
    for slot in &TABLE {
        let fd = slot.fd.load(SeqCst);
        if fd >= 0 && slot.signum.load(SeqCst) == signum {
            let one: u64 = 1;
            // SAFETY: write(2) is async-signal-safe; `fd` is an eventfd
            // that stays open while `IN_HANDLER` is above 0 (see
            // `Waiter::drop`), and the 8 bytes are a live local.
            unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        }
    }
    IN_HANDLER.fetch_sub(1, SeqCst);
}

/// One pending wait for a signal: its eventfd and its table entry. Every
/// signal that arrives while it exists is counted; [`Waiter::wait`]
/// returns once for any number that arrived since the last return.
pub(crate) struct Waiter {
    fd: OwnedFd,
    slot: usize,
}

impl Waiter {
    /// A wait for Ctrl-C (`SIGINT`).
    pub(crate) fn new() -> io::Result<Waiter> {
        Waiter::for_signal(libc::SIGINT)
    }

    /// A wait for `signum`, counting from now. Fails for signals that
    /// cannot be caught (`SIGKILL`, `SIGSTOP`) or must not be
    /// (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`), and when the table is full.
    pub(crate) fn for_signal(signum: i32) -> io::Result<Waiter> {
        if signum <= 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{signum} is not a signal number"),
            ));
        }
        let forbidden = [
            (libc::SIGKILL, "SIGKILL cannot be caught"),
            (libc::SIGSTOP, "SIGSTOP cannot be caught"),
            (
                libc::SIGSEGV,
                "SIGSEGV must not be caught: the program is broken when it arrives",
            ),
            (
                libc::SIGBUS,
                "SIGBUS must not be caught: the program is broken when it arrives",
            ),
            (
                libc::SIGILL,
                "SIGILL must not be caught: the program is broken when it arrives",
            ),
            (
                libc::SIGFPE,
                "SIGFPE must not be caught: the program is broken when it arrives",
            ),
        ];
        if let Some((_, why)) = forbidden.iter().find(|(n, _)| *n == signum) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, *why));
        }
        install(signum)?;
        // SAFETY: eventfd takes plain values and returns a new fd or -1.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just gave us this fd; nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let slot = TABLE
            .iter()
            .position(|s| s.signum.compare_exchange(0, signum, SeqCst, SeqCst).is_ok())
            .ok_or_else(|| {
                io::Error::other(format!(
                    "more than {SLOTS} oneport signal waits pending at once"
                ))
            })?;
        TABLE[slot].fd.store(raw, SeqCst);
        Ok(Waiter { fd, slot })
    }

    /// Waits until at least one signal arrived since the last return (or
    /// since the waiter was made).
    pub(crate) async fn wait(&self) -> io::Result<()> {
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
        let slot = &TABLE[self.slot];
        slot.fd.store(-1, SeqCst);
        // A handler that read our fd before the store is counted here; one
        // that starts later cannot see it. A handler interrupting this very
        // thread finishes before we resume, so this never waits for itself.
        while IN_HANDLER.load(SeqCst) != 0 {
            std::thread::yield_now();
        }
        crate::lowlevel::notify_closing_on_drop(self.fd.as_raw_fd());
        slot.signum.store(0, SeqCst);
    }
}
