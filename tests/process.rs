//! Child processes: exit codes, kill, many waiters, pipes in both
//! directions with large data, output(), a child that stops reading.
//! (Many children at once: tests/process_many.rs, alone in its binary.)
//!
//! The child is `examples/child_helper.rs`, built by cargo beside the test
//! binaries, so the same tests run natively and as Windows processes under
//! Wine.
mod common;

use std::io;
use std::process::Stdio;
use std::time::Duration;

use common::{child_helper as helper, within, Rng};
use oneport::process::{Child, Command};

fn spawn(args: &[&str]) -> Child {
    helper().args(args).spawn().expect("spawn the helper")
}

#[test]
fn exit_codes_are_reported() {
    within(60, || {
        oneport::run(async {
            for code in [0, 1, 7, 42] {
                let mut child = spawn(&["exit", &code.to_string()]);
                assert!(child.id() > 0);
                let st = child.wait().await.unwrap();
                assert_eq!(st.code(), Some(code));
                assert_eq!(st.success(), code == 0);
                // Waiting again, or polling, gives the same status.
                assert_eq!(child.wait().await.unwrap(), st);
                assert_eq!(child.try_wait().unwrap(), Some(st));
            }
        })
    });
}

#[test]
fn a_missing_program_is_an_error() {
    let e = Command::new("/this/program/does/not/exist-oneport")
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

#[test]
fn kill_ends_a_running_child_and_wait_returns() {
    within(60, || {
        oneport::run(async {
            let mut child = spawn(&["sleep", "60000"]);
            assert_eq!(child.try_wait().unwrap(), None);
            child.kill().unwrap();
            let st = child.wait().await.unwrap();
            assert!(!st.success());
            // Killing an exited child is not an error.
            child.kill().unwrap();
        })
    });
}

#[test]
fn a_cancelled_wait_loses_nothing() {
    within(60, || {
        oneport::run(async {
            let mut child = helper()
                .arg("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let r = oneport::time::timeout(Duration::from_millis(20), child.wait()).await;
            assert!(r.is_err(), "the child waits for its stdin to close");
            drop(child.stdin.take());
            assert!(child.wait().await.unwrap().success());
        })
    });
}

#[test]
fn three_concurrent_waits_survive_cancelling_some() {
    within(60, || {
        oneport::run(async {
            // Cancel which of the three waiters (by the order they first
            // polled; the first holds the driver wait), then kill.
            for cancel in [&[0usize][..], &[0, 1], &[1], &[2, 0]] {
                let mut child = spawn(&["sleep", "60000"]);
                let w = child.waiter();
                let mut tasks: Vec<_> = (0..3)
                    .map(|_| {
                        let w = w.clone();
                        Some(oneport::spawn(async move { w.wait().await }))
                    })
                    .collect();
                oneport::lowlevel::wait_all_tasks_blocked().await;
                for &i in cancel {
                    drop(tasks[i].take());
                }
                oneport::lowlevel::wait_all_tasks_blocked().await;
                assert_eq!(child.try_wait().unwrap(), None);
                child.kill().unwrap();
                let mut statuses = Vec::new();
                for t in tasks.into_iter().flatten() {
                    statuses.push(t.await.unwrap());
                }
                assert_eq!(statuses.len(), 3 - cancel.len());
                let st = child.wait().await.unwrap();
                assert!(!st.success());
                assert!(
                    statuses.iter().all(|s| *s == st),
                    "every waiter got the status"
                );
                assert_eq!(w.try_wait().unwrap(), Some(st));
            }
        })
    });
}

#[test]
fn one_mebibyte_through_a_child_and_back() {
    within(60, || {
        oneport::run(async {
            let mut data = vec![0u8; 1 << 20];
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            data.iter_mut().for_each(|b| *b = rng.next() as u8);
            let mut child = helper()
                .arg("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let mut stdout = child.stdout.take().unwrap();
            let sent = data.clone();
            let writer = oneport::spawn(async move {
                // Uneven pieces, so pipe-buffer boundaries fall anywhere.
                for piece in sent.chunks(100_003) {
                    stdin.write_all(piece).await?;
                }
                stdin.close().await
            });
            let mut back = Vec::new();
            stdout.read_to_end(&mut back).await.unwrap();
            writer.await.unwrap();
            assert_eq!(back.len(), data.len());
            assert!(back == data, "the bytes came back unchanged");
            assert!(child.wait().await.unwrap().success());
        })
    });
}

#[test]
fn output_collects_four_mebibytes_from_stdout_and_stderr() {
    within(60, || {
        oneport::run(async {
            const N: usize = 4 << 20;
            let out = helper()
                .args(["spew", &N.to_string()])
                .output()
                .await
                .unwrap();
            assert!(out.status.success());
            assert_eq!(out.stdout.len(), N);
            assert_eq!(out.stderr.len(), N);
            let expected = |i: usize| (i % 251) as u8;
            assert!(out
                .stdout
                .iter()
                .enumerate()
                .all(|(i, &b)| b == expected(i)));
            assert!(out
                .stderr
                .iter()
                .enumerate()
                .all(|(i, &b)| b == expected(i)));
        })
    });
}

#[test]
fn output_reports_failure_and_respects_explicit_streams() {
    within(60, || {
        oneport::run(async {
            let out = helper().args(["exit", "3"]).output().await.unwrap();
            assert_eq!(out.status.code(), Some(3));
            assert!(out.stdout.is_empty());
            let out = helper()
                .args(["print", "hello"])
                .stdout(Stdio::null())
                .output()
                .await
                .unwrap();
            assert!(out.status.success());
            assert!(out.stdout.is_empty(), "stdout went to null as asked");
            let out = helper().args(["print", "hello"]).output().await.unwrap();
            assert_eq!(out.stdout, b"hello");
        })
    });
}

#[test]
fn streams_not_piped_have_no_handle() {
    within(60, || {
        oneport::run(async {
            let mut child = helper()
                .args(["exit", "0"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            assert!(child.stdin.is_none() && child.stdout.is_none() && child.stderr.is_none());
            assert!(child.wait().await.unwrap().success());
        })
    });
}

#[test]
fn writing_to_a_child_that_closed_stdin_is_a_broken_pipe() {
    within(60, || {
        oneport::run(async {
            // The child reads 16 bytes, closes stdin and stays alive 30 s:
            // our writes must fail rather than wait for room forever.
            let mut child = helper()
                .args(["close-stdin", "30000"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let big = vec![7u8; 4 << 20];
            let e = stdin.write_all(&big).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "got {e:?}");
            // And it stays an error.
            assert!(stdin.write_all(b"more").await.is_err());
            child.kill().unwrap();
            assert!(!child.wait().await.unwrap().success());
        })
    });
}

#[test]
fn a_cancelled_read_loses_no_bytes_and_the_futures_io_traits_work() {
    use futures_io::{AsyncRead, AsyncWrite};
    use std::future::poll_fn;
    use std::pin::Pin;
    within(60, || {
        oneport::run(async {
            let mut child = helper()
                .arg("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let mut stdout = child.stdout.take().unwrap();
            let mut buf = [0u8; 64];
            // Nothing to read yet: give up on the read after a while.
            let r = oneport::time::timeout(Duration::from_millis(30), stdout.read(&mut buf)).await;
            assert!(r.is_err());
            // Bytes that arrive now still reach the next read.
            let n = poll_fn(|cx| Pin::new(&mut stdin).poll_write(cx, b"abc"))
                .await
                .unwrap();
            assert_eq!(n, 3);
            poll_fn(|cx| Pin::new(&mut stdin).poll_flush(cx))
                .await
                .unwrap();
            let mut got = Vec::new();
            while got.len() < 3 {
                let n = poll_fn(|cx| Pin::new(&mut stdout).poll_read(cx, &mut buf))
                    .await
                    .unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"abc");
            poll_fn(|cx| Pin::new(&mut stdin).poll_close(cx))
                .await
                .unwrap();
            assert!(stdin.write(b"x").await.is_err(), "closed by us");
            assert_eq!(stdout.read(&mut buf).await.unwrap(), 0, "end of output");
            assert!(child.wait().await.unwrap().success());
            // A read cancelled while pending leaves nothing behind.
            assert_eq!(oneport::lowlevel::statistics().tasks_waiting_read, 0);
        })
    });
}

#[test]
fn a_write_given_up_on_is_never_interleaved_with_the_next() {
    within(60, || {
        oneport::run(async {
            let mut child = helper()
                .arg("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let mut stdout = child.stdout.take().unwrap();
            let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 199) as u8 + 1).collect();
            // Nobody reads stdout yet, so both pipes fill and the write
            // cannot finish: give up on it.
            let r =
                oneport::time::timeout(Duration::from_millis(100), stdin.write_all(&data)).await;
            assert!(r.is_err(), "4 MiB cannot fit in two pipe buffers");
            let reader = oneport::spawn(async move {
                let mut back = Vec::new();
                stdout.read_to_end(&mut back).await.map(|_| back)
            });
            stdin.write_all(b"\0tail").await.unwrap();
            stdin.close().await.unwrap();
            let back = reader.await.unwrap();
            // What the abandoned write got through is a prefix of it (all
            // of its first piece, on Windows), then the new bytes follow.
            let (head, tail) = back.split_at(back.len() - 5);
            assert_eq!(tail, b"\0tail");
            assert!(
                data.starts_with(head),
                "a clean prefix, {} bytes",
                head.len()
            );
            assert!(!head.is_empty());
            assert!(child.wait().await.unwrap().success());
        })
    });
}

#[test]
fn a_child_spawned_outside_the_runtime_is_waited_inside() {
    within(60, || {
        let mut child = helper()
            .args(["print", "early"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        oneport::run(async move {
            let mut out = Vec::new();
            let stdout = child.stdout.as_mut().unwrap();
            stdout.read_to_end(&mut out).await.unwrap();
            assert_eq!(out, b"early");
            assert!(child.wait().await.unwrap().success());
        })
    });
}

/// Whether the process `pid` is over: on Linux gone from `/proc` (so it was
/// reaped, not a zombie); on Windows terminated (no zombies there).
#[cfg(unix)]
fn process_is_over(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether the process `pid` is over: on Linux gone from `/proc` (so it was
/// reaped, not a zombie); on Windows terminated (no zombies there).
#[cfg(windows)]
fn process_is_over(pid: u32) -> bool {
    use windows_sys::Win32::Foundation::{CloseHandle, WAIT_OBJECT_0};
    use windows_sys::Win32::System::Threading::{
        OpenProcess, WaitForSingleObject, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
    };
    // SAFETY: OpenProcess takes plain values and returns a new handle or
    // null.
    let h = unsafe {
        OpenProcess(
            PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
            0,
            pid,
        )
    };
    if h.is_null() {
        return true; // no such process any more
    }
    // SAFETY: `h` is the handle just opened; closed once, below.
    let over = unsafe { WaitForSingleObject(h, 0) } == WAIT_OBJECT_0;
    // SAFETY: as above.
    unsafe { CloseHandle(h) };
    over
}

/// Waits (off any runtime) until `pid` is over, or fails after 20 s.
fn wait_until_over(pid: u32) {
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while !process_is_over(pid) {
        assert!(
            std::time::Instant::now() < end,
            "child {pid} still there 20 s after its Child was dropped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn kill_on_drop_kills_and_reaps_a_dropped_child() {
    within(60, || {
        let pid = oneport::run(async {
            let child = helper()
                .args(["sleep", "60000"])
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let pid = child.id();
            assert!(!process_is_over(pid));
            drop(child);
            // The runtime reaps it in a task of its own: keep it running.
            let end = std::time::Instant::now() + Duration::from_secs(20);
            while !process_is_over(pid) && std::time::Instant::now() < end {
                oneport::time::sleep(Duration::from_millis(10)).await;
            }
            pid
        });
        assert!(
            process_is_over(pid),
            "killed and reaped while the runtime ran"
        );
    });
}

#[test]
fn a_waiter_sees_the_kill_of_a_child_dropped_with_kill_on_drop() {
    within(60, || {
        oneport::run(async {
            let child = helper()
                .args(["sleep", "60000"])
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let waiter = child.waiter();
            drop(child);
            let st = waiter.wait().await.unwrap();
            assert!(!st.success());
        })
    });
}

#[test]
fn without_kill_on_drop_a_dropped_child_runs_on() {
    within(60, || {
        oneport::run(async {
            let mut cmd = helper();
            cmd.args(["sleep", "60000"]).kill_on_drop(true);
            cmd.kill_on_drop(false); // the last setting counts
            let child = cmd.spawn().unwrap();
            let waiter = child.waiter();
            drop(child);
            oneport::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(waiter.try_wait().unwrap(), None, "still running");
            waiter.kill().unwrap();
            assert!(!waiter.wait().await.unwrap().success());
        })
    });
}

#[test]
fn kill_on_drop_outside_a_runtime_still_kills_and_reaps() {
    within(60, || {
        let child = helper()
            .args(["sleep", "60000"])
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id();
        drop(child); // no runtime on this thread
        wait_until_over(pid);
    });
}

#[test]
fn kill_on_drop_reaps_a_child_dropped_with_its_runtime() {
    within(60, || {
        let rt = oneport::Runtime::new().unwrap();
        let pid = rt.block_on(async {
            let child = helper()
                .args(["sleep", "60000"])
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let pid = child.id();
            oneport::spawn(async move {
                let _child = child;
                std::future::pending::<()>().await
            })
            .detach();
            oneport::yield_now().await;
            pid
        });
        assert!(!process_is_over(pid));
        drop(rt); // drops the task, and with it the child
        wait_until_over(pid);
    });
}
