//! Many children at once, reaped without a thread per child. Alone in its
//! test binary: 200 simultaneous process starts next to other tests' children
//! can exhaust Wine's process start-up (ERROR_INTERNAL_ERROR from
//! CreateProcess) and say nothing about oneport.
mod common;

use std::process::Stdio;

use common::{child_helper as helper, within};
use oneport::process::Child;

/// Threads of this process right now.
#[cfg(unix)]
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Threads of this process right now.
#[cfg(windows)]
fn thread_count() -> usize {
    use windows_sys::Win32::Foundation::{CloseHandle, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
    };
    let pid = std::process::id();
    // SAFETY: a snapshot of all threads; the handle is checked and closed.
    let snap = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    assert_ne!(snap, INVALID_HANDLE_VALUE);
    let mut entry = THREADENTRY32 {
        dwSize: std::mem::size_of::<THREADENTRY32>() as u32,
        ..Default::default()
    };
    let mut n = 0;
    // SAFETY: `entry` is a valid THREADENTRY32 with dwSize set.
    let mut ok = unsafe { Thread32First(snap, &mut entry) };
    while ok != 0 {
        if entry.th32OwnerProcessID == pid {
            n += 1;
        }
        // SAFETY: as above.
        ok = unsafe { Thread32Next(snap, &mut entry) };
    }
    // SAFETY: we own the snapshot handle.
    unsafe { CloseHandle(snap) };
    n
}

#[test]
fn two_hundred_children_are_reaped_without_a_thread_each() {
    within(120, || {
        oneport::run(async {
            let before = thread_count();
            let mut children: Vec<Child> = (0..200)
                .map(|_| {
                    helper()
                        .arg("cat")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::null())
                        .spawn()
                        .unwrap()
                })
                .collect();
            let stdins: Vec<_> = children
                .iter_mut()
                .map(|c| c.stdin.take().unwrap())
                .collect();
            let waits: Vec<_> = children
                .iter()
                .map(|c| {
                    let w = c.waiter();
                    oneport::spawn(async move { w.wait().await })
                })
                .collect();
            oneport::lowlevel::wait_all_tasks_blocked().await;
            // All 200 alive and waited on at once.
            assert!(children.iter_mut().all(|c| c.try_wait().unwrap().is_none()));
            let during = thread_count();
            eprintln!("threads: {before} before, {during} with 200 children waited on");
            assert!(
                during < before + 50,
                "threads grew from {before} to {during} for 200 waited-on children"
            );
            drop(stdins);
            for w in waits {
                assert!(w.await.unwrap().success());
            }
            assert_eq!(oneport::lowlevel::statistics().object_waits, 0);
        })
    });
}
