//! Overlapped I/O through the runtime's port: results, owned buffers,
//! cancellation (in time, too late, never registered), and orphans.
#![cfg(windows)]
mod common;
use common::temp_path;

use std::fs::OpenOptions;
use std::future::Future;
use std::io::Write;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard};
use std::task::Poll;
use std::time::Duration;

use common::{within, Rng};
use oneport::lowlevel::{
    read_overlapped, register_with_iocp, statistics, submit_overlapped, wait_all_tasks_blocked,
    write_overlapped, OverlappedOp,
};
use windows_sys::Win32::Foundation::{GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, ReadFile, FILE_FLAG_OVERLAPPED, OPEN_EXISTING, PIPE_ACCESS_DUPLEX,
};
use windows_sys::Win32::System::Ioctl::FSCTL_SET_SPARSE;
use windows_sys::Win32::System::Pipes::{
    CreateNamedPipeW, PIPE_READMODE_BYTE, PIPE_TYPE_BYTE, PIPE_WAIT,
};
use windows_sys::Win32::System::IO::DeviceIoControl;

fn open_overlapped(path: &PathBuf) -> std::fs::File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(FILE_FLAG_OVERLAPPED)
        .open(path)
        .unwrap()
}

fn wide(s: &str) -> Vec<u16> {
    std::ffi::OsStr::new(s).encode_wide().chain([0]).collect()
}

/// A connected byte pipe: the server end is overlapped; the client end is
/// overlapped or synchronous (for writes that complete before we look).
fn pipe_pair(client_overlapped: bool) -> (OwnedHandle, OwnedHandle) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = wide(&format!(
        r"\\.\pipe\oneport-ovl-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    // SAFETY: valid NUL-terminated name; the returned handle is checked and
    // then owned.
    let server = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT,
            1,
            65536,
            65536,
            0,
            std::ptr::null(),
        )
    };
    assert_ne!(
        server,
        INVALID_HANDLE_VALUE,
        "{}",
        std::io::Error::last_os_error()
    );
    // SAFETY: as above.
    let client = unsafe {
        CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            0,
            std::ptr::null(),
            OPEN_EXISTING,
            if client_overlapped {
                FILE_FLAG_OVERLAPPED
            } else {
                0
            },
            std::ptr::null_mut(),
        )
    };
    assert_ne!(
        client,
        INVALID_HANDLE_VALUE,
        "{}",
        std::io::Error::last_os_error()
    );
    // SAFETY: both handles are fresh and owned by nobody else.
    unsafe {
        (
            OwnedHandle::from_raw_handle(server),
            OwnedHandle::from_raw_handle(client),
        )
    }
}

/// Under Wine a handle closed under an operation is recognised by the handle
/// being invalid when the completion is dequeued (see the driver); a handle
/// opened meanwhile by a parallel test could reuse the value. The test that
/// relies on it runs alone (write lock); the others share (read lock).
static HANDLE_VALUES: RwLock<()> = RwLock::new(());

fn shared_handles() -> RwLockReadGuard<'static, ()> {
    HANDLE_VALUES.read().unwrap_or_else(|e| e.into_inner())
}

/// Polls `fut` exactly once, from inside the runtime.
async fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let mut fut = Some(fut);
    std::future::poll_fn(move |cx| Poll::Ready(fut.take().unwrap().poll(cx))).await
}

#[test]
fn eight_concurrent_reads_assemble_a_file_exactly() {
    let _shared = shared_handles();
    within(20, || {
        let path = temp_path("eight");
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        oneport::run(async {
            let f = open_overlapped(&path);
            let h = f.as_raw_handle();
            register_with_iocp(h).unwrap();
            let tasks: Vec<_> = (0..8u64)
                .map(|i| {
                    let h = h as usize;
                    oneport::spawn(async move {
                        let mut buf = Vec::with_capacity(512);
                        buf.extend_from_slice(b"pre");
                        let (r, buf) = read_overlapped(h as _, buf, i * 512).await;
                        (r.unwrap(), buf)
                    })
                })
                .collect();
            let mut whole = Vec::new();
            for t in tasks {
                let (n, buf) = t.await;
                assert!(n > 0 && n <= 509);
                assert_eq!(&buf[..3], b"pre", "bytes before len() are kept");
                assert_eq!(buf.len(), 3 + n);
                whole.push(buf[3..].to_vec());
            }
            // Each read got up to 509 bytes from its offset: check them all.
            for (i, part) in whole.iter().enumerate() {
                assert_eq!(&part[..], &data[i * 512..i * 512 + part.len()]);
            }
            assert_eq!(statistics().tasks_waiting_overlapped, 0);
        });
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn reads_at_and_past_end_of_file_return_zero() {
    let _shared = shared_handles();
    within(20, || {
        let path = temp_path("eof");
        std::fs::write(&path, b"0123456789").unwrap();
        oneport::run(async {
            let f = open_overlapped(&path);
            let h = f.as_raw_handle();
            register_with_iocp(h).unwrap();
            let (r, v) = read_overlapped(h, Vec::with_capacity(100), 4).await;
            assert_eq!(r.unwrap(), 6);
            assert_eq!(v, b"456789");
            for off in [10, 11, 1 << 40] {
                let (r, v) = read_overlapped(h, Vec::with_capacity(100), off).await;
                assert_eq!(r.unwrap(), 0, "offset {off}");
                assert!(v.is_empty());
            }
        });
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn writes_beyond_4_gib_in_a_sparse_file_read_back() {
    let _shared = shared_handles();
    within(30, || {
        let path = temp_path("sparse");
        {
            // Marked sparse synchronously, on a handle that is not
            // registered (no packet ever comes for this ioctl under Wine).
            let f = std::fs::File::create(&path).unwrap();
            let mut ret = 0u32;
            // SAFETY: a synchronous ioctl with no buffers on an open handle.
            let ok = unsafe {
                DeviceIoControl(
                    f.as_raw_handle(),
                    FSCTL_SET_SPARSE,
                    std::ptr::null(),
                    0,
                    std::ptr::null_mut(),
                    0,
                    &mut ret,
                    std::ptr::null_mut(),
                )
            };
            assert_ne!(
                ok,
                0,
                "FSCTL_SET_SPARSE: {}",
                std::io::Error::last_os_error()
            );
        }
        oneport::run(async {
            let f = open_overlapped(&path);
            let h = f.as_raw_handle();
            register_with_iocp(h).unwrap();
            let far = 5u64 << 30;
            let (r, _) = write_overlapped(h, &b"far away"[..], far).await;
            assert_eq!(r.unwrap(), 8);
            let (r, _) = write_overlapped(h, String::from("near"), 3).await;
            assert_eq!(r.unwrap(), 4);
            let (r, v) = read_overlapped(h, Vec::with_capacity(64), far - 2).await;
            assert_eq!(r.unwrap(), 10);
            assert_eq!(v, b"\0\0far away");
            let (r, v) = read_overlapped(h, Vec::with_capacity(7), 0).await;
            assert_eq!(r.unwrap(), 7);
            assert_eq!(v, b"\0\0\0near");
            assert_eq!(f.metadata().unwrap().len(), far + 8);
        });
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn three_mebibytes_through_a_pipe_arrive_exactly() {
    let _shared = shared_handles();
    within(30, || {
        oneport::run(async {
            let (server, client) = pipe_pair(true);
            register_with_iocp(server.as_raw_handle()).unwrap();
            register_with_iocp(client.as_raw_handle()).unwrap();
            let c = client.as_raw_handle() as usize;
            let writer = oneport::spawn(async move {
                for chunk in 0..3u32 {
                    let mut data: Vec<u8> =
                        (0..1u32 << 20).map(|i| ((i + chunk) % 253) as u8).collect();
                    while !data.is_empty() {
                        let (r, d) = write_overlapped(c as _, data, 0).await;
                        let n = r.unwrap();
                        assert!(n > 0);
                        data = d[n..].to_vec();
                    }
                }
            });
            let mut got = Vec::with_capacity(3 << 20);
            while got.len() < 3 << 20 {
                let (r, v) = read_overlapped(server.as_raw_handle(), got, 0).await;
                assert!(r.unwrap() > 0);
                got = v;
                if got.capacity() == got.len() {
                    got.reserve(1 << 20);
                }
            }
            writer.await;
            for chunk in 0..3u32 {
                let part = &got[(chunk as usize) << 20..((chunk as usize) + 1) << 20];
                assert!(
                    part.iter()
                        .enumerate()
                        .all(|(i, &b)| b == ((i as u32 + chunk) % 253) as u8),
                    "chunk {chunk} corrupted"
                );
            }
        });
    });
}

#[test]
fn closing_the_handle_under_a_parked_writer_gives_it_closed_resource() {
    let _alone = HANDLE_VALUES.write().unwrap_or_else(|e| e.into_inner());
    within(20, || {
        oneport::run(async {
            let (server, client) = pipe_pair(true);
            register_with_iocp(server.as_raw_handle()).unwrap();
            register_with_iocp(client.as_raw_handle()).unwrap();
            let c = client.as_raw_handle() as usize;
            let writer = oneport::spawn(async move {
                // Far more than the pipe buffer, and nobody reads: parks.
                write_overlapped(c as _, vec![7u8; 4 << 20], 0).await.0
            });
            wait_all_tasks_blocked().await;
            assert_eq!(statistics().tasks_waiting_overlapped, 1);
            drop(client); // another task closes the handle
            let err = writer.await.unwrap_err();
            assert!(oneport::is_closed_resource(&err), "got {err:?}");
            drop(server);
        });
    });
}

#[test]
fn peer_close_ends_a_pending_read_with_broken_pipe() {
    let _shared = shared_handles();
    within(20, || {
        oneport::run(async {
            let (server, client) = pipe_pair(true);
            register_with_iocp(server.as_raw_handle()).unwrap();
            let s = server.as_raw_handle() as usize;
            let reader = oneport::spawn(async move {
                read_overlapped(s as _, Vec::with_capacity(16), 0).await.0
            });
            wait_all_tasks_blocked().await;
            drop(client);
            let err = reader.await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "got {err:?}");
        });
    });
}

#[test]
fn a_read_finished_before_its_drop_costs_only_its_bytes() {
    let _shared = shared_handles();
    within(20, || {
        oneport::run(async {
            let (server, client) = pipe_pair(false);
            register_with_iocp(server.as_raw_handle()).unwrap();
            let s = server.as_raw_handle();
            let mut client = std::fs::File::from(client);
            {
                let mut read = pin!(read_overlapped(s, Vec::with_capacity(16), 0));
                assert!(poll_once(read.as_mut()).await.is_pending());
                // The kernel completes the read now; its packet is queued
                // but not dequeued when the future is dropped.
                client.write_all(b"first").unwrap();
                assert_eq!(statistics().tasks_waiting_overlapped, 1);
            }
            assert_eq!(statistics().tasks_waiting_overlapped, 0);
            assert_eq!(statistics().overlapped_orphaned, 1);
            client.write_all(b"second").unwrap();
            let (r, v) = read_overlapped(s, Vec::with_capacity(16), 0).await;
            assert_eq!(r.unwrap(), 6);
            assert_eq!(v, b"second", "the next read gets the next bytes");
            oneport::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(statistics().overlapped_orphaned, 0);
        });
    });
}

#[test]
fn a_read_dropped_in_time_is_cancelled_and_its_bytes_stay_in_the_pipe() {
    let _shared = shared_handles();
    within(20, || {
        oneport::run(async {
            let (server, client) = pipe_pair(false);
            register_with_iocp(server.as_raw_handle()).unwrap();
            let s = server.as_raw_handle();
            {
                let mut read = pin!(read_overlapped(s, Vec::with_capacity(16), 0));
                assert!(poll_once(read.as_mut()).await.is_pending());
            }
            assert_eq!(statistics().overlapped_orphaned, 1);
            oneport::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(statistics().overlapped_orphaned, 0);
            std::fs::File::from(client).write_all(b"kept").unwrap();
            let (r, v) = read_overlapped(s, Vec::with_capacity(16), 0).await;
            assert_eq!(r.unwrap(), 4);
            assert_eq!(v, b"kept");
        });
    });
}

#[test]
#[should_panic(expected = "did you forget to call register_with_iocp()")]
fn dropping_a_finished_read_on_an_unregistered_handle_panics_with_advice() {
    let _shared = shared_handles();
    let (server, client) = pipe_pair(false);
    // The data is already there, so the read finishes in the kernel at once
    // (its packet goes nowhere) and the cancel comes too late.
    std::fs::File::from(client).write_all(b"x").unwrap();
    oneport::run(async {
        {
            let mut read = pin!(read_overlapped(
                server.as_raw_handle(),
                Vec::with_capacity(4),
                0
            ));
            assert!(poll_once(read.as_mut()).await.is_pending());
        }
        oneport::time::sleep(Duration::from_millis(200)).await;
    });
}

#[test]
fn a_second_waiter_on_one_operation_is_busy() {
    let _shared = shared_handles();
    within(20, || {
        oneport::run(async {
            let (server, client) = pipe_pair(false);
            register_with_iocp(server.as_raw_handle()).unwrap();
            let h = server.as_raw_handle();
            // SAFETY: one ReadFile on `h` into the block's own array.
            let op = unsafe {
                OverlappedOp::start(h, [0u8; 8], move |ov, buf: &mut [u8; 8]| {
                    if ReadFile(h, buf.as_mut_ptr(), 8, std::ptr::null_mut(), ov) == 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                })
            }
            .map_err(|(e, _)| e)
            .unwrap();
            {
                let mut first = pin!(op.wait());
                assert!(poll_once(first.as_mut()).await.is_pending());
                let err = op.wait().await.unwrap_err();
                assert_eq!(err.kind(), std::io::ErrorKind::ResourceBusy);
                std::fs::File::from(client).write_all(b"abc").unwrap();
                first.await.unwrap();
            }
            assert!(op.is_finished());
            let (r, buf) = op.finish().unwrap();
            assert_eq!(r.unwrap(), 3);
            assert_eq!(&buf[..3], b"abc");
        });
    });
}

#[test]
fn an_explicit_cancel_reports_operation_aborted_not_closed() {
    let _shared = shared_handles();
    within(20, || {
        oneport::run(async {
            let (server, _client) = pipe_pair(false);
            register_with_iocp(server.as_raw_handle()).unwrap();
            let h = server.as_raw_handle();
            // SAFETY: one ReadFile on `h` into the block's own vector.
            let op = unsafe {
                OverlappedOp::start(h, vec![0u8; 8], move |ov, buf: &mut Vec<u8>| {
                    if ReadFile(h, buf.as_mut_ptr(), 8, std::ptr::null_mut(), ov) == 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                })
            }
            .map_err(|(e, _)| e)
            .unwrap();
            op.cancel();
            op.wait().await.unwrap();
            let (r, _) = op.finish().unwrap();
            let err = r.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(995));
            assert!(!oneport::is_closed_resource(&err));
        });
    });
}

#[test]
fn a_failed_submission_returns_the_error_and_the_resources_at_once() {
    let _shared = shared_handles();
    within(20, || {
        oneport::run(async {
            // SAFETY: the closure starts nothing.
            let (r, res) = unsafe {
                submit_overlapped(INVALID_HANDLE_VALUE, String::from("kept"), |_, _| {
                    Err(std::io::Error::from_raw_os_error(6))
                })
            }
            .await;
            assert_eq!(r.unwrap_err().raw_os_error(), Some(6));
            assert_eq!(res, "kept");
            // A real call on a bad handle fails the same way.
            let (r, v) = read_overlapped(INVALID_HANDLE_VALUE, Vec::with_capacity(4), 0).await;
            assert!(r.is_err());
            assert!(v.is_empty());
            assert_eq!(statistics().overlapped_orphaned, 0);
        });
    });
}

#[test]
fn ten_thousand_reads_dropped_at_random_moments_corrupt_nothing() {
    let _shared = shared_handles();
    within(120, || {
        oneport::run(async {
            let (server, client) = pipe_pair(false);
            register_with_iocp(server.as_raw_handle()).unwrap();
            let s = server.as_raw_handle();
            let mut client = std::fs::File::from(client);
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let mut next_byte = 0u8;
            let mut completed = 0;
            for _ in 0..10_000 {
                let mut buf = Vec::with_capacity(32);
                buf.extend_from_slice(b"KEEP");
                let mut read = Box::pin(read_overlapped(s, buf, 0));
                let _ = poll_once(read.as_mut()).await;
                match rng.below(4) {
                    0 => drop(read), // in flight: cancelled in time
                    1 => {
                        // finished in the kernel, packet not yet dequeued
                        client.write_all(&chunk(&mut rng, &mut next_byte)).unwrap();
                        drop(read);
                    }
                    2 => {
                        for _ in 0..rng.below(3) {
                            oneport::yield_now().await;
                        }
                        drop(read);
                    }
                    _ => {
                        client.write_all(&chunk(&mut rng, &mut next_byte)).unwrap();
                        let (r, v) = read.await;
                        let n = r.unwrap();
                        assert!(n >= 1);
                        assert_eq!(&v[..4], b"KEEP");
                        assert_eq!(v.len(), 4 + n);
                        // Bytes of one read are consecutive in the stream.
                        for w in v[4..].windows(2) {
                            assert_eq!(w[1], w[0].wrapping_add(1), "corrupted: {v:?}");
                        }
                        completed += 1;
                    }
                }
                // Other allocations are free to reuse freed blocks now.
                std::hint::black_box(vec![0xAAu8; 32]);
            }
            assert!(completed > 1000);
            // Drain what dropped reads left in the pipe, then let every
            // orphan's packet come back.
            for _ in 0..100 {
                if statistics().overlapped_orphaned == 0 {
                    break;
                }
                oneport::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(statistics().overlapped_orphaned, 0);
            assert_eq!(statistics().tasks_waiting_overlapped, 0);
        });
    });
}

#[test]
fn dropping_the_runtime_with_reads_in_flight_drains_them() {
    let _shared = shared_handles();
    within(20, || {
        let (server, _client) = pipe_pair(false);
        let rt = oneport::Runtime::new().unwrap();
        let s = server.as_raw_handle() as usize;
        rt.block_on(async move {
            register_with_iocp(s as _).unwrap();
            for _ in 0..5 {
                oneport::spawn(async move {
                    let _ = read_overlapped(s as _, Vec::with_capacity(8), 0).await;
                })
                .detach();
            }
            wait_all_tasks_blocked().await;
            assert_eq!(statistics().tasks_waiting_overlapped, 5);
        });
        let started = std::time::Instant::now();
        drop(rt);
        // Cancelled reads come back at once: no need for the full bound.
        assert!(started.elapsed() < Duration::from_millis(1500));
    });
}

/// 1-8 bytes continuing the stream `*next`, `*next + 1`, ...
fn chunk(rng: &mut Rng, next: &mut u8) -> Vec<u8> {
    let n = 1 + rng.below(8) as usize;
    (0..n)
        .map(|_| {
            *next = next.wrapping_add(1);
            *next
        })
        .collect()
}
