//! Waiting on a closed or never-valid socket gives the OS error at once.
//!
//! In its own test binary, with one test: a closed socket's number could
//! otherwise be reused by a socket another test thread opens in between.
//! The runtime's own handles are opened first (one wait on a live socket),
//! for the same reason: on Windows the first wait opens an AFD helper
//! handle, which would otherwise take the number just freed.
mod common;

use common::raw;

use std::io;

use common::within;
use oneport::lowlevel::{wait_readable, wait_writable, RawSock};

/// `EBADF`: the error epoll gives for a closed descriptor.
#[cfg(unix)]
const EXPECTED: i32 = 9;
/// `WSAENOTSOCK`: the error Winsock gives for a handle that is no socket.
#[cfg(windows)]
const EXPECTED: i32 = 10038;

fn check(e: io::Error, what: &str) {
    assert_eq!(e.raw_os_error(), Some(EXPECTED), "{what}: {e:?}");
}

#[test]
fn waiting_on_a_closed_or_invalid_handle_gives_the_os_error() {
    within(60, || {
        oneport::run(async {
            let live = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            wait_writable(raw(&live)).await.unwrap();
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let closed = raw(&s);
            drop(s);
            check(wait_readable(closed).await.unwrap_err(), "read, closed");
            check(wait_writable(closed).await.unwrap_err(), "write, closed");
            // A value no socket ever has.
            let never = RawSock::MAX / 2;
            check(wait_readable(never).await.unwrap_err(), "read, invalid");
            check(wait_writable(never).await.unwrap_err(), "write, invalid");
            let st = oneport::lowlevel::statistics();
            assert_eq!((st.tasks_waiting_read, st.tasks_waiting_write), (0, 0));
        })
    });
}
