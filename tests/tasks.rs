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

/// A gate a task waits at until the test opens it.
#[derive(Clone, Default)]
struct Gate(Rc<RefCell<(bool, Option<std::task::Waker>)>>);

impl Gate {
    fn open(&self) {
        let w = {
            let mut g = self.0.borrow_mut();
            g.0 = true;
            g.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            let mut g = self.0.borrow_mut();
            if g.0 {
                std::task::Poll::Ready(())
            } else {
                g.1 = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

#[test]
fn a_join_set_gives_results_in_completion_order() {
    within(20, || {
        oneport::run(async {
            let mut set = oneport::JoinSet::new();
            assert!(set.is_empty());
            assert!(set.join_next().await.is_none());
            let gates: Vec<Gate> = (0..6).map(|_| Gate::default()).collect();
            for (i, g) in gates.iter().enumerate() {
                let g = g.clone();
                set.spawn(async move {
                    g.wait().await;
                    i
                });
            }
            assert_eq!(set.len(), 6);
            let mut got = Vec::new();
            for i in [3, 0, 5, 1, 4, 2] {
                gates[i].open();
                got.push(set.join_next().await.unwrap().unwrap());
            }
            assert_eq!(got, [3, 0, 5, 1, 4, 2]);
            assert!(set.is_empty());
            assert!(set.join_next().await.is_none());

            // Several finished at once come back, all of them, in the
            // order they finished.
            let mut set = oneport::task::JoinSet::new();
            let gates: Vec<Gate> = (0..4).map(|_| Gate::default()).collect();
            for (i, g) in gates.iter().enumerate() {
                let g = g.clone();
                set.spawn(async move {
                    g.wait().await;
                    i
                });
            }
            yield_now().await; // every task is parked at its gate
            for i in [2, 1, 3, 0] {
                gates[i].open();
            }
            let mut got = Vec::new();
            while let Some(r) = set.join_next().await {
                got.push(r.unwrap());
            }
            assert_eq!(got, [2, 1, 3, 0]);
        })
    });
}

#[test]
fn many_tasks_drain_from_a_join_set() {
    within(60, || {
        oneport::run(async {
            let mut set = oneport::JoinSet::new();
            for i in 0..20_000u64 {
                set.spawn(async move {
                    for _ in 0..(i % 3) {
                        yield_now().await;
                    }
                    i
                });
            }
            let mut sum = 0;
            let mut n = 0;
            while let Some(r) = set.join_next().await {
                sum += r.unwrap();
                n += 1;
            }
            assert_eq!(n, 20_000);
            assert_eq!(sum, 20_000 * 19_999 / 2);
        })
    });
}

#[test]
fn a_panic_in_a_join_set_task_is_a_join_error() {
    within(20, || {
        oneport::run(async {
            let mut set = oneport::JoinSet::new();
            set.spawn(async {
                yield_now().await;
                panic!("boom in the set");
            });
            set.spawn(async { 7 });
            let mut values = Vec::new();
            let mut panics = Vec::new();
            while let Some(r) = set.join_next().await {
                match r {
                    Ok(v) => values.push(v),
                    Err(e) => {
                        assert!(e.is_panic() && !e.is_cancelled());
                        panics.push(common::panic_message(&*e.into_panic()));
                    }
                }
            }
            assert_eq!(values, [7]);
            assert_eq!(panics, ["boom in the set"]);
        })
    });
}

#[test]
fn dropping_a_join_set_cancels_its_tasks() {
    within(20, || {
        oneport::run(async {
            let flags: Vec<Rc<Cell<bool>>> = (0..3).map(|_| Rc::default()).collect();
            let mut set = oneport::JoinSet::new();
            for f in &flags {
                let guard = DropFlag(f.clone());
                set.spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                });
            }
            yield_now().await; // they run, and park
            assert!(flags.iter().all(|f| !f.get()));
            drop(set);
            // Cancelled futures are dropped at the runtime's next turn.
            for _ in 0..3 {
                yield_now().await;
            }
            assert!(flags.iter().all(|f| f.get()), "every drop guard ran");
        })
    });
}

#[test]
fn abort_all_reports_each_task_cancelled_and_keeps_finished_values() {
    within(20, || {
        oneport::run(async {
            let flag = Rc::new(Cell::new(false));
            let mut set = oneport::JoinSet::new();
            set.spawn(async { 1 });
            yield_now().await;
            yield_now().await; // the first has completed
            for _ in 0..3 {
                let guard = DropFlag(flag.clone());
                set.spawn(async move {
                    let _guard = guard;
                    std::future::pending::<i32>().await
                });
            }
            set.abort_all();
            assert_eq!(set.len(), 4);
            let mut values = Vec::new();
            let mut cancelled = 0;
            while let Some(r) = set.join_next().await {
                match r {
                    Ok(v) => values.push(v),
                    Err(e) => {
                        assert!(e.is_cancelled());
                        cancelled += 1;
                    }
                }
            }
            assert_eq!(values, [1]);
            assert_eq!(cancelled, 3);
            assert!(flag.get());
        })
    });
}

#[test]
fn detach_all_lets_the_tasks_run_on() {
    within(20, || {
        oneport::run(async {
            let done = Rc::new(Cell::new(0));
            let gates: Vec<Gate> = (0..3).map(|_| Gate::default()).collect();
            let mut set = oneport::JoinSet::new();
            for g in &gates {
                let (d, g) = (done.clone(), g.clone());
                set.spawn(async move {
                    g.wait().await;
                    d.set(d.get() + 1);
                });
            }
            set.detach_all();
            assert!(set.is_empty());
            assert!(set.join_next().await.is_none());
            drop(set);
            yield_now().await; // they park at their gates, still alive
            gates.iter().for_each(Gate::open);
            for _ in 0..3 {
                yield_now().await;
            }
            assert_eq!(done.get(), 3);
        })
    });
}
