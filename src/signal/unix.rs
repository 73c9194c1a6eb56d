//! Unix signals as streams: `SIGTERM` for a service manager's stop,
//! `SIGHUP` for a reload, `SIGUSR1`...
//!
//! A [`Signal`] counts from the moment it is made, not from its first
//! poll, so a signal sent between [`signal`] and the first
//! [`recv`](Signal::recv) is not lost. Signals of one kind that arrive
//! before the next `recv` are merged into one, as the kernel merges
//! pending signals. The handler is the one [`ctrl_c`](super::ctrl_c) uses
//! (installed through `signal-hook-registry` the first time a kind is
//! waited for, then left for the life of the process): once a kind has a
//! `Signal`, its default action (often ending the process) no longer
//! happens, even after every `Signal` of that kind is dropped.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::sys::signal::{numbers, Waiter};

/// A kind of Unix signal, by number.
///
/// The usual ones have constructors; any other is
/// [`from_raw`](SignalKind::from_raw).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// Any signal by its number (`libc::SIGWINCH`, a real-time signal...).
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(self) -> i32 {
        self.0
    }

    /// `SIGINT`: Ctrl-C at a terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(numbers::INTERRUPT)
    }

    /// `SIGTERM`: the polite request to stop (systemd, `kill`, Docker).
    pub const fn terminate() -> SignalKind {
        SignalKind(numbers::TERMINATE)
    }

    /// `SIGHUP`: the terminal went away; by convention, reload settings.
    pub const fn hangup() -> SignalKind {
        SignalKind(numbers::HANGUP)
    }

    /// `SIGQUIT`: Ctrl-\ at a terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(numbers::QUIT)
    }

    /// `SIGUSR1`, free for the program's own use.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(numbers::USER1)
    }

    /// `SIGUSR2`, free for the program's own use.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(numbers::USER2)
    }

    /// `SIGCHLD`: a child stopped or ended.
    pub const fn child() -> SignalKind {
        SignalKind(numbers::CHILD)
    }

    /// `SIGALRM`: a timer set with `alarm(2)` expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(numbers::ALARM)
    }

    /// `SIGPIPE`: a write to a pipe or socket nobody reads any more.
    pub const fn pipe() -> SignalKind {
        SignalKind(numbers::PIPE)
    }

    /// `SIGWINCH`: the terminal's size changed.
    pub const fn window_change() -> SignalKind {
        SignalKind(numbers::WINDOW_CHANGE)
    }
}

impl From<i32> for SignalKind {
    fn from(signum: i32) -> SignalKind {
        SignalKind(signum)
    }
}

/// Starts counting signals of `kind` and returns the stream that receives
/// them.
///
/// ```no_run
/// use oneport::signal::unix::{signal, SignalKind};
///
/// oneport::run(async {
///     let mut term = signal(SignalKind::terminate())?;
///     term.recv().await?;
///     println!("SIGTERM: shutting down");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
///
/// Errors (never a panic): `kind` cannot be caught (`SIGKILL`, `SIGSTOP`)
/// or must not be (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`: the program
/// state is broken when they arrive), is not a signal number, or more than
/// 256 signal waits (`Signal`s and pending `ctrl_c`s together) exist at
/// once in the process.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    Ok(Signal {
        kind,
        waiter: Arc::new(Waiter::for_signal(kind.0)?),
        pending: None,
    })
}

/// A stream of one kind of signal; made by [`signal`].
///
/// Also a [`futures_core::Stream`] of `io::Result<()>`, which never ends.
/// Dropping it stops counting.
pub struct Signal {
    kind: SignalKind,
    waiter: Arc<Waiter>,
    /// The wait in progress, kept across polls.
    pending: Option<Pin<Box<dyn Future<Output = io::Result<()>>>>>,
}

impl Signal {
    /// Waits for the next signal of this kind (or returns at once if some
    /// arrived since the last `recv`; several count as one).
    ///
    /// Errors are the runtime's I/O errors on the stream's eventfd, which
    /// do not happen in practice.
    ///
    /// # Panics
    /// When polled outside a oneport runtime.
    pub async fn recv(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Signal::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let pending = self.pending.get_or_insert_with(|| {
            let waiter = self.waiter.clone();
            Box::pin(async move { waiter.wait().await })
        });
        let result = pending.as_mut().poll(cx);
        if result.is_ready() {
            self.pending = None;
        }
        result
    }

    /// The kind of signal this stream receives.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl futures_core::Stream for Signal {
    type Item = io::Result<()>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<()>>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}
