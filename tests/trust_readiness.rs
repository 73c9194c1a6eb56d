//! Regression tests for readiness defects: waits that were never woken,
//! records that outlived their socket, the driver's own fds, two tasks on
//! one poll slot, and a panicking waker in the wake loop.
//!
//! Several tests depend on fd / handle numbers staying put between a close
//! and the next open, so every test here takes `SERIAL` first.
mod common;
use common::CountingWaker;

use std::cell::Cell;
use std::future::Future;
use std::io::{self, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use common::{raw, tcp_pair, within};
use oneport::lowlevel::{self, wait_readable, wait_writable};
use oneport::time::timeout;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fills `s`'s send buffer (and the peer's receive buffer) until it would block.
fn fill(mut s: &std::net::TcpStream) {
    let chunk = [7u8; 65536];
    loop {
        match s.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("fill: {e}"),
        }
    }
}

/// Defect 1: a peer that goes away with unread data (so it resets) must
/// wake a parked writer and a parked reader, and a fresh wait on the
/// broken socket returns at once. Repeated, since it showed under churn.
#[test]
fn a_peer_reset_wakes_both_directions_and_fresh_waits() {
    let _g = serial();
    within(60, || {
        oneport::run(async {
            for round in 0..20 {
                let (a, b) = tcp_pair();
                fill(&a);
                let fd = raw(&a);
                let w = oneport::spawn(async move { wait_writable(fd).await });
                let r = oneport::spawn(async move { wait_readable(fd).await });
                lowlevel::wait_all_tasks_blocked().await;
                let s = lowlevel::statistics();
                assert_eq!((s.tasks_waiting_read, s.tasks_waiting_write), (1, 1));
                drop(b); // unread data in flight: an RST
                let bound = Duration::from_secs(5);
                let wr = timeout(bound, w).await;
                assert!(wr.is_ok(), "round {round}: writer not woken by the reset");
                let rr = timeout(bound, r).await;
                assert!(rr.is_ok(), "round {round}: reader not woken by the reset");
                for _ in 0..2 {
                    assert!(
                        timeout(bound, wait_writable(fd)).await.is_ok(),
                        "round {round}: a fresh writer on a reset socket waits"
                    );
                    assert!(
                        timeout(bound, wait_readable(fd)).await.is_ok(),
                        "round {round}: a fresh reader on a reset socket waits"
                    );
                }
                lowlevel::notify_closing(fd).unwrap();
                drop(a);
            }
        })
    });
}

/// Defect 1 under churn: the previous socket of the same number was closed
/// with its writer still parked and no `notify_closing`. The writer of the
/// new socket must still be woken by its own peer's reset.
#[test]
fn a_writer_on_a_reused_number_is_woken_by_its_peers_reset() {
    let _g = serial();
    within(60, || {
        oneport::run(async {
            let mut stale = Vec::new();
            for round in 0..10 {
                // A writer parked on a socket closed under it.
                let (c, _d) = tcp_pair();
                fill(&c);
                let cfd = raw(&c);
                stale.push(oneport::spawn(async move { wait_writable(cfd).await }));
                lowlevel::wait_all_tasks_blocked().await;
                drop(c); // no notify_closing
                         // A new connection on the same number.
                let mut spare = Vec::new();
                let (a, b) = loop {
                    let (a, b) = tcp_pair();
                    if raw(&a) == cfd {
                        break (a, b);
                    }
                    spare.push((a, b));
                    if spare.len() == 20 {
                        // Windows hands out handle values in no fixed
                        // order; Linux always reuses the lowest free fd.
                        if cfg!(unix) {
                            panic!("fd {cfd} never reused");
                        }
                        break spare.pop().unwrap();
                    }
                };
                drop(spare);
                fill(&a);
                let fd = raw(&a);
                let w = oneport::spawn(async move { wait_writable(fd).await });
                lowlevel::wait_all_tasks_blocked().await;
                drop(b); // unread data in flight: an RST
                let r = timeout(Duration::from_secs(5), w)
                    .await
                    .unwrap_or_else(|_| panic!("round {round}: writer not woken by the reset"));
                if let Err(e) = r {
                    panic!("round {round}: writer failed: {e:?}");
                }
                lowlevel::notify_closing(fd).unwrap();
            }
            drop(stale);
        })
    });
}

/// Defect 2: a socket closed without `notify_closing` while a task waits
/// on it; a new socket that gets the same number must be waitable (not
/// `ResourceBusy`), and the stranded waiter must be woken.
#[test]
fn a_socket_closed_without_notify_does_not_poison_its_number() {
    let _g = serial();
    within(60, || {
        oneport::run(async {
            // The runtime's own handles first (an AFD helper on Windows).
            let live = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            wait_writable(raw(&live)).await.unwrap();
            for round in 0..10 {
                let old = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let fd = raw(&old);
                let stranded = oneport::spawn(async move { wait_readable(fd).await });
                lowlevel::wait_all_tasks_blocked().await;
                drop(old); // no notify_closing
                let new = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                new.send_to(b"x", new.local_addr().unwrap()).unwrap();
                let reused = raw(&new) == fd;
                let got = timeout(Duration::from_secs(10), wait_readable(raw(&new)))
                    .await
                    .expect("a wait on the new socket hangs");
                if let Err(e) = &got {
                    assert_ne!(
                        e.kind(),
                        io::ErrorKind::ResourceBusy,
                        "round {round}: the new socket (reused number: {reused}) is refused"
                    );
                }
                got.unwrap();
                let old_result = timeout(Duration::from_secs(10), stranded)
                    .await
                    .unwrap_or_else(|_| {
                        panic!(
                            "round {round}: the stranded waiter is never woken (reused: {reused})"
                        )
                    });
                if cfg!(unix) && reused {
                    assert_eq!(old_result.unwrap_err().raw_os_error(), Some(9));
                }
                let s = lowlevel::statistics();
                assert_eq!((s.tasks_waiting_read, s.tasks_waiting_write), (0, 0));
            }
        })
    });
}

/// Defect 2, the other direction: a reader stranded on a socket closed
/// without `notify_closing`; a writer on the new socket of that number
/// must not leave the stale reader parked on the new socket.
#[test]
fn a_wait_in_the_other_direction_on_a_reused_number_fails_the_stale_waiter() {
    let _g = serial();
    within(60, || {
        oneport::run(async {
            let live = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            wait_writable(raw(&live)).await.unwrap();
            let mut checked = 0;
            for _ in 0..10 {
                let old = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let fd = raw(&old);
                let stranded = oneport::spawn(async move { wait_readable(fd).await });
                lowlevel::wait_all_tasks_blocked().await;
                drop(old); // no notify_closing
                let new = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                if raw(&new) != fd {
                    // Windows reuses handle values in no fixed order.
                    if cfg!(unix) {
                        panic!("Linux reuses the lowest fd");
                    }
                    drop(stranded);
                    continue;
                }
                wait_writable(raw(&new)).await.unwrap();
                let r = timeout(Duration::from_secs(10), stranded)
                    .await
                    .expect("the stale reader stays parked on the new socket");
                let e = r.expect_err("the stale reader was told its socket is ready");
                assert!(e.raw_os_error().is_some(), "{e:?}");
                checked += 1;
            }
            assert!(checked > 0, "no handle value was ever reused");
        })
    });
}

/// Defect 2, through a cancel: both directions stranded on a socket
/// closed without `notify_closing`; the stale writer's wait is dropped
/// after the number was reused. That must not hand the stale reader to the
/// new socket (where it would make the new reader `ResourceBusy`).
#[test]
fn cancelling_a_stale_waiter_does_not_hand_its_partner_to_the_new_socket() {
    let _g = serial();
    within(60, || {
        oneport::run(async {
            let live = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            wait_writable(raw(&live)).await.unwrap();
            let (c, _d) = tcp_pair();
            fill(&c);
            let fd = raw(&c);
            let reader = oneport::spawn(async move { wait_readable(fd).await });
            let writer = oneport::spawn(async move { wait_writable(fd).await });
            lowlevel::wait_all_tasks_blocked().await;
            drop(c); // no notify_closing
            let mut spare = Vec::new();
            let new = loop {
                let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                if raw(&s) == fd || spare.len() == 20 {
                    break s;
                }
                spare.push(s);
            };
            let reused = raw(&new) == fd;
            if cfg!(unix) {
                assert!(reused, "Linux reuses the lowest fd");
            }
            drop(writer); // cancels the stale writer
            oneport::yield_now().await;
            new.send_to(b"x", new.local_addr().unwrap()).unwrap();
            let r = timeout(Duration::from_secs(10), wait_readable(raw(&new)))
                .await
                .expect("a wait on the new socket hangs");
            if let Err(e) = r {
                panic!("new reader (number reused: {reused}): {e:?}");
            }
            let stale = timeout(Duration::from_secs(10), reader)
                .await
                .expect("the stale reader is never woken");
            if reused {
                stale.expect_err("the stale reader was told the new socket is ready");
            }
        })
    });
}

/// Defect 7: a wait on a closed fd fails with EBADF, and then the reader
/// still parked on that number is woken (with the same error), and a second
/// wait also gets EBADF, not `ResourceBusy`.
#[cfg(unix)]
#[test]
fn a_closed_fd_fails_new_waits_and_wakes_the_parked_reader() {
    let _g = serial();
    within(60, || {
        oneport::run(async {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let fd = raw(&s);
            let parked = oneport::spawn(async move { wait_readable(fd).await });
            lowlevel::wait_all_tasks_blocked().await;
            drop(s);
            let e = wait_writable(fd).await.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(9), "{e:?}");
            let e = wait_readable(fd).await.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(9), "second wait: {e:?}");
            let r = timeout(Duration::from_secs(10), parked)
                .await
                .expect("the parked reader stays pending");
            assert_eq!(r.unwrap_err().raw_os_error(), Some(9));
            let st = lowlevel::statistics();
            assert_eq!((st.tasks_waiting_read, st.tasks_waiting_write), (0, 0));
        })
    });
}

/// The fds of kind `kind` (an `anon_inode` name) this process has open.
#[cfg(target_os = "linux")]
fn anon_fds(kind: &str) -> Vec<i32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let (Ok(fd), Ok(link)) = (
            e.file_name().to_string_lossy().parse::<i32>(),
            std::fs::read_link(e.path()),
        ) {
            if link.to_string_lossy() == kind {
                v.push(fd);
            }
        }
    }
    v
}

/// Defect 6: waiting on the runtime's own eventfd or epoll fd hung it; it
/// is refused with a clear error, and the runtime still wakes afterwards.
#[cfg(target_os = "linux")]
#[test]
fn the_drivers_own_fds_are_refused() {
    let _g = serial();
    within(60, || {
        let before: Vec<i32> = [
            anon_fds("anon_inode:[eventfd]"),
            anon_fds("anon_inode:[eventpoll]"),
        ]
        .concat();
        let rt = oneport::Runtime::new().unwrap();
        let after: Vec<i32> = [
            anon_fds("anon_inode:[eventfd]"),
            anon_fds("anon_inode:[eventpoll]"),
        ]
        .concat();
        let mine: Vec<i32> = after.into_iter().filter(|f| !before.contains(f)).collect();
        // One epoll fd and one wakeup eventfd, plus the file ring's eventfd
        // when files run on io_uring.
        let ring =
            rt.block_on(async { oneport::lowlevel::statistics().file_backend }) == "io_uring";
        assert_eq!(
            mine.len(),
            2 + usize::from(ring),
            "the runtime opens one eventfd and one epoll fd (and one ring eventfd)"
        );
        rt.block_on(async {
            for &fd in &mine {
                for read in [true, false] {
                    let w = async move {
                        if read {
                            wait_readable(fd).await
                        } else {
                            wait_writable(fd).await
                        }
                    };
                    let r = timeout(Duration::from_secs(5), w).await;
                    let e = r
                        .unwrap_or_else(|_| panic!("a wait on the driver's own fd {fd} hangs"))
                        .expect_err("a wait on the driver's own fd succeeded");
                    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
                }
            }
            // The wakeup channel still works: a wake from another thread
            // ends a wait with no timer.
            let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut started = None;
            std::future::poll_fn(|cx| {
                if flag.load(Ordering::SeqCst) {
                    return std::task::Poll::Ready(());
                }
                if started.is_none() {
                    let (w, f) = (cx.waker().clone(), flag.clone());
                    started = Some(std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(50));
                        f.store(true, Ordering::SeqCst);
                        w.wake();
                    }));
                }
                std::task::Poll::Pending
            })
            .await;
            started.unwrap().join().unwrap();
        });
    });
}

/// Defect 11: two tasks polling `AsyncRead` on one `&TcpStream` handed the
/// wait back and forth at full CPU; one of them now gets `ResourceBusy`.
#[test]
fn two_tasks_reading_one_stream_do_not_spin() {
    let _g = serial();
    within(60, || {
        oneport::run(async {
            let (a, _b) = tcp_pair();
            let s = Rc::new(oneport::net::TcpStream::from_std(a).unwrap());
            let polls = Rc::new(Cell::new(0usize));
            let mut tasks = Vec::new();
            for _ in 0..2 {
                let (s, polls) = (s.clone(), polls.clone());
                tasks.push(oneport::spawn(async move {
                    let mut buf = [0u8; 16];
                    let mut r: &oneport::net::TcpStream = &s;
                    std::future::poll_fn(|cx| {
                        polls.set(polls.get() + 1);
                        futures_io::AsyncRead::poll_read(Pin::new(&mut r), cx, &mut buf)
                    })
                    .await
                }));
            }
            oneport::time::sleep(Duration::from_millis(200)).await;
            assert!(
                polls.get() < 100,
                "{} polls in 200 ms: the two tasks spin",
                polls.get()
            );
            // One of them was told; the other still waits.
            let mut busy = 0;
            let mut waiting = Vec::new();
            for t in tasks {
                match timeout(Duration::from_millis(1), t).await {
                    Ok(Err(e)) if e.kind() == io::ErrorKind::ResourceBusy => busy += 1,
                    Ok(other) => panic!("unexpected {other:?}"),
                    Err(_) => waiting.push(()),
                }
            }
            assert_eq!((busy, waiting.len()), (1, 1));
        })
    });
}

/// Defect 12: a panicking waker inside `process_events` lost the other
/// wakeups of its batch. The reader's waker panics; the writer of the same
/// socket (same event, woken after it) must still be woken.
#[test]
fn a_panicking_waker_does_not_lose_the_rest_of_the_batch() {
    let _g = serial();
    within(60, || {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let fd = raw(&sock);
        let bad = Arc::new(CountingWaker {
            panics: true,
            woken: AtomicUsize::new(0),
        });
        let good = Arc::new(CountingWaker {
            panics: false,
            woken: AtomicUsize::new(0),
        });
        let rt = oneport::Runtime::new().unwrap();
        let (bad2, good2) = (bad.clone(), good.clone());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async move {
                // Readable before either wait is registered, so one event
                // wakes both.
                sock.send_to(b"x", sock.local_addr().unwrap()).unwrap();
                let mut rd = Box::pin(wait_readable(fd));
                let mut wr = Box::pin(wait_writable(fd));
                let bw = Waker::from(bad2);
                let gw = Waker::from(good2);
                assert!(rd.as_mut().poll(&mut Context::from_waker(&bw)).is_pending());
                assert!(wr.as_mut().poll(&mut Context::from_waker(&gw)).is_pending());
                // Let the runtime collect the event (it panics doing so).
                for _ in 0..1000 {
                    oneport::time::sleep(Duration::from_millis(1)).await;
                }
                drop((rd, wr, sock));
            })
        }));
        assert!(r.is_err(), "the waker's panic reaches block_on");
        assert_eq!(bad.woken.load(Ordering::SeqCst), 1);
        assert_eq!(
            good.woken.load(Ordering::SeqCst),
            1,
            "the waiter after the panicking one was never woken"
        );
    });
}
