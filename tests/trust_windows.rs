//! Completion-side trust fixes, each with the defect it pins down:
//! a refused call that still queues a packet (item 9), handles bound to one
//! runtime's port used elsewhere (item 10).
#![cfg(windows)]
mod common;
use common::log_capture::capture;
use common::temp_path;

use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::within;
use oneport::lowlevel::{read_overlapped, register_with_iocp, statistics, write_overlapped};
use oneport::windows::named_pipe::{ClientOptions, ServerOptions};
use windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OVERLAPPED;

/// The tests here run one at a time: one of them closes a handle and then
/// cancels through its stale value, which another test's new handle could
/// otherwise take in between (handle values are reused at once).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn pipe_name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        r"\\.\pipe\oneport-trust-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Wine fails `WriteFile`/`ReadFile` past `i64::MAX` with error 87 and still
/// queues a packet naming the OVERLAPPED: the driver must neither free the
/// block under it nor panic on the packet ("unknown OVERLAPPED").
#[test]
fn a_refused_file_call_that_still_queues_a_packet_is_an_error_not_a_crash() {
    let _serial = serial();
    within(20, || {
        let path = temp_path("refused");
        std::fs::write(&path, b"0123456789").unwrap();
        oneport::run(async {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(FILE_FLAG_OVERLAPPED)
                .open(&path)
                .unwrap();
            let h = f.as_raw_handle();
            register_with_iocp(h).unwrap();
            for round in 0..3 {
                let (r, buf) = write_overlapped(h, &b"12345678"[..], (i64::MAX - 4) as u64).await;
                let e = r.unwrap_err();
                assert_eq!(
                    e.kind(),
                    io::ErrorKind::InvalidInput,
                    "round {round}: {e:?}"
                );
                assert_eq!(buf, b"12345678", "the buffer comes back");
                let (r, _) = read_overlapped(h, Vec::with_capacity(8), (i64::MAX - 4) as u64).await;
                assert!(r.is_err(), "round {round}: {r:?}");
                // The packets the refused calls queued are dispatched by the
                // next turns of the loop: they must be recognised.
                oneport::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            // The runtime is still sound: ordinary I/O on the same handle.
            let (r, _) = write_overlapped(h, &b"ab"[..], 0).await;
            assert_eq!(r.unwrap(), 2);
            let (r, v) = read_overlapped(h, Vec::with_capacity(4), 0).await;
            assert_eq!(r.unwrap(), 4);
            assert_eq!(v, b"ab23");
            let s = statistics();
            assert_eq!((s.tasks_waiting_overlapped, s.overlapped_orphaned), (0, 0));
        });
        std::fs::remove_file(&path).unwrap();
    });
}

/// The message every bound-handle error carries.
fn assert_bound_error(e: &io::Error, why: &str) {
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e:?}");
    assert!(e.to_string().contains(why), "{e}");
}

/// A `File` moved to another runtime: an error there, and nothing wrong
/// left behind on the runtime that opened it.
#[test]
fn a_file_used_on_another_runtime_is_an_error_not_a_hang() {
    let _serial = serial();
    within(20, || {
        let path = temp_path("other-rt");
        std::fs::write(&path, b"hello").unwrap();
        let rt = oneport::Runtime::new().unwrap();
        let f = rt.block_on(oneport::fs::File::open(&path)).unwrap();
        let f = std::thread::spawn(move || {
            oneport::run(async {
                let (r, _) = f.read_at(Vec::with_capacity(8), 0).await;
                assert_bound_error(&r.unwrap_err(), "another runtime");
                let (r, _) = f.write_at(&b"x"[..], 0).await;
                assert!(r.is_err());
            });
            f
        })
        .join()
        .unwrap();
        // Back home it works, and the home runtime saw no stray packet.
        rt.block_on(async {
            oneport::time::sleep(std::time::Duration::from_millis(10)).await;
            let (r, v) = f.read_at(Vec::with_capacity(8), 0).await;
            assert_eq!(r.unwrap(), 5);
            assert_eq!(v, b"hello");
        });
        drop(f);
        drop(rt);
        std::fs::remove_file(&path).unwrap();
    });
}

/// A `File` outliving its runtime: an error on the next one, not a hang.
#[test]
fn a_file_used_after_its_runtime_was_dropped_is_an_error() {
    let _serial = serial();
    within(20, || {
        let path = temp_path("dropped-rt");
        std::fs::write(&path, b"hello").unwrap();
        let f = oneport::run(oneport::fs::File::open(&path)).unwrap();
        oneport::run(async {
            let (r, _) = f.read_at(Vec::with_capacity(8), 0).await;
            assert_bound_error(&r.unwrap_err(), "dropped");
        });
        drop(f);
        std::fs::remove_file(&path).unwrap();
    });
}

/// Named pipes are bound the same way, for every operation. (Pipes are
/// not `Send`: two runtimes on one thread, used in turn.)
#[test]
fn a_named_pipe_on_another_or_a_dropped_runtime_is_an_error() {
    let _serial = serial();
    use futures_io::AsyncWrite;
    use std::future::poll_fn;
    use std::pin::Pin;
    within(20, || {
        let name = pipe_name("bound");
        let home = oneport::Runtime::new().unwrap();
        let (server, mut client) = home.block_on(async {
            let server = ServerOptions::new()
                .first_pipe_instance(true)
                .create(&name)
                .unwrap();
            let client = ClientOptions::new().open(&name).unwrap();
            server.connect().await.unwrap();
            (server, client)
        });
        let other = oneport::Runtime::new().unwrap();
        other.block_on(async {
            let (r, _) = server.read(Vec::with_capacity(4)).await;
            assert_bound_error(&r.unwrap_err(), "another runtime");
            let r = poll_fn(|cx| Pin::new(&mut client).poll_write(cx, b"y")).await;
            assert_bound_error(&r.unwrap_err(), "another runtime");
        });
        // Home still works.
        home.block_on(async {
            let (r, _) = client.write(&b"hi"[..]).await;
            assert_eq!(r.unwrap(), 2);
            let (r, v) = server.read(Vec::with_capacity(4)).await;
            assert_eq!(r.unwrap(), 2);
            assert_eq!(v, b"hi");
        });
        drop(home);
        other.block_on(async {
            assert_bound_error(&server.connect().await.unwrap_err(), "dropped");
            let (r, _) = server.read(Vec::with_capacity(4)).await;
            assert_bound_error(&r.unwrap_err(), "dropped");
            let (r, _) = client.write(&b"x"[..]).await;
            assert_bound_error(&r.unwrap_err(), "dropped");
            let r = poll_fn(|cx| Pin::new(&mut client).poll_write(cx, b"y")).await;
            assert_bound_error(&r.unwrap_err(), "dropped");
        });
    });
}

/// A child's pipes are bound to the runtime of their first operation.
#[test]
fn a_child_pipe_used_on_another_or_a_dropped_runtime_is_an_error() {
    let _serial = serial();
    within(60, || {
        let mut child = common::child_helper()
            .arg("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let home = oneport::Runtime::new().unwrap();
        home.block_on(async {
            stdin.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            let mut got = 0;
            while got < 4 {
                got += stdout.read(&mut buf[got..]).await.unwrap();
            }
            assert_eq!(&buf, b"ping");
        });
        let other = oneport::Runtime::new().unwrap();
        other.block_on(async {
            let e = stdin.write_all(b"pong").await.unwrap_err();
            assert_bound_error(&e, "another runtime");
            let mut buf = [0u8; 4];
            assert_bound_error(&stdout.read(&mut buf).await.unwrap_err(), "another runtime");
        });
        drop(home);
        other.block_on(async {
            let e = stdin.write_all(b"pong").await.unwrap_err();
            assert_bound_error(&e, "dropped");
            drop(stdin);
            drop(stdout);
            assert!(child.wait().await.unwrap().success());
        });
    });
}

/// A call that reports failure but queued a packet anyway (what an NT
/// warning status does, and what Wine does for a refused file call),
/// simulated by a submit closure that queues the packet itself: the
/// packet is the operation's result, and nothing is freed under it.
#[test]
fn a_packet_queued_by_a_call_that_reported_failure_is_its_result() {
    let _serial = serial();
    use windows_sys::Win32::System::IO::PostQueuedCompletionStatus;
    within(20, || {
        oneport::run(async {
            let port = oneport::lowlevel::current_iocp();
            let (server, _client) = pipe_pair();
            let h = server.as_raw_handle();
            register_with_iocp(h).unwrap();
            for code in [87, 234, 1] {
                // SAFETY: the closure starts nothing; the packet it posts
                // names the operation's OVERLAPPED under the overlapped key
                // (1), as the kernel would, and touches no memory.
                let (r, res) = unsafe {
                    oneport::lowlevel::submit_overlapped(h, 7u32, move |ov, _| {
                        assert_ne!(PostQueuedCompletionStatus(port as _, 5, 1, ov), 0);
                        Err(io::Error::from_raw_os_error(code))
                    })
                }
                .await;
                assert_eq!(res, 7);
                assert_eq!(r.unwrap(), 5, "the packet's result (code {code})");
            }
            // And a refusal with no packet still comes back at once.
            // SAFETY: the closure starts nothing and queues nothing.
            let (r, _) = unsafe {
                oneport::lowlevel::submit_overlapped(h, (), |_, _| {
                    Err(io::Error::from_raw_os_error(6))
                })
            }
            .await;
            assert_eq!(r.unwrap_err().raw_os_error(), Some(6));
            oneport::time::sleep(std::time::Duration::from_millis(5)).await;
            let s = statistics();
            assert_eq!((s.tasks_waiting_overlapped, s.overlapped_orphaned), (0, 0));
        });
    });
}

/// A connected overlapped byte pipe (server, client).
fn pipe_pair() -> (
    std::os::windows::io::OwnedHandle,
    std::os::windows::io::OwnedHandle,
) {
    use std::os::windows::io::FromRawHandle;
    use windows_sys::Win32::Foundation::{GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::Storage::FileSystem::{CreateFileW, OPEN_EXISTING, PIPE_ACCESS_DUPLEX};
    use windows_sys::Win32::System::Pipes::{CreateNamedPipeW, PIPE_TYPE_BYTE, PIPE_WAIT};
    let name: Vec<u16> = pipe_name("raw").encode_utf16().chain(Some(0)).collect();
    // SAFETY: a NUL-terminated name; the handles are checked, then owned.
    unsafe {
        let server = CreateNamedPipeW(
            name.as_ptr(),
            PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
            PIPE_TYPE_BYTE | PIPE_WAIT,
            1,
            4096,
            4096,
            0,
            std::ptr::null(),
        );
        assert_ne!(server, INVALID_HANDLE_VALUE);
        let client = CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            0,
            std::ptr::null(),
            OPEN_EXISTING,
            FILE_FLAG_OVERLAPPED,
            std::ptr::null_mut(),
        );
        assert_ne!(client, INVALID_HANDLE_VALUE);
        (
            std::os::windows::io::OwnedHandle::from_raw_handle(server),
            std::os::windows::io::OwnedHandle::from_raw_handle(client),
        )
    }
}

/// A `CancelIoEx` that fails for another reason than "already finished"
/// (here: the handle was closed under the operation) is reported through
/// `log`, not swallowed; the operation's packet still frees it.
#[test]
fn a_failed_cancel_is_reported_through_log() {
    let _serial = serial();
    use oneport::lowlevel::OverlappedOp;
    use windows_sys::Win32::Storage::FileSystem::ReadFile;
    let log = capture();
    within(20, || {
        oneport::run(async {
            let (server, client) = pipe_pair();
            let h = server.as_raw_handle();
            register_with_iocp(h).unwrap();
            // SAFETY: one ReadFile into the operation's own buffer.
            let op = unsafe {
                OverlappedOp::start(h, [0u8; 8], move |ov, buf: &mut [u8; 8]| {
                    if ReadFile(h, buf.as_mut_ptr(), 8, std::ptr::null_mut(), ov) == 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                })
            }
            .unwrap();
            // Close the handle (which cancels the read), then give up on the
            // operation before its packet is dequeued: CancelIoEx now fails
            // with an invalid handle.
            drop(server);
            drop(op);
            for _ in 0..100 {
                if statistics().overlapped_orphaned == 0 {
                    break;
                }
                oneport::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            assert_eq!(statistics().overlapped_orphaned, 0, "freed by its packet");
            drop(client);
        });
    });
    let logged = log.0.lock().unwrap();
    assert!(
        logged
            .iter()
            .any(|(level, target, msg)| *level == log::Level::Warn
                && target == "oneport"
                && msg.contains("CancelIoEx")),
        "{logged:?}"
    );
}
