//! Spawning, joining, cancelling and detaching tasks.
mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use common::{within, CatchUnwind, DropFlag};
use oneport::{spawn, yield_now, Runtime};

#[test]
fn join_handles_return_the_task_values() {
    let v = oneport::run(async {
        let a = spawn(async { 40u32 });
        let b = spawn(async {
            yield_now().await;
            2u32
        });
        a.await + b.await
    });
    assert_eq!(v, 42);
}

#[test]
fn dropping_a_join_handle_cancels_the_task() {
    oneport::run(async {
        let dropped = Rc::new(Cell::new(false));
        let finished = Rc::new(Cell::new(false));
        let (d, f) = (dropped.clone(), finished.clone());
        let h = spawn(async move {
            let _guard = DropFlag(d);
            oneport::time::sleep(Duration::from_secs(3600)).await;
            f.set(true);
        });
        yield_now().await; // let it start and park
        assert!(!dropped.get());
        drop(h);
        yield_now().await;
        assert!(dropped.get(), "the cancelled task's future was not dropped");
        assert!(!finished.get());
        assert_eq!(
            oneport::lowlevel::statistics().timers,
            0,
            "its timer was not removed"
        );
    });
}

#[test]
fn a_never_polled_task_is_dropped_when_its_handle_is() {
    oneport::run(async {
        let dropped = Rc::new(Cell::new(false));
        let guard = DropFlag(dropped.clone());
        let h = spawn(async move {
            let _guard = guard;
            unreachable!("a cancelled task must never run");
        });
        drop(h);
        yield_now().await;
        assert!(dropped.get());
    });
}

#[test]
fn detached_tasks_keep_running() {
    oneport::run(async {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        spawn(async move {
            oneport::time::sleep(Duration::from_millis(5)).await;
            d.set(true);
        })
        .detach();
        oneport::time::sleep(Duration::from_millis(50)).await;
        assert!(done.get(), "the detached task did not run to completion");
    });
}

#[test]
fn a_panic_in_a_task_resumes_in_its_awaiter_and_others_run_on() {
    oneport::run(async {
        let bad = spawn(async {
            yield_now().await;
            panic!("boom in task");
        });
        let good = spawn(async { 7 });
        let r = CatchUnwind(Box::pin(bad)).await;
        assert!(r.unwrap_err().contains("boom in task"));
        assert_eq!(good.await, 7);
    });
}

#[test]
fn a_panic_in_block_on_propagates_out() {
    let r = std::panic::catch_unwind(|| oneport::run(async { panic!("main boom") }));
    assert!(common::panic_message(&*r.unwrap_err()).contains("main boom"));
    // The thread can run a runtime again afterwards.
    assert_eq!(oneport::run(async { 5 }), 5);
}

#[test]
fn a_hundred_thousand_tasks_complete() {
    within(300, || {
        oneport::run(async {
            let count = Rc::new(Cell::new(0usize));
            let handles: Vec<_> = (0..100_000)
                .map(|i| {
                    let c = count.clone();
                    spawn(async move {
                        if i % 2 == 0 {
                            yield_now().await;
                        }
                        c.set(c.get() + 1);
                        i
                    })
                })
                .collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await as u64;
            }
            assert_eq!(count.get(), 100_000);
            assert_eq!(sum, (0..100_000u64).sum());
            assert_eq!(oneport::lowlevel::statistics().tasks_alive, 0);
        })
    });
}

#[test]
fn pending_tasks_are_dropped_with_the_runtime() {
    let dropped = Rc::new(Cell::new(0));
    let rt = Runtime::new().unwrap();
    let d = dropped.clone();
    rt.block_on(async move {
        for _ in 0..3 {
            let d = d.clone();
            spawn(async move {
                let _guard = Counted(d);
                oneport::time::sleep(Duration::from_secs(3600)).await;
            })
            .detach();
        }
        // One task parked on another's handle.
        let inner = spawn(std::future::pending::<()>());
        spawn(inner).detach();
        yield_now().await;
    });
    assert_eq!(dropped.get(), 0);
    drop(rt);
    assert_eq!(dropped.get(), 3);

    struct Counted(Rc<Cell<i32>>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
}

#[test]
fn tasks_left_pending_run_on_at_the_next_block_on() {
    let rt = Runtime::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    rt.block_on(async move {
        spawn(async move {
            oneport::time::sleep(Duration::from_millis(1)).await;
            l.borrow_mut().push("late task");
        })
        .detach();
    });
    rt.block_on(oneport::time::sleep(Duration::from_millis(20)));
    assert_eq!(*log.borrow(), ["late task"]);
}
