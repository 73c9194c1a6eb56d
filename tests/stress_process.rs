//! Process churn, seeded and bounded: children that echo random data
//! through piped stdin/stdout while reads are given up on at random, children
//! that exit with random codes, children killed mid-sleep, waits cancelled
//! and retried, and runtimes dropped while children still run and their
//! pipes are mid-read. Every byte read must be a byte written, in order;
//! every exit status must be the one asked for; after each runtime is
//! dropped the process's fd/handle count returns to where it started.
//!
//! Alone in its binary: the fd/handle count is the whole process's.
//! `ONEPORT_STRESS=long` runs the long version, `ONEPORT_STRESS_SEED`
//! replays a run (`scripts/stress.sh`).
mod common;

use std::process::Stdio;
use std::time::Duration;

use common::stress::{open_handles, Stress};
use common::{child_helper, within, Rng};
use oneport::process::Child;
use oneport::time::timeout;

/// One child's part of a round.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// Echo random bytes through `cat`, giving up on reads at random.
    Echo,
    /// Exit with this code.
    Exit(i32),
    /// Sleep long; killed after this many ms.
    Kill(u64),
    /// Sleep long while a wait is given up after this many ms, then
    /// killed and waited for again.
    CancelledWait(u64),
}

fn pick(rng: &mut Rng) -> Scenario {
    match rng.below(4) {
        0 => Scenario::Exit(rng.below(50) as i32),
        1 => Scenario::Kill(rng.below(20)),
        2 => Scenario::CancelledWait(20 + rng.below(30)),
        _ => Scenario::Echo,
    }
}

fn cat() -> Child {
    child_helper()
        .arg("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat")
}

/// Writes random bytes to a `cat` child in random pieces and reads them
/// back, giving up on some reads after a random short time: what a given-up
/// read would have returned must reach the next read.
async fn echo(mut rng: Rng) {
    let mut child = cat();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let len = 1 + rng.below(48 * 1024) as usize;
    let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    let writer = {
        let data = data.clone();
        let chunk = 1 + rng.below(8 * 1024) as usize;
        oneport::spawn(async move {
            for piece in data.chunks(chunk) {
                let mut off = 0;
                while off < piece.len() {
                    off += stdin.write(&piece[off..]).await.expect("write to cat");
                }
            }
            drop(stdin); // end of input: cat exits
        })
    };
    let mut got = Vec::with_capacity(len);
    let mut buf = vec![0u8; 1 + rng.below(16 * 1024) as usize];
    while got.len() < len {
        if rng.below(4) == 0 {
            let wait = Duration::from_micros(rng.below(2000));
            match timeout(wait, stdout.read(&mut buf)).await {
                Ok(r) => {
                    let n = r.expect("read from cat");
                    assert!(n > 0, "cat ended after {} of {len} bytes", got.len());
                    got.extend_from_slice(&buf[..n]);
                }
                Err(_) => continue, // given up: its bytes must come next
            }
        } else {
            let n = stdout.read(&mut buf).await.expect("read from cat");
            assert!(n > 0, "cat ended after {} of {len} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert!(got == data, "echoed bytes differ from the bytes written");
    writer.await;
    assert_eq!(
        stdout.read(&mut buf).await.unwrap(),
        0,
        "nothing after the echo"
    );
    assert!(child.wait().await.unwrap().success());
}

async fn run_one(s: Scenario, rng: Rng) {
    match s {
        Scenario::Echo => echo(rng).await,
        Scenario::Exit(code) => {
            let mut c = child_helper()
                .args(["exit", &code.to_string()])
                .spawn()
                .unwrap();
            assert_eq!(c.wait().await.unwrap().code(), Some(code));
        }
        Scenario::Kill(after) => {
            let mut c = child_helper().args(["sleep", "60000"]).spawn().unwrap();
            oneport::time::sleep(Duration::from_millis(after)).await;
            c.kill().unwrap();
            assert!(!c.wait().await.unwrap().success());
        }
        Scenario::CancelledWait(ms) => {
            // The sleeper outlives the given-up wait whatever the timing
            // (spawning is slow under Wine); the retried wait then sees the
            // kill.
            let mut c = child_helper().args(["sleep", "60000"]).spawn().unwrap();
            assert!(
                timeout(Duration::from_millis(ms), c.wait()).await.is_err(),
                "a child sleeping 60 s exited within {ms} ms"
            );
            c.kill().unwrap();
            assert!(!c.wait().await.unwrap().success());
        }
    }
}

/// One round: a fresh runtime, a few children at once; sometimes the
/// runtime is dropped early, with an echo child mid-read and a sleeper
/// mid-wait.
fn round(st: &Stress, r: usize) {
    let mut rng = st.rng(r as u64);
    let drop_early = rng.below(3) == 0;
    let n = 2 + rng.below(4) as usize;
    let scenarios: Vec<Scenario> = (0..n).map(|_| pick(&mut rng)).collect();
    let seeds: Vec<u64> = (0..n).map(|_| rng.next()).collect();
    oneport::run(async move {
        let tasks: Vec<_> = scenarios
            .iter()
            .zip(&seeds)
            .map(|(&s, &seed)| oneport::spawn(run_one(s, Rng(seed | 1))))
            .collect();
        if drop_early {
            // Left behind when the runtime goes: a reader that never gets
            // its data and a wait that never ends.
            oneport::spawn(async {
                let mut c = cat();
                let mut out = c.stdout.take().unwrap();
                let mut buf = [0u8; 64];
                let _ = out.read(&mut buf).await;
                unreachable!("cat wrote without input");
            })
            .detach();
            oneport::spawn(async {
                let mut c = child_helper().args(["sleep", "300"]).spawn().unwrap();
                let _ = c.wait().await;
            })
            .detach();
            oneport::time::sleep(Duration::from_millis(5)).await;
        }
        for t in tasks {
            t.await;
        }
    });
}

/// The fd/handle count settles back to `start` (a child's last handles are
/// closed by the runtime's drop, but the OS may take a moment to reap).
fn settles_to(start: usize, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = open_handles();
        if now <= start {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {now} fds/handles open, {start} at the start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn process_churn_loses_no_byte_and_leaks_no_handle() {
    let st = Stress::new("process_churn");
    let rounds = st.rounds(16, 200);
    within(if st.long { 1200 } else { 120 }, move || {
        // The first rounds open what lives for the whole process (std's
        // stdio handles, the system thread pool, pool threads): count from
        // after them. A leak per round then shows within a round or two.
        round(&st, 0);
        round(&st, 1);
        let start = open_handles();
        for r in 2..rounds {
            round(&st, r);
            settles_to(start, &format!("after round {r}"));
        }
    });
}
