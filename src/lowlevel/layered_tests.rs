//! The rule-6 fallback seen from `lowlevel`: a fake layered provider (the
//! driver's test seam) hides a socket's base, and the public waits must
//! either find the base through `SIO_BSP_HANDLE_POLL` or fail with an error
//! that names `netsh`.

use std::io;
use std::net::UdpSocket;
use std::os::windows::io::AsRawSocket;

use windows_sys::Win32::Networking::WinSock::{SIO_BASE_HANDLE, SIO_BSP_HANDLE_POLL};

use crate::driver::windows::layered_fake::{fake, with_fake, LAYERED, WSAEINVAL};

#[test]
fn the_same_handle_on_a_wait_is_an_error_naming_netsh() {
    // Start-up is fine (real sockets); only LAYERED hides its base.
    let f = fake(|s, code| match (s, code) {
        (LAYERED, SIO_BASE_HANDLE) => Some(Err(WSAEINVAL)),
        (LAYERED, SIO_BSP_HANDLE_POLL) => Some(Ok(LAYERED)),
        _ => None,
    });
    let calls = f.calls.clone();
    let (r, closing) = with_fake(f, || {
        crate::run(async {
            let r = crate::lowlevel::wait_readable(LAYERED).await;
            (r, crate::lowlevel::notify_closing(LAYERED))
        })
    });
    for e in [r.unwrap_err(), closing.unwrap_err()] {
        assert!(e.to_string().contains("netsh winsock show catalog"), "{e}");
    }
    assert!(calls.get() < 10, "{} ioctls: looped", calls.get());
}

#[test]
fn a_base_revealed_by_poll_ioctl_is_waited_on() {
    // The application holds LAYERED; the provider answers
    // SIO_BASE_HANDLE with an error and SIO_BSP_HANDLE_POLL with the
    // real UDP socket underneath, which becomes readable.
    let real = UdpSocket::bind("127.0.0.1:0").unwrap();
    real.set_nonblocking(true).unwrap();
    let base = real.as_raw_socket();
    let f = fake(move |s, code| match (s, code) {
        (LAYERED, SIO_BASE_HANDLE) => Some(Err(WSAEINVAL)),
        (LAYERED, SIO_BSP_HANDLE_POLL) => Some(Ok(base)),
        _ => None,
    });
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = real.local_addr().unwrap();
    let stats = with_fake(f, || {
        crate::run(async {
            let waiting = crate::spawn(crate::lowlevel::wait_readable(LAYERED));
            crate::lowlevel::wait_all_tasks_blocked().await;
            let s = crate::lowlevel::statistics();
            assert_eq!(s.tasks_waiting_read, 1);
            // The same socket under its own name: one record, so busy.
            let busy = crate::lowlevel::wait_readable(base).await.unwrap_err();
            assert_eq!(busy.kind(), io::ErrorKind::ResourceBusy);
            peer.send_to(b"x", to).unwrap();
            waiting.await.unwrap();
            crate::lowlevel::statistics()
        })
    });
    assert_eq!(stats.tasks_waiting_read, 0);
    let mut buf = [0u8; 4];
    assert_eq!(real.recv(&mut buf).unwrap(), 1, "the wait consumed nothing");
}
