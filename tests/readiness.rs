//! The low-level readiness waits on real loopback TCP and UDP sockets:
//! parking, waking, cancelling, busy and closed errors, merged interest,
//! sockets closed under a waiter, many sockets at once.
//!
//! The sockets are plain std sockets in nonblocking mode; only the waits are
//! oneport's. Loopback TCP/UDP only, so every test runs under Wine too.
mod common;

use common::{raw, tcp_pair as pair};

use std::io::{self, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::within;
use oneport::lowlevel::{
    notify_closing, statistics, wait_all_tasks_blocked, wait_readable, wait_writable,
};
use oneport::time::timeout;
use oneport::{is_closed_resource, spawn, yield_now};

/// Makes `a` fill quickly and stay full until `b` reads: the smallest send
/// buffer on `a` and the smallest receive buffer on `b`. Setting the receive
/// buffer turns window autotuning off, and with any larger buffer the kernel
/// keeps opening the window a little (making `a` writable) while `b` reads
/// nothing. The price: after a drain the sender may wait for TCP's persist
/// timer (a fraction of a second).
fn small_buffers(a: &TcpStream, b: &TcpStream) {
    socket2::SockRef::from(a)
        .set_send_buffer_size(4096)
        .unwrap();
    socket2::SockRef::from(b)
        .set_recv_buffer_size(4096)
        .unwrap();
}

/// Writes into `a` until it would block and stays so: the kernel may still
/// be moving queued bytes to the peer when the first `WouldBlock` comes, so
/// it is full only once a few attempts a little apart all find no room.
/// Returns how many bytes it took.
fn fill(a: &TcpStream) -> usize {
    let chunk = [0x5au8; 4096];
    let mut total = 0;
    let mut refused = 0;
    while refused < 3 {
        match (&*a).write(&chunk) {
            Ok(n) => {
                total += n;
                refused = 0;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                refused += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("fill: {e}"),
        }
    }
    total
}

/// Reads exactly `n` bytes from `b` (they are already on their way).
fn drain(b: &TcpStream, n: usize) {
    b.set_nonblocking(false).unwrap();
    let mut buf = vec![0u8; n];
    (&*b).read_exact(&mut buf).unwrap();
    b.set_nonblocking(true).unwrap();
}

/// A filled pair: `a` cannot take another byte until `b` reads `n`.
fn filled_pair() -> (TcpStream, TcpStream, usize) {
    let (a, b) = pair();
    small_buffers(&a, &b);
    let n = fill(&a);
    assert!(n > 0);
    (a, b, n)
}

/// Runs the future `f` makes on a fresh runtime, on a hang-guarded thread.
fn test<F: std::future::Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    within(60, move || oneport::run(f()));
}

const HANG: Duration = Duration::from_secs(20);

#[test]
fn a_fresh_pair_is_writable_at_once() {
    test(|| async {
        let (a, b) = pair();
        timeout(HANG, wait_writable(raw(&a)))
            .await
            .unwrap()
            .unwrap();
        timeout(HANG, wait_writable(raw(&b)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(statistics().tasks_waiting_write, 0);
    });
}

#[test]
fn a_reader_parks_until_the_peer_sends_and_nothing_is_consumed() {
    test(|| async {
        let (a, b) = pair();
        let ra = raw(&a);
        let reader = spawn(async move { wait_readable(ra).await });
        wait_all_tasks_blocked().await;
        assert!(!reader.is_finished(), "woke with nothing to read");
        assert_eq!(statistics().tasks_waiting_read, 1);
        (&b).write_all(b"x").unwrap();
        timeout(HANG, reader).await.unwrap().unwrap();
        assert_eq!(statistics().tasks_waiting_read, 0);
        let mut buf = [0u8; 8];
        assert_eq!((&a).read(&mut buf).unwrap(), 1, "the wait consumed data");
        assert_eq!(buf[0], b'x');
    });
}

#[test]
fn a_writer_parks_on_a_full_socket_until_the_peer_drains() {
    test(|| async {
        let (a, b, n) = filled_pair();
        let ra = raw(&a);
        let writer = spawn(async move { wait_writable(ra).await });
        wait_all_tasks_blocked().await;
        assert!(!writer.is_finished(), "woke on a full socket");
        assert_eq!(statistics().tasks_waiting_write, 1);
        drain(&b, n);
        timeout(HANG, writer).await.unwrap().unwrap();
        assert!((&a).write(b"more").unwrap() > 0);
    });
}

#[test]
fn cancelling_a_parked_reader_or_writer_leaves_the_socket_usable() {
    test(|| async {
        let (a, b, n) = filled_pair();
        let ra = raw(&a);
        let base = statistics();
        // Cancelled by a timeout.
        assert!(timeout(Duration::from_millis(20), wait_readable(ra))
            .await
            .is_err());
        assert!(timeout(Duration::from_millis(20), wait_writable(ra))
            .await
            .is_err());
        assert_eq!(statistics().tasks_waiting_read, base.tasks_waiting_read);
        assert_eq!(statistics().tasks_waiting_write, base.tasks_waiting_write);
        // Cancelled by dropping the task that waits.
        let r = spawn(async move { wait_readable(ra).await });
        let w = spawn(async move { wait_writable(ra).await });
        wait_all_tasks_blocked().await;
        assert_eq!(statistics().tasks_waiting_read, 1);
        assert_eq!(statistics().tasks_waiting_write, 1);
        drop((r, w));
        yield_now().await;
        assert_eq!(statistics().tasks_waiting_read, 0);
        assert_eq!(statistics().tasks_waiting_write, 0);
        // New waits on the same socket still work, both ways.
        (&b).write_all(b"y").unwrap();
        timeout(HANG, wait_readable(ra)).await.unwrap().unwrap();
        drain(&b, n);
        timeout(HANG, wait_writable(ra)).await.unwrap().unwrap();
    });
}

#[test]
fn a_second_reader_or_writer_on_one_socket_is_busy() {
    test(|| async {
        let (a, b, n) = filled_pair();
        let ra = raw(&a);
        let reader = spawn(async move { wait_readable(ra).await });
        let writer = spawn(async move { wait_writable(ra).await });
        wait_all_tasks_blocked().await;
        let e = wait_readable(ra).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
        let e = wait_writable(ra).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
        // The busy attempts left the first waiters in place and working.
        assert_eq!(statistics().tasks_waiting_read, 1);
        assert_eq!(statistics().tasks_waiting_write, 1);
        (&b).write_all(b"z").unwrap();
        timeout(HANG, reader).await.unwrap().unwrap();
        drain(&b, n);
        timeout(HANG, writer).await.unwrap().unwrap();
    });
}

#[test]
fn notify_closing_wakes_a_parked_reader_and_writer_with_closed_resource() {
    test(|| async {
        let (a, _b, _n) = filled_pair();
        let ra = raw(&a);
        let reader = spawn(async move { wait_readable(ra).await });
        let writer = spawn(async move { wait_writable(ra).await });
        wait_all_tasks_blocked().await;
        notify_closing(ra).unwrap();
        let e = timeout(HANG, reader).await.unwrap().unwrap_err();
        assert!(is_closed_resource(&e), "{e:?}");
        let e = timeout(HANG, writer).await.unwrap().unwrap_err();
        assert!(is_closed_resource(&e), "{e:?}");
        assert_eq!(statistics().tasks_waiting_read, 0);
        assert_eq!(statistics().tasks_waiting_write, 0);
        drop(a);
    });
}

#[test]
fn merged_interest_wakes_only_the_direction_that_is_ready() {
    test(|| async {
        let (a, b, n) = filled_pair();
        let ra = raw(&a);
        let reader = spawn(async move { wait_readable(ra).await });
        let writer = spawn(async move { wait_writable(ra).await });
        wait_all_tasks_blocked().await;
        (&b).write_all(b"r").unwrap();
        timeout(HANG, reader).await.unwrap().unwrap();
        wait_all_tasks_blocked().await;
        assert!(!writer.is_finished(), "data from the peer woke the writer");
        assert_eq!(statistics().tasks_waiting_write, 1);
        // The writer is still armed after the reader left: draining wakes it.
        drain(&b, n);
        timeout(HANG, writer).await.unwrap().unwrap();
        // And a new reader still sees the unread byte.
        timeout(HANG, wait_readable(ra)).await.unwrap().unwrap();
    });
}

#[test]
fn statistics_count_exactly_the_parked_waiters() {
    test(|| async {
        let base = statistics();
        let pairs: Vec<_> = (0..3).map(|_| filled_pair()).collect();
        let mut tasks = Vec::new();
        for (a, _, _) in &pairs {
            let r = raw(a);
            tasks.push(spawn(async move { wait_readable(r).await }));
        }
        for (a, _, _) in &pairs[..2] {
            let r = raw(a);
            tasks.push(spawn(async move { wait_writable(r).await }));
        }
        wait_all_tasks_blocked().await;
        let s = statistics();
        assert_eq!(s.tasks_waiting_read, base.tasks_waiting_read + 3);
        assert_eq!(s.tasks_waiting_write, base.tasks_waiting_write + 2);
        // One reader wakes: exactly one fewer.
        (&pairs[0].1).write_all(b"!").unwrap();
        timeout(HANG, tasks.remove(0)).await.unwrap().unwrap();
        assert_eq!(statistics().tasks_waiting_read, base.tasks_waiting_read + 2);
        drop(tasks);
        yield_now().await;
        let s = statistics();
        assert_eq!(s.tasks_waiting_read, base.tasks_waiting_read);
        assert_eq!(s.tasks_waiting_write, base.tasks_waiting_write);
    });
}

/// Closing a socket without `notify_closing` while it is waited on must not
/// hang the runtime: the wait either ends (with an error or readiness) or
/// stays cancellable. Which one is the platform's business.
async fn close_under_waiters(read: bool, write: bool, keep_dup: bool) {
    let base = statistics();
    let (a, b, n) = filled_pair();
    let ra = raw(&a);
    let dup = keep_dup.then(|| a.try_clone().unwrap());
    let reader = read.then(|| spawn(async move { wait_readable(ra).await }));
    let writer = write.then(|| spawn(async move { wait_writable(ra).await }));
    wait_all_tasks_blocked().await;
    drop(a);
    for t in [reader, writer].into_iter().flatten() {
        // Ended or not within the bound, the timeout cancels what is left.
        let _ = timeout(Duration::from_millis(200), t).await;
    }
    yield_now().await;
    let s = statistics();
    assert_eq!(s.tasks_waiting_read, base.tasks_waiting_read);
    assert_eq!(s.tasks_waiting_write, base.tasks_waiting_write);
    // The runtime still works: the peer and the duplicate are usable.
    drain(&b, n);
    if let Some(d) = &dup {
        timeout(HANG, wait_writable(raw(d))).await.unwrap().unwrap();
        (&b).write_all(b"d").unwrap();
        timeout(HANG, wait_readable(raw(d))).await.unwrap().unwrap();
    }
    oneport::time::sleep(Duration::from_millis(1)).await;
}

#[test]
fn closing_a_waited_socket_without_notice_never_hangs_reader_alone() {
    test(|| close_under_waiters(true, false, false));
}

#[test]
fn closing_a_waited_socket_without_notice_never_hangs_with_a_dup_alive() {
    test(|| close_under_waiters(true, false, true));
}

#[test]
fn closing_a_waited_socket_without_notice_never_hangs_reader_and_writer() {
    test(|| close_under_waiters(true, true, false));
    test(|| close_under_waiters(true, true, true));
}

#[test]
fn a_thousand_sockets_waited_at_once_then_all_cancelled() {
    test(|| async {
        let base = statistics();
        let socks: Vec<UdpSocket> = (0..1000)
            .map(|_| {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_nonblocking(true).unwrap();
                s
            })
            .collect();
        let tasks: Vec<_> = socks
            .iter()
            .map(|s| {
                let r = raw(s);
                spawn(async move { wait_readable(r).await })
            })
            .collect();
        wait_all_tasks_blocked().await;
        assert_eq!(
            statistics().tasks_waiting_read,
            base.tasks_waiting_read + 1000
        );
        assert!(tasks.iter().all(|t| !t.is_finished()));
        drop(tasks);
        yield_now().await;
        assert_eq!(statistics().tasks_waiting_read, base.tasks_waiting_read);
        // Still usable afterwards: a datagram wakes a new waiter.
        let last = socks.last().unwrap();
        socks[0]
            .send_to(b"ping", last.local_addr().unwrap())
            .unwrap();
        timeout(HANG, wait_readable(raw(last)))
            .await
            .unwrap()
            .unwrap();
    });
}

#[test]
fn notify_closing_on_a_socket_nobody_waits_on_is_ok() {
    test(|| async {
        let (a, _b) = pair();
        notify_closing(raw(&a)).unwrap();
        // And the socket is not harmed.
        timeout(HANG, wait_writable(raw(&a)))
            .await
            .unwrap()
            .unwrap();
    });
}
