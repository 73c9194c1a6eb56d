//! Seeded, bounded named-pipe churn: connects, reads and writes whose
//! futures are dropped at random moments, disconnects, reconnects to the
//! same instance, and runtimes dropped with operations in flight.
//!
//! What must hold: every byte the server reads is the next byte the client
//! had written on that connection (nothing lost, duplicated or reordered
//! by a dropped future; a graceful end delivers every accepted byte), and
//! once every runtime is gone the process has the handles it started with.
//! Alone in its binary: it counts the process's handles.
#![cfg(windows)]
mod common;

use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use common::stress::{open_handles, Stress};
use common::{within, Rng};
use futures_io::{AsyncRead, AsyncWrite};
use oneport::time::timeout;
use oneport::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};

/// Byte `i` of connection `conn`'s stream.
fn byte(conn: u64, i: u64) -> u8 {
    ((i.wrapping_mul(31) ^ conn.wrapping_mul(0x9e37)) % 251) as u8
}

/// How a connection ends.
#[derive(Clone, Copy, Debug)]
enum End {
    /// The writer flushes and closes; the reader gets every accepted byte.
    Graceful,
    /// The server disconnects after reading `after` bytes.
    Disconnect { after: u64 },
    /// The runtime is dropped while both sides are mid-flight.
    DropRuntime,
}

/// A short random delay, sometimes none.
fn delay(rng: &mut Rng) -> Duration {
    Duration::from_micros(rng.below(3) * rng.below(2000))
}

/// Writes `total` bytes of the stream with random chunk sizes, giving up
/// on some waits (the future is dropped; what `poll_write` accepted stays
/// accepted). Returns how many bytes were accepted, and the first error.
async fn writer(
    mut client: NamedPipeClient,
    conn: u64,
    total: u64,
    mut rng: Rng,
) -> (u64, io::Result<()>) {
    let mut sent = 0u64;
    while sent < total {
        let n = (1 + rng.below(8192)).min(total - sent);
        let chunk: Vec<u8> = (sent..sent + n).map(|i| byte(conn, i)).collect();
        let write = poll_fn(|cx| Pin::new(&mut client).poll_write(cx, &chunk));
        let r = if rng.below(4) == 0 {
            match timeout(delay(&mut rng), write).await {
                Ok(r) => r,
                Err(_) => continue, // dropped before accepting anything
            }
        } else {
            write.await
        };
        match r {
            Ok(k) => {
                assert!(k > 0 && k as u64 <= n);
                sent += k as u64;
            }
            Err(e) => return (sent, Err(e)),
        }
    }
    let flushed = poll_fn(|cx| Pin::new(&mut client).poll_flush(cx)).await;
    (sent, flushed)
}

/// Reads and checks the stream until its end (or until `disconnect_after`
/// bytes, then disconnects and drains what the instance still holds).
/// Returns the server and how many bytes it read.
async fn reader(
    mut server: NamedPipeServer,
    conn: u64,
    disconnect_after: Option<u64>,
    mut rng: Rng,
) -> (NamedPipeServer, u64) {
    let mut got = 0u64;
    let mut disconnected = false;
    let mut buf = vec![0u8; 16384];
    loop {
        if !disconnected && disconnect_after.is_some_and(|a| got >= a) {
            server.disconnect().unwrap();
            disconnected = true;
        }
        let len = 1 + rng.below(buf.len() as u64) as usize;
        let read = poll_fn(|cx| Pin::new(&mut server).poll_read(cx, &mut buf[..len]));
        let r = if rng.below(4) == 0 {
            match timeout(delay(&mut rng), read).await {
                Ok(r) => r,
                Err(_) => continue, // dropped: the read stays in the pipe
            }
        } else {
            read.await
        };
        match r {
            Ok(0) => return (server, got),
            Ok(n) => {
                for (k, &b) in buf[..n].iter().enumerate() {
                    assert_eq!(
                        b,
                        byte(conn, got + k as u64),
                        "conn {conn} byte {}",
                        got + k as u64
                    );
                }
                got += n as u64;
            }
            Err(e) if disconnected => {
                // A read in flight across the disconnect may end so.
                let _ = e;
                return (server, got);
            }
            Err(e) => panic!("conn {conn}: read failed after {got} bytes: {e:?}"),
        }
    }
}

/// One round: a runtime, one server instance, a few connections in turn.
fn round(stress: &Stress, r: u64, ends: &mut [usize; 3]) {
    let mut rng = stress.rng(r);
    let name = format!(r"\\.\pipe\oneport-stress-{}-{r}", std::process::id());
    let conns = 1 + rng.below(3);
    let rt = oneport::Runtime::new().unwrap();
    rt.block_on(async {
        let mut server = ServerOptions::new()
            .first_pipe_instance(true)
            .create(&name)
            .unwrap();
        for c in 0..conns {
            let conn = r * 16 + c;
            let total = rng.below(200_000);
            let end = match rng.below(if c + 1 == conns { 3 } else { 2 }) {
                0 => End::Graceful,
                1 => End::Disconnect {
                    after: rng.below(total + 1),
                },
                _ => End::DropRuntime,
            };
            ends[match end {
                End::Graceful => 0,
                End::Disconnect { .. } => 1,
                End::DropRuntime => 2,
            }] += 1;
            // Sometimes give up on a connect first: a dropped connect
            // future must leave the instance connectable.
            if rng.below(3) == 0 {
                let _ = timeout(Duration::ZERO, server.connect()).await;
            }
            // A disconnected instance takes a client only while a connect
            // is pending: start it (one poll), then open the client.
            let client = {
                let mut connect = pin!(server.connect());
                let mut early = None;
                poll_fn(|cx| {
                    if let Poll::Ready(r) = connect.as_mut().poll(cx) {
                        early = Some(r);
                    }
                    Poll::Ready(())
                })
                .await;
                let client = ClientOptions::new().open(&name).unwrap();
                match early {
                    Some(r) => r.unwrap(),
                    None => connect.await.unwrap(),
                }
                client
            };
            let w = oneport::spawn(writer(client, conn, total, stress.rng(conn * 2 + 1)));
            let disconnect_after = match end {
                End::Disconnect { after } => Some(after),
                _ => None,
            };
            let rd = oneport::spawn(reader(server, conn, disconnect_after, stress.rng(conn * 2)));
            if let End::DropRuntime = end {
                // Leave both mid-flight; the runtime drops them.
                oneport::time::sleep(delay(&mut rng)).await;
                drop((w, rd));
                return;
            }
            let (sent, wres) = w.await;
            let (s, got) = rd.await;
            server = s;
            match end {
                End::Graceful => {
                    wres.unwrap();
                    assert_eq!(got, sent, "conn {conn}: every accepted byte arrives");
                }
                _ => assert!(got <= sent, "conn {conn}: {got} read of {sent} accepted"),
            }
            if let End::Graceful = end {
                server.disconnect().unwrap();
            }
        }
    });
    drop(rt);
}

#[test]
fn named_pipe_churn_keeps_every_byte_in_order_and_leaks_no_handle() {
    let stress = Stress::new("stress_named_pipe_windows");
    let rounds = stress.rounds(100, 3000);
    within(if stress.long { 3600 } else { 60 }, move || {
        // Warm up once: the first runtime may open process-wide handles.
        let mut ends = [0usize; 3];
        round(&stress, 1 << 40, &mut ends);
        let before = open_handles();
        for r in 0..rounds as u64 {
            round(&stress, r, &mut ends);
        }
        let after = open_handles();
        assert_eq!(after, before, "handles before and after {rounds} rounds");
        eprintln!("connections ended gracefully / by disconnect / by runtime drop: {ends:?}");
        assert!(
            ends.iter().all(|&n| n > 0),
            "every kind of end ran: {ends:?}"
        );
    });
}
