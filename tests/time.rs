//! Timers: ordering, zero sleeps, timeouts, scale; the named futures
//! (`Sleep`, `Timeout`, `Interval`): reset, fixed deadlines, missed ticks,
//! and that no dropped timer stays registered.
mod common;

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{within, DropFlag, Rng};
use oneport::lowlevel::statistics;
use oneport::spawn;
use oneport::time::{
    interval, interval_at, sleep, sleep_until, timeout, timeout_at, Elapsed, Interval,
    MissedTickBehavior, Sleep, Timeout,
};

const MS: Duration = Duration::from_millis(1);

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

/// Polls `fut` once; true if it completed.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> bool {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx).is_ready())).await
}

#[test]
fn a_sleep_deadline_is_fixed_when_it_is_made_not_when_first_polled() {
    within(60, || {
        oneport::run(async {
            let before = Instant::now();
            let s: Sleep = sleep(40 * MS);
            let after = Instant::now();
            let d = s.deadline();
            assert!(d >= before + 40 * MS && d <= after + 40 * MS, "{d:?}");
            // Waiting before the first poll does not push the deadline.
            std::thread::sleep(25 * MS);
            assert_eq!(s.deadline(), d);
            s.await;
            assert!(Instant::now() >= d);
            // The same for timeout: the limit counts from the call.
            let t: Timeout<_> = timeout(30 * MS, std::future::pending::<()>());
            let limit = t.deadline();
            std::thread::sleep(40 * MS);
            assert_eq!(t.deadline(), limit);
            assert!(t.await.is_err());
            assert_eq!(statistics().timers, 0);
        })
    });
}

#[test]
fn reset_moves_a_sleep_later_and_earlier() {
    within(60, || {
        oneport::run(async {
            // Later, before the first poll.
            let mut s = sleep(5 * MS);
            let later = Instant::now() + 40 * MS;
            Pin::new(&mut s).reset(later);
            assert_eq!(s.deadline(), later);
            (&mut s).await;
            assert!(Instant::now() >= later, "fired at the old deadline");

            // Earlier, while registered: an hour becomes 10 ms.
            let mut s = sleep(Duration::from_secs(3600));
            assert!(!poll_once(&mut s).await);
            assert_eq!(statistics().timers, 1);
            let earlier = Instant::now() + 10 * MS;
            Pin::new(&mut s).reset(earlier);
            assert_eq!(statistics().timers, 1, "a reset added a timer");
            (&mut s).await;
            assert!(Instant::now() >= earlier);
            assert_eq!(statistics().timers, 0);

            // Later, while registered: it must not fire at the old time.
            let mut s = sleep(5 * MS);
            assert!(!poll_once(&mut s).await);
            let later = Instant::now() + 40 * MS;
            Pin::new(&mut s).reset(later);
            (&mut s).await;
            assert!(Instant::now() >= later, "fired at the old deadline");

            // Into the past: completes after one yield.
            let mut s = sleep(Duration::from_secs(3600));
            assert!(!poll_once(&mut s).await);
            Pin::new(&mut s).reset(Instant::now() - 5 * MS);
            assert!(s.is_elapsed());
            (&mut s).await;
            assert_eq!(statistics().timers, 0);
        })
    });
}

#[test]
fn a_reset_wakes_the_task_already_waiting_at_the_new_deadline() {
    within(60, || {
        oneport::run(async {
            let shared: Rc<RefCell<Sleep>> =
                Rc::new(RefCell::new(sleep(Duration::from_secs(3600))));
            let s = shared.clone();
            let waiter = spawn(async move {
                poll_fn(|cx| Pin::new(&mut *s.borrow_mut()).poll(cx)).await;
                Instant::now()
            });
            oneport::yield_now().await;
            assert!(!waiter.is_finished());
            let new = Instant::now() + 10 * MS;
            Pin::new(&mut *shared.borrow_mut()).reset(new);
            let woke = waiter.await;
            assert!(woke >= new);
        })
    });
}

#[test]
fn a_completed_sleep_reset_is_pending_again() {
    within(60, || {
        oneport::run(async {
            let mut s = sleep(MS);
            (&mut s).await;
            assert!(s.is_elapsed());
            let again = Instant::now() + 20 * MS;
            Pin::new(&mut s).reset(again);
            assert!(!s.is_elapsed());
            (&mut s).await;
            assert!(Instant::now() >= again);
            assert!(s.is_elapsed());
        })
    });
}

#[test]
fn is_elapsed_follows_the_clock() {
    let s = sleep(20 * MS);
    assert!(!s.is_elapsed());
    std::thread::sleep(25 * MS);
    assert!(s.is_elapsed(), "is_elapsed needs no runtime and no poll");
    assert!(sleep_until(Instant::now() - MS).is_elapsed());
    assert!(!sleep(Duration::MAX).is_elapsed());
}

#[test]
fn dropped_and_reset_sleeps_leave_no_timer_behind() {
    within(120, || {
        oneport::run(async {
            let mut sleeps: Vec<Sleep> = (0..10_000u64)
                .map(|i| sleep(Duration::from_secs(60 + i % 100)))
                .collect();
            for s in &mut sleeps {
                assert!(!poll_once(s).await);
            }
            assert_eq!(statistics().timers, 10_000);
            // Resetting keeps one timer per sleep.
            for (i, s) in sleeps.iter_mut().enumerate() {
                let d = Instant::now() + Duration::from_secs(30 + i as u64 % 7);
                Pin::new(s).reset(d);
            }
            assert_eq!(statistics().timers, 10_000);
            drop(sleeps);
            assert_eq!(statistics().timers, 0);

            // Tasks holding sleeps, aborted: their timers go with them.
            let tasks: Vec<_> = (0..1_000)
                .map(|_| spawn(sleep(Duration::from_secs(3600))))
                .collect();
            oneport::yield_now().await;
            assert_eq!(statistics().timers, 1_000);
            drop(tasks);
            oneport::yield_now().await;
            assert_eq!(statistics().timers, 0);

            // Timeouts whose future wins release their timer at once.
            for i in 0..10_000u32 {
                assert_eq!(timeout(Duration::from_secs(60), async { i }).await, Ok(i));
            }
            let mut t = pin!(timeout(Duration::from_secs(60), async {
                oneport::yield_now().await;
                7
            }));
            assert!(!poll_once(&mut t).await);
            assert_eq!(statistics().timers, 1);
            assert_eq!(t.await, Ok(7));
            assert_eq!(statistics().timers, 0);
        })
    });
}

#[test]
fn timeout_at_gives_up_at_its_deadline_and_lets_a_ready_future_win() {
    within(60, || {
        oneport::run(async {
            let deadline = Instant::now() + 15 * MS;
            let r = timeout_at(deadline, std::future::pending::<u8>()).await;
            assert!(r.is_err());
            assert!(Instant::now() >= deadline);
            let e: Elapsed = r.unwrap_err();
            assert!(e.to_string().contains("elapsed"), "{e}");
            // A deadline in the past still polls the future once.
            let past = Instant::now() - 5 * MS;
            assert_eq!(timeout_at(past, async { 4 }).await, Ok(4));
            assert!(timeout_at(past, std::future::pending::<()>())
                .await
                .is_err());
            // In time.
            let r = timeout_at(Instant::now() + Duration::from_secs(30), sleep(MS)).await;
            assert_eq!(r, Ok(()));
            assert_eq!(statistics().timers, 0);
        })
    });
}

#[test]
fn a_timed_out_future_is_dropped_before_elapsed_is_returned() {
    within(60, || {
        oneport::run(async {
            let dropped = Rc::new(Cell::new(false));
            let d = dropped.clone();
            let mut t = pin!(timeout(10 * MS, async move {
                let _guard = DropFlag(d);
                std::future::pending::<()>().await
            }));
            assert!(t.as_mut().await.is_err());
            // The Timeout itself is still alive here.
            assert!(dropped.get(), "the inner future outlived the timeout");
        })
    });
}

#[test]
fn a_zero_period_interval_is_invalid_input_not_a_panic() {
    let e = interval(Duration::ZERO).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = interval_at(Instant::now(), Duration::ZERO).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let i = interval(Duration::from_nanos(1)).unwrap();
    assert_eq!(i.period(), Duration::from_nanos(1));
}

#[test]
fn interval_ticks_at_its_schedule_the_first_at_once() {
    within(60, || {
        oneport::run(async {
            let period = 15 * MS;
            let mut i: Interval = interval(period).unwrap();
            assert_eq!(i.period(), period);
            assert_eq!(i.missed_tick_behavior(), MissedTickBehavior::Burst);
            let first = i.tick().await;
            assert!(first <= Instant::now());
            let mut prev = first;
            for _ in 0..4 {
                let t = i.tick().await;
                assert_eq!(t, prev + period, "off the schedule");
                assert!(Instant::now() >= t, "a tick came early");
                prev = t;
            }
            // interval_at: the first tick at `start`.
            let start = Instant::now() + 20 * MS;
            let mut i = interval_at(start, period).unwrap();
            assert_eq!(i.tick().await, start);
            assert!(Instant::now() >= start);
            assert_eq!(i.tick().await, start + period);
            drop(i);
            assert_eq!(statistics().timers, 0);
        })
    });
}

/// Takes the first tick, blocks the thread past three more, and returns
/// the interval, its start and the instant just before the late tick.
async fn fall_behind(behavior: MissedTickBehavior) -> (Interval, Instant, Instant) {
    let mut i = interval(10 * MS).unwrap();
    i.set_missed_tick_behavior(behavior);
    assert_eq!(i.missed_tick_behavior(), behavior);
    let start = i.tick().await;
    std::thread::sleep(35 * MS);
    let before = Instant::now();
    // The tick due at +10 ms comes at once whatever the behaviour.
    assert_eq!(i.tick().await, start + 10 * MS);
    (i, start, before)
}

#[test]
fn burst_delivers_every_missed_tick_then_keeps_the_schedule() {
    within(60, || {
        oneport::run(async {
            let (mut i, start, _) = fall_behind(MissedTickBehavior::Burst).await;
            assert_eq!(i.tick().await, start + 20 * MS);
            assert_eq!(i.tick().await, start + 30 * MS);
            let t = i.tick().await;
            assert_eq!(t, start + 40 * MS);
            assert!(Instant::now() >= t);
        })
    });
}

#[test]
fn delay_counts_the_next_period_from_the_late_tick() {
    within(60, || {
        oneport::run(async {
            let (mut i, start, before) = fall_behind(MissedTickBehavior::Delay).await;
            let t = i.tick().await;
            assert!(
                t >= before + 10 * MS,
                "{:?} after the late tick",
                t - before
            );
            assert!(Instant::now() >= t);
            assert_ne!(t, start + 20 * MS, "a missed tick was delivered");
            // Then on the new schedule (or later still, if this thread
            // was held up again: never earlier).
            assert!(i.tick().await >= t + 10 * MS);
        })
    });
}

#[test]
fn skip_drops_missed_ticks_and_stays_on_the_original_grid() {
    within(60, || {
        oneport::run(async {
            let (mut i, start, before) = fall_behind(MissedTickBehavior::Skip).await;
            let t = i.tick().await;
            assert!(t > before, "a missed tick was delivered");
            let since = (t - start).as_nanos();
            assert_eq!(since % (10 * MS).as_nanos(), 0, "off the grid: {since} ns");
            assert!(Instant::now() >= t);
            let t2 = i.tick().await;
            assert!(t2 >= t + 10 * MS);
            assert_eq!((t2 - start).as_nanos() % (10 * MS).as_nanos(), 0);
        })
    });
}

#[test]
fn interval_reset_restarts_the_schedule_from_now() {
    within(60, || {
        oneport::run(async {
            let mut i = interval(Duration::from_secs(3600)).unwrap();
            i.tick().await;
            let period = 20 * MS;
            let mut i2 = interval(period).unwrap();
            i2.tick().await;
            let before = Instant::now();
            i2.reset();
            let t = i2.tick().await;
            assert!(t >= before + period);
            let at = Instant::now() + 5 * MS;
            i.reset_at(at);
            assert_eq!(i.tick().await, at);
            drop((i, i2));
            assert_eq!(statistics().timers, 0);
        })
    });
}

/// A sleep kept in a struct and polled by hand: the point of a named type.
struct Debounce {
    sleep: Sleep,
    fired: u32,
}

impl Future for Debounce {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<u32> {
        let this = &mut *self;
        while Pin::new(&mut this.sleep).poll(cx).is_ready() {
            this.fired += 1;
            if this.fired == 3 {
                return Poll::Ready(this.fired);
            }
            let next = this.sleep.deadline() + 5 * MS;
            Pin::new(&mut this.sleep).reset(next);
        }
        Poll::Pending
    }
}

#[test]
fn a_sleep_stored_in_a_struct_can_be_polled_and_reset_by_hand() {
    within(60, || {
        let n = oneport::run(Debounce {
            sleep: sleep(5 * MS),
            fired: 0,
        });
        assert_eq!(n, 3);
    });
}

/// `Sleep` crosses threads: hyper's timer (and any `Send` future holding a
/// sleep) needs `Send + Sync`.
#[test]
fn sleep_is_send_and_sync_and_a_registered_sleep_dropped_on_another_thread_is_forgotten() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    within(30, || {
        oneport::run(async {
            let mut s = sleep(Duration::from_secs(3600));
            send_sync(&s);
            // Register it with this runtime.
            let first = poll_fn(|cx| Poll::Ready(Pin::new(&mut s).poll(cx))).await;
            assert!(first.is_pending());
            assert_eq!(statistics().timers, 1);
            std::thread::spawn(move || drop(s)).join().unwrap();
            // The loop forgets it at its next turn.
            for _ in 0..100 {
                if statistics().timers == 0 {
                    break;
                }
                oneport::yield_now().await;
            }
            assert_eq!(
                statistics().timers,
                0,
                "the dropped sleep stayed registered"
            );
        })
    });
}

/// A sleep registered with one runtime and then polled on another thread's
/// runtime completes there at its deadline, and the first runtime forgets it.
#[test]
fn a_sleep_moved_to_another_runtime_completes_there() {
    within(30, || {
        let rt = oneport::Runtime::new().unwrap();
        let mut s = Box::pin(sleep(Duration::from_millis(50)));
        rt.block_on(async {
            let first = poll_fn(|cx| Poll::Ready(s.as_mut().poll(cx))).await;
            assert!(first.is_pending());
            assert_eq!(statistics().timers, 1);
        });
        let t0 = Instant::now();
        let s = std::thread::spawn(move || {
            oneport::run(async move {
                (&mut s).await;
                assert!(s.is_elapsed());
                assert_eq!(statistics().timers, 0);
            })
        });
        s.join().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(20));
        rt.block_on(async {
            oneport::yield_now().await;
            assert_eq!(
                statistics().timers,
                0,
                "the first runtime kept the moved sleep"
            );
        });
    });
}

/// Reset on another thread while registered: the move reaches the runtime
/// at the next poll, and the sleep completes at the new deadline.
#[test]
fn a_sleep_reset_away_from_its_runtime_takes_the_new_deadline() {
    within(30, || {
        oneport::run(async {
            let mut s = Box::pin(sleep(Duration::from_secs(3600)));
            let first = poll_fn(|cx| Poll::Ready(s.as_mut().poll(cx))).await;
            assert!(first.is_pending());
            let soon = Instant::now() + Duration::from_millis(20);
            let s = std::thread::spawn(move || {
                s.as_mut().reset(soon);
                s
            })
            .join()
            .unwrap();
            s.await;
            assert!(Instant::now() >= soon);
            assert_eq!(statistics().timers, 0);
        })
    });
}

/// A sleep whose runtime is gone can still be dropped anywhere, and a new
/// runtime is never mistaken for the old one (ids are never reused).
#[test]
fn a_sleep_outliving_its_runtime_drops_quietly_and_a_new_runtime_takes_it_fresh() {
    within(30, || {
        let rt = oneport::Runtime::new().unwrap();
        let mut a = Box::pin(sleep(Duration::from_secs(3600)));
        let mut b = Box::pin(sleep(Duration::from_millis(20)));
        rt.block_on(async {
            let pa = poll_fn(|cx| Poll::Ready(a.as_mut().poll(cx))).await;
            let pb = poll_fn(|cx| Poll::Ready(b.as_mut().poll(cx))).await;
            assert!(pa.is_pending() && pb.is_pending());
        });
        drop(rt);
        std::thread::spawn(move || drop(a)).join().unwrap();
        oneport::run(async move {
            b.as_mut().await;
            assert_eq!(statistics().timers, 0);
        });
    });
}
