//! Regression tests for the runtime, task, timer and file defects of the
//! trust review: teardown that leaked tasks and fds, teardown that aborted
//! when a destructor called oneport, dropped file writes landing late, one
//! tiny blocking pool for the whole process, join handles that could not
//! report cancellation, and sleeps moved between runtimes.
//!
//! Every test takes `SERIAL` first: one of them counts the process's open
//! fds/handles, which the others would disturb if they ran alongside.
mod common;
use common::temp_path;

use std::cell::Cell;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::stress::open_handles;
use common::{within, CatchUnwind};
use oneport::fs::File;
use oneport::{spawn, yield_now, Runtime};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes a path when dropped.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Counts drops of the futures that own one.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// ---- 5. runtime drop drops every task and closes every fd ---------------

#[test]
fn runtime_drop_drops_every_task_and_closes_every_handle() {
    let _s = serial();
    within(120, || {
        let path = temp_path("drop");
        std::fs::write(&path, b"some bytes").unwrap();
        let _c = Cleanup(path.clone());
        let round = |dropped: &Arc<AtomicUsize>, wait: usize| {
            let rt = Runtime::new().unwrap();
            rt.block_on(async {
                for _ in 0..32 {
                    let (counted, p) = (Counted(dropped.clone()), path.clone());
                    spawn(async move {
                        let _counted = counted;
                        let f = File::open(&p).await.unwrap();
                        f.metadata().await.unwrap();
                        std::future::pending::<()>().await;
                    })
                    .detach();
                }
                for _ in 0..wait {
                    yield_now().await;
                }
            });
            drop(rt);
        };
        // Warm up whatever the first runtime opens for the process's life.
        round(&Arc::new(AtomicUsize::new(0)), 3);
        let before = open_handles();
        let dropped = Arc::new(AtomicUsize::new(0));
        for i in 0..200 {
            round(&dropped, i % 7);
        }
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            200 * 32,
            "futures a dropped runtime owned were never dropped"
        );
        let after = open_handles();
        assert!(
            after <= before,
            "fds/handles went from {before} to {after} over 200 runtime drops"
        );
    });
}

// ---- 8. destructors that call oneport while the runtime drops them ------

/// Runs `on_drop` from the destructor of a task's future when the runtime
/// is dropped with the task still pending.
fn drop_runtime_with_a_task_whose_destructor(on_drop: impl FnOnce() + 'static) -> bool {
    struct OnDrop<F: FnOnce()>(Option<F>, Rc<Cell<bool>>);
    impl<F: FnOnce()> Drop for OnDrop<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
                self.1.set(true);
            }
        }
    }
    let ran = Rc::new(Cell::new(false));
    let rt = Runtime::new().unwrap();
    let r = ran.clone();
    rt.block_on(async move {
        spawn(async move {
            let _d = OnDrop(Some(on_drop), r);
            std::future::pending::<()>().await;
        })
        .detach();
        yield_now().await;
    });
    drop(rt);
    ran.get()
}

#[test]
fn a_destructor_may_call_notify_closing_during_runtime_drop() {
    let _s = serial();
    let (a, _b) = common::tcp_pair();
    let sock = common::raw(&a);
    assert!(drop_runtime_with_a_task_whose_destructor(move || {
        oneport::lowlevel::notify_closing(sock).unwrap();
    }));
}

#[test]
fn a_destructor_may_spawn_during_runtime_drop() {
    let _s = serial();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    assert!(drop_runtime_with_a_task_whose_destructor(move || {
        spawn(async move { r.set(true) }).detach();
    }));
    assert!(!ran.get(), "a task spawned during teardown must not run");
}

#[test]
fn a_destructor_may_sleep_during_runtime_drop() {
    let _s = serial();
    assert!(drop_runtime_with_a_task_whose_destructor(|| {
        let mut s = Box::pin(oneport::time::sleep(Duration::from_secs(5)));
        assert!(poll_once(s.as_mut()).is_pending());
    }));
}

#[test]
fn a_destructor_may_read_statistics_during_runtime_drop() {
    let _s = serial();
    assert!(drop_runtime_with_a_task_whose_destructor(|| {
        let st = oneport::lowlevel::statistics();
        assert!(!st.backend.is_empty());
    }));
}

// ---- 3. a dropped write_at never lands over a later write ---------------

#[test]
fn a_dropped_write_never_lands_over_a_later_one() {
    let _s = serial();
    within(120, || {
        let path = temp_path("order");
        let _c = Cleanup(path.clone());
        oneport::run(async {
            let f = File::create(&path).await.unwrap();
            const BIG: usize = 1 << 20;
            let f = Rc::new(f);
            for round in 0..200u8 {
                // Keep several pool threads around, so that the dropped
                // write and the later one could run side by side.
                let warm: Vec<_> = (0..6)
                    .map(|_| {
                        let f = f.clone();
                        spawn(async move { f.metadata().await.map(drop) })
                    })
                    .collect();
                for w in warm {
                    w.await.unwrap();
                }
                let old = vec![round; BIG];
                let mut dropped = Box::pin(f.write_at(old, 0));
                let _ = poll_once(dropped.as_mut());
                drop(dropped);
                let new = vec![round.wrapping_add(1); 64];
                let (n, _) = f.write_at(new, 100).await;
                assert_eq!(n.unwrap(), 64);
                let (n, got) = f.read_at(Vec::with_capacity(64), 100).await;
                assert_eq!(n.unwrap(), 64);
                assert!(
                    got.iter().all(|&b| b == round.wrapping_add(1)),
                    "round {round}: the dropped write landed over the later one"
                );
            }
            // After every operation has settled the file still holds the
            // later writes.
            let (n, got) = f.read_at(Vec::with_capacity(64), 100).await;
            assert_eq!(n.unwrap(), 64);
            assert!(got.iter().all(|&b| b == 200));
        });
    });
}

#[test]
fn a_write_dropped_before_it_starts_never_runs() {
    let _s = serial();
    within(60, || {
        let path = temp_path("never");
        let _c = Cleanup(path.clone());
        oneport::run(async {
            let f = File::create(&path).await.unwrap();
            // Dropped before its first poll: nothing was submitted.
            drop(f.write_at(vec![1u8; 16], 0));
            let (n, _) = f.read_at(Vec::with_capacity(16), 0).await;
            assert_eq!(n.unwrap(), 0, "a write that never started changed the file");
        });
    });
}

// ---- 4. the blocking pool grows and never starves ------------------------

#[test]
fn eight_blocked_closures_do_not_stall_file_io() {
    let _s = serial();
    within(60, || {
        let path = temp_path("pool");
        let _c = Cleanup(path.clone());
        oneport::run(async {
            let mut releases = Vec::new();
            let mut blocked = Vec::new();
            for i in 0..8u32 {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                releases.push(tx);
                blocked.push(oneport::spawn_blocking(move || {
                    rx.recv().unwrap();
                    i
                }));
            }
            let f = File::create(&path).await.unwrap();
            let (n, _) = f.write_at(&b"not starved"[..], 0).await;
            assert_eq!(n.unwrap(), 11);
            assert_eq!(f.metadata().await.unwrap().len(), 11);
            releases.into_iter().for_each(|tx| tx.send(()).unwrap());
            for (i, h) in blocked.into_iter().enumerate() {
                assert_eq!(h.await, i as u32);
            }
        });
    });
}

#[cfg(unix)]
#[test]
fn eight_opens_blocked_on_fifos_do_not_stall_file_io() {
    let _s = serial();
    within(60, || {
        let path = temp_path("fifo-other");
        let _c = Cleanup(path.clone());
        let fifos: Vec<PathBuf> = (0..8).map(|_| temp_path("fifo")).collect();
        let _cf: Vec<Cleanup> = fifos.iter().cloned().map(Cleanup).collect();
        for p in &fifos {
            let st = std::process::Command::new("mkfifo")
                .arg(p)
                .status()
                .unwrap();
            assert!(st.success(), "mkfifo failed");
        }
        oneport::run(async {
            let opens: Vec<_> = fifos
                .iter()
                .cloned()
                .map(|p| spawn(async move { File::open(p).await.map(drop) }))
                .collect();
            // Let every open reach the pool and block there.
            oneport::time::sleep(Duration::from_millis(100)).await;
            let f = File::create(&path).await.unwrap();
            let (n, _) = f.write_at(&b"still moving"[..], 0).await;
            assert_eq!(n.unwrap(), 12);
            // Unblock the opens: a writer on each FIFO.
            let writers: Vec<_> = fifos
                .iter()
                .map(|p| std::fs::OpenOptions::new().write(true).open(p).unwrap())
                .collect();
            for o in opens {
                o.await.unwrap();
            }
            drop(writers);
        });
    });
}

// ---- 16. JoinHandle reports cancellation --------------------------------

#[test]
fn an_aborted_task_joins_as_cancelled() {
    let _s = serial();
    oneport::run(async {
        let h = spawn(async {
            oneport::time::sleep(Duration::from_secs(3600)).await;
            1u8
        });
        yield_now().await;
        assert!(!h.is_finished());
        h.abort();
        let e = h.join().await.unwrap_err();
        assert!(e.is_cancelled(), "{e}");
        assert_eq!(oneport::lowlevel::statistics().timers, 0);
    });
}

#[test]
fn a_task_the_runtime_dropped_joins_as_cancelled_and_plain_await_says_why() {
    let _s = serial();
    let rt = Runtime::new().unwrap();
    let (a, b) = rt.block_on(async {
        let forever = || spawn(std::future::pending::<u8>());
        (forever(), forever())
    });
    drop(rt);
    assert!(a.is_finished());
    let e = oneport::run(a.join()).unwrap_err();
    assert!(e.is_cancelled() && !e.is_panic(), "{e}");
    let msg = oneport::run(CatchUnwind(Box::pin(b))).unwrap_err();
    assert!(
        msg.contains("cancelled") && !msg.contains("polled after completion"),
        "unclear panic: {msg}"
    );
}

#[test]
fn join_reports_a_panic_and_a_value() {
    let _s = serial();
    oneport::run(async {
        let ok = spawn(async { 5u8 });
        assert_eq!(ok.join().await.unwrap(), 5);
        let bad = spawn(async {
            yield_now().await;
            panic!("task boom");
        });
        let e: oneport::JoinError = bad.join().await.unwrap_err();
        assert!(e.is_panic() && !e.is_cancelled());
        let p = e.into_panic();
        assert!(common::panic_message(&*p).contains("task boom"));
    });
}

// ---- 10. a sleep moved to another runtime -------------------------------
// (The block_on futures hand the pending sleep out on purpose.)

#[test]
#[allow(clippy::async_yields_async)]
fn a_sleep_moved_to_another_runtime_completes_there() {
    let _s = serial();
    within(30, || {
        let rt1 = Runtime::new().unwrap();
        let mut s = rt1.block_on(async {
            let mut s = Box::pin(oneport::time::sleep(Duration::from_millis(50)));
            assert!(poll_once(s.as_mut()).is_pending());
            s
        });
        // Still alive: the first runtime is simply not running.
        let rt2 = Runtime::new().unwrap();
        rt2.block_on(s.as_mut());
        // And again once its first runtime is gone.
        let mut s2 = rt1.block_on(async {
            let mut s = Box::pin(oneport::time::sleep(Duration::from_millis(50)));
            assert!(poll_once(s.as_mut()).is_pending());
            s
        });
        drop(rt1);
        rt2.block_on(s2.as_mut());
    });
}

#[test]
#[allow(clippy::async_yields_async)]
fn a_sleep_polled_after_its_runtime_dropped_outside_any_runtime_panics_clearly() {
    let _s = serial();
    let rt = Runtime::new().unwrap();
    let mut s = rt.block_on(async {
        let mut s = Box::pin(oneport::time::sleep(Duration::from_secs(60)));
        assert!(poll_once(s.as_mut()).is_pending());
        s
    });
    drop(rt);
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(s.as_mut())))
        .unwrap_err();
    let msg = common::panic_message(&*p);
    assert!(
        msg.contains("oneport::time::sleep") && msg.contains("outside"),
        "unclear panic: {msg}"
    );
}

/// Makes `n` FIFOs (removed on drop).
#[cfg(unix)]
fn fifos(n: usize) -> Vec<Cleanup> {
    (0..n)
        .map(|_| {
            let p = temp_path("fifo");
            let st = std::process::Command::new("mkfifo")
                .arg(&p)
                .status()
                .unwrap();
            assert!(st.success(), "mkfifo failed");
            Cleanup(p)
        })
        .collect()
}

/// Linux: the dropped write and the later one wait in the pool's queue
/// behind opens blocked on FIFOs, then are released together, so without
/// an order between them the later one often lands first.
#[cfg(unix)]
#[test]
fn a_dropped_write_queued_behind_blocked_opens_never_lands_late() {
    let _s = serial();
    within(120, || {
        let path = temp_path("queued");
        let _c = Cleanup(path.clone());
        oneport::run(async {
            let f = Rc::new(File::create(&path).await.unwrap());
            for round in 0..20u8 {
                // Start several pool threads (concurrent calls), so that
                // the two writes can be picked up side by side.
                let warm: Vec<_> = (0..6)
                    .map(|_| {
                        let f = f.clone();
                        spawn(async move { f.metadata().await.map(drop) })
                    })
                    .collect();
                for w in warm {
                    w.await.unwrap();
                }
                let fifos = fifos(4);
                let opens: Vec<_> = fifos
                    .iter()
                    .map(|c| {
                        let p = c.0.clone();
                        spawn(async move { File::open(p).await.map(drop) })
                    })
                    .collect();
                oneport::time::sleep(Duration::from_millis(30)).await;
                let mut dropped = Box::pin(f.write_at(vec![round; 1 << 20], 0));
                let _ = poll_once(dropped.as_mut());
                drop(dropped);
                let f2 = f.clone();
                let later =
                    spawn(async move { f2.write_at(vec![round.wrapping_add(1); 64], 100).await.0 });
                yield_now().await;
                let writers: Vec<_> = fifos
                    .iter()
                    .map(|c| std::fs::OpenOptions::new().write(true).open(&c.0).unwrap())
                    .collect();
                assert_eq!(later.await.unwrap(), 64);
                for o in opens {
                    o.await.unwrap();
                }
                drop(writers);
                let (n, got) = f.read_at(Vec::with_capacity(64), 100).await;
                assert_eq!(n.unwrap(), 64);
                assert!(
                    got.iter().all(|&b| b == round.wrapping_add(1)),
                    "round {round}: the dropped write landed over the later one"
                );
            }
        });
    });
}

/// Linux: with every pool thread busy, a dropped write is still queued;
/// it must never run, even once threads are free again.
#[cfg(unix)]
#[test]
fn a_write_dropped_while_queued_never_runs() {
    let _s = serial();
    within(120, || {
        let path = temp_path("queued-never");
        let _c = Cleanup(path.clone());
        oneport::run(async {
            let f = File::create(&path).await.unwrap();
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let rx = Arc::new(Mutex::new(rx));
            let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
            let blockers: Vec<_> = (0..oneport::MAX_BLOCKING_THREADS)
                .map(|_| {
                    let (rx, started) = (rx.clone(), started_tx.clone());
                    oneport::spawn_blocking(move || {
                        started.send(()).unwrap();
                        let _ = rx.lock().unwrap().recv();
                    })
                })
                .collect();
            // Every pool thread has taken a blocker.
            for _ in 0..oneport::MAX_BLOCKING_THREADS {
                started_rx.recv().unwrap();
            }
            let mut w = Box::pin(f.write_at(vec![7u8; 16], 0));
            assert!(poll_once(w.as_mut()).is_pending());
            drop(w);
            for _ in 0..oneport::MAX_BLOCKING_THREADS {
                tx.send(()).unwrap();
            }
            for b in blockers {
                b.await;
            }
            let (n, _) = f.read_at(Vec::with_capacity(16), 0).await;
            assert_eq!(n.unwrap(), 0, "a write dropped while queued ran later");
        });
    });
}
