//! The Linux driver: epoll, with the same shape as the Windows port.
//!
//! Each waited-on fd has one record in the shared waiter table
//! ([`super::waiters`], `Vec`-indexed by fd) holding its reader, its writer
//! and the interest armed in epoll for it. The
//! fd is registered `EPOLLONESHOT` for the union of their interests: one
//! event disarms it, the waiters it concerns are woken, and the record is
//! re-armed (`EPOLL_CTL_MOD`, falling back to `EPOLL_CTL_ADD` when the
//! kernel has forgotten the fd) for whoever still waits. One-shot means a
//! socket nobody waits on costs nothing and never wakes the loop.
//! `EPOLLHUP` and `EPOLLERR` wake both directions: after them, the next
//! syscall in either direction returns at once. (`EPOLLRDHUP`, a peer that
//! only stopped sending, wakes the reader: a writer woken by it would find
//! the socket still full and wait again at once, a busy loop.)
//!
//! Closing an fd removes it from epoll without any event, so a record can
//! outlive its socket (closed without `notify_closing`). Such a record is
//! noticed the next time its number is waited on or its waiters change:
//! `EPOLL_CTL_MOD` on a registration we armed fails (`EBADF`: closed;
//! `ENOENT`: the number now names another file). Its waiters get `EBADF`
//! and the new socket starts clean (WINDOWS.md rule 16). A record nobody
//! touches again cannot be noticed: the kernel says nothing.
//!
//! The driver's own fds (the epoll fd and the wakeup eventfd) are refused
//! as wait targets: a wait on them would steal the wakeup channel.
//!
//! An eventfd, registered level-triggered, is the wakeup channel for other
//! threads.
//!
//! Regular files have no readiness, so on Linux the driver may also own an
//! io_uring ring for them ([`super::uring`]): its eventfd sits in the same
//! epoll set, queued ring requests are handed to the kernel just before
//! the wait, and completions are reaped with the epoll events, so one turn
//! of the run loop sees both. Without a ring files use the blocking pool.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

#[cfg(target_os = "linux")]
use std::rc::Rc;

#[cfg(target_os = "linux")]
use super::uring::Ring;
use super::waiters::{Busy, Dense, Interests};
use super::{DriverStats, ForceWakeup, Interest, WaitToken};
use crate::error::{closed_resource, socket_busy};

/// The epoll driver's waiter table: records in a `Vec` indexed by fd
/// (descriptors are small and dense: nothing hashes on the hot path), each
/// holding the interest armed in epoll for it (0: disarmed or not
/// registered).
type Waiters = super::waiters::Waiters<Dense<RawFd, u32>>;

/// Events fetched per `epoll_wait`.
const MAX_EVENTS: usize = 1000;
/// The `epoll_event.u64` of the wakeup eventfd (never a valid fd).
const WAKEUP_DATA: u64 = u64::MAX;
/// The `epoll_event.u64` of the file ring's eventfd (never a valid fd).
#[cfg(target_os = "linux")]
const RING_DATA: u64 = u64::MAX - 1;

const READ_FLAGS: u32 =
    (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
const WRITE_FLAGS: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;

pub(crate) struct Driver {
    epfd: OwnedFd,
    waker: DriverWaker,
    events: RefCell<Vec<libc::epoll_event>>,
    state: RefCell<Waiters>,
    /// Reused from one `process_events` to the next (no allocation per turn).
    wake_buf: RefCell<Vec<Waker>>,
    wakeups_received: Cell<u64>,
    /// The file ring, when io_uring is in use for files.
    #[cfg(target_os = "linux")]
    ring: Option<Rc<Ring>>,
}

/// Wakes a blocked `epoll_wait` from any thread by writing the eventfd.
#[derive(Clone)]
pub(crate) struct DriverWaker(Arc<WakeupFd>);

struct WakeupFd {
    fd: OwnedFd,
    /// A write is outstanding and not yet drained: further wakes add nothing.
    pending: AtomicBool,
}

impl ForceWakeup for DriverWaker {
    fn force_wakeup(&self) {
        if !self.0.pending.swap(true, Ordering::AcqRel) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to an eventfd we own.
            // EAGAIN (counter saturated) still leaves it readable: ignored.
            unsafe { libc::write(self.0.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl super::Driver for Driver {
    type Waker = DriverWaker;

    fn new() -> io::Result<Driver> {
        // SAFETY: plain syscalls; each returned fd is checked, then owned.
        let epfd = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        // SAFETY: as above.
        let evfd = unsafe {
            OwnedFd::from_raw_fd(cvt(libc::eventfd(
                0,
                libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
            ))?)
        };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKEUP_DATA,
        };
        // SAFETY: both fds are open; `ev` is a valid epoll_event.
        cvt(unsafe {
            libc::epoll_ctl(
                epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                evfd.as_raw_fd(),
                &mut ev,
            )
        })?;
        #[cfg(target_os = "linux")]
        let ring = super::uring::choose()?;
        #[cfg(target_os = "linux")]
        if let Some(r) = &ring {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: RING_DATA,
            };
            // SAFETY: both fds are open; `ev` is a valid epoll_event.
            cvt(unsafe {
                libc::epoll_ctl(epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, r.eventfd(), &mut ev)
            })?;
        }
        Ok(Driver {
            #[cfg(target_os = "linux")]
            ring,
            epfd,
            waker: DriverWaker(Arc::new(WakeupFd {
                fd: evfd,
                pending: AtomicBool::new(false),
            })),
            events: RefCell::new(Vec::with_capacity(MAX_EVENTS)),
            state: RefCell::new(Waiters::default()),
            wake_buf: RefCell::new(Vec::new()),
            wakeups_received: Cell::new(0),
        })
    }

    fn waker(&self) -> DriverWaker {
        self.waker.clone()
    }

    /// Blocks in `epoll_wait` for at most `timeout`, rounded *up* to whole
    /// milliseconds so a positive timeout never turns into a busy loop.
    fn get_events(&self, timeout: Option<Duration>) -> usize {
        let mut ms = super::timeout_ms(timeout).map_or(-1, |ms| ms.min(i32::MAX as u128) as i32);
        // Queued file operations go to the kernel now, in one batch; if
        // completions are already posted, the wait must not block.
        #[cfg(target_os = "linux")]
        let ring_ready = self.ring.as_ref().is_some_and(|r| r.flush(ms != 0));
        #[cfg(not(target_os = "linux"))]
        let ring_ready = false;
        if ring_ready {
            ms = 0;
        }
        let mut events = self.events.borrow_mut();
        events.clear();
        // SAFETY: the buffer has room for MAX_EVENTS entries; the kernel
        // writes at most that many and we set the length to what it wrote.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd.as_raw_fd(),
                events.as_mut_ptr(),
                MAX_EVENTS as i32,
                ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return 0;
            }
            panic!("oneport: epoll_wait failed: {e}");
        }
        // SAFETY: the kernel initialised the first n entries.
        unsafe { events.set_len(n as usize) };
        n as usize + ring_ready as usize
    }

    fn process_events(&self, n: usize) {
        let events = self.events.borrow();
        let mut wake = std::mem::take(&mut *self.wake_buf.borrow_mut());
        for ev in events.iter().take(n) {
            let (flags, data) = (ev.events, ev.u64);
            if data == WAKEUP_DATA {
                self.drain_wakeup();
                continue;
            }
            #[cfg(target_os = "linux")]
            if data == RING_DATA {
                if let Some(r) = &self.ring {
                    r.on_eventfd();
                }
                continue;
            }
            let fd = data as RawFd;
            let mut st = self.state.borrow_mut();
            let Some(armed) = st.backend(fd) else {
                continue;
            };
            *armed = 0; // one-shot: this event disarmed the registration
            if flags & READ_FLAGS != 0 {
                wake.extend(st.finish(fd, Interest::Read, Ok(())));
            }
            if flags & WRITE_FLAGS != 0 {
                wake.extend(st.finish(fd, Interest::Write, Ok(())));
            }
            if let Err(e) = self.rearm(&mut st, fd) {
                fail_all(&mut st, fd, &e, &mut wake);
            }
        }
        drop(events);
        // Completed file operations: their tasks are woken with the rest;
        // what dropped operations kept is freed outside every borrow.
        #[cfg(target_os = "linux")]
        let mut freed = Vec::new();
        #[cfg(target_os = "linux")]
        if let Some(r) = &self.ring {
            r.reap(&mut wake, &mut freed);
        }
        // Panic-safe: a user's waker that panics must not strand the
        // waiters after it, whose results are already recorded. (The
        // buffer is kept for the next turn only when no waker panicked.)
        super::wake_all_or_resume(wake.drain(..));
        *self.wake_buf.borrow_mut() = wake;
        #[cfg(target_os = "linux")]
        drop(freed);
    }

    fn register_wait(&self, fd: RawFd, dir: Interest, waker: &Waker) -> io::Result<WaitToken> {
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        if fd == self.epfd.as_raw_fd() || fd == self.waker.0.fd.as_raw_fd() || self.is_ring_fd(fd) {
            // Waiting on these would hang the runtime (or confuse its
            // wakeup channel): they belong to the driver itself.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("oneport: fd {fd} is the runtime's own epoll or wakeup fd; it cannot be waited on"),
            ));
        }
        let mut wake = Vec::new();
        let result = self.register(fd, dir, waker, &mut wake);
        if !wake.is_empty() {
            super::wake_all_or_resume(wake);
        }
        result
    }

    fn poll_wait(&self, token: WaitToken, waker: &Waker) -> Poll<io::Result<()>> {
        self.state.borrow_mut().poll(token, waker)
    }

    fn cancel_wait(&self, token: WaitToken) {
        let mut st = self.state.borrow_mut();
        let Some(fd) = st.cancel(token) else {
            return;
        };
        let mut wake = Vec::new();
        if let Err(e) = self.rearm(&mut st, fd) {
            fail_all(&mut st, fd, &e, &mut wake);
        }
        drop(st);
        if !wake.is_empty() {
            super::wake_all_or_resume(wake);
        }
    }

    fn notify_closing(&self, fd: RawFd) -> io::Result<()> {
        let mut st = self.state.borrow_mut();
        let wake = [
            st.finish(fd, Interest::Read, Err(closed_resource())),
            st.finish(fd, Interest::Write, Err(closed_resource())),
        ];
        self.rearm(&mut st, fd).ok();
        drop(st);
        super::wake_all_or_resume(wake.into_iter().flatten());
        Ok(())
    }

    fn statistics(&self) -> DriverStats {
        let st = self.state.borrow();
        DriverStats {
            backend: "epoll",
            tasks_waiting_read: st.readers(),
            tasks_waiting_write: st.writers(),
            epoll_registered: st.backends().filter(|&&armed| armed != 0).count(),
            wakeups_received: self.wakeups_received.get(),
            file_backend: if self.file_ring().is_some() {
                "io_uring"
            } else {
                "pool"
            },
            #[cfg(target_os = "linux")]
            ring_orphaned: self.ring.as_ref().map_or(0, |r| r.orphaned()),
            ..DriverStats::default()
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The runtime's tasks are gone, and with them every live ring
        // operation: cancel what the kernel still holds and wait (bounded)
        // for it before the ring's memory can go.
        #[cfg(target_os = "linux")]
        if let Some(r) = &self.ring {
            r.shutdown();
        }
    }
}

impl Driver {
    /// The io_uring ring files use, if any (Linux, when the probe found it
    /// and `ONEPORT_DRIVER` allows it).
    #[cfg(target_os = "linux")]
    pub(crate) fn file_ring(&self) -> Option<&Rc<Ring>> {
        self.ring.as_ref()
    }

    /// No ring off Linux: files use the blocking pool.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn file_ring(&self) -> Option<&()> {
        None
    }

    /// Whether `fd` is the file ring's eventfd (refused as a wait target).
    fn is_ring_fd(&self, fd: RawFd) -> bool {
        #[cfg(target_os = "linux")]
        return self.ring.as_ref().is_some_and(|r| r.eventfd() == fd);
        #[cfg(not(target_os = "linux"))]
        return {
            let _ = fd;
            false
        };
    }

    /// `register_wait` for an fd that is not the driver's own; wakers of
    /// waiters failed on the way go to `wake`.
    fn register(
        &self,
        fd: RawFd,
        dir: Interest,
        waker: &Waker,
        wake: &mut Vec<Waker>,
    ) -> io::Result<WaitToken> {
        let mut st = self.state.borrow_mut();
        // A record left behind by a socket closed without `notify_closing`
        // (WINDOWS.md rule 16 on Linux): its waiters are told, and the new
        // socket (perhaps reusing the number) starts clean.
        self.drop_if_stale(&mut st, fd, wake);
        // The table grows to the fd's number: check first that the fd is
        // open at all, so a bogus huge number is an error, not a huge table.
        // SAFETY: F_GETFD reads descriptor flags; no memory is passed.
        if !st.store().covers(fd) && unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        let token = st.park(fd, dir, waker).map_err(|Busy| socket_busy(dir))?;
        if let Err(e) = self.rearm(&mut st, fd) {
            // Nothing watches the fd now: withdraw the newcomer, and anyone
            // else parked on it learns the same error.
            st.cancel(token);
            fail_all(&mut st, fd, &e, wake);
            return Err(e);
        }
        Ok(token)
    }

    /// Checks that the registration a record believes in still exists for
    /// the file now open under `fd`. Closing an fd removes it from epoll
    /// without an event, so a record can outlive its socket: re-arming it
    /// with `EPOLL_CTL_MOD` then fails with `EBADF` (the fd is closed) or
    /// `ENOENT` (the number now names another file). Its waiters get
    /// `EBADF` (their socket was closed) and the record is reset.
    fn drop_if_stale(&self, st: &mut Waiters, fd: RawFd, wake: &mut Vec<Waker>) {
        let Some(&mut armed) = st.backend(fd) else {
            return;
        };
        if armed == 0 {
            return;
        }
        let mut ev = libc::epoll_event {
            events: armed | libc::EPOLLONESHOT as u32,
            u64: fd as u64,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        // Re-arming the same interest is harmless: it reports only what is
        // really ready.
        let r = unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut ev) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EBADF)) {
                fail_all(st, fd, &io::Error::from_raw_os_error(libc::EBADF), wake);
            }
        }
    }

    fn drain_wakeup(&self) {
        // Read first, then clear `pending`. The other order loses wakeups: a
        // wake landing between the two would see `pending` clear, write,
        // and have its write swallowed by our read, leaving `pending` set
        // with an empty eventfd, so no later wake would ever write again.
        // In this order a wake landing in between finds `pending` still set
        // and writes nothing, which is harmless: the loop is awake, and it
        // looks at its run queue before it next sleeps.
        let mut buf = 0u64;
        // SAFETY: reads 8 bytes into a live u64 from our nonblocking eventfd.
        unsafe {
            libc::read(
                self.waker.0.fd.as_raw_fd(),
                (&mut buf as *mut u64).cast(),
                8,
            )
        };
        self.waker.0.pending.store(false, Ordering::Release);
        self.wakeups_received.set(self.wakeups_received.get() + 1);
    }

    /// Brings the epoll registration of `fd` in line with its waiters.
    fn rearm(&self, st: &mut Waiters, fd: RawFd) -> io::Result<()> {
        let wanted = epoll_interest(st.interest(fd));
        let Some(armed) = st.backend(fd) else {
            return Ok(());
        };
        if wanted == *armed {
            return Ok(());
        }
        if wanted == 0 {
            // Errors mean the kernel already forgot the fd: fine.
            // SAFETY: plain syscall on fds we name; no memory is passed.
            unsafe {
                libc::epoll_ctl(
                    self.epfd.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    fd,
                    std::ptr::null_mut(),
                )
            };
            *armed = 0;
            return Ok(());
        }
        let mut ev = libc::epoll_event {
            events: wanted | libc::EPOLLONESHOT as u32,
            u64: fd as u64,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        let r = unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut ev) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(e);
            }
            if *armed != 0 {
                // We had it armed and the kernel has forgotten it: the fd
                // was closed under its waiters (the number may now name
                // another file, which must not inherit them).
                return Err(io::Error::from_raw_os_error(libc::EBADF));
            }
            // Not registered yet (or disarmed by an event and since closed
            // and reopened): register the file now under the number.
            // SAFETY: as above.
            cvt(unsafe {
                libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev)
            })?;
        }
        *armed = wanted;
        Ok(())
    }
}

/// The epoll events that the parked interests need.
fn epoll_interest(i: Interests) -> u32 {
    let mut w = 0;
    if i.read {
        w |= libc::EPOLLIN as u32;
    }
    if i.write {
        w |= libc::EPOLLOUT as u32;
    }
    w
}

/// The registration of `fd` cannot be made: every waiter gets the error.
fn fail_all(st: &mut Waiters, fd: RawFd, e: &io::Error, wake: &mut Vec<Waker>) {
    st.fail_all(fd, e, wake);
    if let Some(armed) = st.backend(fd) {
        *armed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_interests_map_to_the_epoll_events_they_need() {
        let i = |read, write| epoll_interest(Interests { read, write });
        assert_eq!(i(false, false), 0);
        assert_eq!(i(true, false), libc::EPOLLIN as u32);
        assert_eq!(i(false, true), libc::EPOLLOUT as u32);
        assert_eq!(i(true, true), (libc::EPOLLIN | libc::EPOLLOUT) as u32);
    }
}
