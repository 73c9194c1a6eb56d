//! Linux: a pidfd says when the child exited; pipes are non-blocking and
//! wait through epoll.
//!
//! `pidfd_open` (Linux 5.3) gives a descriptor that becomes readable when the
//! process exits, so an exit wait is an ordinary readiness wait. Where the
//! kernel or a sandbox refuses it, the exit is polled with a timer that
//! backs off to 100 ms: slower to notice, but still no thread per child.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use crate::lowlevel::{wait_readable, wait_writable};
use crate::sys::{closed_pipe, BoxedWait};

/// Tells when a child has exited.
pub(crate) struct ExitSignal {
    pidfd: Option<OwnedFd>,
    /// Polls so far in the timer fallback (drives the back-off).
    polls: std::cell::Cell<u32>,
}

impl ExitSignal {
    pub(crate) fn new(child: &std::process::Child) -> io::Result<ExitSignal> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or
        // -1; the pid is our unreaped child, so it cannot have been reused.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
        let pidfd = if fd >= 0 {
            // SAFETY: the kernel just gave us this fd (close-on-exec).
            Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
        } else {
            None
        };
        Ok(ExitSignal {
            pidfd,
            polls: std::cell::Cell::new(0),
        })
    }

    /// Resolves once the child may have exited.
    pub(crate) fn wait(&self) -> BoxedWait {
        match &self.pidfd {
            Some(fd) => Box::pin(wait_readable(fd.as_raw_fd())),
            None => {
                let n = self.polls.get();
                self.polls.set(n.saturating_add(1));
                let ms = (1u64 << n.min(7)).min(100);
                Box::pin(async move {
                    crate::time::sleep(Duration::from_millis(ms)).await;
                    Ok(())
                })
            }
        }
    }
}

/// Reaps the child `pid`, which has been killed, on the blocking pool: its
/// last owner is gone (dropped with `kill_on_drop`) and no runtime is left
/// to wait on its pidfd, but an unreaped child stays a zombie until this
/// process ends.
pub(crate) fn reap_later(pid: u32) {
    crate::runtime::spawn_detached(move || loop {
        // SAFETY: waitpid on our own unreaped child (nobody else owns it
        // any more, so its pid cannot have been reused); no memory is
        // passed.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0) };
        if r == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        break;
    });
}

/// Sets `O_NONBLOCK` on our end of a pipe.
fn nonblocking(fd: OwnedFd) -> io::Result<OwnedFd> {
    set_nonblocking(fd, true)
}

/// Clears `O_NONBLOCK` again: the pipe goes to another process, which
/// expects blocking reads and writes.
fn blocking(fd: OwnedFd) -> io::Result<OwnedFd> {
    set_nonblocking(fd, false)
}

fn set_nonblocking(fd: OwnedFd, on: bool) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on an fd we own; no memory is passed.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Our reading end of a child's stdout or stderr.
pub(crate) struct PipeReader {
    // Field order is drop order: the readiness wait is cancelled before the
    // descriptor closes.
    wait: Option<BoxedWait>,
    fd: OwnedFd,
}

impl PipeReader {
    pub(crate) fn from_stdout(p: std::process::ChildStdout) -> io::Result<PipeReader> {
        Self::new(p.into())
    }

    pub(crate) fn from_stderr(p: std::process::ChildStderr) -> io::Result<PipeReader> {
        Self::new(p.into())
    }

    fn new(fd: OwnedFd) -> io::Result<PipeReader> {
        Ok(PipeReader {
            wait: None,
            fd: nonblocking(fd)?,
        })
    }

    /// The pipe as a `Stdio` for another child: a readiness wait left by a
    /// dropped read is cancelled first (dropping it takes the fd out of
    /// epoll before this returns), then the fd is made blocking again.
    /// Bytes already in the pipe stay there for the new reader.
    pub(crate) fn into_stdio(self) -> io::Result<std::process::Stdio> {
        let PipeReader { wait, fd } = self;
        drop(wait);
        Ok(blocking(fd)?.into())
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if let Some(w) = &mut self.wait {
                let r = ready!(w.as_mut().poll(cx));
                self.wait = None;
                r?;
            }
            // SAFETY: reads at most buf.len() bytes into the live slice.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Poll::Ready(Ok(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => {
                    self.wait = Some(Box::pin(wait_readable(self.fd.as_raw_fd())))
                }
                io::ErrorKind::Interrupted => {}
                _ => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Our writing end of a child's stdin. `None` once closed.
pub(crate) struct PipeWriter {
    wait: Option<BoxedWait>,
    fd: Option<OwnedFd>,
}

impl PipeWriter {
    pub(crate) fn from_stdin(p: std::process::ChildStdin) -> io::Result<PipeWriter> {
        Ok(PipeWriter {
            wait: None,
            fd: Some(nonblocking(p.into())?),
        })
    }

    /// The pipe as a `Stdio` for another child (see
    /// [`PipeReader::into_stdio`]); a pipe this side closed is an error.
    /// Every byte accepted earlier is already in the pipe.
    pub(crate) fn into_stdio(self) -> io::Result<std::process::Stdio> {
        let PipeWriter { wait, fd } = self;
        drop(wait);
        Ok(blocking(fd.ok_or_else(closed_pipe)?)?.into())
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let Some(fd) = &self.fd else {
                return Poll::Ready(Err(closed_pipe()));
            };
            let fd = fd.as_raw_fd();
            if let Some(w) = &mut self.wait {
                let r = ready!(w.as_mut().poll(cx));
                self.wait = None;
                r?;
            }
            // SAFETY: writes at most buf.len() bytes from the live slice.
            // SIGPIPE is ignored by Rust programs, so a closed reader gives
            // EPIPE (BrokenPipe) here rather than killing us.
            let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Poll::Ready(Ok(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => self.wait = Some(Box::pin(wait_writable(fd))),
                io::ErrorKind::Interrupted => {}
                _ => return Poll::Ready(Err(e)),
            }
        }
    }

    pub(crate) fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every accepted byte is already in the kernel's pipe buffer.
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.wait = None;
        self.fd = None;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The timer fallback (no pidfd) still sees the exit.
    #[test]
    fn the_polling_fallback_sees_the_exit() {
        crate::run(async {
            let mut child = std::process::Command::new("sh")
                .args(["-c", "sleep 0.05; exit 3"])
                .spawn()
                .unwrap();
            let signal = ExitSignal {
                pidfd: None,
                polls: std::cell::Cell::new(0),
            };
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                signal.wait().await.unwrap();
            };
            assert_eq!(status.code(), Some(3));
            assert!(signal.polls.get() > 1, "it polled more than once");
        });
    }
}
