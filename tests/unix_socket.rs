//! `oneport::net`'s Unix domain sockets: streams, listeners and datagrams
//! over socket files, on the same readiness machinery as TCP.
//!
//! The stream tests run on Unix and on Windows. On a Windows without
//! `AF_UNIX` (Wine: `socket()` fails with `WSAEAFNOSUPPORT`, 10047) each of
//! them checks instead that `bind` and `connect` fail with the documented
//! `Unsupported` error, and says that the data path was skipped. Pairs,
//! datagrams and std conversions exist only on Unix and are tested here
//! there; `unix_socket_windows.rs` checks their Windows errors.
mod common;

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::io;
use std::net::Shutdown;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{within, Rng};
use futures_io::{AsyncRead, AsyncWrite};
use oneport::lowlevel::{statistics, wait_all_tasks_blocked, wait_readable, RawSock};
#[cfg(unix)]
use oneport::net::UnixDatagram;
use oneport::net::{UnixListener, UnixStream};
use oneport::time::timeout;
use oneport::{is_closed_resource, spawn, yield_now};

const HANG: Duration = Duration::from_secs(20);

fn test<F: Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    within(60, move || oneport::run(f()));
}

/// Whether this system makes `AF_UNIX` stream sockets, asked of the system
/// itself rather than of oneport, so oneport's answer is checked against it.
/// Only Windows may lack them, and only with `WSAEAFNOSUPPORT`.
fn af_unix() -> bool {
    match socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None) {
        Ok(_) => true,
        Err(e) if cfg!(windows) && e.raw_os_error() == Some(10047) => false,
        Err(e) => panic!("making an AF_UNIX stream socket failed: {e}"),
    }
}

/// Runs a stream test where the system has `AF_UNIX`. Elsewhere checks that
/// `bind` and `connect` say `Unsupported` (never panic or hang) and reports
/// that the data path was skipped.
fn stream_test<F: Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    if af_unix() {
        return test(f);
    }
    test(|| async {
        let dir = Dir::new();
        let e = UnixListener::bind(dir.path("s.sock")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
        let e = UnixStream::connect(dir.path("s.sock")).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
    });
    println!(
        "no AF_UNIX on this system (socket() fails with WSAEAFNOSUPPORT): \
         bind and connect are Unsupported as documented; the data path was skipped"
    );
}

/// A fresh directory for this test's socket files, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("oneport-unix-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        Dir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A connected client and server, through a listener at a path (the way
/// that works on every platform; Windows has no `socketpair`).
async fn connected(dir: &Dir) -> (UnixStream, UnixStream) {
    let path = dir.path("conn.sock");
    let l = UnixListener::bind(&path).unwrap();
    let c = timeout(HANG, UnixStream::connect(&path))
        .await
        .unwrap()
        .unwrap();
    let (s, _) = timeout(HANG, l.accept()).await.unwrap().unwrap();
    (c, s)
}

#[cfg(unix)]
fn raw(s: &UnixStream) -> RawSock {
    std::os::fd::AsRawFd::as_raw_fd(s)
}

#[cfg(windows)]
fn raw(s: &UnixStream) -> RawSock {
    std::os::windows::io::AsRawSocket::as_raw_socket(s)
}

async fn read_exact<R: AsyncRead + Unpin>(r: &mut R, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

#[test]
fn bind_connect_accept_and_a_round_trip() {
    stream_test(|| async {
        let dir = Dir::new();
        let path = dir.path("s.sock");
        let l = UnixListener::bind(&path).unwrap();
        assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
        let accept = spawn(async move { l.accept().await });
        // Let the accept park first, so the wait is exercised.
        wait_all_tasks_blocked().await;
        assert_eq!(statistics().tasks_waiting_read, 1);
        let c = UnixStream::connect(&path).await.unwrap();
        let (s, _) = timeout(HANG, accept).await.unwrap().unwrap();
        assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
        assert!(c.local_addr().unwrap().is_unnamed());

        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        read_exact(&mut &s, &mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        let mut s = s;
        write_all(&mut s, b"pong").await.unwrap();
        let mut c = c;
        read_exact(&mut c, &mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");

        poll_fn(|cx| Pin::new(&mut c).poll_close(cx)).await.unwrap();
        assert_eq!(
            s.read(&mut buf).await.unwrap(),
            0,
            "end of stream after close"
        );
    });
}

#[test]
fn connecting_to_nothing_is_an_error() {
    stream_test(|| async {
        let dir = Dir::new();
        let e = UnixStream::connect(dir.path("missing.sock"))
            .await
            .unwrap_err();
        // Windows refuses a path with no socket file rather than saying
        // it is not there.
        let missing = if cfg!(windows) {
            [io::ErrorKind::NotFound, io::ErrorKind::ConnectionRefused]
        } else {
            [io::ErrorKind::NotFound; 2]
        };
        assert!(missing.contains(&e.kind()), "{e}");

        // A socket file whose listener is gone refuses.
        let path = dir.path("gone.sock");
        drop(UnixListener::bind(&path).unwrap());
        let e = UnixStream::connect(&path).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");

        // Binding over an existing file, and a path too long for sun_path.
        let e = UnixListener::bind(&path).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
        let long = dir.path(&"x".repeat(200));
        assert!(UnixListener::bind(&long).is_err());
        let e = UnixStream::connect(&long).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    });
}

#[test]
fn a_bad_path_is_invalid_input_even_without_af_unix() {
    // The address is checked before any socket is made, so this holds on
    // every system, Wine included.
    test(|| async {
        let dir = Dir::new();
        let long = dir.path(&"x".repeat(200));
        let e = UnixListener::bind(&long).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        let e = UnixStream::connect(&long).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    });
}

#[test]
fn a_listener_accepts_many_clients_each_echoed() {
    const CLIENTS: usize = 40;
    stream_test(|| async {
        let dir = Dir::new();
        let path = dir.path("many.sock");
        let l = UnixListener::bind(&path).unwrap();
        let server = spawn(async move {
            let mut echoes = Vec::new();
            for _ in 0..CLIENTS {
                let (s, peer) = l.accept().await?;
                assert!(peer.is_unnamed(), "a client is not bound: {peer:?}");
                echoes.push(spawn(async move {
                    let mut buf = [0u8; 64];
                    loop {
                        match s.read(&mut buf).await? {
                            0 => return io::Result::Ok(()),
                            n => s.write_all(&buf[..n]).await?,
                        }
                    }
                }));
            }
            for e in echoes {
                e.await?;
            }
            io::Result::Ok(())
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let path = path.clone();
                spawn(async move {
                    let c = UnixStream::connect(&path).await?;
                    let msg = format!("client {i}");
                    c.write_all(msg.as_bytes()).await?;
                    c.shutdown(Shutdown::Write)?;
                    let mut got = Vec::new();
                    let mut buf = [0u8; 64];
                    loop {
                        match c.read(&mut buf).await? {
                            0 => break,
                            n => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    assert_eq!(got, msg.as_bytes(), "echo, then end of stream");
                    io::Result::Ok(())
                })
            })
            .collect();
        for c in clients {
            timeout(HANG, c).await.unwrap().unwrap();
        }
        timeout(HANG, server).await.unwrap().unwrap();
    });
}

#[test]
fn a_connection_moves_a_mebibyte_each_way_at_once() {
    stream_test(|| async {
        let dir = Dir::new();
        let (a, b) = connected(&dir).await;
        let mut rng = Rng(0x5eed);
        let mut bytes = |n: usize| -> Vec<u8> { (0..n).map(|_| rng.next() as u8).collect() };
        let (up, down) = (Rc::new(bytes(1 << 20)), Rc::new(bytes(1 << 20)));
        let (a, b) = (Rc::new(a), Rc::new(b));
        let send = |s: Rc<UnixStream>, data: Rc<Vec<u8>>, seed: u64| async move {
            let mut rng = Rng(seed);
            let mut at = 0;
            while at < data.len() {
                let end = (at + 1 + rng.below(30_000) as usize).min(data.len());
                at += s.write(&data[at..end]).await?;
            }
            s.shutdown(Shutdown::Write)
        };
        let recv = |s: Rc<UnixStream>, seed: u64| async move {
            let mut rng = Rng(seed);
            let mut out = Vec::new();
            let mut buf = vec![0u8; 30_000];
            loop {
                let len = 1 + rng.below(30_000) as usize;
                // Poll-based reads here, async writes on the other side.
                match poll_fn(|cx| Pin::new(&mut &*s).poll_read(cx, &mut buf[..len])).await? {
                    0 => return io::Result::Ok(out),
                    n => out.extend_from_slice(&buf[..n]),
                }
            }
        };
        let writers_parked = Rc::new(Cell::new(0));
        let tasks = (
            spawn(send(a.clone(), up.clone(), 1)),
            spawn(send(b.clone(), down.clone(), 2)),
            spawn(recv(b.clone(), 3)),
            spawn(recv(a.clone(), 4)),
        );
        let sampler = spawn({
            let parked = writers_parked.clone();
            async move {
                loop {
                    parked.set(parked.get().max(statistics().tasks_waiting_write));
                    yield_now().await;
                }
            }
        });
        timeout(HANG, tasks.0).await.unwrap().unwrap();
        timeout(HANG, tasks.1).await.unwrap().unwrap();
        let got_up = timeout(HANG, tasks.2).await.unwrap().unwrap();
        let got_down = timeout(HANG, tasks.3).await.unwrap().unwrap();
        drop(sampler);
        assert!(
            got_up == *up,
            "a-to-b bytes differ ({} of {})",
            got_up.len(),
            up.len()
        );
        assert!(
            got_down == *down,
            "b-to-a bytes differ ({} of {})",
            got_down.len(),
            down.len()
        );
        assert!(writers_parked.get() >= 1, "no writer ever waited");
    });
}

#[test]
fn try_read_would_block_and_readiness_waits() {
    stream_test(|| async {
        let dir = Dir::new();
        let (a, b) = connected(&dir).await;
        let mut buf = [0u8; 8];
        assert_eq!(
            a.try_read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        b.writable().await.unwrap();
        assert_eq!(b.try_write(b"now").unwrap(), 3);
        timeout(HANG, a.readable()).await.unwrap().unwrap();
        assert_eq!(a.try_read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"now");
    });
}

#[test]
fn two_readers_the_second_is_busy_and_drop_wakes_with_closed_resource() {
    stream_test(|| async {
        let dir = Dir::new();
        let (a, b) = connected(&dir).await;
        let a = Rc::new(a);
        let first = spawn({
            let a = a.clone();
            async move { a.read(&mut [0u8; 1]).await }
        });
        wait_all_tasks_blocked().await;
        let e = a.read(&mut [0u8; 1]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
        drop(b);
        assert_eq!(
            timeout(HANG, first).await.unwrap().unwrap(),
            0,
            "peer gone: end of stream"
        );

        // A waiter on a stream that is dropped wakes with ClosedResource.
        let dir = Dir::new();
        let (c, _d) = connected(&dir).await;
        let fd = raw(&c);
        let waiter = spawn(async move { wait_readable(fd).await });
        wait_all_tasks_blocked().await;
        drop(c);
        let e = timeout(HANG, waiter).await.unwrap().unwrap_err();
        assert!(is_closed_resource(&e), "{e}");
    });
}

#[cfg(unix)]
#[test]
fn std_round_trip_keeps_the_connection() {
    test(|| async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = UnixStream::from_std(a.into_std()).unwrap();
        a.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        b.read(&mut one).await.unwrap();
        assert_eq!(&one, b"x");
    });
}

#[cfg(unix)]
#[test]
fn datagrams_by_path_by_pair_and_connected() {
    test(|| async {
        let dir = Dir::new();
        let (pa, pb) = (dir.path("a.sock"), dir.path("b.sock"));
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        let recv = spawn(async move {
            let mut buf = [0u8; 32];
            let (n, from) = b.recv_from(&mut buf).await?;
            io::Result::Ok((buf[..n].to_vec(), from, b))
        });
        wait_all_tasks_blocked().await;
        assert_eq!(a.send_to(b"to b", &pb).await.unwrap(), 4);
        let (got, from, b) = timeout(HANG, recv).await.unwrap().unwrap();
        assert_eq!(got, b"to b");
        assert_eq!(from.as_pathname(), Some(pa.as_path()));

        b.connect(&pa).unwrap();
        assert_eq!(b.peer_addr().unwrap().as_pathname(), Some(pa.as_path()));
        b.send(b"back").await.unwrap();
        let mut buf = [0u8; 32];
        let n = timeout(HANG, a.recv(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf[..n], b"back");

        let (x, y) = UnixDatagram::pair().unwrap();
        for i in 0..100u8 {
            x.send(&[i; 3]).await.unwrap();
            let n = y.recv(&mut buf).await.unwrap();
            assert_eq!(
                &buf[..n],
                &[i; 3],
                "datagrams keep their boundaries and order"
            );
        }

        let u = UnixDatagram::unbound().unwrap();
        u.send_to(b"anon", &pa).await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"anon");
        assert!(from.is_unnamed());

        let e = u
            .send_to(b"nobody", dir.path("none.sock"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    });
}

#[cfg(unix)]
#[test]
fn a_full_datagram_queue_makes_the_sender_wait() {
    test(|| async {
        let (x, y) = UnixDatagram::pair().unwrap();
        let sent = Rc::new(Cell::new(0usize));
        let sender = spawn({
            let sent = sent.clone();
            async move {
                for _ in 0..10_000 {
                    x.send(&[7u8; 512]).await?;
                    sent.set(sent.get() + 1);
                }
                io::Result::Ok(())
            }
        });
        wait_all_tasks_blocked().await;
        assert!(sent.get() < 10_000, "the queue never filled");
        assert_eq!(statistics().tasks_waiting_write, 1);
        let mut buf = [0u8; 1024];
        for _ in 0..10_000 {
            assert_eq!(timeout(HANG, y.recv(&mut buf)).await.unwrap().unwrap(), 512);
        }
        timeout(HANG, sender).await.unwrap().unwrap();
    });
}
