//! `oneport::fs::{FileReader, FileWriter}`: sequential, buffered file I/O
//! through the `futures_io` traits, on both platforms.
//!
//! The tests of this binary run one at a time (`SERIAL`): one of them
//! counts the process's open fds / handles, which the others would change.
mod common;

use std::future::Future;
use std::io::{self, SeekFrom};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use common::stress::open_handles;
use common::{temp_path, within, Rng};
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use oneport::fs::{File, FileReader, FileWriter, OpenOptions};
use oneport::lowlevel::statistics;

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` alone among this binary's tests, with a hang bound.
fn serial<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    within(secs, f)
}

/// Removes the file when the test ends, passed or not.
struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const SIZE: usize = 3 << 20;

/// 3 MiB whose bytes depend on their offset (so a byte read from the
/// wrong place shows).
fn pattern() -> Vec<u8> {
    (0..SIZE)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 11)) as u8)
        .collect()
}

/// About 3 MiB of text lines of varying length.
fn text() -> String {
    let mut s = String::new();
    let mut k = 0usize;
    while s.len() < SIZE {
        s.push_str(&format!("line {k:07} {}\n", "x".repeat(k % 193)));
        k += 1;
    }
    s.push_str("last line without a newline");
    s
}

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Reads `r` to its end with reads of many sizes (odd ones, one byte,
/// larger than the buffer) mixed with `fill_buf`/`consume` of part of
/// the buffer.
async fn read_oddly(r: &mut FileReader, rng: &mut Rng) -> Vec<u8> {
    let sizes = [1usize, 7, 13, 4093, 65_537, 3, 100_003, 511];
    let mut got = Vec::new();
    let mut i = 0usize;
    loop {
        let pos = r.position();
        assert_eq!(pos, got.len() as u64, "position follows the bytes read");
        if i % 5 == 4 {
            let buf = r.fill_buf().await.unwrap();
            if buf.is_empty() {
                break;
            }
            let take = 1 + rng.below(buf.len() as u64) as usize;
            got.extend_from_slice(&buf[..take]);
            r.consume(take);
        } else {
            let mut chunk = vec![0u8; sizes[i % sizes.len()]];
            let n = r.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        i += 1;
    }
    got
}

#[test]
fn reads_three_mebibytes_byte_exact_through_odd_reads_and_fill_buf() {
    serial(120, || {
        let path = temp_path("bufread");
        let _c = Cleanup(path.clone());
        let data = pattern();
        std::fs::write(&path, &data).unwrap();
        oneport::run(async {
            for cap in [None, Some(1000), Some(1), Some(4 << 20)] {
                let f = File::open(&path).await.unwrap();
                let mut r = match cap {
                    None => FileReader::new(f),
                    Some(c) => FileReader::with_capacity(c, f),
                };
                let mut rng = Rng(0x5eed ^ cap.unwrap_or(0) as u64);
                if cap == Some(1) {
                    // One byte a read: 3 Mi reads is too slow; read 64 KiB.
                    let mut got = vec![0u8; 64 * 1024];
                    r.read_exact(&mut got).await.unwrap();
                    assert_eq!(got, data[..got.len()]);
                    continue;
                }
                let got = read_oddly(&mut r, &mut rng).await;
                assert_eq!(got.len(), data.len(), "capacity {cap:?}");
                assert!(got == data, "capacity {cap:?}: bytes differ");
                // End of file stays end of file.
                let mut one = [0u8; 1];
                assert_eq!(r.read(&mut one).await.unwrap(), 0);
                assert!(r.fill_buf().await.unwrap().is_empty());
                assert_eq!(r.position(), SIZE as u64);
            }
            // Starting at an offset.
            let mut r = FileReader::at(File::open(&path).await.unwrap(), 1_000_001);
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap();
            assert!(got == data[1_000_001..]);
        });
    });
}

#[test]
fn read_line_returns_every_line_of_a_text_file() {
    serial(120, || {
        let path = temp_path("lines");
        let _c = Cleanup(path.clone());
        let text = text();
        std::fs::write(&path, &text).unwrap();
        oneport::run(async {
            let mut r = FileReader::with_capacity(4099, File::open(&path).await.unwrap());
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                let n = r.read_line(&mut line).await.unwrap();
                if n == 0 {
                    break;
                }
                assert_eq!(n, line.len());
                lines.push(line);
            }
            let want: Vec<&str> = text.split_inclusive('\n').collect();
            assert_eq!(lines.len(), want.len());
            for (i, (a, b)) in lines.iter().zip(&want).enumerate() {
                assert_eq!(a, b, "line {i}");
            }
            assert_eq!(lines.concat(), text);
        });
    });
}

#[test]
fn writes_three_mebibytes_in_odd_chunks_then_close() {
    serial(120, || {
        let data = pattern();
        for cap in [None, Some(10_007), Some(1)] {
            let path = temp_path("bufwrite");
            let _c = Cleanup(path.clone());
            let limit = if cap == Some(1) { 4096 } else { data.len() };
            let want = data[..limit].to_vec();
            let p = path.clone();
            oneport::run(async move {
                let data = want;
                let f = File::create(&p).await.unwrap();
                let mut w = match cap {
                    None => FileWriter::new(f),
                    Some(c) => FileWriter::with_capacity(c, f),
                };
                let mut rng = Rng(0xabcdef);
                let mut at = 0;
                while at < limit {
                    let n = (1 + rng.below(20_011) as usize).min(limit - at);
                    let took = w.write(&data[at..at + n]).await.unwrap();
                    assert!(took >= 1 && took <= n);
                    at += took;
                    assert_eq!(w.position(), at as u64);
                }
                w.close().await.unwrap();
                assert!(w.buffer().is_empty());
                let f = w.into_inner();
                assert_eq!(f.metadata().await.unwrap().len(), limit as u64);
            });
            let got = std::fs::read(&path).unwrap();
            assert_eq!(got.len(), limit, "capacity {cap:?}");
            assert!(got == data[..limit], "capacity {cap:?}: bytes differ");
        }
    });
}

#[test]
fn a_writer_at_an_offset_and_flush_without_close() {
    serial(60, || {
        let path = temp_path("writeat");
        let _c = Cleanup(path.clone());
        std::fs::write(&path, b"0123456789").unwrap();
        let p = path.clone();
        oneport::run(async move {
            let f = OpenOptions::new().write(true).open(&p).await.unwrap();
            let mut w = FileWriter::with_capacity_at(100, f, 4);
            w.write_all(b"ab").await.unwrap();
            assert_eq!(w.buffer(), b"ab", "small writes stay buffered");
            assert_eq!(std::fs::read(&p).unwrap(), b"0123456789");
            w.flush().await.unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), b"0123ab6789");
            w.write_all(b"cdefgh").await.unwrap();
            w.flush().await.unwrap();
            assert_eq!(w.position(), 12);
            // Data left in the buffer when the writer goes is lost.
            w.write_all(b"lost").await.unwrap();
            drop(w);
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"0123abcdefgh");
    });
}

#[test]
fn futures_io_copy_from_a_reader_to_a_writer() {
    serial(120, || {
        let src = temp_path("copy-src");
        let dst = temp_path("copy-dst");
        let (_a, _b) = (Cleanup(src.clone()), Cleanup(dst.clone()));
        let data = pattern();
        std::fs::write(&src, &data).unwrap();
        let (s, d) = (src.clone(), dst.clone());
        oneport::run(async move {
            let r = FileReader::with_capacity(32_771, File::open(&s).await.unwrap());
            let mut w = FileWriter::with_capacity(50_000, File::create(&d).await.unwrap());
            let n = futures_lite::io::copy(r, &mut w).await.unwrap();
            assert_eq!(n, SIZE as u64);
            w.close().await.unwrap();
        });
        assert!(std::fs::read(&dst).unwrap() == data);
    });
}

#[test]
fn seeks_inside_and_outside_the_buffer_and_from_the_end() {
    serial(60, || {
        let path = temp_path("seek");
        let _c = Cleanup(path.clone());
        let data = pattern();
        std::fs::write(&path, &data[..100_000]).unwrap();
        oneport::run(async {
            let mut r = FileReader::with_capacity(1000, File::open(&path).await.unwrap());
            let mut b = [0u8; 10];
            r.read_exact(&mut b).await.unwrap();
            assert_eq!(b, data[..10]);
            // Inside the buffer: kept.
            assert_eq!(r.seek(SeekFrom::Current(-5)).await.unwrap(), 5);
            assert_eq!(r.buffer().len(), 995);
            r.read_exact(&mut b).await.unwrap();
            assert_eq!(b, data[5..15]);
            assert_eq!(r.seek(SeekFrom::Start(900)).await.unwrap(), 900);
            assert_eq!(r.buffer().len(), 100);
            // Outside: dropped, and the next read starts there.
            assert_eq!(r.seek(SeekFrom::Start(50_000)).await.unwrap(), 50_000);
            assert!(r.buffer().is_empty());
            r.read_exact(&mut b).await.unwrap();
            assert_eq!(b, data[50_000..50_010]);
            assert_eq!(r.seek(SeekFrom::End(-10)).await.unwrap(), 99_990);
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, data[99_990..100_000]);
            // Past the end reads nothing; before the start is refused.
            assert_eq!(r.seek(SeekFrom::End(5)).await.unwrap(), 100_005);
            assert_eq!(r.read(&mut b).await.unwrap(), 0);
            for bad in [SeekFrom::Current(-200_000), SeekFrom::End(-100_001)] {
                let e = r.seek(bad).await.unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            }
            let e = r.seek(SeekFrom::Start(u64::MAX)).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            // A refused seek moved nothing.
            assert_eq!(r.position(), 100_005);
            // A seek from the end given up before it finished does not
            // happen: the next read goes on from where the reader was.
            r.seek(SeekFrom::Start(0)).await.unwrap();
            let n = r.fill_buf().await.unwrap().len();
            r.consume(n);
            assert_eq!(r.position(), 1000, "the buffer ran to byte 1000");
            let done = {
                let mut seek = Box::pin(r.seek(SeekFrom::End(-1)));
                poll_once(seek.as_mut())
            };
            match done {
                // A pool thread may answer the length before the first
                // poll returns: then the seek happened.
                Poll::Ready(p) => assert_eq!(p.unwrap(), 99_999),
                Poll::Pending => {
                    assert_eq!(r.position(), 1000);
                    r.read_exact(&mut b).await.unwrap();
                    assert_eq!(b, data[1000..1010]);
                }
            }
            // A seek while a read is in flight finishes the read first.
            r.seek(SeekFrom::Start(0)).await.unwrap();
            {
                let mut fill = Box::pin(r.fill_buf());
                let _ = poll_once(fill.as_mut());
            }
            assert_eq!(r.seek(SeekFrom::Start(3)).await.unwrap(), 3);
            r.read_exact(&mut b).await.unwrap();
            assert_eq!(b, data[3..13]);
        });
    });
}

#[test]
fn a_read_left_pending_is_continued_not_restarted() {
    serial(60, || {
        let path = temp_path("continue");
        let _c = Cleanup(path.clone());
        let data = pattern();
        std::fs::write(&path, &data[..20_000]).unwrap();
        oneport::run(async {
            let mut r = FileReader::with_capacity(4096, File::open(&path).await.unwrap());
            let mut got = Vec::new();
            for _ in 0..10 {
                // A poll that starts a read and is then given up on.
                let mut b = [0u8; 100];
                {
                    let mut read = Box::pin(r.read(&mut b));
                    if let Poll::Ready(n) = poll_once(read.as_mut()) {
                        let n = n.unwrap();
                        drop(read);
                        got.extend_from_slice(&b[..n]);
                    }
                }
                oneport::yield_now().await;
                let n = r.read(&mut b).await.unwrap();
                got.extend_from_slice(&b[..n]);
            }
            assert_eq!(got, data[..got.len()], "no byte lost or repeated");
            assert_eq!(r.position(), got.len() as u64);
        });
    });
}

/// Waits (bounded) until the runtime holds no orphaned operation.
async fn settle() {
    for _ in 0..400 {
        let s = statistics();
        if s.overlapped_orphaned == 0 && s.ring_orphaned == 0 {
            return;
        }
        oneport::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let s = statistics();
    panic!(
        "operations still orphaned: overlapped {}, ring {}",
        s.overlapped_orphaned, s.ring_orphaned
    );
}

#[test]
fn dropping_a_reader_or_writer_mid_operation_leaks_nothing() {
    serial(120, || {
        let src = temp_path("drop-src");
        let dst = temp_path("drop-dst");
        let (_a, _b) = (Cleanup(src.clone()), Cleanup(dst.clone()));
        let data = pattern();
        std::fs::write(&src, &data[..200_000]).unwrap();
        let mut before = None;
        for round in 0..12u8 {
            let (s, d) = (src.clone(), dst.clone());
            oneport::run(async move {
                for _ in 0..4 {
                    let mut r = FileReader::with_capacity(65_536, File::open(&s).await.unwrap());
                    {
                        let mut fill = Box::pin(r.fill_buf());
                        let _ = poll_once(fill.as_mut());
                    }
                    drop(r);
                }
                let f = File::create(&d).await.unwrap();
                let mut w = FileWriter::with_capacity(8192, f);
                w.write_all(&[round; 8192]).await.unwrap();
                {
                    // The buffer is full: this starts its write, usually
                    // left in flight (a pool thread may have finished it
                    // already; then "more" is buffered, and lost below).
                    let mut write = Box::pin(w.write(b"more"));
                    if let Poll::Ready(r) = poll_once(write.as_mut()) {
                        assert_eq!(r.unwrap(), 4);
                    }
                }
                drop(w);
                settle().await;
                // The file is still usable by a new writer afterwards.
                let f = OpenOptions::new().write(true).open(&d).await.unwrap();
                let mut w = FileWriter::at(f, 8192);
                w.write_all(b"tail").await.unwrap();
                w.close().await.unwrap();
            });
            // The dropped write either landed whole or never happened.
            let got = std::fs::read(&dst).unwrap();
            assert_eq!(got.len(), 8196, "round {round}");
            assert!(
                got[..8192].iter().all(|&b| b == round) || got[..8192].iter().all(|&b| b == 0),
                "round {round}: a dropped write landed partly"
            );
            assert_eq!(&got[8192..], b"tail");
            if round == 1 {
                before = Some(open_handles());
            }
        }
        let after = open_handles();
        let before = before.unwrap();
        assert!(after <= before, "fds/handles went from {before} to {after}");
    });
}

#[test]
fn errors_are_io_errors_not_panics() {
    serial(60, || {
        let path = temp_path("errors");
        let _c = Cleanup(path.clone());
        std::fs::write(&path, b"read only here").unwrap();
        oneport::run(async {
            // A writer on a file opened for reading only.
            let mut w = FileWriter::with_capacity(16, File::open(&path).await.unwrap());
            w.write_all(b"0123").await.unwrap(); // buffered
            assert!(w.flush().await.is_err());
            assert!(w.close().await.is_err());
            assert_eq!(w.buffer(), b"0123", "unwritten bytes stay buffered");
            let e = w.write_all(&[1u8; 64]).await.unwrap_err();
            assert_ne!(e.kind(), io::ErrorKind::Other, "the system's error: {e}");
            drop(w);
            assert_eq!(std::fs::read(&path).unwrap(), b"read only here");

            // A reader on a file opened for writing only.
            let f = OpenOptions::new().write(true).open(&path).await.unwrap();
            let mut r = FileReader::new(f);
            let mut b = [0u8; 4];
            assert!(r.read(&mut b).await.is_err());
            // A reader past the largest offset.
            let mut r = FileReader::at(File::open(&path).await.unwrap(), u64::MAX);
            let e = r.read(&mut b).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        });
    });
}
