//! A runtime dropped with an overlapped operation whose completion never
//! comes reports the leak through the `log` facade (not on stderr), after
//! its bounded drain. Its own test binary: the logger is process-wide.
#![cfg(windows)]
mod common;
use common::log_capture::capture;

use std::future::Future;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::task::Context;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_OVERLAPPED, OPEN_EXISTING, PIPE_ACCESS_DUPLEX,
};
use windows_sys::Win32::System::Pipes::{CreateNamedPipeW, PIPE_TYPE_BYTE, PIPE_WAIT};

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(Some(0)).collect()
}

#[test]
fn an_operation_that_never_completes_is_leaked_and_reported_through_log() {
    let log = capture();
    let name = wide(&format!(r"\\.\pipe\oneport-drain-{}", std::process::id()));
    // SAFETY: a fresh overlapped pipe instance; checked below.
    let server = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
            PIPE_TYPE_BYTE | PIPE_WAIT,
            1,
            4096,
            4096,
            0,
            std::ptr::null(),
        )
    };
    assert_ne!(server, INVALID_HANDLE_VALUE);
    // SAFETY: we own the fresh handle.
    let server = unsafe { OwnedHandle::from_raw_handle(server as _) };
    // SAFETY: opens the client end of the pipe we just created.
    let client = unsafe {
        CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            0,
            std::ptr::null(),
            OPEN_EXISTING,
            FILE_FLAG_OVERLAPPED,
            std::ptr::null_mut(),
        )
    };
    assert_ne!(client, INVALID_HANDLE_VALUE);
    // SAFETY: as above.
    let _client = unsafe { OwnedHandle::from_raw_handle(client as _) };

    let rt = oneport::Runtime::new().unwrap();
    rt.block_on(async {
        // Deliberately NOT registered with the port: the read pends, and
        // (under Wine) a cancel succeeds without any packet ever arriving.
        let mut read = Box::pin(oneport::lowlevel::read_overlapped(
            server.as_raw_handle(),
            Vec::with_capacity(16),
            0,
        ));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(read.as_mut().poll(&mut cx).is_pending());
        drop(read); // orphaned: the driver owns its memory now
        assert_eq!(oneport::lowlevel::statistics().overlapped_orphaned, 1);
    });
    let started = Instant::now();
    drop(rt);
    let took = started.elapsed();
    let records = log.0.lock().unwrap().clone();
    let leak = records
        .iter()
        .find(|(_, _, m)| m.contains("overlapped operation") && m.contains("leaked"));
    match leak {
        Some((level, target, _)) => {
            assert_eq!(*level, log::Level::Warn);
            assert_eq!(target, "oneport");
            assert!(took >= Duration::from_millis(1900), "drained for {took:?}");
            assert!(
                took < Duration::from_secs(20),
                "drain not bounded: {took:?}"
            );
        }
        // On Windows itself the cancel completes with a packet: then there
        // is nothing to leak, and nothing may be reported.
        None => assert!(records.is_empty(), "{records:?}"),
    }
}
