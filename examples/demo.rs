//! A tour of the run loop: thousands of concurrent timers, a CPU-bound job
//! on a plain thread whose result wakes the runtime from outside, a
//! timeout, and the I/O manager's statistics.
//!
//! Run it with `cargo run --example demo`.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// A result computed on another thread, delivered through a `Waker`.
struct Delivery<T> {
    slot: Mutex<(Option<T>, Option<Waker>)>,
}

impl<T> Delivery<T> {
    fn put(&self, v: T) {
        let mut s = self.slot.lock().unwrap();
        s.0 = Some(v);
        if let Some(w) = s.1.take() {
            w.wake(); // from a foreign thread: wakes the blocked runtime
        }
    }
    async fn take(&self) -> T {
        std::future::poll_fn(|cx| {
            let mut s = self.slot.lock().unwrap();
            match s.0.take() {
                Some(v) => Poll::Ready(v),
                None => {
                    s.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

fn count_primes(below: u64) -> usize {
    (2..below)
        .filter(|n| (2..).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .count()
}

fn main() {
    let start = Instant::now();
    oneport::run(async {
        // 1. Ten thousand timers with spread-out deadlines.
        let fired = Rc::new(Cell::new(0u32));
        let timers: Vec<_> = (0..10_000u64)
            .map(|i| {
                let fired = fired.clone();
                oneport::spawn(async move {
                    oneport::time::sleep(Duration::from_micros((i * 7919) % 200_000)).await;
                    fired.set(fired.get() + 1);
                })
            })
            .collect();

        // 2. A CPU-bound job on an ordinary thread; its result wakes us.
        let delivery = Arc::new(Delivery {
            slot: Mutex::new((None, None)),
        });
        let d = delivery.clone();
        std::thread::spawn(move || d.put(count_primes(200_000)));
        let primes = delivery.take().await;
        println!("worker thread: {primes} primes below 200000, delivered across threads");

        // 3. A timeout that expires, and one that does not.
        let slow = oneport::time::timeout(
            Duration::from_millis(20),
            oneport::time::sleep(Duration::from_secs(60)),
        )
        .await;
        let quick = oneport::time::timeout(Duration::from_secs(60), async { 42 }).await;
        println!(
            "timeouts: slow -> {:?}, quick -> {:?}",
            slow.map_err(|e| e.to_string()),
            quick
        );

        let mid = oneport::lowlevel::statistics();
        println!(
            "mid-run: backend {}, {} tasks alive, {} timers pending",
            mid.backend, mid.tasks_alive, mid.timers
        );
        for t in timers {
            t.await;
        }
        println!("timers: {} of 10000 fired", fired.get());
        let s = oneport::lowlevel::statistics();
        println!(
            "end: {} tasks alive, {} timers, {} cross-thread wakeups received",
            s.tasks_alive, s.timers, s.wakeups_received
        );
    });
    println!("done in {:.0?}", start.elapsed());
}
