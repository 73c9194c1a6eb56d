//! `wait_for_object`: a signal from another thread wakes the waiter, an
//! already-signalled object completes at once, a dropped wait leaves no
//! trace, a bad handle is an error, and a job object posts process events
//! to a monitor key of the runtime's own port.
#![cfg(windows)]
mod common;

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::time::Duration;

use common::within;
use oneport::lowlevel::{current_iocp, monitor_completion_key, statistics, wait_for_object};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectAssociateCompletionPortInformation,
    SetInformationJobObject, JOBOBJECT_ASSOCIATE_COMPLETION_PORT,
};
use windows_sys::Win32::System::Threading::{CreateEventW, SetEvent};
use windows_sys::Win32::System::IO::{
    GetQueuedCompletionStatus, PostQueuedCompletionStatus, OVERLAPPED,
};

/// A manual-reset event, not set.
fn event() -> OwnedHandle {
    // SAFETY: creating an anonymous event has no preconditions; the handle
    // is checked and then owned.
    let h = unsafe { CreateEventW(std::ptr::null(), 1, 0, std::ptr::null()) };
    assert!(
        !h.is_null(),
        "CreateEventW: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `h` is a fresh handle we own.
    unsafe { OwnedHandle::from_raw_handle(h) }
}

fn set(h: HANDLE) {
    // SAFETY: `h` is an open event handle.
    assert_ne!(unsafe { SetEvent(h) }, 0);
}

/// Sendable raw handle for the setter thread (the event outlives it).
#[derive(Clone, Copy)]
struct SendHandle(usize);

#[test]
fn an_event_set_later_from_another_thread_wakes_the_waiter() {
    within(20, || {
        oneport::run(async {
            let ev = event();
            let raw = SendHandle(ev.as_raw_handle() as usize);
            let waiter = oneport::spawn(async move { wait_for_object(raw.0 as HANDLE).await });
            oneport::lowlevel::wait_all_tasks_blocked().await;
            assert_eq!(statistics().object_waits, 1);
            let setter = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                set(raw.0 as HANDLE);
            });
            waiter.await.expect("wait_for_object");
            setter.join().unwrap();
            let s = statistics();
            assert_eq!(s.object_waits, 0);
            assert_eq!(s.object_wait_packets_discarded, 0);
            assert!(["wait-packet", "thread-pool"].contains(&s.object_wait_mechanism));
            eprintln!("object waits delivered by: {}", s.object_wait_mechanism);
        })
    });
}

#[test]
fn an_already_signalled_object_completes_at_once() {
    within(20, || {
        oneport::run(async {
            let ev = event();
            set(ev.as_raw_handle());
            for _ in 0..3 {
                wait_for_object(ev.as_raw_handle()).await.unwrap();
            }
            assert_eq!(statistics().object_waits, 0);
        })
    });
}

#[test]
fn an_invalid_handle_is_an_error_not_a_hang() {
    within(20, || {
        oneport::run(async {
            let e = wait_for_object(std::ptr::null_mut()).await.unwrap_err();
            assert!(e.raw_os_error().is_some(), "an OS error, got {e:?}");
            // A closed handle value as well.
            let ev = event();
            let raw = ev.as_raw_handle();
            drop(ev);
            assert!(wait_for_object(raw).await.is_err());
            assert_eq!(statistics().object_waits, 0);
        })
    });
}

#[test]
fn a_dropped_wait_leaves_no_trace_when_the_object_is_signalled_later() {
    within(20, || {
        oneport::run(async {
            let ev = event();
            let other = event();
            let raw = SendHandle(ev.as_raw_handle() as usize);
            let other_raw = SendHandle(other.as_raw_handle() as usize);
            // A second, unrelated wait must not be woken by the first's signal.
            let bystander =
                oneport::spawn(async move { wait_for_object(other_raw.0 as HANDLE).await });
            let doomed = oneport::spawn(async move { wait_for_object(raw.0 as HANDLE).await });
            oneport::lowlevel::wait_all_tasks_blocked().await;
            assert_eq!(statistics().object_waits, 2);
            drop(doomed);
            oneport::yield_now().await;
            assert_eq!(statistics().object_waits, 1);
            set(ev.as_raw_handle());
            oneport::time::sleep(Duration::from_millis(100)).await;
            let s = statistics();
            assert_eq!(s.object_waits, 1, "the bystander still waits");
            assert_eq!(s.object_wait_packets_discarded, 0, "nothing was delivered");
            set(other.as_raw_handle());
            bystander.await.unwrap();
            assert_eq!(statistics().object_waits, 0);
        })
    });
}

#[test]
fn a_packet_for_a_wait_dropped_after_its_signal_is_discarded_and_counted() {
    within(20, || {
        oneport::run(async {
            let ev = event();
            let raw = SendHandle(ev.as_raw_handle() as usize);
            let doomed = oneport::spawn(async move { wait_for_object(raw.0 as HANDLE).await });
            oneport::lowlevel::wait_all_tasks_blocked().await;
            set(ev.as_raw_handle());
            // Take the wait's packet off the port ourselves (blocking this
            // thread, so the runtime cannot see it), drop the wait, then put
            // the packet back: the runtime now dequeues a packet for a wait
            // that no longer exists.
            let (mut bytes, mut key, mut ov) = (0u32, 0usize, std::ptr::null_mut::<OVERLAPPED>());
            // SAFETY: the port is the runtime's open port; the out pointers
            // are valid locals.
            let ok = unsafe {
                GetQueuedCompletionStatus(current_iocp(), &mut bytes, &mut key, &mut ov, 10_000)
            };
            assert_ne!(
                ok,
                0,
                "the signal's packet arrives: {}",
                std::io::Error::last_os_error()
            );
            drop(doomed);
            oneport::yield_now().await;
            assert_eq!(statistics().object_waits, 0);
            // SAFETY: re-posts the same three values to the open port.
            assert_ne!(
                unsafe { PostQueuedCompletionStatus(current_iocp(), bytes, key, ov) },
                0
            );
            oneport::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(statistics().object_wait_packets_discarded, 1);
            // The subsystem still works afterwards.
            wait_for_object(ev.as_raw_handle()).await.unwrap();
        })
    });
}

#[test]
fn many_waits_at_once_all_complete() {
    within(30, || {
        oneport::run(async {
            let events: Vec<OwnedHandle> = (0..100).map(|_| event()).collect();
            let mut tasks = Vec::new();
            for ev in &events {
                let raw = SendHandle(ev.as_raw_handle() as usize);
                tasks.push(oneport::spawn(async move {
                    wait_for_object(raw.0 as HANDLE).await
                }));
            }
            oneport::lowlevel::wait_all_tasks_blocked().await;
            assert_eq!(statistics().object_waits, 100);
            for ev in events.iter().rev() {
                set(ev.as_raw_handle());
            }
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(statistics().object_waits, 0);
        })
    });
}

/// The child helper built as an example beside the test binaries.
fn helper() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let p = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples")
        .join("child_helper.exe");
    assert!(
        p.exists(),
        "{} missing: build it with `cargo build --examples`",
        p.display()
    );
    p
}

const JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO: u32 = 4;
const JOB_OBJECT_MSG_EXIT_PROCESS: u32 = 7;

#[test]
fn a_job_object_reports_its_childs_exit_to_a_monitor_key() {
    within(30, || {
        oneport::run(async {
            let mut monitor = monitor_completion_key();
            // SAFETY: creating an anonymous job object; checked and owned.
            let job = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
            assert!(!job.is_null());
            // SAFETY: `job` is a fresh handle we own.
            let job = unsafe { OwnedHandle::from_raw_handle(job) };
            let info = JOBOBJECT_ASSOCIATE_COMPLETION_PORT {
                CompletionKey: monitor.key() as *mut _,
                CompletionPort: current_iocp(),
            };
            // SAFETY: `info` is a valid struct of the size given.
            let ok = unsafe {
                SetInformationJobObject(
                    job.as_raw_handle(),
                    JobObjectAssociateCompletionPortInformation,
                    (&info as *const JOBOBJECT_ASSOCIATE_COMPLETION_PORT).cast(),
                    std::mem::size_of_val(&info) as u32,
                )
            };
            assert_ne!(ok, 0, "{}", std::io::Error::last_os_error());
            // The child copies stdin until it closes: it stays alive until
            // we have put it in the job.
            let mut child = std::process::Command::new(helper())
                .arg("cat")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // SAFETY: both handles are open.
            let ok =
                unsafe { AssignProcessToJobObject(job.as_raw_handle(), child.as_raw_handle()) };
            assert_ne!(ok, 0, "{}", std::io::Error::last_os_error());
            drop(child.stdin.take());
            let pid = child.id() as usize;
            // The process handle signals exit through wait_for_object too.
            wait_for_object(child.as_raw_handle()).await.unwrap();
            assert_eq!(child.try_wait().unwrap().map(|s| s.code()), Some(Some(0)));
            let mut saw_exit = false;
            while !saw_exit {
                let ev = monitor.next().await;
                saw_exit = (ev.bytes_transferred == JOB_OBJECT_MSG_EXIT_PROCESS
                    && ev.overlapped == pid)
                    || ev.bytes_transferred == JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO;
            }
        })
    });
}
