//! io_uring operations that the kernel really holds when their future is
//! dropped: a read of an empty FIFO (opened through `fs::File`) waits in
//! the kernel until cancelled. Dropping it must cancel it (the data written
//! afterwards goes to the next read, not to the dropped one), the file's
//! next call must wait for its completion, and dropping a runtime with such
//! reads in flight must release every fd. Linux with the ring only (on the
//! pool a positional read of a FIFO fails at once with `ESPIPE`); this is
//! the only test of its binary because it counts fds.
#![cfg(target_os = "linux")]
mod common;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use common::stress::open_handles;
use common::within;
use oneport::fs::OpenOptions;
use oneport::lowlevel::statistics;
use oneport::Runtime;

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

async fn turns(n: usize) {
    for _ in 0..n {
        oneport::yield_now().await;
    }
}

#[test]
fn ring_reads_dropped_in_flight_are_cancelled_and_release_everything() {
    within(120, || {
        let path = std::env::temp_dir().join(format!("oneport-ring-cancel-{}", std::process::id()));
        let st = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success(), "mkfifo failed");
        let backend = Runtime::new()
            .unwrap()
            .block_on(async { statistics().file_backend });
        if backend != "io_uring" {
            eprintln!("file backend is {backend}: nothing to test here");
            let _ = std::fs::remove_file(&path);
            return;
        }
        // Opened read+write, a FIFO's open does not wait for a peer.
        let mut writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();

        let mut before = None;
        for round in 0..40u8 {
            let rt = Runtime::new().unwrap();
            rt.block_on(async {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .await
                    .unwrap();
                let f = Rc::new(f);
                // In the kernel's hands, then dropped: cancelled.
                let mut r = Box::pin(f.read_at(Vec::with_capacity(64), 0));
                assert!(poll_once(r.as_mut()).is_pending());
                turns(3).await;
                assert!(
                    poll_once(r.as_mut()).is_pending(),
                    "a read of an empty FIFO finished"
                );
                drop(r);
                assert_eq!(statistics().ring_orphaned, 1);
                // The next call waits for the cancelled read's completion.
                f.metadata().await.unwrap();
                assert_eq!(statistics().ring_orphaned, 0);
                // The dropped read took nothing: these bytes go to the next.
                writer.write_all(&[round; 8]).unwrap();
                let (n, got) = f.read_at(Vec::with_capacity(64), 0).await;
                assert_eq!(n.unwrap(), 8);
                assert_eq!(got, [round; 8]);
                // Reads left in flight for the runtime drop.
                for _ in 0..1 + round % 3 {
                    let f = f.clone();
                    oneport::spawn(async move {
                        let _ = f.read_at(Vec::with_capacity(64), 0).await;
                    })
                    .detach();
                }
                turns(2).await;
            });
            drop(rt);
            if round == 0 {
                before = Some(open_handles());
            }
        }
        let after = open_handles();
        drop(writer);
        let _ = std::fs::remove_file(&path);
        let before = before.unwrap();
        assert!(after <= before, "fds went from {before} to {after}");
    });
}
