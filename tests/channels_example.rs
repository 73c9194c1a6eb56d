//! The channels example's functions, run in-process on both platforms:
//! `async-channel`, `async-lock` and `futures-lite` on oneport, with a
//! blocking thread on the far end of the channel and of the lock.
mod common;

#[allow(dead_code)]
#[path = "../examples/channels.rs"]
mod channels;

use std::time::Duration;

use channels::Winner;
use common::within;

#[test]
fn every_value_sent_by_tasks_and_a_thread_arrives_once() {
    let d = within(120, || {
        oneport::run(channels::producers_and_consumers(4, 3, 500))
    });
    assert_eq!(d.values.len(), 5 * 500);
    assert_eq!(d.per_consumer.len(), 3);
    assert_eq!(d.per_consumer.iter().sum::<usize>(), 5 * 500);
}

#[test]
fn one_consumer_and_no_producer_tasks_still_closes() {
    // Only the thread sends; the channel closes when it is done.
    let d = within(60, || {
        oneport::run(channels::producers_and_consumers(0, 1, 100))
    });
    assert_eq!(d.values, (0..100).collect::<Vec<u64>>());
    assert_eq!(d.per_consumer, [100]);
}

#[test]
fn the_lock_loses_no_update_across_awaits_and_threads() {
    let total = within(120, || oneport::run(channels::shared_counter(5, 200)));
    assert_eq!(total, 6 * 200);
}

#[test]
fn the_timer_and_the_channel_each_win_when_they_should() {
    let r = within(60, || oneport::run(channels::races()));
    assert_eq!(r, [Winner::Timer, Winner::Message(7), Winner::Message(8)]);
}

#[test]
fn a_message_from_another_thread_wins_over_the_timer() {
    // The wake of the racing task comes from a plain thread (the pause
    // makes it likely the runtime is blocked in its wait by then; the
    // message must win either way).
    let w = within(60, || {
        oneport::run(async {
            let (tx, rx) = async_channel::bounded(1);
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                tx.send_blocking(42).unwrap()
            });
            let w = channels::recv_or_timer(&rx, Duration::from_secs(3600)).await;
            t.join().unwrap();
            w
        })
    });
    assert_eq!(w, Winner::Message(42));
}

#[test]
fn the_example_runs_from_start_to_end() {
    within(120, channels::main);
}
