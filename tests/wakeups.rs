//! Wakes from other threads reach a runtime blocked in its driver.
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use common::within;
use oneport::lowlevel::{statistics, wake_handle};

/// A one-shot flag another thread sets, with the waker to wake.
#[derive(Default)]
struct Signal {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.set.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    fn fire(&self) {
        self.set.store(true, Ordering::Release);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

#[test]
fn a_waker_woken_from_another_thread_wakes_the_blocked_runtime() {
    within(60, || {
        oneport::run(async {
            let signal = Arc::new(Signal::default());
            let s = signal.clone();
            let start = Instant::now();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                s.fire();
            });
            // Nothing else is pending: the runtime blocks in the driver with
            // no timeout until the other thread's wake arrives.
            signal.wait().await;
            assert!(start.elapsed() >= Duration::from_millis(50));
            t.join().unwrap();
        })
    });
}

#[test]
fn a_spawned_task_woken_from_another_thread_runs() {
    within(60, || {
        oneport::run(async {
            let signal = Arc::new(Signal::default());
            let s2 = signal.clone();
            let h = oneport::spawn(async move {
                s2.wait().await;
                "woken"
            });
            oneport::yield_now().await;
            let s = signal.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                s.fire();
            });
            assert_eq!(h.await, "woken");
            t.join().unwrap();
        })
    });
}

#[test]
fn wake_handle_makes_the_blocked_driver_return() {
    within(60, || {
        oneport::run(async {
            let before = statistics().wakeups_received;
            let handle = wake_handle();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                handle.wake();
            });
            // The loop blocks in the driver until the sleep's deadline and
            // receives the wake meanwhile (or, on a very loaded machine,
            // in one of the short turns below).
            oneport::time::sleep(Duration::from_millis(300)).await;
            t.join().unwrap();
            let give_up = Instant::now() + Duration::from_secs(20);
            while statistics().wakeups_received == before && Instant::now() < give_up {
                oneport::time::sleep(Duration::from_millis(1)).await;
            }
            assert!(
                statistics().wakeups_received > before,
                "the driver never saw the wakeup"
            );
        })
    });
}

#[test]
fn many_wakes_before_the_loop_runs_collapse() {
    oneport::run(async {
        let handle = wake_handle();
        let before = statistics().wakeups_received;
        for _ in 0..1000 {
            handle.wake();
        }
        oneport::time::sleep(Duration::from_millis(5)).await;
        let got = statistics().wakeups_received - before;
        assert!((1..=2).contains(&got), "1000 wakes became {got} wakeups");
    });
}

#[test]
fn a_wake_handle_outliving_its_runtime_is_harmless() {
    let handle = oneport::run(async { wake_handle() });
    std::thread::spawn(move || handle.wake()).join().unwrap();
}

#[test]
fn ten_thousand_wakes_from_four_threads_lose_no_task() {
    within(300, || {
        oneport::run(async {
            const TASKS: usize = 10_000;
            let signals: Vec<Arc<Signal>> =
                (0..TASKS).map(|_| Arc::new(Signal::default())).collect();
            let done = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = signals
                .iter()
                .map(|s| {
                    let (s, d) = (s.clone(), done.clone());
                    oneport::spawn(async move {
                        s.wait().await;
                        d.fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            oneport::yield_now().await; // every task parks
            let threads: Vec<_> = signals
                .chunks(TASKS / 4)
                .map(|chunk| {
                    let chunk = chunk.to_vec();
                    std::thread::spawn(move || {
                        for s in chunk {
                            s.fire();
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await;
            }
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(done.load(Ordering::Relaxed), TASKS);
        })
    });
}

#[test]
fn wakes_racing_the_drain_of_an_earlier_wakeup_are_never_lost() {
    // Four tasks each play ping-pong with a thread of their own: every
    // round is a cross-thread wake, and the four streams of wakes land at
    // random moments, also while the runtime is consuming an earlier one.
    // A wake lost in that window leaves the runtime asleep for good.
    within(120, || {
        oneport::run(async {
            const ROUNDS: usize = 50_000;
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let (tx, rx) = std::sync::mpsc::channel::<Arc<Signal>>();
                    let t = std::thread::spawn(move || {
                        for s in rx {
                            s.fire();
                        }
                    });
                    oneport::spawn(async move {
                        for _ in 0..ROUNDS {
                            let s = Arc::new(Signal::default());
                            tx.send(s.clone()).unwrap();
                            s.wait().await;
                        }
                        drop(tx);
                        t.join().unwrap();
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
        })
    });
}
