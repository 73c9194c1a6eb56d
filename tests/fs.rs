//! `oneport::fs::File`: positional reads and writes with owned buffers, on
//! both platforms.
mod common;
use common::temp_path;

use std::future::Future;
use std::io;
use std::path::PathBuf;

use common::within;
use oneport::fs::{File, OpenOptions};

/// Removes the file when the test ends, passed or not.
struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn writes_and_reads_at_offsets() {
    within(20, || {
        let path = temp_path("offsets");
        let _c = Cleanup(path.clone());
        oneport::run(async {
            let f = File::create(&path).await.unwrap();
            let (r, b) = f.write_at(&b"hello"[..], 0).await;
            assert_eq!(r.unwrap(), 5);
            assert_eq!(b, b"hello");
            let (r, _) = f.write_at(String::from("world"), 10).await;
            assert_eq!(r.unwrap(), 5);
            let (r, _) = f.write_at(vec![b'-'; 5].into_boxed_slice(), 5).await;
            assert_eq!(r.unwrap(), 5);
            let (r, v) = f.read_at(Vec::with_capacity(64), 0).await;
            assert_eq!(r.unwrap(), 15);
            assert_eq!(v, b"hello-----world");
            let (r, v) = f.read_at(Vec::with_capacity(3), 6).await;
            assert_eq!(r.unwrap(), 3);
            assert_eq!(v, b"---");
            f.sync_all().await.unwrap();
            f.sync_data().await.unwrap();
            assert_eq!(f.metadata().await.unwrap().len(), 15);
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"hello-----world");
    });
}

#[test]
fn reads_append_to_the_buffer_and_stop_at_end_of_file() {
    within(20, || {
        let path = temp_path("eof");
        let _c = Cleanup(path.clone());
        std::fs::write(&path, b"0123456789").unwrap();
        oneport::run(async {
            let f = File::open(&path).await.unwrap();
            let mut buf = Vec::with_capacity(20);
            buf.extend_from_slice(b"ab");
            let (r, buf) = f.read_at(buf, 7).await;
            assert_eq!(r.unwrap(), 3);
            assert_eq!(buf, b"ab789", "bytes before len() are kept");
            for pos in [10, 11, 5 << 30] {
                let (r, v) = f.read_at(Vec::with_capacity(8), pos).await;
                assert_eq!(r.unwrap(), 0, "read at {pos}");
                assert!(v.is_empty());
            }
            // No spare capacity: nothing to read into.
            let full = vec![1u8; 4];
            let cap = full.capacity();
            let (r, v) = f.read_at(full, 0).await;
            if cap == 4 {
                assert_eq!(r.unwrap(), 0);
                assert_eq!(v, [1, 1, 1, 1]);
            }
        });
    });
}

#[test]
fn concurrent_reads_of_one_file_each_get_their_range() {
    within(30, || {
        let path = temp_path("concurrent");
        let _c = Cleanup(path.clone());
        let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        oneport::run(async {
            let f = std::rc::Rc::new(File::open(&path).await.unwrap());
            let tasks: Vec<_> = (0..16u64)
                .map(|i| {
                    let f = f.clone();
                    oneport::spawn(async move {
                        let mut got = Vec::with_capacity(4096);
                        while got.len() < 4096 {
                            let pos = i * 4096 + got.len() as u64;
                            let (r, v) = f.read_at(got, pos).await;
                            assert!(r.unwrap() > 0);
                            got = v;
                        }
                        got
                    })
                })
                .collect();
            for (i, t) in tasks.into_iter().enumerate() {
                assert_eq!(t.await, &data[i * 4096..(i + 1) * 4096], "range {i}");
            }
        });
    });
}

#[test]
fn create_truncates_and_open_of_a_missing_file_is_not_found() {
    within(20, || {
        let path = temp_path("trunc");
        let _c = Cleanup(path.clone());
        std::fs::write(&path, b"old contents that are long").unwrap();
        oneport::run(async {
            let f = File::create(&path).await.unwrap();
            assert_eq!(f.metadata().await.unwrap().len(), 0);
            let (r, _) = f.write_at(&b"new"[..], 0).await;
            r.unwrap();
            drop(f);
            let g = File::open(&path).await.unwrap();
            let (r, v) = g.read_at(Vec::with_capacity(64), 0).await;
            assert_eq!(r.unwrap(), 3);
            assert_eq!(v, b"new");
            // Offsets no file can have are refused, on both platforms.
            for pos in [u64::MAX, 1 << 63] {
                let (r, v) = g.read_at(Vec::with_capacity(4), pos).await;
                assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
                assert!(v.is_empty());
                let (r, _) = g.write_at(&b"x"[..], pos).await;
                assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            }
            // Opened for reading only: writing fails with an error.
            let (r, _) = g.write_at(&b"x"[..], 0).await;
            assert!(r.is_err());

            let missing = temp_path("missing");
            let err = File::open(&missing).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
            let err = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        });
    });
}

#[test]
fn set_len_shrinks_and_grows() {
    within(20, || {
        let path = temp_path("setlen");
        let _c = Cleanup(path.clone());
        oneport::run(async {
            let f = File::create(&path).await.unwrap();
            f.write_at(&b"0123456789"[..], 0).await.0.unwrap();
            f.set_len(4).await.unwrap();
            let (r, v) = f.read_at(Vec::with_capacity(16), 0).await;
            assert_eq!(r.unwrap(), 4);
            assert_eq!(v, b"0123");
            f.set_len(6).await.unwrap();
            let (_, v) = f.read_at(Vec::with_capacity(16), 0).await;
            assert_eq!(v, b"0123\0\0");
        });
    });
}

#[test]
fn a_sparse_write_beyond_4_gib_reads_back() {
    within(30, || {
        let path = temp_path("sparse");
        let _c = Cleanup(path.clone());
        oneport::run(async {
            let f = File::create(&path).await.unwrap();
            f.set_sparse().await.unwrap();
            let far = (4u64 << 30) + 12345;
            let (r, _) = f.write_at(&b"beyond"[..], far).await;
            assert_eq!(r.unwrap(), 6);
            let (r, v) = f.read_at(Vec::with_capacity(100), far - 4).await;
            assert_eq!(r.unwrap(), 10);
            assert_eq!(v, b"\0\0\0\0beyond");
            assert_eq!(f.metadata().await.unwrap().len(), far + 6);
            let (r, _) = f.read_at(Vec::with_capacity(100), far + 6).await;
            assert_eq!(r.unwrap(), 0);
        });
    });
}

#[test]
fn other_tasks_run_while_file_io_waits() {
    within(20, || {
        let path = temp_path("progress");
        let _c = Cleanup(path.clone());
        oneport::run(async {
            let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let t = ticks.clone();
            let ticker = oneport::spawn(async move {
                for _ in 0..5 {
                    t.set(t.get() + 1);
                    oneport::yield_now().await;
                }
            });
            let f = File::create(&path).await.unwrap();
            for i in 0..20u64 {
                f.write_at(vec![i as u8; 1000], i * 1000).await.0.unwrap();
            }
            ticker.await;
            assert_eq!(ticks.get(), 5);
            assert_eq!(f.metadata().await.unwrap().len(), 20_000);
        });
    });
}

#[test]
fn a_read_dropped_mid_flight_leaves_the_file_usable() {
    within(20, || {
        let path = temp_path("dropped");
        let _c = Cleanup(path.clone());
        std::fs::write(&path, vec![5u8; 100_000]).unwrap();
        oneport::run(async {
            let f = File::open(&path).await.unwrap();
            for i in 0..50u64 {
                let mut read = std::pin::pin!(f.read_at(Vec::with_capacity(4096), i * 1000));
                // Started (polled once), then dropped while in flight.
                std::future::poll_fn(|cx| {
                    let _ = read.as_mut().poll(cx);
                    std::task::Poll::Ready(())
                })
                .await;
            }
            let (r, v) = f.read_at(Vec::with_capacity(10), 99_995).await;
            assert_eq!(r.unwrap(), 5);
            assert_eq!(v, [5u8; 5]);
            for _ in 0..100 {
                if oneport::lowlevel::statistics().overlapped_orphaned == 0 {
                    break;
                }
                oneport::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            assert_eq!(oneport::lowlevel::statistics().overlapped_orphaned, 0);
        });
    });
}

/// `fs::File` refuses a range that reaches past `i64::MAX` itself, with a
/// clear error, before anything reaches the kernel.
#[test]
fn a_file_range_past_the_largest_offset_is_refused_before_submitting() {
    within(20, || {
        let path = temp_path("range");
        oneport::run(async {
            let f = File::create(&path).await.unwrap();
            let (r, buf) = f.write_at(&b"12345678"[..], (i64::MAX - 4) as u64).await;
            let e = r.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(e.raw_os_error(), None, "refused by oneport: {e}");
            assert!(e.to_string().contains("largest file offset"), "{e}");
            assert_eq!(buf, b"12345678");
            let (r, _) = f
                .read_at(Vec::with_capacity(8), (i64::MAX - 4) as u64)
                .await;
            assert_eq!(r.unwrap_err().raw_os_error(), None);
            // Exactly up to the limit is not refused by the range check.
            let (r, _) = f
                .read_at(Vec::with_capacity(4), (i64::MAX - 4) as u64)
                .await;
            assert!(!r.is_err_and(|e| e.raw_os_error().is_none()));
        });
        let _ = std::fs::remove_file(&path);
    });
}

/// Removes a directory tree when the test ends, passed or not.
struct CleanupDir(PathBuf);
impl Drop for CleanupDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The whole-file and directory calls by path: a round trip through every
/// one of them, each checked against the standard library's view.
#[test]
fn path_calls_create_write_read_copy_rename_and_remove() {
    within(30, || {
        let root = temp_path("paths");
        let _c = CleanupDir(root.clone());
        let dir = root.join("a").join("b");
        oneport::run(async {
            oneport::fs::create_dir_all(&dir).await.unwrap();
            // Existing already: still fine.
            oneport::fs::create_dir_all(dir.clone()).await.unwrap();
            assert!(std::fs::metadata(&dir).unwrap().is_dir());

            let file = dir.join("f.txt");
            oneport::fs::write(&file, "hello, path").await.unwrap();
            assert_eq!(std::fs::read(&file).unwrap(), b"hello, path");
            assert_eq!(oneport::fs::read(&file).await.unwrap(), b"hello, path");
            assert_eq!(
                oneport::fs::read_to_string(&file).await.unwrap(),
                "hello, path"
            );
            // write truncates.
            oneport::fs::write(&file, vec![b'x'; 3]).await.unwrap();
            assert_eq!(oneport::fs::read(&file).await.unwrap(), b"xxx");

            let m = oneport::fs::metadata(&file).await.unwrap();
            assert!(m.is_file());
            assert_eq!(m.len(), 3);

            let copied = dir.join("g.txt");
            assert_eq!(oneport::fs::copy(&file, &copied).await.unwrap(), 3);
            assert_eq!(std::fs::read(&copied).unwrap(), b"xxx");

            let moved = root.join("moved.txt");
            oneport::fs::rename(&copied, &moved).await.unwrap();
            assert!(!copied.exists());
            assert_eq!(std::fs::read(&moved).unwrap(), b"xxx");

            oneport::fs::remove_file(&moved).await.unwrap();
            oneport::fs::remove_file(&file).await.unwrap();
            assert!(!moved.exists() && !file.exists());
            oneport::fs::remove_dir(&dir).await.unwrap();
            assert!(!dir.exists());
        });
    });
}

/// Every path call on something missing says `NotFound`; a non-empty
/// directory cannot be removed with `remove_dir`; text that is not UTF-8
/// is `InvalidData`.
#[test]
fn path_calls_report_the_operating_systems_errors() {
    within(30, || {
        let root = temp_path("paths-err");
        let _c = CleanupDir(root.clone());
        std::fs::create_dir_all(&root).unwrap();
        let missing = root.join("missing");
        let other = root.join("other");
        oneport::run(async {
            let nf = io::ErrorKind::NotFound;
            assert_eq!(oneport::fs::read(&missing).await.unwrap_err().kind(), nf);
            assert_eq!(
                oneport::fs::read_to_string(&missing)
                    .await
                    .unwrap_err()
                    .kind(),
                nf
            );
            assert_eq!(
                oneport::fs::metadata(&missing).await.unwrap_err().kind(),
                nf
            );
            assert_eq!(
                oneport::fs::remove_file(&missing).await.unwrap_err().kind(),
                nf
            );
            assert_eq!(
                oneport::fs::remove_dir(&missing).await.unwrap_err().kind(),
                nf
            );
            assert_eq!(
                oneport::fs::rename(&missing, &other)
                    .await
                    .unwrap_err()
                    .kind(),
                nf
            );
            assert_eq!(
                oneport::fs::copy(&missing, &other)
                    .await
                    .unwrap_err()
                    .kind(),
                nf
            );
            // Writing into a directory that does not exist.
            assert_eq!(
                oneport::fs::write(missing.join("f"), b"x")
                    .await
                    .unwrap_err()
                    .kind(),
                nf
            );
            assert!(!other.exists());

            // A directory with a file in it is not removed.
            let sub = root.join("full");
            oneport::fs::create_dir_all(&sub).await.unwrap();
            oneport::fs::write(sub.join("f"), b"x").await.unwrap();
            assert!(oneport::fs::remove_dir(&sub).await.is_err());
            assert!(sub.join("f").exists());

            let bad = root.join("bad.txt");
            oneport::fs::write(&bad, [0xff, 0xfe, 0x00]).await.unwrap();
            assert_eq!(
                oneport::fs::read_to_string(&bad).await.unwrap_err().kind(),
                io::ErrorKind::InvalidData
            );
        });
    });
}
