//! Randomised readiness churn: many connections moving data while waits
//! are cancelled at random (dropped futures), sockets are closed under
//! their waiters without `notify_closing`, and fd numbers are reused.
//!
//! Seeded and bounded (see `common::stress`): each round runs in its own
//! runtime within a hang bound, checks that every byte read is the byte
//! written at that offset, and that the runtime's statistics come back to
//! where they started. After all rounds the process's fd/handle count is
//! back to its start. One test in its own binary, so no other test opens
//! or closes fds meanwhile.
mod common;

use std::io;
use std::time::Duration;

use common::stress::{open_handles, Stress};
use common::{raw, tcp_pair, within, Rng};
use oneport::lowlevel::{self, wait_readable, wait_writable};
use oneport::net::TcpStream;
use oneport::time::timeout;

/// The byte at `offset` of connection `id`'s stream.
fn pattern(id: u64, offset: u64) -> u8 {
    (id.wrapping_mul(131) ^ offset.wrapping_mul(7) ^ (offset >> 8)) as u8
}

/// A short random bound, sometimes zero: the wait it bounds is often
/// cancelled half-way.
fn short(rng: &mut Rng) -> Duration {
    Duration::from_micros(rng.below(800))
}

async fn writer(s: TcpStream, id: u64, total: u64, mut rng: Rng) -> u64 {
    let mut off = 0;
    let mut buf = Vec::new();
    while off < total {
        let n = (1 + rng.below(8192)).min(total - off);
        buf.clear();
        buf.extend((off..off + n).map(|o| pattern(id, o)));
        let r = if rng.below(3) == 0 {
            match timeout(short(&mut rng), s.write(&buf)).await {
                Ok(r) => r,
                Err(_) => continue, // cancelled while waiting: nothing sent
            }
        } else {
            s.write(&buf).await
        };
        off += r.unwrap_or_else(|e| panic!("conn {id}: write at {off}: {e}")) as u64;
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    off
}

async fn reader(s: TcpStream, id: u64, mut rng: Rng) -> u64 {
    let mut off = 0u64;
    let mut buf = vec![0u8; 4096];
    loop {
        let len = 1 + rng.below(buf.len() as u64) as usize;
        let r = if rng.below(3) == 0 {
            match timeout(short(&mut rng), s.read(&mut buf[..len])).await {
                Ok(r) => r,
                Err(_) => continue, // cancelled while waiting: nothing read
            }
        } else {
            s.read(&mut buf[..len]).await
        };
        let n = r.unwrap_or_else(|e| panic!("conn {id}: read at {off}: {e}"));
        if n == 0 {
            return off;
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            let at = off + i as u64;
            assert_eq!(b, pattern(id, at), "conn {id}: wrong byte at {at}");
        }
        off += n as u64;
        if rng.below(4) == 0 {
            oneport::yield_now().await;
        }
    }
}

/// Raw `lowlevel` churn: waits parked on sockets that are then closed
/// without `notify_closing`, new sockets taking their numbers, and short
/// waits dropped half-way. Every wait on a live socket must work (never
/// `ResourceBusy` from a dead socket's waiter).
async fn churn(mut rng: Rng) {
    let mut stranded = Vec::new();
    for _ in 0..(1 + rng.below(6)) {
        let old = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = raw(&old);
        stranded.push(oneport::spawn(async move {
            let _ = wait_readable(fd).await;
        }));
        if rng.below(2) == 0 {
            let w = oneport::spawn(async move { wait_writable(fd).await });
            let _ = timeout(short(&mut rng), w).await;
        }
        oneport::yield_now().await;
        drop(old); // no notify_closing
        let new = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        new.send_to(b"x", new.local_addr().unwrap()).unwrap();
        let r = timeout(Duration::from_secs(10), wait_readable(raw(&new)))
            .await
            .expect("a wait on a fresh readable socket hangs");
        if let Err(e) = r {
            panic!(
                "a wait on a fresh socket (number reused: {}) failed: {e:?}",
                raw(&new) == fd
            );
        }
        if rng.below(2) == 0 {
            lowlevel::notify_closing(raw(&new)).unwrap();
        }
    }
    drop(stranded); // cancels whoever is still parked
}

fn round(stress_seed: u64, round: u64, long: bool) {
    let mut rng = Rng((stress_seed ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
    rng.next();
    let bound = if cfg!(windows) { 60 } else { 30 };
    within(bound, move || {
        oneport::run(async move {
            let start = lowlevel::statistics();
            let pairs = 2 + rng.below(if long { 24 } else { 8 });
            let mut tasks = Vec::new();
            for id in 0..pairs {
                let (a, b) = tcp_pair();
                let (a, b) = (
                    TcpStream::from_std(a).unwrap(),
                    TcpStream::from_std(b).unwrap(),
                );
                let total = rng.below(64 * 1024);
                let (wr, rr) = (Rng(rng.next() | 1), Rng(rng.next() | 1));
                let w = oneport::spawn(writer(a, id, total, wr));
                let r = oneport::spawn(reader(b, id, rr));
                tasks.push((id, total, w, r));
            }
            churn(Rng(rng.next() | 1)).await;
            for (id, total, w, r) in tasks {
                assert_eq!(w.await, total, "conn {id}: written");
                assert_eq!(r.await, total, "conn {id}: every byte written was read");
            }
            // Cancelled AFD polls finish a little later: give them time.
            let mut end = lowlevel::statistics();
            for _ in 0..500 {
                if end.afd_polls_in_flight == start.afd_polls_in_flight
                    && end.epoll_registered == start.epoll_registered
                {
                    break;
                }
                oneport::time::sleep(Duration::from_millis(10)).await;
                end = lowlevel::statistics();
            }
            assert_eq!(
                (end.tasks_waiting_read, end.tasks_waiting_write),
                (start.tasks_waiting_read, start.tasks_waiting_write),
                "waiters left behind: {end:?}"
            );
            assert_eq!(
                end.afd_polls_in_flight, start.afd_polls_in_flight,
                "{end:?}"
            );
            assert_eq!(end.epoll_registered, start.epoll_registered, "{end:?}");
            io::Result::Ok(())
        })
        .unwrap()
    });
}

#[test]
fn readiness_churn_keeps_data_and_bookkeeping_intact() {
    let stress = Stress::new("stress_readiness");
    let rounds = stress.rounds(if cfg!(windows) { 30 } else { 60 }, 1000);
    let before = open_handles();
    for r in 0..rounds {
        round(stress.seed, r as u64, stress.long);
    }
    // The runtimes and every socket are gone: so are their fds / handles.
    let mut after = open_handles();
    for _ in 0..100 {
        if after <= before {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        after = open_handles();
    }
    assert!(
        after <= before,
        "fds/handles: {before} before, {after} after"
    );
}
