//! `oneport::signal::unix`: signal streams. Alone in its binary, since the
//! signals it raises are process-wide (and after the first `signal(kind)`
//! no longer end the process).
#![cfg(unix)]
mod common;

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::within;
use oneport::signal::unix::{signal, Signal, SignalKind};

/// Each test raises its own signals; one at a time keeps them apart.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn raise(kind: SignalKind) {
    // SAFETY: raise takes a signal number; a handler is installed (a
    // `Signal` of this kind exists).
    assert_eq!(unsafe { libc::raise(kind.as_raw_value()) }, 0);
}

fn is_pending(s: &mut Signal) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    s.poll_recv(&mut cx).is_pending()
}

const HANG: Duration = Duration::from_secs(20);

#[test]
fn a_signal_sent_after_the_stream_is_made_is_received_even_before_the_first_recv() {
    let _s = serial();
    within(30, || {
        oneport::run(async {
            let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
            assert_eq!(usr1.kind(), SignalKind::user_defined1());
            raise(SignalKind::user_defined1());
            oneport::time::timeout(HANG, usr1.recv())
                .await
                .expect("the signal raised before recv was lost")
                .unwrap();
            // Received: the next recv waits for the next signal.
            oneport::time::sleep(Duration::from_millis(20)).await;
            assert!(is_pending(&mut usr1), "one signal received twice");
            raise(SignalKind::user_defined1());
            oneport::time::timeout(HANG, usr1.recv())
                .await
                .expect("the second signal")
                .unwrap();
        })
    });
}

#[test]
fn every_stream_of_a_kind_is_woken_and_other_kinds_are_not() {
    let _s = serial();
    within(30, || {
        let (tx, rx) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            oneport::run(async {
                let mut s = signal(SignalKind::user_defined2()).unwrap();
                tx.send(()).unwrap();
                oneport::time::timeout(HANG, s.recv()).await
            })
        });
        oneport::run(async {
            let mut a = signal(SignalKind::user_defined2()).unwrap();
            let mut b = signal(SignalKind::user_defined2()).unwrap();
            let mut hup = signal(SignalKind::hangup()).unwrap();
            rx.recv().unwrap();
            raise(SignalKind::user_defined2());
            for s in [&mut a, &mut b] {
                oneport::time::timeout(HANG, s.recv())
                    .await
                    .expect("every stream of the kind is woken")
                    .unwrap();
            }
            oneport::time::sleep(Duration::from_millis(20)).await;
            assert!(is_pending(&mut hup), "SIGHUP's stream woken by SIGUSR2");
            raise(SignalKind::hangup());
            oneport::time::timeout(HANG, hup.recv())
                .await
                .expect("SIGHUP")
                .unwrap();
        });
        other
            .join()
            .unwrap()
            .expect("the stream on the other runtime is woken")
            .unwrap();
    });
}

#[test]
fn signals_that_arrive_together_are_received_once_and_the_stream_is_a_stream() {
    let _s = serial();
    within(30, || {
        oneport::run(async {
            let mut s = signal(SignalKind::window_change()).unwrap();
            for _ in 0..5 {
                raise(SignalKind::window_change());
            }
            let next = std::future::poll_fn(|cx| {
                futures_core::Stream::poll_next(std::pin::Pin::new(&mut s), cx)
            });
            let got = oneport::time::timeout(HANG, next).await.expect("received");
            assert!(matches!(got, Some(Ok(()))));
            oneport::time::sleep(Duration::from_millis(20)).await;
            assert!(
                is_pending(&mut s),
                "five merged signals received more than once"
            );
        })
    });
}

#[test]
fn uncatchable_and_bad_signal_numbers_are_errors() {
    let _s = serial();
    for (kind, what) in [
        (SignalKind::from_raw(libc::SIGKILL), "SIGKILL"),
        (SignalKind::from_raw(libc::SIGSTOP), "SIGSTOP"),
        (SignalKind::from_raw(libc::SIGSEGV), "SIGSEGV"),
        (SignalKind::from_raw(0), "0"),
        (SignalKind::from_raw(-3), "-3"),
        (SignalKind::from_raw(1000), "1000"),
    ] {
        let e = signal(kind).expect_err(what);
        assert!(!e.to_string().is_empty(), "{what}");
    }
    // The refusals left no place taken: the table's 256 are all free.
    let held: Vec<_> = (0..256)
        .map(|_| signal(SignalKind::user_defined1()).unwrap())
        .collect();
    let full = signal(SignalKind::user_defined1()).unwrap_err();
    assert!(full.to_string().contains("256"), "{full}");
    drop(held);
    signal(SignalKind::user_defined1()).expect("places freed on drop");
}

#[test]
fn a_stream_dropped_while_waiting_frees_its_place_and_fd() {
    let _s = serial();
    within(30, || {
        oneport::run(async {
            let before = oneport::lowlevel::statistics();
            for _ in 0..300 {
                let mut s = signal(SignalKind::alarm()).unwrap();
                assert!(is_pending(&mut s));
                drop(s);
            }
            let after = oneport::lowlevel::statistics();
            assert_eq!(after.tasks_waiting_read, before.tasks_waiting_read);
            assert_eq!(after.epoll_registered, before.epoll_registered);
            // A Signal as a task's future that is dropped mid-wait.
            let mut term = signal(SignalKind::terminate()).unwrap();
            let task = oneport::spawn(async move { term.recv().await });
            oneport::yield_now().await;
            drop(task);
            oneport::yield_now().await;
            let end = oneport::lowlevel::statistics();
            assert_eq!(end.tasks_waiting_read, before.tasks_waiting_read);
        })
    });
}

/// `recv` is an ordinary future: polled once, raced, then completed.
#[test]
fn recv_is_a_future_usable_in_select_style_races() {
    let _s = serial();
    within(30, || {
        oneport::run(async {
            let mut quit = signal(SignalKind::quit()).unwrap();
            let recv = quit.recv();
            let mut recv = std::pin::pin!(recv);
            let mut cx = Context::from_waker(Waker::noop());
            assert!(matches!(recv.as_mut().poll(&mut cx), Poll::Pending));
            raise(SignalKind::quit());
            oneport::time::timeout(HANG, recv)
                .await
                .expect("SIGQUIT")
                .unwrap();
        })
    });
}
