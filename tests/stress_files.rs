//! Seeded, bounded file churn: random positional writes, reads and syncs
//! on a few files, with futures dropped after zero or one poll (on the
//! io_uring backend: before the run loop submitted them, or after, so the
//! kernel holds them and they are cancelled) and runtimes dropped while
//! reads and writes are in flight. The file contents must always equal a model
//! in which every completed write is applied in order and every dropped one
//! either never landed or landed whole before the next call on its file;
//! at the end the process's fds/handles are back where they started.
//!
//! Replay a failure with the printed `ONEPORT_STRESS_SEED`; the long run is
//! `ONEPORT_STRESS=long` (see `scripts/stress.sh`). This is the only test of
//! its binary because it counts fds/handles.
mod common;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use common::stress::{open_handles, Stress};
use common::{within, Rng};
use oneport::fs::{File, OpenOptions};
use oneport::{spawn, Runtime};

const FILES: usize = 3;
const SIZE: usize = 8192;
const MAX_WRITE: u64 = 1024;

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A random range inside the file.
fn range(rng: &mut Rng) -> (usize, usize) {
    let len = 1 + rng.below(MAX_WRITE) as usize;
    let pos = rng.below((SIZE - len) as u64) as usize;
    (pos, len)
}

/// Settles a write whose outcome is unknown: the bytes must be either all
/// old (it never landed) or all new (it landed whole); the model follows.
fn settle(model: &mut [u8], got: &[u8], pos: usize, val: u8, what: &str) {
    let old = &model[pos..pos + got.len()];
    if got == old {
        return;
    }
    assert!(
        got.iter().all(|&b| b == val),
        "{what} at {pos}+{}: neither absent nor whole (a later write was overwritten, \
         or it landed in part)",
        got.len()
    );
    model[pos..pos + got.len()].fill(val);
}

async fn read_exact(f: &File, pos: usize, len: usize) -> Vec<u8> {
    let (n, got) = f.read_at(Vec::with_capacity(len), pos as u64).await;
    assert_eq!(n.unwrap(), len, "short read at {pos}+{len}");
    got
}

/// One runtime's life: random calls on every file, then a drop with writes
/// in flight. Returns the in-flight writes, to settle afterwards.
fn round(
    paths: &[PathBuf],
    models: &mut [Vec<u8>],
    rng: &mut Rng,
) -> Vec<(usize, usize, usize, u8)> {
    let rt = Runtime::new().unwrap();
    let inflight = rt.block_on(async {
        let mut files = Vec::new();
        for p in paths {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(p)
                .await
                .unwrap();
            files.push(Rc::new(f));
        }
        for _ in 0..24 {
            let i = rng.below(FILES as u64) as usize;
            let (f, model) = (&files[i], &mut models[i]);
            let (pos, len) = range(rng);
            let val = rng.next() as u8;
            match rng.below(8) {
                0 | 1 => {
                    let (n, _) = f.write_at(vec![val; len], pos as u64).await;
                    assert_eq!(n.unwrap(), len);
                    model[pos..pos + len].fill(val);
                }
                2 => {
                    // Dropped after zero or one poll; the next call on the
                    // file (this read) is ordered after it.
                    let mut w = Box::pin(f.write_at(vec![val; len], pos as u64));
                    if rng.below(2) == 0 {
                        let _ = poll_once(w.as_mut());
                    }
                    drop(w);
                    let got = read_exact(f, pos, len).await;
                    settle(model, &got, pos, val, "dropped write");
                }
                3 => {
                    let mut r = Box::pin(f.read_at(Vec::with_capacity(len), pos as u64));
                    let _ = poll_once(r.as_mut());
                    if rng.below(2) == 0 {
                        // One turn of the loop: a ring read is submitted.
                        oneport::yield_now().await;
                    }
                    drop(r);
                }
                5 => {
                    // Polled, then a turn of the loop so the ring hands
                    // it to the kernel, then dropped: cancelled in flight.
                    let mut w = Box::pin(f.write_at(vec![val; len], pos as u64));
                    let _ = poll_once(w.as_mut());
                    oneport::yield_now().await;
                    drop(w);
                    let got = read_exact(f, pos, len).await;
                    settle(model, &got, pos, val, "write dropped in flight");
                    assert_eq!(
                        oneport::lowlevel::statistics().ring_orphaned,
                        0,
                        "the file's next call ran before a dropped operation's completion"
                    );
                }
                6 => {
                    let mut s = Box::pin(f.sync_data());
                    if rng.below(2) == 0 {
                        let _ = poll_once(s.as_mut());
                        drop(s);
                    } else {
                        s.await.unwrap();
                    }
                }
                _ => {
                    let got = read_exact(f, pos, len).await;
                    assert!(
                        got == model[pos..pos + len],
                        "read at {pos}+{len} differs from the model"
                    );
                }
            }
        }
        // Writes left in flight for the runtime drop, on ranges of their
        // own (one per file) so each can be settled alone.
        let mut inflight = Vec::new();
        for (i, f) in files.iter().enumerate() {
            if rng.below(2) == 0 {
                continue;
            }
            let (pos, len) = range(rng);
            let val = rng.next() as u8;
            let f = f.clone();
            spawn(async move {
                let _ = f.write_at(vec![val; len], pos as u64).await;
            })
            .detach();
            inflight.push((i, pos, len, val));
            if rng.below(2) == 0 {
                // A read in flight at the drop too: its buffer must stay
                // with the driver until the kernel is done with it.
                let f = files[i].clone();
                spawn(async move {
                    let _ = f.read_at(Vec::with_capacity(SIZE), 0).await;
                })
                .detach();
            }
        }
        if rng.below(2) == 0 {
            oneport::yield_now().await;
        }
        inflight
    });
    drop(rt);
    inflight
}

#[test]
fn file_churn_matches_the_model_and_closes_every_handle() {
    let stress = Stress::new("stress_files");
    let rounds = stress.rounds(150, 5000);
    let mut rng = stress.rng(0);
    within(180, move || {
        let dir = std::env::temp_dir();
        let paths: Vec<PathBuf> = (0..FILES)
            .map(|i| dir.join(format!("oneport-stress-files-{}-{i}", std::process::id())))
            .collect();
        let mut models: Vec<Vec<u8>> = vec![vec![0u8; SIZE]; FILES];
        for p in &paths {
            std::fs::write(p, vec![0u8; SIZE]).unwrap();
        }
        let backend = Runtime::new()
            .unwrap()
            .block_on(async { oneport::lowlevel::statistics().file_backend });
        eprintln!("stress_files: file backend {backend}");
        let mut before = None;
        for r in 0..rounds {
            let inflight = round(&paths, &mut models, &mut rng);
            for (i, pos, len, val) in inflight {
                let data = std::fs::read(&paths[i]).unwrap();
                settle(
                    &mut models[i],
                    &data[pos..pos + len],
                    pos,
                    val,
                    "write in flight at drop",
                );
            }
            for (i, p) in paths.iter().enumerate() {
                let data = std::fs::read(p).unwrap();
                assert!(
                    data == models[i],
                    "round {r}: file {i} differs from the model"
                );
            }
            if r == 0 {
                // After one warm-up round: what stays open for the process's life.
                before = Some(open_handles());
            }
        }
        let after = open_handles();
        let before = before.unwrap();
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
        assert!(after <= before, "fds/handles went from {before} to {after}");
    });
}
