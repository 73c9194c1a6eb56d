//! `oneport::net`'s Unix domain sockets: streams, listeners and datagrams
//! over socket files, on the same readiness machinery as TCP.
#![cfg(unix)]
mod common;

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{within, Rng};
use futures_io::{AsyncRead, AsyncWrite};
use oneport::lowlevel::{statistics, wait_all_tasks_blocked, wait_readable};
use oneport::net::{UnixDatagram, UnixListener, UnixStream};
use oneport::time::timeout;
use oneport::{is_closed_resource, spawn, yield_now};

const HANG: Duration = Duration::from_secs(20);

fn test<F: Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    within(60, move || oneport::run(f()));
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
    test(|| async {
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
    test(|| async {
        let dir = Dir::new();
        let e = UnixStream::connect(dir.path("missing.sock"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");

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
        assert!(UnixDatagram::bind(&long).is_err());
    });
}

#[test]
fn a_pair_moves_a_mebibyte_each_way_at_once() {
    test(|| async {
        let (a, b) = UnixStream::pair().unwrap();
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
    test(|| async {
        let (a, b) = UnixStream::pair().unwrap();
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
    test(|| async {
        let (a, b) = UnixStream::pair().unwrap();
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
        let (c, _d) = UnixStream::pair().unwrap();
        let fd = c.as_raw_fd();
        let waiter = spawn(async move { wait_readable(fd).await });
        wait_all_tasks_blocked().await;
        drop(c);
        let e = timeout(HANG, waiter).await.unwrap().unwrap_err();
        assert!(is_closed_resource(&e), "{e}");
    });
}

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
