//! Windows-only regressions of the trust review for files: a dropped
//! overlapped write that had reached the kernel is not cancelled (its effect
//! would be unknown) but completed on the runtime, before the file's next
//! call; and a runtime dropped with such a write still closes its handles.
#![cfg(windows)]
mod common;
use common::temp_path;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use common::stress::open_handles;
use common::within;
use oneport::fs::File;
use oneport::Runtime;

/// One test here counts the process's handles: the tests run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn a_started_write_that_is_dropped_completes_before_the_next_call() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    within(60, || {
        let path = temp_path("started");
        oneport::run(async {
            let f = File::create(&path).await.unwrap();
            const BIG: usize = 1 << 20;
            let mut w = Box::pin(f.write_at(vec![1u8; BIG], 0));
            assert!(poll_once(w.as_mut()).is_pending());
            drop(w);
            let st = oneport::lowlevel::statistics();
            assert_eq!(
                st.overlapped_orphaned, 0,
                "the started write was cancelled instead of completed"
            );
            let (n, _) = f.write_at(vec![2u8; 64], 100).await;
            assert_eq!(n.unwrap(), 64);
            assert_eq!(f.metadata().await.unwrap().len(), BIG as u64);
            let (n, got) = f.read_at(Vec::with_capacity(BIG), 0).await;
            assert_eq!(n.unwrap(), BIG);
            assert!(got[..100].iter().all(|&b| b == 1));
            assert!(got[100..164].iter().all(|&b| b == 2));
            assert!(got[164..].iter().all(|&b| b == 1));
        });
        let _ = std::fs::remove_file(&path);
    });
}

#[test]
fn a_runtime_dropped_with_a_moved_write_closes_its_handles() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    within(60, || {
        let path = temp_path("teardown");
        let round = || {
            let rt = Runtime::new().unwrap();
            rt.block_on(async {
                let f = File::create(&path).await.unwrap();
                let mut w = Box::pin(f.write_at(vec![3u8; 1 << 16], 0));
                let _ = poll_once(w.as_mut());
                drop(w);
                drop(f);
            });
            drop(rt);
        };
        round();
        let before = open_handles();
        for _ in 0..20 {
            round();
        }
        let after = open_handles();
        assert!(after <= before, "handles went from {before} to {after}");
        let _ = std::fs::remove_file(&path);
    });
}
