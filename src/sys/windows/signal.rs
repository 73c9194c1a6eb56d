//! Windows: one console control handler that posts to the waiting ports.
//!
//! Windows calls the handler on a thread it starts for the event. The
//! handler takes the table of pending waits (an ordinary lock: this is a
//! normal thread, not a signal context) and posts one completion packet
//! to each wait's port under the wait's own completion key, from
//! `lowlevel::monitor_completion_key`. A wait removes itself from the
//! table before its monitor (and so its key) goes, so a packet is only
//! ever posted to a live port; one that lands after the wait left is
//! discarded and counted by the port, as for any retired key.

use std::io;
use std::sync::{Mutex, MutexGuard, OnceLock};

use slab::Slab;
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::{FALSE, HANDLE, TRUE};
use windows_sys::Win32::System::Console::{SetConsoleCtrlHandler, CTRL_C_EVENT};
use windows_sys::Win32::System::IO::PostQueuedCompletionStatus;

use crate::lowlevel::{current_iocp, monitor_completion_key, CompletionKeyMonitor};

/// One pending wait: its runtime's port (as an address, to be `Send`) and
/// its completion key.
struct Entry {
    port: usize,
    key: usize,
}

static WAITERS: Mutex<Slab<Entry>> = Mutex::new(Slab::new());

fn waiters() -> MutexGuard<'static, Slab<Entry>> {
    // Every critical section leaves the table consistent.
    WAITERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs the handler once; later calls get the first call's outcome.
fn install() -> io::Result<()> {
    static INSTALLED: OnceLock<Result<(), i32>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            // SAFETY: registers a handler function that lives for the whole
            // program; it is never removed.
            if unsafe { SetConsoleCtrlHandler(Some(on_ctrl), TRUE) } == 0 {
                Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
            } else {
                Ok(())
            }
        })
        .map_err(io::Error::from_raw_os_error)
}

/// The console control handler: wakes every pending wait on Ctrl-C.
/// Returns whether it handled the event (so with no wait pending, the
/// next handler, in the end the default one that ends the process, runs).
unsafe extern "system" fn on_ctrl(event: u32) -> BOOL {
    if event != CTRL_C_EVENT {
        return FALSE;
    }
    if post_to_waiters() {
        TRUE
    } else {
        FALSE
    }
}

/// Posts one packet to each pending wait; whether there was any.
fn post_to_waiters() -> bool {
    let table = waiters();
    for (_, e) in table.iter() {
        // SAFETY: the port is alive: a wait leaves the table (under this
        // lock) before its runtime can be dropped, and the packet carries
        // no memory (null OVERLAPPED).
        unsafe {
            PostQueuedCompletionStatus(e.port as HANDLE, 0, e.key, std::ptr::null_mut());
        }
    }
    !table.is_empty()
}

/// One pending `ctrl_c`: its monitor and its entry in `WAITERS`.
pub(crate) struct Waiter {
    monitor: CompletionKeyMonitor,
    slot: usize,
}

impl Waiter {
    pub(crate) fn new() -> io::Result<Waiter> {
        install()?;
        let monitor = monitor_completion_key();
        let slot = waiters().insert(Entry {
            port: current_iocp() as usize,
            key: monitor.key(),
        });
        Ok(Waiter { monitor, slot })
    }

    pub(crate) async fn wait(mut self) -> io::Result<()> {
        self.monitor.next().await;
        Ok(())
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        waiters().remove(self.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;

    /// The handler's delivery, called from another thread as Windows calls
    /// it: every waiting runtime wakes, and with none waiting the event is
    /// left to the next handler.
    #[test]
    fn the_handler_wakes_every_waiting_runtime() {
        let (tx, rx) = std::sync::mpsc::channel();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    crate::run(async {
                        let mut wait = Box::pin(crate::signal::ctrl_c());
                        // One poll registers the wait.
                        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                        assert!(wait.as_mut().poll(&mut cx).is_pending());
                        tx.send(()).unwrap();
                        crate::time::timeout(std::time::Duration::from_secs(20), wait)
                            .await
                            .expect("woken by the handler")
                    })
                })
            })
            .collect();
        rx.recv().unwrap();
        rx.recv().unwrap();
        // SAFETY: calls the handler as the system would.
        assert_eq!(unsafe { on_ctrl(CTRL_C_EVENT) }, TRUE);
        for t in threads {
            t.join().unwrap().unwrap();
        }
        // SAFETY: as above; nobody waits now.
        assert_eq!(unsafe { on_ctrl(CTRL_C_EVENT) }, FALSE);
        // Other events are never ours.
        // SAFETY: as above.
        assert_eq!(unsafe { on_ctrl(1) }, FALSE);
    }
}
