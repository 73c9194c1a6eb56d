//! `wait_all_tasks_blocked` returns only once every other task is parked.
mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use oneport::lowlevel::wait_all_tasks_blocked;
use oneport::{spawn, yield_now};

#[test]
fn returns_only_after_busy_tasks_have_parked() {
    oneport::run(async {
        let yields = Rc::new(Cell::new(0));
        let y = yields.clone();
        let busy = spawn(async move {
            for _ in 0..1000 {
                y.set(y.get() + 1);
                yield_now().await;
            }
        });
        let slept = Rc::new(Cell::new(false));
        let s = slept.clone();
        let sleeper = spawn(async move {
            oneport::time::sleep(Duration::from_secs(3600)).await;
            s.set(true);
        });
        // Parked on another task's handle.
        let waiter = spawn(sleeper);
        wait_all_tasks_blocked().await;
        assert_eq!(
            yields.get(),
            1000,
            "returned while a task was still runnable"
        );
        assert!(busy.is_finished());
        assert!(!slept.get());
        drop(waiter);
    });
}

#[test]
fn a_chain_of_wakeups_settles_before_it_returns() {
    oneport::run(async {
        let stage = Rc::new(Cell::new(0));
        let mut prev: Option<oneport::JoinHandle<()>> = None;
        for i in 1..=50 {
            let s = stage.clone();
            let p = prev.take();
            prev = Some(spawn(async move {
                if let Some(p) = p {
                    p.await;
                }
                yield_now().await;
                s.set(i);
            }));
        }
        wait_all_tasks_blocked().await;
        assert_eq!(stage.get(), 50);
    });
}

#[test]
fn a_cancelled_wait_leaves_no_trace() {
    oneport::run(async {
        let r = oneport::time::timeout(Duration::ZERO, wait_all_tasks_blocked()).await;
        // Either outcome is allowed for a zero timeout; afterwards the
        // runtime must still sleep normally (no leftover busy polling).
        let _ = r;
        let before = oneport::lowlevel::statistics();
        oneport::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(before.backend, oneport::lowlevel::statistics().backend);
        wait_all_tasks_blocked().await;
    });
}
