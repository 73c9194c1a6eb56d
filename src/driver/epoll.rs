//! The Linux driver: epoll, with the same shape as the Windows port.
//!
//! Each waited-on fd has one record holding its reader and its writer. The
//! fd is registered `EPOLLONESHOT` for the union of their interests: one
//! event disarms it, the waiters it concerns are woken, and the record is
//! re-armed (`EPOLL_CTL_MOD`, falling back to `EPOLL_CTL_ADD` when the
//! kernel has forgotten the fd) for whoever still waits. One-shot means a
//! socket nobody waits on costs nothing and never wakes the loop.
//! `EPOLLHUP` and `EPOLLERR` wake both directions: after them, the next
//! syscall in either direction returns at once.
//!
//! An eventfd, registered level-triggered, is the wakeup channel for other
//! threads.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use super::WaitToken;
use crate::error::{closed_resource, resource_busy};
use crate::lowlevel::{Direction, Statistics};

/// Events fetched per `epoll_wait`.
const MAX_EVENTS: usize = 1000;
/// The `epoll_event.u64` of the wakeup eventfd (never a valid fd).
const WAKEUP_DATA: u64 = u64::MAX;

const READ_FLAGS: u32 =
    (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
const WRITE_FLAGS: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;

pub(crate) struct Driver {
    epfd: OwnedFd,
    waker: DriverWaker,
    events: RefCell<Vec<libc::epoll_event>>,
    state: RefCell<State>,
    wakeups_received: Cell<u64>,
}

/// Wakes a blocked `epoll_wait` from any thread by writing the eventfd.
#[derive(Clone)]
pub(crate) struct DriverWaker(Arc<WakeupFd>);

struct WakeupFd {
    fd: OwnedFd,
    /// A write is outstanding and not yet drained: further wakes add nothing.
    pending: AtomicBool,
}

impl DriverWaker {
    pub(crate) fn force_wakeup(&self) {
        if !self.0.pending.swap(true, Ordering::AcqRel) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to an eventfd we own.
            // EAGAIN (counter saturated) still leaves it readable: ignored.
            unsafe { libc::write(self.0.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }
}

#[derive(Default)]
struct State {
    fds: HashMap<RawFd, FdWaiters>,
    /// Parked waiters: token -> where they are parked.
    parked: HashMap<WaitToken, (RawFd, Direction)>,
    /// Woken waiters whose future has not yet collected the result.
    finished: HashMap<WaitToken, io::Result<()>>,
    next_token: WaitToken,
    readers: usize,
    writers: usize,
}

#[derive(Default)]
struct FdWaiters {
    reader: Option<(WaitToken, Waker)>,
    writer: Option<(WaitToken, Waker)>,
    /// Interest currently armed in epoll (0: disarmed or not registered).
    armed: u32,
}

impl FdWaiters {
    fn slot(&mut self, d: Direction) -> &mut Option<(WaitToken, Waker)> {
        match d {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }

    fn wanted(&self) -> u32 {
        let mut w = 0;
        if self.reader.is_some() {
            w |= libc::EPOLLIN as u32;
        }
        if self.writer.is_some() {
            w |= libc::EPOLLOUT as u32;
        }
        w
    }
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Driver {
    pub(crate) fn new() -> io::Result<Driver> {
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
        Ok(Driver {
            epfd,
            waker: DriverWaker(Arc::new(WakeupFd {
                fd: evfd,
                pending: AtomicBool::new(false),
            })),
            events: RefCell::new(Vec::with_capacity(MAX_EVENTS)),
            state: RefCell::new(State::default()),
            wakeups_received: Cell::new(0),
        })
    }

    pub(crate) fn waker(&self) -> DriverWaker {
        self.waker.clone()
    }

    /// Blocks in `epoll_wait` for at most `timeout`, rounded *up* to whole
    /// milliseconds so a positive timeout never turns into a busy loop.
    pub(crate) fn get_events(&self, timeout: Option<Duration>) -> usize {
        let ms = match timeout {
            None => -1,
            Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
        };
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
        n as usize
    }

    pub(crate) fn process_events(&self, n: usize) {
        let events = self.events.borrow();
        let mut wake = Vec::new();
        for ev in &events[..n] {
            let (flags, data) = (ev.events, ev.u64);
            if data == WAKEUP_DATA {
                self.drain_wakeup();
                continue;
            }
            let fd = data as RawFd;
            let mut st = self.state.borrow_mut();
            let Some(rec) = st.fds.get_mut(&fd) else {
                continue;
            };
            rec.armed = 0; // one-shot: this event disarmed the registration
            if flags & READ_FLAGS != 0 {
                st.finish(fd, Direction::Read, Ok(()), &mut wake);
            }
            if flags & WRITE_FLAGS != 0 {
                st.finish(fd, Direction::Write, Ok(()), &mut wake);
            }
            if let Err(e) = self.rearm(&mut st, fd) {
                st.fail_all(fd, &e, &mut wake);
            }
        }
        drop(events);
        wake.into_iter().for_each(Waker::wake);
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
    fn rearm(&self, st: &mut State, fd: RawFd) -> io::Result<()> {
        let Some(rec) = st.fds.get_mut(&fd) else {
            return Ok(());
        };
        let wanted = rec.wanted();
        if wanted == 0 {
            if rec.armed != 0 {
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
            }
            st.fds.remove(&fd);
            return Ok(());
        }
        if wanted == rec.armed {
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
            // SAFETY: as above.
            cvt(unsafe {
                libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev)
            })?;
        }
        rec.armed = wanted;
        Ok(())
    }

    pub(crate) fn register_wait(
        &self,
        fd: RawFd,
        dir: Direction,
        waker: &Waker,
    ) -> io::Result<WaitToken> {
        let mut st = self.state.borrow_mut();
        let token = st.next_token;
        let rec = st.fds.entry(fd).or_default();
        let slot = rec.slot(dir);
        if slot.is_some() {
            return Err(resource_busy(match dir {
                Direction::Read => "to read this socket",
                Direction::Write => "to write this socket",
            }));
        }
        *slot = Some((token, waker.clone()));
        if let Err(e) = self.rearm(&mut st, fd) {
            if let Some(rec) = st.fds.get_mut(&fd) {
                *rec.slot(dir) = None;
                if rec.wanted() == 0 {
                    st.fds.remove(&fd);
                }
            }
            return Err(e);
        }
        st.next_token += 1;
        st.parked.insert(token, (fd, dir));
        st.count(dir, 1);
        Ok(token)
    }

    pub(crate) fn poll_wait(&self, token: WaitToken, waker: &Waker) -> Poll<io::Result<()>> {
        let mut st = self.state.borrow_mut();
        if let Some(result) = st.finished.remove(&token) {
            return Poll::Ready(result);
        }
        let Some(&(fd, dir)) = st.parked.get(&token) else {
            return Poll::Ready(Err(io::Error::other(
                "oneport: readiness wait lost by the driver",
            )));
        };
        if let Some((_, w)) = st.fds.get_mut(&fd).and_then(|r| r.slot(dir).as_mut()) {
            if !w.will_wake(waker) {
                *w = waker.clone();
            }
        }
        Poll::Pending
    }

    pub(crate) fn cancel_wait(&self, token: WaitToken) {
        let mut st = self.state.borrow_mut();
        if st.finished.remove(&token).is_some() {
            return;
        }
        let Some((fd, dir)) = st.parked.remove(&token) else {
            return;
        };
        st.count(dir, -1);
        if let Some(rec) = st.fds.get_mut(&fd) {
            *rec.slot(dir) = None;
        }
        let mut wake = Vec::new();
        if let Err(e) = self.rearm(&mut st, fd) {
            st.fail_all(fd, &e, &mut wake);
        }
        drop(st);
        wake.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn notify_closing(&self, fd: RawFd) -> io::Result<()> {
        let mut st = self.state.borrow_mut();
        let mut wake = Vec::new();
        if !st.fds.contains_key(&fd) {
            return Ok(());
        }
        st.finish(fd, Direction::Read, Err(closed_resource()), &mut wake);
        st.finish(fd, Direction::Write, Err(closed_resource()), &mut wake);
        self.rearm(&mut st, fd).ok();
        drop(st);
        wake.into_iter().for_each(Waker::wake);
        Ok(())
    }

    pub(crate) fn statistics(&self) -> Statistics {
        let st = self.state.borrow();
        Statistics {
            backend: "epoll",
            tasks_waiting_read: st.readers,
            tasks_waiting_write: st.writers,
            epoll_registered: st.fds.len(),
            wakeups_received: self.wakeups_received.get(),
            ..Statistics::default()
        }
    }
}

impl State {
    fn count(&mut self, dir: Direction, delta: isize) {
        let c = match dir {
            Direction::Read => &mut self.readers,
            Direction::Write => &mut self.writers,
        };
        *c = c
            .checked_add_signed(delta)
            .expect("oneport: waiter count underflow");
    }

    /// Moves the waiter in `dir` of `fd` (if any) to `finished` with `result`.
    fn finish(&mut self, fd: RawFd, dir: Direction, result: io::Result<()>, wake: &mut Vec<Waker>) {
        let Some(rec) = self.fds.get_mut(&fd) else {
            return;
        };
        if let Some((token, waker)) = rec.slot(dir).take() {
            self.parked.remove(&token);
            self.finished.insert(token, result);
            self.count(dir, -1);
            wake.push(waker);
        }
    }

    /// The registration of `fd` cannot be made: every waiter gets the error.
    fn fail_all(&mut self, fd: RawFd, e: &io::Error, wake: &mut Vec<Waker>) {
        for dir in [Direction::Read, Direction::Write] {
            self.finish(fd, dir, Err(copy_error(e)), wake);
        }
        self.fds.remove(&fd);
    }
}

/// `io::Error` is not `Clone`; OS errors are rebuilt from their code.
fn copy_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}
