//! Timers: ordering, zero sleeps, timeouts, scale.
mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{within, DropFlag, Rng};
use oneport::spawn;
use oneport::time::{sleep, sleep_until, timeout, Elapsed};

#[test]
fn timers_fire_in_deadline_order() {
    let order = oneport::run(async {
        let order = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = [30u64, 10, 50, 20, 40]
            .into_iter()
            .map(|ms| {
                let o = order.clone();
                spawn(async move {
                    sleep(Duration::from_millis(ms)).await;
                    o.borrow_mut().push(ms);
                })
            })
            .collect();
        for h in handles {
            h.await;
        }
        order.take()
    });
    assert_eq!(order, [10, 20, 30, 40, 50]);
}

#[test]
fn a_sleep_lasts_at_least_its_duration() {
    oneport::run(async {
        let start = Instant::now();
        sleep(Duration::from_millis(30)).await;
        assert!(start.elapsed() >= Duration::from_millis(30));
        let deadline = Instant::now() + Duration::from_millis(15);
        sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
    });
}

#[test]
fn sleep_zero_yields_to_other_tasks() {
    oneport::run(async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        spawn(async move { r.set(true) }).detach();
        sleep(Duration::ZERO).await;
        assert!(ran.get(), "sleep(0) did not let the other task run");
        // A deadline in the past also yields.
        let ran2 = Rc::new(Cell::new(false));
        let r2 = ran2.clone();
        spawn(async move { r2.set(true) }).detach();
        sleep_until(Instant::now() - Duration::from_millis(5)).await;
        assert!(ran2.get());
    });
}

#[test]
fn timeout_returns_elapsed_and_drops_the_inner_future() {
    oneport::run(async {
        let dropped = Rc::new(Cell::new(false));
        let d = dropped.clone();
        let r: Result<(), Elapsed> = timeout(Duration::from_millis(10), async move {
            let _guard = DropFlag(d);
            std::future::pending::<()>().await
        })
        .await;
        let e = r.unwrap_err();
        assert!(dropped.get(), "the timed-out future was not dropped");
        assert!(e.to_string().contains("elapsed"));
        let as_io: std::io::Error = e.into();
        assert_eq!(as_io.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(oneport::lowlevel::statistics().timers, 0);
    });
}

#[test]
fn timeout_returns_the_value_when_in_time() {
    oneport::run(async {
        assert_eq!(timeout(Duration::ZERO, async { 3 }).await, Ok(3));
        let v = timeout(Duration::from_secs(30), async {
            sleep(Duration::from_millis(1)).await;
            9
        })
        .await;
        assert_eq!(v, Ok(9));
        assert_eq!(
            oneport::lowlevel::statistics().timers,
            0,
            "the unused timer was not removed"
        );
    });
}

#[test]
fn a_huge_duration_does_not_overflow() {
    oneport::run(async {
        let r = timeout(Duration::MAX, async { 1 }).await;
        assert_eq!(r, Ok(1));
        let r = timeout(Duration::from_millis(5), sleep(Duration::MAX)).await;
        assert!(r.is_err());
    });
}

#[test]
fn a_hundred_thousand_concurrent_sleeps_complete() {
    within(300, || {
        oneport::run(async {
            let fired = Rc::new(Cell::new(0usize));
            let mut rng = Rng(0x1234_5678);
            let start = Instant::now();
            let handles: Vec<_> = (0..100_000)
                .map(|_| {
                    let f = fired.clone();
                    let d = Duration::from_micros(rng.below(50_000));
                    spawn(async move {
                        let deadline = start + d;
                        sleep_until(deadline).await;
                        assert!(Instant::now() >= deadline);
                        f.set(f.get() + 1);
                    })
                })
                .collect();
            for h in handles {
                h.await;
            }
            assert_eq!(fired.get(), 100_000);
            assert_eq!(oneport::lowlevel::statistics().timers, 0);
        })
    });
}
