//! Channels, a lock and a race on oneport, all from crates that know
//! nothing about it: `async-channel`, `async-lock` and `futures-lite`.
//!
//! ```sh
//! cargo run --example channels
//! ```
//!
//! Why they work: a runtime-agnostic primitive keeps the `Waker` of each
//! task that waits on it and calls `wake` when it can go on. oneport's
//! wakers are `Send + Sync` and a wake from any thread reaches the runtime,
//! so these crates need no glue, and a plain thread (here, closures on the
//! blocking pool) can sit on the other end. oneport has no channels or
//! locks of its own for that reason.
//!
//! Every step checks its result with `assert!`; `tests/channels_example.rs`
//! runs the same functions natively and under Wine.

use std::sync::Arc;
use std::time::Duration;

use async_lock::Mutex;
use futures_lite::future;

/// Capacity of the producers' channel: small, so fast producers wait for
/// the consumers (back-pressure) instead of filling memory.
const CAPACITY: usize = 4;

/// What [`producers_and_consumers`] delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Every value received, sorted.
    pub values: Vec<u64>,
    /// How many values each consumer took.
    pub per_consumer: Vec<usize>,
}

/// `producers` tasks and one producer on another thread each send
/// `items_each` distinct numbers through one bounded `async-channel`;
/// `consumers` tasks receive until every sender is gone (the channel then
/// closes by itself). Checks that every number arrived exactly once.
pub async fn producers_and_consumers(
    producers: usize,
    consumers: usize,
    items_each: u64,
) -> Delivery {
    let (tx, rx) = async_channel::bounded::<u64>(CAPACITY);
    let senders: Vec<_> = (0..producers as u64)
        .map(|p| {
            let tx = tx.clone();
            oneport::spawn(async move {
                for i in 0..items_each {
                    // Waits while the channel is full.
                    tx.send(p * items_each + i).await.expect("receivers alive");
                }
            })
        })
        .collect();
    // The last producer is a blocking thread: `send_blocking` parks it
    // while the channel is full, and its sends wake the consumers on the
    // runtime's thread.
    let base = producers as u64 * items_each;
    let thread = oneport::spawn_blocking(move || {
        for i in 0..items_each {
            tx.send_blocking(base + i).expect("receivers alive");
        }
    });
    let takers: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = rx.clone();
            oneport::spawn(async move {
                let mut got = Vec::new();
                while let Ok(v) = rx.recv().await {
                    got.push(v);
                }
                got
            })
        })
        .collect();
    drop(rx);
    for s in senders {
        s.await;
    }
    thread.await;
    let mut values = Vec::new();
    let mut per_consumer = Vec::new();
    for t in takers {
        let got = t.await;
        per_consumer.push(got.len());
        values.extend(got);
    }
    values.sort_unstable();
    let expected: Vec<u64> = (0..(producers as u64 + 1) * items_each).collect();
    assert_eq!(values, expected, "every value exactly once");
    Delivery {
        values,
        per_consumer,
    }
}

/// `tasks` tasks and one blocking thread each add 1 to a shared counter
/// `rounds` times under an `async_lock::Mutex`. A task holds the guard
/// across an `.await` (a read, a yield, a write): without mutual exclusion
/// the other tasks would run in between and updates would be lost.
/// Returns the final count, checked to be `(tasks + 1) * rounds`.
pub async fn shared_counter(tasks: usize, rounds: usize) -> usize {
    let counter = Arc::new(Mutex::new(0usize));
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let counter = counter.clone();
            oneport::spawn(async move {
                for _ in 0..rounds {
                    let mut guard = counter.lock().await;
                    let seen = *guard;
                    oneport::yield_now().await; // the others run, and wait for the lock
                    *guard = seen + 1;
                }
            })
        })
        .collect();
    // The same lock from a plain thread: `lock_blocking` parks the thread
    // until a task's guard is dropped on the runtime.
    let from_thread = {
        let counter = counter.clone();
        oneport::spawn_blocking(move || {
            for _ in 0..rounds {
                *counter.lock_blocking() += 1;
            }
        })
    };
    for w in workers {
        w.await;
    }
    from_thread.await;
    let total = *counter.lock().await;
    assert_eq!(total, (tasks + 1) * rounds, "no update lost");
    total
}

/// Which future of a race finished first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    /// The channel gave this message.
    Message(u32),
    /// The timer fired first.
    Timer,
}

/// Races a receive on `rx` against `oneport::time::sleep(limit)` with
/// `futures_lite::future::race`. The loser is dropped; dropping a
/// receive of `async-channel` loses no message.
pub async fn recv_or_timer(rx: &async_channel::Receiver<u32>, limit: Duration) -> Winner {
    future::race(
        async { Winner::Message(rx.recv().await.expect("a sender is alive")) },
        async {
            oneport::time::sleep(limit).await;
            Winner::Timer
        },
    )
    .await
}

/// Both outcomes of [`recv_or_timer`]: with nothing sent the timer wins;
/// a message sent by another task wins over a long timer; and a message
/// sent after a lost race is still there for the next receive.
pub async fn races() -> [Winner; 3] {
    let (tx, rx) = async_channel::unbounded::<u32>();
    let quiet = recv_or_timer(&rx, Duration::from_millis(10)).await;
    assert_eq!(quiet, Winner::Timer, "nothing was sent");

    let sender = {
        let tx = tx.clone();
        oneport::spawn(async move {
            oneport::yield_now().await;
            tx.send(7).await.expect("the receiver is alive");
        })
    };
    // The hour is only a bound: the message comes at the next turn.
    let sent = recv_or_timer(&rx, Duration::from_secs(3600)).await;
    assert_eq!(sent, Winner::Message(7));
    sender.await;

    tx.send(8).await.expect("the receiver is alive");
    let kept = recv_or_timer(&rx, Duration::from_secs(3600)).await;
    assert_eq!(kept, Winner::Message(8), "the dropped receive lost nothing");
    [quiet, sent, kept]
}

/// Runs the three parts with the sizes the command line uses (public so
/// the test can run the whole example too).
#[oneport::main]
pub async fn main() {
    let d = producers_and_consumers(3, 2, 1000).await;
    println!(
        "channel: {} values from 3 tasks and a thread, consumers took {:?}",
        d.values.len(),
        d.per_consumer
    );
    let total = shared_counter(4, 250).await;
    println!("lock: counter at {total} after 4 tasks and a thread, no update lost");
    let r = races().await;
    println!("race: {r:?}");
}
