//! Socket readiness through AFD polls, as only Windows has it: one merged
//! poll per socket, helper handles in groups, sockets closed behind the
//! driver's back, handles that are not sockets.
//!
//! The tests of this file run one at a time (`serial()`): several of them
//! close sockets without telling the driver, and a handle value freed by one
//! test could otherwise be reused at once by a socket of another test
//! running in parallel in the same process.
#![cfg(windows)]
mod common;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::windows::io::{AsRawHandle, AsRawSocket};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{tcp_pair, within};
use oneport::lowlevel::{
    notify_closing, statistics, wait_all_tasks_blocked, wait_readable, wait_writable, Statistics,
};

const WSAENOTSOCK: i32 = 10038;

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes into `s` until the kernel refuses more: a writer then has to wait.
fn fill_send_buffer(mut s: &TcpStream) -> usize {
    let chunk = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match s.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("filling the send buffer: {e}"),
        }
    }
}

/// Reads everything `s` has now.
fn drain(mut s: &TcpStream) -> usize {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("draining: {e}"),
        }
    }
}

/// Reads whatever arrives on `s`, forever.
async fn keep_draining(s: std::rc::Rc<TcpStream>) {
    loop {
        drain(&s);
        oneport::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Lets the loop run until no more than `live` polls are in flight: the
/// packets of superseded polls arrive a little after their cancel.
async fn settle(live: usize) -> Statistics {
    loop {
        let s = statistics();
        if s.afd_polls_in_flight <= live {
            return s;
        }
        oneport::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Every wait has gone and every poll's packet has been collected.
async fn assert_back_to_idle() {
    let s = settle(0).await;
    assert_eq!(
        (
            s.tasks_waiting_read,
            s.tasks_waiting_write,
            s.afd_polls_in_flight
        ),
        (0, 0, 0),
        "{s:?}"
    );
}

#[test]
fn a_parked_reader_and_writer_share_one_live_poll() {
    let _g = serial();
    within(30, || {
        oneport::run(async {
            let (a, b) = tcp_pair();
            fill_send_buffer(&a);
            let raw = a.as_raw_socket();
            let base = statistics();
            assert_eq!(base.backend, "windows");

            let reader = oneport::spawn(wait_readable(raw));
            wait_all_tasks_blocked().await;
            let s = settle(1).await;
            assert_eq!(s.tasks_waiting_read, 1);
            assert_eq!(s.afd_polls_issued, base.afd_polls_issued + 1, "{s:?}");
            assert_eq!(s.afd_polls_in_flight, 1);

            // The writer joins: the reader's poll is replaced by one for both.
            let writer = oneport::spawn(wait_writable(raw));
            wait_all_tasks_blocked().await;
            let s = settle(1).await;
            assert_eq!((s.tasks_waiting_read, s.tasks_waiting_write), (1, 1));
            assert_eq!(s.afd_polls_issued, base.afd_polls_issued + 2, "{s:?}");
            assert_eq!(s.afd_polls_in_flight, 1, "one live poll for the pair");

            // Data for the reader: it wakes, the writer gets a poll of its own.
            (&b).write_all(b"x").unwrap();
            reader.await.unwrap();
            wait_all_tasks_blocked().await;
            let s = settle(1).await;
            assert_eq!((s.tasks_waiting_read, s.tasks_waiting_write), (0, 1));
            assert_eq!(s.afd_polls_issued, base.afd_polls_issued + 3, "{s:?}");
            assert_eq!(s.afd_polls_in_flight, 1);

            // Room for the writer: nobody is left, nothing is re-issued.
            let b = std::rc::Rc::new(b);
            let drainer = oneport::spawn(keep_draining(b.clone()));
            writer.await.unwrap();
            drop(drainer);
            assert_back_to_idle().await;
            assert_eq!(
                statistics().afd_polls_issued,
                base.afd_polls_issued + 3,
                "no poll once nobody waits"
            );
            // The waits consumed nothing.
            let mut one = [0u8; 1];
            assert_eq!((&a).read(&mut one).unwrap(), 1);
        })
    });
}

#[test]
fn a_second_waiter_in_the_same_direction_is_busy_at_once() {
    let _g = serial();
    within(30, || {
        oneport::run(async {
            let (a, _b) = tcp_pair();
            fill_send_buffer(&a);
            let raw = a.as_raw_socket();
            let reader = oneport::spawn(wait_readable(raw));
            let writer = oneport::spawn(wait_writable(raw));
            wait_all_tasks_blocked().await;
            let e = wait_readable(raw).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
            let e = wait_writable(raw).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
            // The refused waits changed nothing for the parked ones.
            let s = settle(1).await;
            assert_eq!((s.tasks_waiting_read, s.tasks_waiting_write), (1, 1));
            assert_eq!(s.afd_polls_in_flight, 1);
            drop((reader, writer));
            assert_back_to_idle().await;
        })
    });
}

#[test]
fn notify_closing_wakes_both_parked_waiters_and_closes_nothing() {
    let _g = serial();
    within(30, || {
        oneport::run(async {
            let (a, b) = tcp_pair();
            fill_send_buffer(&a);
            let raw = a.as_raw_socket();
            let reader = oneport::spawn(wait_readable(raw));
            let writer = oneport::spawn(wait_writable(raw));
            wait_all_tasks_blocked().await;
            notify_closing(raw).unwrap();
            // Both are already off the books when notify_closing returns.
            let s = statistics();
            assert_eq!((s.tasks_waiting_read, s.tasks_waiting_write), (0, 0));
            for r in [reader.await, writer.await] {
                let e = r.unwrap_err();
                assert!(oneport::is_closed_resource(&e), "{e:?}");
            }
            assert_back_to_idle().await;
            // Nobody waits: still fine. And the socket still works.
            notify_closing(raw).unwrap();
            (&b).write_all(b"y").unwrap();
            wait_readable(raw).await.unwrap();
            let mut one = [0u8; 1];
            (&a).read_exact(&mut one).unwrap();
            assert_eq!(&one, b"y");
            assert_back_to_idle().await;
        })
    });
}

#[test]
fn handles_that_are_not_sockets_give_wsaenotsock() {
    let _g = serial();
    let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
    let file_handle = file.as_raw_handle() as u64;
    within(30, move || {
        oneport::run(async move {
            for h in [file_handle, 0x4444_4444, u64::MAX - 7] {
                let r = wait_readable(h).await.unwrap_err();
                let w = wait_writable(h).await.unwrap_err();
                let c = notify_closing(h).unwrap_err();
                for e in [r, w, c] {
                    assert_eq!(e.raw_os_error(), Some(WSAENOTSOCK), "handle {h:#x}: {e:?}");
                }
            }
            let s = statistics();
            assert_eq!((s.tasks_waiting_read, s.afd_polls_in_flight), (0, 0));
        })
    });
    drop(file);
}

#[test]
fn accepting_and_failed_connects_are_readiness_too() {
    let _g = serial();
    within(30, || {
        oneport::run(async {
            // ACCEPT wakes a reader of a listening socket.
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            let addr = l.local_addr().unwrap();
            let accepting = oneport::spawn(wait_readable(l.as_raw_socket()));
            wait_all_tasks_blocked().await;
            let _c = TcpStream::connect(addr).unwrap();
            accepting.await.unwrap();
            l.accept().unwrap();

            // A refused connect shows as CONNECT_FAIL, which wakes a writer.
            let closed_port = {
                let t = TcpListener::bind("127.0.0.1:0").unwrap();
                t.local_addr().unwrap()
            };
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            match s.connect(&closed_port.into()) {
                Ok(()) => panic!("connected to a closed port"),
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}"),
            }
            wait_writable(s.as_raw_socket()).await.unwrap();
            let err = s.take_error().unwrap().expect("the connect failed");
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
            assert_back_to_idle().await;
        })
    });
}

#[test]
fn a_thousand_waiting_sockets_use_several_afd_handles() {
    const N: usize = 1000;
    let _g = serial();
    let started = Instant::now();
    within(120, || {
        oneport::run(async {
            let socks: Vec<UdpSocket> = (0..N)
                .map(|_| {
                    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                    s.set_nonblocking(true).unwrap();
                    s
                })
                .collect();
            let base = statistics();
            let mut waits: Vec<_> = socks
                .iter()
                .map(|s| Some(oneport::spawn(wait_readable(s.as_raw_socket()))))
                .collect();
            wait_all_tasks_blocked().await;
            let s = statistics();
            assert_eq!(s.tasks_waiting_read, N);
            assert_eq!(s.afd_polls_in_flight, N);
            assert_eq!(s.afd_polls_issued, base.afd_polls_issued + N as u64);
            assert!(
                s.afd_handles >= 2,
                "{} polls on {} handle(s)",
                N,
                s.afd_handles
            );
            assert!(
                s.afd_handles <= N.div_ceil(500),
                "a handle with room is reused: {s:?}"
            );

            // Events reach sockets of every group.
            let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
            for i in [0, N / 2, N - 1] {
                sender
                    .send_to(b"z", socks[i].local_addr().unwrap())
                    .unwrap();
                waits[i].take().unwrap().await.unwrap();
            }
            assert_eq!(statistics().tasks_waiting_read, N - 3);

            // Cancel the rest (a dropped task's future goes at its next poll).
            waits.clear();
            assert_back_to_idle().await;
            // The handles stay open for the next waits, which reuse them.
            assert_eq!(statistics().afd_handles, s.afd_handles);
            let again = oneport::spawn(wait_readable(socks[1].as_raw_socket()));
            wait_all_tasks_blocked().await;
            assert_eq!(statistics().afd_handles, s.afd_handles);
            drop(again);
            assert_back_to_idle().await;
        })
    });
    eprintln!(
        "1,000 sockets parked and cancelled in {:?}",
        started.elapsed()
    );
}

/// How a wait on a socket closed behind the driver's back ended: it must
/// end (or stay cancellable), never hang the runtime.
fn ended(r: io::Result<()>) -> String {
    match r {
        Ok(()) => "Ok".into(),
        Err(e) => format!("Err({e})"),
    }
}

#[test]
fn closing_the_only_handle_under_a_parked_reader_wakes_it() {
    let _g = serial();
    within(30, || {
        oneport::run(async {
            let (a, _b) = tcp_pair();
            let reader = oneport::spawn(wait_readable(a.as_raw_socket()));
            wait_all_tasks_blocked().await;
            drop(a); // closesocket, no notify_closing
                     // Closing the last handle reports LOCAL_CLOSE: readable.
            assert_eq!(ended(reader.await), "Ok");
            assert_back_to_idle().await;
        })
    });
}

#[test]
fn closing_under_a_parked_reader_and_writer_wakes_both() {
    let _g = serial();
    within(30, || {
        oneport::run(async {
            let (a, _b) = tcp_pair();
            fill_send_buffer(&a);
            let raw = a.as_raw_socket();
            let reader = oneport::spawn(wait_readable(raw));
            let writer = oneport::spawn(wait_writable(raw));
            wait_all_tasks_blocked().await;
            drop(a);
            // LOCAL_CLOSE is in both interest sets.
            assert_eq!(
                (ended(reader.await), ended(writer.await)),
                ("Ok".into(), "Ok".into())
            );
            assert_back_to_idle().await;
        })
    });
}

#[test]
fn closing_one_of_two_handles_leaves_the_wait_cancellable_and_live() {
    let _g = serial();
    within(30, || {
        oneport::run(async {
            let (a, b) = tcp_pair();
            let dup = a.try_clone().unwrap(); // WSADuplicateSocket
            let raw = a.as_raw_socket();

            // Closed under a parked reader while a duplicate keeps the
            // socket open: the wait is still cancellable.
            let reader = oneport::spawn(wait_readable(raw));
            wait_all_tasks_blocked().await;
            drop(a);
            let timed_out = oneport::time::timeout(Duration::from_millis(50), reader).await;
            if let Ok(r) = timed_out {
                eprintln!("reader ended by itself: {}", ended(r));
            }
            assert_back_to_idle().await;

            // The duplicate is a socket of its own name: waits on it work.
            let reader = oneport::spawn(wait_readable(dup.as_raw_socket()));
            wait_all_tasks_blocked().await;
            (&b).write_all(b"d").unwrap();
            reader.await.unwrap();
            let mut one = [0u8; 1];
            (&dup).read_exact(&mut one).unwrap();
            assert_back_to_idle().await;
        })
    });
}

#[test]
fn an_event_after_a_close_behind_the_back_ends_every_waiter() {
    // Reader and writer parked; the handle they named is closed while a
    // duplicate keeps the socket open (so no LOCAL_CLOSE). Data then
    // completes the poll for the reader, and re-issuing the poll for the
    // writer finds the handle gone: the writer gets that error.
    let _g = serial();
    within(30, || {
        oneport::run(async {
            let (a, b) = tcp_pair();
            fill_send_buffer(&a);
            let dup = a.try_clone().unwrap();
            let raw = a.as_raw_socket();
            let reader = oneport::spawn(wait_readable(raw));
            let writer = oneport::spawn(wait_writable(raw));
            wait_all_tasks_blocked().await;
            drop(a);
            (&b).write_all(b"e").unwrap();
            assert_eq!(ended(reader.await), "Ok");
            let w = writer.await;
            assert!(
                w.is_err(),
                "the writer's poll could not be re-issued: {}",
                ended(w)
            );
            assert_back_to_idle().await;
            drop(dup);
        })
    });
}

#[test]
fn a_cancel_after_a_close_behind_the_back_ends_the_other_waiter() {
    // As above, but the reader is cancelled instead of woken: re-issuing the
    // poll for the writer alone fails, and the writer gets the error.
    let _g = serial();
    within(30, || {
        oneport::run(async {
            let (a, _b) = tcp_pair();
            fill_send_buffer(&a);
            let dup = a.try_clone().unwrap();
            let raw = a.as_raw_socket();
            let reader = oneport::spawn(wait_readable(raw));
            let writer = oneport::spawn(wait_writable(raw));
            wait_all_tasks_blocked().await;
            drop(a);
            drop(reader);
            let w = writer.await;
            assert!(
                w.is_err(),
                "the writer's poll could not be re-issued: {}",
                ended(w)
            );
            assert_back_to_idle().await;
            drop(dup);
        })
    });
}

#[test]
fn dropping_the_runtime_with_parked_waiters_is_clean() {
    let _g = serial();
    within(30, || {
        let (a, b) = tcp_pair();
        fill_send_buffer(&a);
        let udp: Vec<UdpSocket> = (0..20)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        for _ in 0..3 {
            let rt = oneport::Runtime::new().unwrap();
            rt.block_on(async {
                oneport::spawn(wait_readable(a.as_raw_socket())).detach();
                oneport::spawn(wait_writable(a.as_raw_socket())).detach();
                for u in &udp {
                    oneport::spawn(wait_readable(u.as_raw_socket())).detach();
                }
                // A superseded poll and a cancelled one, still in flight.
                let extra = oneport::spawn(wait_readable(b.as_raw_socket()));
                wait_all_tasks_blocked().await;
                drop(extra);
                oneport::yield_now().await;
                let s = statistics();
                assert!(s.afd_polls_in_flight >= 21, "{s:?}");
            });
            drop(rt);
        }
        // The sockets were only waited on: they still work.
        (&b).write_all(b"k").unwrap();
        let rt = oneport::Runtime::new().unwrap();
        rt.block_on(async {
            wait_readable(a.as_raw_socket()).await.unwrap();
        });
    });
}

#[test]
fn a_closed_socket_number_reused_by_a_helper_handle_is_refused() {
    let _serial = serial();
    within(60, || {
        // The runtime opens its AFD helper lazily, at the first wait: the
        // freed socket number is the first free handle value and may be
        // handed to the helper. Polling a helper with itself must be
        // refused, never submitted (it crashes Wine's server).
        for _ in 0..5 {
            let r = oneport::run(async {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                let raw = s.as_raw_socket();
                drop(s);
                wait_readable(raw).await
            });
            let e = r.expect_err("a closed socket cannot be waited on");
            assert_eq!(e.raw_os_error(), Some(WSAENOTSOCK), "{e}");
        }
    });
}
