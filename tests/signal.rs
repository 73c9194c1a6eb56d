//! `oneport::signal::ctrl_c`. Alone in its binary: on Linux it sends the
//! process `SIGINT`, which after the first `ctrl_c` no longer ends it.
//!
//! On Windows a program can send itself Ctrl-C only through its console
//! (`GenerateConsoleCtrlEvent`), which reaches every process on that
//! console, cargo included: so that test runs only under Wine. There, with
//! no Wine console (as under `cargo test`), the call fails with
//! `ERROR_INVALID_ACCESS` (and `AllocConsole` is refused), so what Wine
//! can check is that the failure leaves the wait pending and intact. The
//! handler's delivery to every waiting runtime is tested inside the crate
//! (`src/signal/windows.rs`), calling the handler from another thread as
//! Windows does.
mod common;

use std::future::Future;
use std::task::{Context, Waker};
use std::time::Duration;

use common::within;

/// Held by each test: one fills the Linux table, which would make the
/// others' waits fail meanwhile.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls a fresh `ctrl_c` once, so it is registered before anything is
/// sent (a signal before that would find no handler).
fn registered() -> std::pin::Pin<Box<impl Future<Output = std::io::Result<()>>>> {
    let mut wait = Box::pin(oneport::signal::ctrl_c());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(wait.as_mut().poll(&mut cx).is_pending(), "nothing sent yet");
    wait
}

#[cfg(unix)]
fn send_ctrl_c() {
    // SAFETY: raise takes a signal number; the handler is installed (a
    // `ctrl_c` was polled first).
    assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
}

#[cfg(unix)]
#[test]
fn ctrl_c_returns_on_sigint_in_every_runtime_waiting() {
    let _serial = serial();
    within(30, || {
        let (tx, rx) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            oneport::run(async {
                let wait = registered();
                tx.send(()).unwrap();
                oneport::time::timeout(Duration::from_secs(20), wait).await
            })
        });
        oneport::run(async {
            let wait = registered();
            // A second wait on the same runtime, as a task.
            let mut task = oneport::spawn(oneport::signal::ctrl_c());
            for _ in 0..3 {
                oneport::yield_now().await;
            }
            assert!(!task.is_finished());
            rx.recv().unwrap();
            send_ctrl_c();
            let r = oneport::time::timeout(Duration::from_secs(20), wait).await;
            r.expect("woken by SIGINT").unwrap();
            let r = oneport::time::timeout(Duration::from_secs(20), &mut task).await;
            r.expect("the task woken too").unwrap();

            // The next wait needs the next interrupt.
            let mut wait = registered();
            oneport::time::sleep(Duration::from_millis(20)).await;
            let mut cx = Context::from_waker(Waker::noop());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            send_ctrl_c();
            oneport::time::timeout(Duration::from_secs(20), wait)
                .await
                .expect("woken by the second SIGINT")
                .unwrap();
        });
        other
            .join()
            .unwrap()
            .expect("the other runtime woken")
            .unwrap();
        // Nobody waits now: SIGINT is caught and dropped, not fatal.
        send_ctrl_c();
    });
}

/// Waits are freed when dropped: many more than the Linux table holds
/// (256), one after the other, all register.
#[test]
fn dropped_waits_free_their_place() {
    let _serial = serial();
    within(30, || {
        oneport::run(async {
            for _ in 0..1000 {
                drop(registered());
            }
        })
    });
}

/// Linux holds at most 256 waits at once; the next one is a clear error,
/// not a panic, and a freed place is usable again.
#[cfg(unix)]
#[test]
fn more_waits_than_the_signal_table_holds_is_an_error() {
    let _serial = serial();
    within(30, || {
        oneport::run(async {
            let mut held = Vec::new();
            let err = loop {
                let mut w = Box::pin(oneport::signal::ctrl_c());
                let mut cx = Context::from_waker(Waker::noop());
                match w.as_mut().poll(&mut cx) {
                    std::task::Poll::Pending => held.push(w),
                    std::task::Poll::Ready(r) => break r.unwrap_err(),
                }
                assert!(held.len() <= 256, "the table holds 256");
            };
            assert!(err.to_string().contains("256"), "{err}");
            assert!(held.len() > 200);
            held.pop();
            let again = registered();
            drop((held, again));
        })
    });
}

/// Under Wine: whatever `GenerateConsoleCtrlEvent` does, a wait stays
/// correct. If the event is sent, the wait returns; if Wine refuses it
/// (no Wine console: `ERROR_INVALID_ACCESS`), the wait stays pending and
/// can be dropped. Skipped on real Windows, where the event would also
/// reach cargo and the other processes of the console.
#[cfg(windows)]
#[test]
fn ctrl_c_under_wine_with_generate_console_ctrl_event() {
    use windows_sys::Win32::System::Console::{GenerateConsoleCtrlEvent, CTRL_C_EVENT};
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    // SAFETY: looks up an export of ntdll by a NUL-terminated name.
    let wine = unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    };
    if !wine {
        eprintln!(
            "not under Wine: GenerateConsoleCtrlEvent would reach the whole console; skipped"
        );
        return;
    }
    let _serial = serial();
    within(30, || {
        oneport::run(async {
            let mut wait = registered();
            // SAFETY: plain values; group 0 is the caller's console.
            let sent = unsafe { GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0) } != 0;
            if sent {
                oneport::time::timeout(Duration::from_secs(20), wait)
                    .await
                    .expect("woken by the console's Ctrl-C")
                    .unwrap();
            } else {
                let e = std::io::Error::last_os_error();
                eprintln!("Wine refused GenerateConsoleCtrlEvent: {e}");
                oneport::time::sleep(Duration::from_millis(50)).await;
                let mut cx = Context::from_waker(Waker::noop());
                assert!(wait.as_mut().poll(&mut cx).is_pending());
                drop(wait);
            }
        })
    });
}
