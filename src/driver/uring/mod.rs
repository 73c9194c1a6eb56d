//! Files on io_uring (Linux): one submission/completion ring per runtime.
//!
//! Regular files have no readiness notification, so without this the epoll
//! driver sends every positional read and write to the blocking pool: a
//! thread hop and a copy per call. A ring lets the kernel read and write the
//! caller's own buffer and tell the run loop when it is done, on the same
//! turn that handles epoll events.
//!
//! Why it is shaped this way:
//!
//! - **Probed, never guessed.** The ring is created at runtime creation
//!   with `SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN` (a runtime is one
//!   thread, so task work can wait for the run loop), falling back to fewer
//!   flags when the kernel refuses them (`EINVAL`), and the opcodes used
//!   here are checked with the probe API. A sandbox that forbids io_uring
//!   (`EPERM`), a kernel without it (`ENOSYS`) or a missing opcode keeps
//!   files on the pool. `ONEPORT_DRIVER` overrides the choice (see
//!   [`choose`]).
//! - **One wait.** The ring signals an eventfd (`IORING_REGISTER_EVENTFD`)
//!   that sits in the epoll set, so the run loop blocks in `epoll_wait`
//!   alone. Submissions are batched until the loop is about to wait
//!   ([`Ring::flush`]); with `DEFER_TASKRUN` completions are only posted
//!   when we enter the kernel with `GETEVENTS`, which the flush and the
//!   eventfd handler both do.
//! - **Owned until the kernel is done.** Each operation has a record in a
//!   slab (reused: no allocation per operation). The memory the kernel
//!   reads or writes belongs to the operation's future while it lives and
//!   moves into the record if the future is dropped in flight; the record
//!   then asks the kernel to cancel (`ASYNC_CANCEL`) and frees that memory
//!   only when the operation's own completion arrives. An operation dropped
//!   before it was handed to the kernel is simply forgotten: it never runs.
//! - **Bounded teardown.** Dropping the driver cancels everything and waits
//!   up to [`SHUTDOWN_WAIT`] for every completion. Memory of operations whose
//!   completion never came is leaked and reported through `log::warn!`,
//!   never freed under the kernel.

mod op;

use std::any::Any;
use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, IoUring, Probe};
use slab::Slab;

pub(crate) use op::Op;

/// Entries of the submission queue; the completion queue gets twice that.
const ENTRIES: u32 = 256;
/// How long dropping the driver waits for the completions still owed.
pub(crate) const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);
/// The `user_data` of cancellation requests, whose completions say nothing
/// we need (the cancelled operation's own completion still comes).
const CANCEL_DATA: u64 = u64::MAX;
/// The environment variable that picks the file backend.
pub(crate) const ENV: &str = "ONEPORT_DRIVER";

/// Setup flag sets tried in order; the first the kernel accepts wins.
const FLAG_SETS: &[(&str, u32)] = &[
    (
        "SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN",
        SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN,
    ),
    ("SINGLE_ISSUER|COOP_TASKRUN", SINGLE_ISSUER | COOP_TASKRUN),
    ("COOP_TASKRUN", COOP_TASKRUN),
    ("none", 0),
];
/// `IORING_ENTER_GETEVENTS`: also run deferred task work (and wait, when
/// a minimum is given).
const ENTER_GETEVENTS: u32 = 1;
const COOP_TASKRUN: u32 = 1;
const SINGLE_ISSUER: u32 = 2;
const DEFER_TASKRUN: u32 = 4;

/// What `ONEPORT_DRIVER` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wanted {
    /// Unset or empty: the ring when the probe finds it, else the pool.
    Auto,
    /// `epoll`: files on the blocking pool.
    Pool,
    /// `io_uring`: the ring, or an error from `Runtime::new`.
    Ring,
}

fn wanted() -> io::Result<Wanted> {
    match std::env::var_os(ENV) {
        None => Ok(Wanted::Auto),
        Some(v) if v.is_empty() => Ok(Wanted::Auto),
        Some(v) if v == "epoll" => Ok(Wanted::Pool),
        Some(v) if v == "io_uring" => Ok(Wanted::Ring),
        Some(v) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("oneport: {ENV}={v:?} is not a driver: use \"epoll\" or \"io_uring\" (or leave it unset)"),
        )),
    }
}

/// The file backend for a new runtime, as `ONEPORT_DRIVER` and the probe
/// decide: `Ok(None)` keeps files on the blocking pool.
pub(crate) fn choose() -> io::Result<Option<Rc<Ring>>> {
    match wanted()? {
        Wanted::Pool => Ok(None),
        Wanted::Auto => match Ring::new() {
            Ok(r) => Ok(Some(Rc::new(r))),
            Err(e) => {
                log::debug!(target: "oneport", "io_uring unavailable, files use the blocking pool: {e}");
                Ok(None)
            }
        },
        Wanted::Ring => Ring::new().map(|r| Some(Rc::new(r))).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("oneport: {ENV}=io_uring, but io_uring is unavailable here: {e}"),
            )
        }),
    }
}

/// One runtime's ring (shared by its driver and the operations in flight).
pub(crate) struct Ring {
    state: RefCell<State>,
    /// Signalled by the kernel when completions (or task work) are ready;
    /// watched by the epoll set.
    evfd: OwnedFd,
    /// The setup flags the kernel accepted.
    flags: &'static str,
}

struct State {
    ring: IoUring,
    ops: Slab<Record>,
    /// Operations and cancellations waiting for the next flush, in order.
    pending: Vec<Pending>,
    /// Operations handed to the kernel whose completion has not come.
    in_flight: usize,
    /// Of those, the ones whose future was dropped.
    orphaned: usize,
    /// Set once the driver has shut the ring down.
    closed: bool,
}

enum Pending {
    Op(usize),
    Cancel(usize),
}

/// One operation from submission until its future takes the result (or,
/// if the future was dropped, until its completion arrives).
struct Record {
    /// The request, until the flush hands it to the kernel.
    sqe: Option<squeue::Entry>,
    result: Option<i32>,
    waker: Option<Waker>,
    /// What the kernel may still use, once the future was dropped.
    keep: Option<Box<dyn Any>>,
}

impl Ring {
    /// Creates and probes a ring; any failure means "use the pool".
    fn new() -> io::Result<Ring> {
        let (ring, flags) = build()?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for (name, code) in [
            ("READ", opcode::Read::CODE),
            ("WRITE", opcode::Write::CODE),
            ("FSYNC", opcode::Fsync::CODE),
            ("ASYNC_CANCEL", opcode::AsyncCancel::CODE),
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("the kernel's io_uring lacks IORING_OP_{name}"),
                ));
            }
        }
        // SAFETY: a plain syscall; the returned fd is checked, then owned.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd nobody else owns.
        let evfd = unsafe { OwnedFd::from_raw_fd(raw) };
        ring.submitter().register_eventfd(evfd.as_raw_fd())?;
        Ok(Ring {
            state: RefCell::new(State {
                ring,
                ops: Slab::with_capacity(64),
                pending: Vec::with_capacity(64),
                in_flight: 0,
                orphaned: 0,
                closed: false,
            }),
            evfd,
            flags,
        })
    }

    /// The eventfd the epoll set watches for this ring.
    pub(crate) fn eventfd(&self) -> RawFd {
        self.evfd.as_raw_fd()
    }

    /// The setup flags the kernel accepted (for the record).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn setup_flags(&self) -> &'static str {
        self.flags
    }

    /// Operations whose future was dropped and whose completion has not
    /// arrived yet.
    pub(crate) fn orphaned(&self) -> usize {
        self.state.borrow().orphaned
    }

    /// Queues `sqe` for the next flush and returns its record's key.
    fn submit(&self, sqe: squeue::Entry) -> usize {
        let mut st = self.state.borrow_mut();
        let key = st.ops.vacant_key();
        st.ops.insert(Record {
            sqe: Some(sqe.user_data(key as u64)),
            result: None,
            waker: None,
            keep: None,
        });
        st.pending.push(Pending::Op(key));
        key
    }

    /// The result once the completion arrived; parks `waker` until then.
    fn poll(&self, key: usize, waker: &Waker) -> Poll<i32> {
        let mut st = self.state.borrow_mut();
        let rec = &mut st.ops[key];
        if let Some(r) = rec.result {
            st.ops.remove(key);
            return Poll::Ready(r);
        }
        match &rec.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => rec.waker = Some(waker.clone()),
        }
        Poll::Pending
    }

    /// The future of operation `key` is gone. Returns `keep` when nothing
    /// of it is in the kernel's hands (never submitted: it will never run;
    /// or already complete), so the caller drops it; otherwise the record
    /// keeps it until the completion arrives and a cancellation is queued.
    /// `started` tells the caller whether the operation reached the kernel
    /// and is still running.
    fn abandon(&self, key: usize, keep: Box<dyn Any>) -> Option<Box<dyn Any>> {
        let mut st = self.state.borrow_mut();
        let rec = &mut st.ops[key];
        if rec.sqe.is_some() || rec.result.is_some() {
            st.ops.remove(key);
            return Some(keep);
        }
        rec.keep = Some(keep);
        rec.waker = None;
        st.orphaned += 1;
        st.pending.push(Pending::Cancel(key));
        None
    }

    /// Whether operation `key` was handed to the kernel and has not
    /// completed (so dropping it now leaves it running).
    fn is_running(&self, key: usize) -> bool {
        let st = self.state.borrow();
        let rec = &st.ops[key];
        rec.sqe.is_none() && rec.result.is_none()
    }

    /// Hands every queued request to the kernel and runs deferred task
    /// work, without waiting. Returns whether completions are ready to
    /// reap (the loop must then not block).
    ///
    /// The eventfd is only wanted while the loop sleeps: awake, it would be
    /// signalled by every completion posted during our own `enter` and cost
    /// an epoll event, a read and another enter per turn. So it is disabled
    /// (`IORING_CQ_EVENTFD_DISABLED`, a flag in shared memory) whenever the
    /// loop is awake, and enabled only when `will_block` finds nothing
    /// ready, followed by one more enter: task work queued while it was
    /// disabled signalled nothing, and must run now, after which new work
    /// (the list of deferred work found empty) signals again.
    pub(crate) fn flush(&self, will_block: bool) -> bool {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        st.ring.completion().disable_eventfd();
        let mut i = 0;
        while i < st.pending.len() {
            let sqe = match st.pending[i] {
                Pending::Op(key) => match st.ops.get_mut(key).and_then(|r| r.sqe.take()) {
                    Some(sqe) => {
                        st.in_flight += 1;
                        sqe
                    }
                    None => {
                        i += 1;
                        continue; // dropped before it was submitted
                    }
                },
                Pending::Cancel(key) => opcode::AsyncCancel::new(key as u64)
                    .build()
                    .user_data(CANCEL_DATA),
            };
            // SAFETY: every request's memory (buffer, fd) is owned by its
            // operation's future or record until its completion is reaped;
            // a cancellation names only a user_data.
            let full = unsafe { st.ring.submission().push(&sqe) }.is_err();
            if full {
                // Undo the count and hand over what is queued, then retry.
                if let Pending::Op(key) = st.pending[i] {
                    st.in_flight -= 1;
                    st.ops[key].sqe = Some(sqe);
                }
                if enter(&mut st.ring).is_err() {
                    break; // try again next turn; the queued rest stays
                }
                continue;
            }
            i += 1;
        }
        st.pending.drain(..i);
        // Enter when there is something to submit, or operations whose
        // deferred completions may be waiting to run, or completions the
        // kernel holds back after a CQ overflow.
        let must_enter = |st: &mut State| {
            let sq = st.ring.submission();
            !sq.is_empty() || sq.cq_overflow() || st.in_flight > 0
        };
        if must_enter(st) {
            let _ = enter(&mut st.ring);
        }
        if !st.ring.completion().is_empty() {
            return true;
        }
        if will_block && st.in_flight > 0 {
            st.ring.completion().enable_eventfd();
            let _ = enter(&mut st.ring);
            return !st.ring.completion().is_empty();
        }
        false
    }

    /// Drains the eventfd and runs deferred task work, so the completions
    /// it signalled are posted.
    pub(crate) fn on_eventfd(&self) {
        let mut buf = 0u64;
        // SAFETY: reads 8 bytes into a live u64 from our nonblocking eventfd.
        unsafe { libc::read(self.evfd.as_raw_fd(), (&mut buf as *mut u64).cast(), 8) };
        let mut st = self.state.borrow_mut();
        let _ = enter(&mut st.ring);
    }

    /// Takes every posted completion: records the results and returns the
    /// wakers to wake and the kept memory of dropped operations to free
    /// (both outside the borrow: either may run user code).
    pub(crate) fn reap(&self, wake: &mut Vec<Waker>, free: &mut Vec<Box<dyn Any>>) -> usize {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        let mut n = 0;
        for cqe in st.ring.completion() {
            let ud = cqe.user_data();
            if ud == CANCEL_DATA {
                continue;
            }
            n += 1;
            let key = ud as usize;
            st.in_flight -= 1;
            let Some(rec) = st.ops.get_mut(key) else {
                continue;
            };
            if let Some(keep) = rec.keep.take() {
                st.ops.remove(key);
                st.orphaned -= 1;
                free.push(keep);
            } else {
                rec.result = Some(cqe.result());
                wake.extend(rec.waker.take());
            }
        }
        n
    }

    /// Cancels every operation in the kernel's hands and waits, at most
    /// [`SHUTDOWN_WAIT`], for their completions. Called when the driver is
    /// dropped (the runtime's tasks, and so their operations, are already
    /// gone). What never completes stays with the ring, which leaks it.
    pub(crate) fn shutdown(&self) {
        {
            let mut st = self.state.borrow_mut();
            st.closed = true;
            let running: Vec<usize> = st
                .ops
                .iter()
                .filter(|(_, r)| r.sqe.is_none() && r.result.is_none() && r.keep.is_none())
                .map(|(k, _)| k)
                .collect();
            st.pending.extend(running.into_iter().map(Pending::Cancel));
        }
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let (mut wake, mut free) = (Vec::new(), Vec::new());
        loop {
            self.flush(true);
            self.reap(&mut wake, &mut free);
            drop(std::mem::take(&mut free));
            super::wake_all_or_resume(wake.drain(..));
            let left = self.state.borrow().in_flight;
            let now = Instant::now();
            if left == 0 || now >= deadline {
                break;
            }
            let mut pfd = libc::pollfd {
                fd: self.evfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = (deadline - now).as_millis().clamp(1, 10) as i32;
            // SAFETY: one valid pollfd for the duration of the call.
            unsafe { libc::poll(&mut pfd, 1, ms) };
            self.on_eventfd();
        }
    }

    /// Whether the driver has shut the ring down.
    fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let st = self.state.get_mut();
        if st.in_flight == 0 {
            return;
        }
        // The kernel may still write into what these records keep: leak it
        // rather than free it under the kernel.
        let mut leaked = 0;
        for (_, rec) in st.ops.iter_mut() {
            if rec.sqe.is_none() && rec.result.is_none() {
                if let Some(keep) = rec.keep.take() {
                    std::mem::forget(keep);
                    leaked += 1;
                }
            }
        }
        log::warn!(
            target: "oneport",
            "io_uring ring dropped with {} operation(s) whose completion never came after {:?}; \
             leaking the memory of {leaked} of them rather than freeing it under the kernel",
            st.in_flight,
            SHUTDOWN_WAIT
        );
    }
}

/// Submits what the queue holds and runs deferred task work, without
/// waiting for completions.
fn enter(ring: &mut IoUring) -> io::Result<usize> {
    let n = ring.submission().len();
    loop {
        // SAFETY: no argument is passed; `n` is what the queue holds.
        let r = unsafe {
            ring.submitter()
                .enter::<libc::sigset_t>(n as u32, 0, ENTER_GETEVENTS, None)
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Creates a ring with the richest flag set the kernel accepts.
fn build() -> io::Result<(IoUring, &'static str)> {
    let mut last = None;
    for &(name, flags) in FLAG_SETS {
        let mut b = IoUring::builder();
        b.setup_cqsize(ENTRIES * 2);
        if flags & COOP_TASKRUN != 0 {
            b.setup_coop_taskrun();
        }
        if flags & SINGLE_ISSUER != 0 {
            b.setup_single_issuer();
        }
        if flags & DEFER_TASKRUN != 0 {
            b.setup_defer_taskrun();
        }
        match b.build(ENTRIES) {
            Ok(r) => return Ok((r, name)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_reports_what_it_found() {
        match Ring::new() {
            Ok(r) => println!("io_uring: setup flags {}", r.setup_flags()),
            Err(e) => println!("io_uring unavailable: {e}"),
        }
    }
}
