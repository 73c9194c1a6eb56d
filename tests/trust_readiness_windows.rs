//! Windows-only regression test for the panic-safe wake loop: the port's
//! `process_events` wakes waiters of every subsystem (AFD, overlapped,
//! object waits, key monitors) from one list, so a panicking waker of one
//! must not strand the others of the same batch.
#![cfg(windows)]
mod common;
use common::CountingWaker;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use common::within;
use oneport::lowlevel::{current_iocp, monitor_completion_key};
use windows_sys::Win32::System::IO::PostQueuedCompletionStatus;

fn post(key: usize) {
    // SAFETY: posts a packet with no OVERLAPPED to the runtime's open port.
    let ok = unsafe { PostQueuedCompletionStatus(current_iocp(), 1, key, std::ptr::null()) };
    assert_ne!(ok, 0, "PostQueuedCompletionStatus failed");
}

#[test]
fn a_panicking_monitor_waker_does_not_lose_the_next_monitors_wakeup() {
    within(60, || {
        let bad = Arc::new(CountingWaker {
            panics: true,
            woken: AtomicUsize::new(0),
        });
        let good = Arc::new(CountingWaker {
            panics: false,
            woken: AtomicUsize::new(0),
        });
        let rt = oneport::Runtime::new().unwrap();
        let (bad2, good2) = (bad.clone(), good.clone());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async move {
                let mut ma = monitor_completion_key();
                let mut mb = monitor_completion_key();
                let (ka, kb) = (ma.key(), mb.key());
                let mut fa = Box::pin(ma.next());
                let mut fb = Box::pin(mb.next());
                let (bw, gw) = (Waker::from(bad2), Waker::from(good2));
                assert!(fa.as_mut().poll(&mut Context::from_waker(&bw)).is_pending());
                assert!(fb.as_mut().poll(&mut Context::from_waker(&gw)).is_pending());
                // Both packets queued before the loop looks: one batch, the
                // panicking waker first.
                post(ka);
                post(kb);
                for _ in 0..1000 {
                    oneport::time::sleep(Duration::from_millis(1)).await;
                }
            })
        }));
        assert!(r.is_err(), "the waker's panic reaches block_on");
        assert_eq!(bad.woken.load(Ordering::SeqCst), 1);
        assert_eq!(
            good.woken.load(Ordering::SeqCst),
            1,
            "the monitor after the panicking one was never woken"
        );
    });
}
