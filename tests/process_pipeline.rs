//! A child's pipes as another child's `Stdio` (`Stdio::try_from`): the
//! pipelines of a shell, with the bytes checked, natively and under Wine.
//!
//! The children are `examples/child_helper.rs`. Where the platforms differ
//! (a Windows pipe already used for I/O is bound to the completion port and
//! cannot be handed on), each test checks the behaviour its platform
//! documents.
mod common;

use std::io;
use std::process::Stdio;
use std::time::Duration;

use common::{child_helper as helper, within};

/// What `child_helper spew N` writes to each stream.
fn spewed(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn stdout_and_stderr_of_one_child_feed_two_others() {
    within(90, || {
        oneport::run(async {
            const N: usize = 1 << 20;
            let mut a = helper()
                .args(["spew", &N.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let out = Stdio::try_from(a.stdout.take().unwrap()).unwrap();
            let err = Stdio::try_from(a.stderr.take().unwrap()).unwrap();
            // Both readers run at once: `a` alternates between its two
            // streams, so one reader alone would leave it blocked.
            let collect = |stdin: Stdio| {
                let mut child = helper()
                    .arg("cat")
                    .stdin(stdin)
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                oneport::spawn(async move {
                    let mut got = Vec::new();
                    let mut out = child.stdout.take().unwrap();
                    out.read_to_end(&mut got).await.unwrap();
                    assert!(child.wait().await.unwrap().success());
                    got
                })
            };
            let b = collect(out);
            let c = collect(err);
            let (b, c) = (b.await, c.await);
            assert!(a.wait().await.unwrap().success());
            let want = spewed(N);
            assert_eq!(b.len(), N);
            assert!(b == want, "stdout reached the second child unchanged");
            assert!(c == want, "stderr reached the third child unchanged");
        })
    });
}

#[test]
fn a_childs_stdin_becomes_another_childs_stdout() {
    within(90, || {
        oneport::run(async {
            const N: usize = 300_007;
            let mut sink = helper()
                .arg("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let into_sink = Stdio::try_from(sink.stdin.take().unwrap()).unwrap();
            let mut src = helper()
                .args(["spew", &N.to_string()])
                .stdout(into_sink)
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut got = Vec::new();
            let mut out = sink.stdout.take().unwrap();
            out.read_to_end(&mut got).await.unwrap();
            assert!(src.wait().await.unwrap().success());
            assert!(sink.wait().await.unwrap().success());
            assert_eq!(got.len(), N);
            assert!(got == spewed(N));
        })
    });
}

/// A pipe already read from (with a read given up while it waited, so a
/// wait was left behind) and one already written to. Linux hands both on:
/// the wait is cancelled, the bytes not read yet go to the new reader.
/// Windows refuses both with the documented error: their handles are
/// bound to the completion port.
#[test]
fn a_pipe_already_used_for_io() {
    within(90, || {
        oneport::run(async {
            let mut a = helper()
                .arg("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut a_in = a.stdin.take().unwrap();
            let mut a_out = a.stdout.take().unwrap();
            a_in.write_all(b"first").await.unwrap();
            std::future::poll_fn(|cx| {
                futures_io::AsyncWrite::poll_flush(std::pin::Pin::new(&mut a_in), cx)
            })
            .await
            .unwrap();
            let mut got = Vec::new();
            while got.len() < 5 {
                let mut buf = [0u8; 16];
                let n = a_out.read(&mut buf).await.unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"first");
            // Nothing to read now: a read given up on while it waits.
            let mut buf = [0u8; 16];
            let r = oneport::time::timeout(Duration::from_millis(30), a_out.read(&mut buf)).await;
            assert!(r.is_err(), "nothing was there to read");
            let converted = Stdio::try_from(a_out);
            if cfg!(windows) {
                let e = converted.unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::Unsupported);
                assert!(e.to_string().contains("completion port"), "{e}");
                let e = Stdio::try_from(a_in).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::Unsupported);
                assert!(e.to_string().contains("completion port"), "{e}");
                // `a`'s pipes are closed with the failed conversions.
                assert!(a.wait().await.unwrap().success());
                return;
            }
            let stdio = converted.unwrap();
            // The left-behind wait was cancelled, not left parked.
            assert_eq!(oneport::lowlevel::statistics().tasks_waiting_read, 0);
            let b = helper()
                .arg("cat")
                .stdin(stdio)
                .stdout(Stdio::piped())
                .spawn();
            let mut b = b.unwrap();
            // `a_in` also goes to a child: `b2` writes into `a`'s stdin.
            let feed = Stdio::try_from(a_in).unwrap();
            let mut b2 = helper()
                .args(["print", "second"])
                .stdout(feed)
                .spawn()
                .unwrap();
            assert!(b2.wait().await.unwrap().success());
            let mut rest = Vec::new();
            b.stdout
                .take()
                .unwrap()
                .read_to_end(&mut rest)
                .await
                .unwrap();
            assert_eq!(rest, b"second", "the bytes after the first read");
            assert!(a.wait().await.unwrap().success());
            assert!(b.wait().await.unwrap().success());
        })
    });
}

#[test]
fn a_closed_stdin_cannot_be_handed_on() {
    within(60, || {
        oneport::run(async {
            let mut a = helper()
                .arg("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let mut a_in = a.stdin.take().unwrap();
            a_in.close().await.unwrap();
            let e = Stdio::try_from(a_in).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
            assert!(a.wait().await.unwrap().success());
        })
    });
}
