//! One runtime per thread: spawning across runtimes, the remote handles'
//! outcomes and cancellation, stopping the pool, and one port served by
//! every runtime.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::within;
use oneport::pool::Pool;

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_string()
}

/// Sets its flag when dropped: shows a task's future was dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Waits (generously) until `flag` is set.
fn eventually(flag: &AtomicBool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if flag.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn a_pool_of_zero_runtimes_is_an_error() {
    let e = Pool::new(0).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn spawn_on_runs_on_the_chosen_runtimes_thread() {
    within(30, || {
        let pool = Pool::new(3).unwrap();
        assert_eq!(pool.len(), 3);
        let handles: Vec<_> = (0..3)
            .map(|i| pool.spawn_on(i, async { thread_name() }).unwrap())
            .collect();
        let names = oneport::run(async {
            let mut names = Vec::new();
            for h in handles {
                names.push(h.await);
            }
            names
        });
        assert_eq!(
            names,
            ["oneport-pool-0", "oneport-pool-1", "oneport-pool-2"]
        );
        let e = pool.spawn_on(3, async {}).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    });
}

#[test]
fn spawn_spreads_round_robin_and_local_tasks_may_hold_non_send_state() {
    within(30, || {
        let pool = Pool::new(2).unwrap();
        let a = pool.spawn(async { thread_name() });
        let b = pool.spawn(async { thread_name() });
        let local = pool
            .spawn_local_on(1, || {
                let shared = std::rc::Rc::new(std::cell::Cell::new(20));
                async move {
                    oneport::time::sleep(Duration::from_millis(1)).await;
                    shared.set(shared.get() + 1);
                    (shared.get(), thread_name())
                }
            })
            .unwrap();
        let (a, b, local) = oneport::run(async { (a.await, b.await, local.await) });
        assert_ne!(a, b);
        assert_eq!(local, (21, "oneport-pool-1".to_string()));
        assert!(pool.spawn_local_on(2, || async {}).is_err());
    });
}

#[test]
fn a_handle_from_another_thread_spawns_and_block_on_waits() {
    within(30, || {
        let pool = Pool::new(2).unwrap();
        let handle = pool.handle();
        let from_thread = std::thread::spawn(move || oneport::run(handle.spawn(async { 7 })))
            .join()
            .unwrap();
        assert_eq!(from_thread, 7);
        assert!(pool
            .block_on(async { thread_name() })
            .starts_with("oneport-pool-"));
    });
}

#[test]
fn panics_reach_the_handle() {
    within(30, || {
        let pool = Pool::new(1).unwrap();
        let in_task = pool.spawn(async { panic!("boom in task") });
        let in_make =
            pool.spawn_local_on(0, || -> std::future::Ready<()> { panic!("boom in make") });
        let resumed = pool.spawn(async { panic!("resumed") });
        let (a, b) = oneport::run(async { (in_task.join().await, in_make.unwrap().join().await) });
        assert!(a.unwrap_err().is_panic());
        let b = b.unwrap_err();
        assert_eq!(common::panic_message(&*b.into_panic()), "boom in make");
        let p = panic::catch_unwind(AssertUnwindSafe(|| oneport::run(resumed))).unwrap_err();
        assert_eq!(common::panic_message(&*p), "resumed");
        // The runtime survived all three.
        assert_eq!(pool.block_on(async { 1 }), 1);
    });
}

#[test]
fn dropping_a_handle_cancels_and_abort_reports_cancelled() {
    within(30, || {
        let pool = Pool::new(1).unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        let h = pool.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        // Let it start, then drop the handle.
        std::thread::sleep(Duration::from_millis(20));
        drop(h);
        assert!(eventually(&dropped), "the task's future was not dropped");

        let aborted = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(aborted.clone());
        let h = pool.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        h.abort();
        let e = oneport::run(h.join()).unwrap_err();
        assert!(e.is_cancelled());
        assert!(aborted.load(Ordering::SeqCst));
    });
}

#[test]
fn a_detached_task_runs_on() {
    within(30, || {
        let pool = Pool::new(1).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        pool.spawn_local_on(0, move || async move {
            oneport::time::sleep(Duration::from_millis(20)).await;
            flag.store(true, Ordering::SeqCst);
        })
        .unwrap()
        .detach();
        assert!(eventually(&done));
    });
}

#[test]
fn dropping_the_pool_drops_its_tasks_and_late_spawns_are_cancelled() {
    within(30, || {
        let pool = Pool::new(2).unwrap();
        let handle = pool.handle();
        let flags: Vec<_> = (0..8).map(|_| Arc::new(AtomicBool::new(false))).collect();
        for flag in &flags {
            let guard = SetOnDrop(flag.clone());
            pool.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            })
            .detach();
        }
        let pending = pool.spawn(std::future::pending::<()>());
        drop(pool);
        // Drop returned: every runtime was dropped, and with it every task.
        assert!(flags.iter().all(|f| f.load(Ordering::SeqCst)));
        assert!(oneport::run(pending.join()).unwrap_err().is_cancelled());
        let late = handle.spawn(async { 1 });
        assert!(oneport::run(late.join()).unwrap_err().is_cancelled());
    });
}

#[test]
fn serve_spreads_connections_over_the_runtimes_and_echoes_every_byte() {
    within(60, || {
        let pool = Pool::new(2).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let addr = pool
            .serve(addr, move |stream, _peer| {
                record.lock().unwrap().push(thread_name());
                async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if stream.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            })
            .unwrap();
        let clients: Vec<_> = (0..32u8)
            .map(|c| {
                std::thread::spawn(move || {
                    let mut s = std::net::TcpStream::connect(addr).unwrap();
                    let sent: Vec<u8> = (0..64 * 1024).map(|i| (i as u8) ^ c).collect();
                    let mut writer = s.try_clone().unwrap();
                    let data = sent.clone();
                    let w = std::thread::spawn(move || {
                        writer.write_all(&data).unwrap();
                        writer.shutdown(std::net::Shutdown::Write).unwrap();
                    });
                    let mut got = Vec::new();
                    s.read_to_end(&mut got).unwrap();
                    w.join().unwrap();
                    assert!(got == sent, "client {c}: echoed bytes differ");
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 32);
        let mut runtimes: Vec<_> = seen.clone();
        runtimes.sort();
        runtimes.dedup();
        assert_eq!(runtimes.len(), 2, "connections stayed on {runtimes:?}");
    });
}

#[allow(dead_code)]
#[path = "../examples/multicore_echo.rs"]
mod multicore_echo;

#[test]
fn the_multicore_echo_demo_checks_every_byte() {
    let report = within(120, || multicore_echo::demo(2, 50, 32 * 1024).unwrap());
    assert!(report.starts_with("50 connections"), "{report}");
}
