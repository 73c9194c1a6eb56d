//! Misuse of the runtime gives clear panics, not hangs or crashes.
mod common;

use common::panic_message;

fn message_of(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    panic_message(&*std::panic::catch_unwind(f).expect_err("expected a panic"))
}

#[test]
fn spawn_outside_a_runtime_says_so() {
    let m = message_of(|| drop(oneport::spawn(async {})));
    assert!(
        m.contains("oneport::spawn") && m.contains("inside a oneport runtime"),
        "{m}"
    );
}

#[test]
fn statistics_outside_a_runtime_says_so() {
    let m = message_of(|| {
        let _ = oneport::lowlevel::statistics();
    });
    assert!(
        m.contains("statistics") && m.contains("inside a oneport runtime"),
        "{m}"
    );
}

#[test]
fn sleep_outside_a_runtime_says_so() {
    let m = message_of(|| {
        let mut fut = Box::pin(oneport::time::sleep(std::time::Duration::from_secs(1)));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = fut.as_mut().poll(&mut cx);
    });
    assert!(
        m.contains("sleep") && m.contains("inside a oneport runtime"),
        "{m}"
    );
    use std::future::Future;
}

#[test]
fn nested_block_on_says_so() {
    let m = message_of(|| {
        oneport::run(async {
            oneport::run(async {});
        })
    });
    assert!(m.contains("nested"), "{m}");
    // The outer runtime was unwound cleanly: the thread can run one again.
    assert_eq!(oneport::run(async { 1 }), 1);
}

#[test]
fn two_runtimes_on_one_thread_take_turns() {
    let a = oneport::Runtime::new().unwrap();
    let b = oneport::Runtime::new().unwrap();
    assert_eq!(a.block_on(async { 1 }) + b.block_on(async { 2 }), 3);
}
