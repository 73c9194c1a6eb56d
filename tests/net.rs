//! `oneport::net`: TCP and UDP over loopback, as a user relies on them.
mod common;

use common::raw;

use std::future::{poll_fn, Future};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use common::{within, Rng};
use futures_io::{AsyncRead, AsyncWrite};
use oneport::lowlevel::{statistics, wait_all_tasks_blocked, wait_readable};
use oneport::net::{ReuniteError, TcpListener, TcpStream, UdpSocket};
use oneport::time::timeout;
use oneport::{is_closed_resource, spawn, yield_now};

const HANG: Duration = Duration::from_secs(20);

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Runs the future `f` makes on a fresh runtime, on a hang-guarded thread.
fn test<F: Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    within(60, move || oneport::run(f()));
}

/// A connected pair: (the connecting side, the accepted side).
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(local()).unwrap();
    let addr = l.local_addr().unwrap();
    let accept = spawn(async move { l.accept().await });
    let c = TcpStream::connect(addr).await.unwrap();
    let (s, peer) = timeout(HANG, accept).await.unwrap().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    (c, s)
}

/// `read_exact` over `poll_read` alone.
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

/// `write_all` over `poll_write` alone.
async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    poll_fn(|cx| Pin::new(&mut *w).poll_flush(cx)).await
}

/// Reads until end of stream.
async fn read_to_end(s: &TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    test(|| async {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = timeout(HANG, TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e:?}");
        let s = statistics();
        assert_eq!((s.tasks_waiting_read, s.tasks_waiting_write), (0, 0));
    });
}

#[test]
fn accept_and_connect_then_a_round_trip_both_ways() {
    test(|| async {
        let (c, s) = pair().await;
        assert_eq!(c.peer_addr().unwrap(), s.local_addr().unwrap());
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            got += timeout(HANG, s.read(&mut buf[got..]))
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(&buf, b"ping");
        assert_eq!(s.write(b"pong").await.unwrap(), 4);
        let mut got = 0;
        while got < 4 {
            got += timeout(HANG, c.read(&mut buf[got..]))
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(&buf, b"pong");
    });
}

#[test]
fn a_parked_accept_wakes_for_a_connection_and_from_std_works() {
    test(|| async {
        let l = TcpListener::from_std(std::net::TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let l = Rc::new(l);
        let acceptor = spawn({
            let l = l.clone();
            async move { l.accept().await }
        });
        wait_all_tasks_blocked().await;
        assert_eq!(statistics().tasks_waiting_read, 1);
        // A second acceptor while one waits is busy.
        let e = l.accept().await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
        // A blocking std connect completes in the kernel's backlog.
        let c = TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()).unwrap();
        let (s, _) = timeout(HANG, acceptor).await.unwrap().unwrap();
        s.write_all(b"hi").await.unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_to_end(&c).await.unwrap(), b"hi");
    });
}

#[test]
fn udp_round_trip_with_and_without_connect() {
    test(|| async {
        let a = UdpSocket::bind(local()).unwrap();
        let b = UdpSocket::bind(local()).unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let b = Rc::new(b);
        let receiver = spawn({
            let b = b.clone();
            async move {
                let mut buf = [0u8; 64];
                let (n, from) = b.recv_from(&mut buf).await?;
                io::Result::Ok((buf[..n].to_vec(), from))
            }
        });
        wait_all_tasks_blocked().await;
        assert_eq!(statistics().tasks_waiting_read, 1);
        assert_eq!(a.send_to(b"datagram", ba).await.unwrap(), 8);
        let (got, from) = timeout(HANG, receiver).await.unwrap().unwrap();
        assert_eq!((got.as_slice(), from), (&b"datagram"[..], aa));
        a.connect(ba).await.unwrap();
        b.connect(aa).await.unwrap();
        b.send(b"back").await.unwrap();
        let mut buf = [0u8; 16];
        let n = timeout(HANG, a.recv(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}

#[test]
fn shutdown_write_gives_the_peer_end_of_stream_after_the_data() {
    test(|| async {
        let (c, s) = pair().await;
        c.write_all(b"last words").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let got = timeout(HANG, read_to_end(&s)).await.unwrap().unwrap();
        assert_eq!(got, b"last words");
        // The other direction still works.
        s.write_all(b"ok").await.unwrap();
        let mut buf = [0u8; 2];
        read_exact(&mut &c, &mut buf).await.unwrap();
        assert_eq!(&buf, b"ok");
    });
}

#[test]
fn futures_io_read_and_write_on_the_stream_and_on_a_reference() {
    test(|| async {
        let (mut c, s) = pair().await;
        // Owned stream, poll-based write; reference, poll-based read.
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let s = Rc::new(s);
        let reader = spawn({
            let s = s.clone();
            let len = data.len();
            async move {
                let mut got = vec![0u8; len];
                read_exact(&mut &*s, &mut got).await?;
                io::Result::Ok(got)
            }
        });
        write_all(&mut c, &data).await.unwrap();
        let got = timeout(HANG, reader).await.unwrap().unwrap();
        assert!(got == data, "poll-based transfer corrupted the data");
        // poll_close shuts down the write half: the peer reads end of stream.
        poll_fn(|cx| Pin::new(&mut c).poll_close(cx)).await.unwrap();
        let mut byte = [0u8; 1];
        let e = read_exact(&mut &*s, &mut byte).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    });
}

#[test]
fn two_tasks_reading_one_stream_the_second_is_busy() {
    test(|| async {
        let (c, s) = pair().await;
        let s = Rc::new(s);
        let first = spawn({
            let s = s.clone();
            async move {
                let mut buf = [0u8; 8];
                s.read(&mut buf).await.map(|n| buf[..n].to_vec())
            }
        });
        wait_all_tasks_blocked().await;
        let mut buf = [0u8; 8];
        let e = s.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
        // A poll-based reader is turned away the same way.
        let e = read_exact(&mut &*s, &mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
        // The first reader was not disturbed.
        c.write_all(b"first").await.unwrap();
        assert_eq!(timeout(HANG, first).await.unwrap().unwrap(), b"first");
    });
}

#[test]
fn an_abandoned_poll_read_does_not_leave_the_stream_busy() {
    test(|| async {
        let (c, s) = pair().await;
        let mut buf = [0u8; 4];
        // A poll-based read parks, then its caller gives up.
        assert!(
            timeout(Duration::from_millis(20), read_exact(&mut &s, &mut buf))
                .await
                .is_err()
        );
        // Another task reads with the async API: not busy, and it gets data.
        let s = Rc::new(s);
        let other = spawn({
            let s = s.clone();
            async move {
                let mut buf = [0u8; 4];
                s.read(&mut buf).await.map(|n| buf[..n].to_vec())
            }
        });
        wait_all_tasks_blocked().await;
        c.write_all(b"data").await.unwrap();
        assert_eq!(timeout(HANG, other).await.unwrap().unwrap(), b"data");
        yield_now().await;
        assert_eq!(statistics().tasks_waiting_read, 0);
    });
}

#[test]
fn dropping_a_stream_wakes_its_waiters_with_closed_resource() {
    test(|| async {
        let (c, s) = pair().await;
        let r = raw(&s);
        let waiter = spawn(async move { wait_readable(r).await });
        wait_all_tasks_blocked().await;
        drop(s);
        let e = timeout(HANG, waiter).await.unwrap().unwrap_err();
        assert!(is_closed_resource(&e), "{e:?}");
        // The peer sees the connection end.
        assert_eq!(read_to_end(&c).await.unwrap(), b"");
    });
}

#[test]
fn into_std_hands_back_a_working_socket() {
    test(|| async {
        let (c, s) = pair().await;
        let std_s = s.into_std();
        c.write_all(b"still open").await.unwrap();
        // Nonblocking still: wait with the low-level API, then read it.
        timeout(HANG, wait_readable(raw(&std_s)))
            .await
            .unwrap()
            .unwrap();
        let mut buf = [0u8; 32];
        let n = io::Read::read(&mut &std_s, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"still open");
        let again = TcpStream::from_std(std_s).unwrap();
        again.write_all(b"!").await.unwrap();
        let mut one = [0u8; 1];
        read_exact(&mut &c, &mut one).await.unwrap();
        assert_eq!(&one, b"!");
    });
}

/// Sends `data` in random chunks, then shuts down the write half.
async fn send_random_chunks(s: Rc<TcpStream>, data: Rc<Vec<u8>>, seed: u64) -> io::Result<()> {
    let mut rng = Rng(seed);
    let mut at = 0;
    while at < data.len() {
        let len = 1 + rng.below(20_000) as usize;
        let end = (at + len).min(data.len());
        at += s.write(&data[at..end]).await?;
    }
    s.shutdown(Shutdown::Write)
}

/// Reads to end of stream with random buffer sizes.
async fn recv_random_chunks(s: Rc<TcpStream>, seed: u64) -> io::Result<Vec<u8>> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 20_000];
    loop {
        let len = 1 + rng.below(20_000) as usize;
        match s.read(&mut buf[..len]).await? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn a_million_random_bytes_each_way_at_once_arrive_exactly() {
    test(|| async {
        let (c, s) = pair().await;
        for x in [&c, &s] {
            let sock = socket2::SockRef::from(x);
            sock.set_send_buffer_size(4096).unwrap();
            sock.set_tcp_nodelay(true).unwrap();
        }
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut bytes =
            |n: usize| -> Rc<Vec<u8>> { Rc::new((0..n).map(|_| rng.next() as u8).collect()) };
        let (up, down) = (bytes(1_000_000), bytes(1_000_000));
        let (c, s) = (Rc::new(c), Rc::new(s));
        let tasks = (
            spawn(send_random_chunks(c.clone(), up.clone(), 1)),
            spawn(send_random_chunks(s.clone(), down.clone(), 2)),
            spawn(recv_random_chunks(s.clone(), 3)),
            spawn(recv_random_chunks(c.clone(), 4)),
        );
        // Samples how many tasks are parked while the transfer runs.
        let done = Rc::new(std::cell::Cell::new(false));
        let sampler = spawn({
            let done = done.clone();
            async move {
                let (mut r, mut w) = (0, 0);
                while !done.get() {
                    let st = statistics();
                    r = r.max(st.tasks_waiting_read);
                    w = w.max(st.tasks_waiting_write);
                    yield_now().await;
                }
                (r, w)
            }
        });
        tasks.0.await.unwrap();
        tasks.1.await.unwrap();
        let got_up = tasks.2.await.unwrap();
        let got_down = tasks.3.await.unwrap();
        done.set(true);
        let (max_r, max_w) = sampler.await;
        assert!(
            max_r >= 1 && max_w >= 1,
            "waits not exercised: {max_r} readers, {max_w} writers parked at most"
        );
        assert_eq!(got_up.len(), up.len());
        assert!(got_up == *up, "client-to-server bytes differ");
        assert_eq!(got_down.len(), down.len());
        assert!(got_down == *down, "server-to-client bytes differ");
    });
}

#[test]
fn sockets_dropped_outside_a_runtime_just_close() {
    within(60, || {
        let rt = oneport::Runtime::new().unwrap();
        let (c, s, l, u) = rt.block_on(async {
            let (c, s) = pair().await;
            let l = TcpListener::bind(local()).unwrap();
            let u = UdpSocket::bind(local()).unwrap();
            s.write_all(b"bye").await.unwrap();
            (c.into_std(), s, l, u)
        });
        // Not inside block_on: dropping must neither panic nor block.
        drop((s, l, u));
        c.set_nonblocking(false).unwrap();
        let mut got = Vec::new();
        io::Read::read_to_end(&mut &c, &mut got).unwrap();
        assert_eq!(got, b"bye", "the peer's drop did not close the connection");
    });
}

/// Polls two futures in one task until both are done.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}

/// `len` pseudo-random bytes from `seed`.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Writes `data` in random chunks through `poll_write`, then closes.
async fn poll_send<W: AsyncWrite + Unpin>(mut w: W, data: Vec<u8>, seed: u64) -> io::Result<W> {
    let mut rng = Rng(seed);
    let mut at = 0;
    while at < data.len() {
        let end = (at + 1 + rng.below(20_000) as usize).min(data.len());
        write_all(&mut w, &data[at..end]).await?;
        at = end;
    }
    poll_fn(|cx| Pin::new(&mut w).poll_close(cx)).await?;
    Ok(w)
}

/// Reads through `poll_read` to end of stream, in random sizes.
async fn poll_recv<R: AsyncRead + Unpin>(mut r: R, seed: u64) -> io::Result<(R, Vec<u8>)> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 20_000];
    loop {
        let len = 1 + rng.below(20_000) as usize;
        match poll_fn(|cx| Pin::new(&mut r).poll_read(cx, &mut buf[..len])).await? {
            0 => return Ok((r, out)),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// A small send buffer, so writers fill it and have to wait. (Shrinking the
/// receive buffer of a connected loopback socket too makes Linux crawl on
/// zero-window probes: 20 s per MiB, even with blocking threads.)
fn small_buffers(s: &TcpStream) {
    socket2::SockRef::from(s)
        .set_send_buffer_size(4096)
        .unwrap();
}

const MIB: usize = 1 << 20;

#[test]
fn owned_halves_in_four_tasks_move_a_mebibyte_each_way() {
    test(|| async {
        let (c, s) = pair().await;
        small_buffers(&c);
        small_buffers(&s);
        let (up, down) = (pattern(MIB, 11), pattern(MIB, 12));
        let (c_addr, s_addr) = (c.local_addr().unwrap(), s.local_addr().unwrap());
        let (cr, cw) = c.into_split();
        let (sr, sw) = s.into_split();
        let tasks = (
            spawn(poll_send(cw, up.clone(), 1)),
            spawn(poll_send(sw, down.clone(), 2)),
            spawn(poll_recv(sr, 3)),
            spawn(poll_recv(cr, 4)),
        );
        let cw = timeout(HANG, tasks.0).await.unwrap().unwrap();
        let sw = timeout(HANG, tasks.1).await.unwrap().unwrap();
        let (sr, got_up) = timeout(HANG, tasks.2).await.unwrap().unwrap();
        let (cr, got_down) = timeout(HANG, tasks.3).await.unwrap().unwrap();
        assert_eq!(got_up.len(), MIB);
        assert!(got_up == up, "client-to-server bytes differ");
        assert_eq!(got_down.len(), MIB);
        assert!(got_down == down, "server-to-client bytes differ");

        // Halves of different streams do not reunite; their own halves do.
        let ReuniteError(cr, sw) = cr.reunite(sw).unwrap_err();
        let c = cr.reunite(cw).unwrap();
        let s = sw.reunite(sr).unwrap();
        assert_eq!(c.local_addr().unwrap(), c_addr);
        assert_eq!(s.local_addr().unwrap(), s_addr);
    });
}

#[test]
fn borrowed_halves_read_and_write_at_once_in_one_task() {
    test(|| async {
        let (mut c, s) = pair().await;
        small_buffers(&c);
        small_buffers(&s);
        let (up, down) = (pattern(MIB, 21), pattern(MIB, 22));
        let peer = spawn({
            let down = down.clone();
            async move {
                let (got, sent) = join(poll_recv(&s, 5), poll_send(&s, down, 6)).await;
                sent.unwrap();
                got.unwrap().1
            }
        });
        let (r, w) = c.split();
        let (got, sent) = join(poll_recv(r, 7), poll_send(w, up.clone(), 8)).await;
        sent.unwrap();
        let got_down = got.unwrap().1;
        let got_up = timeout(HANG, peer).await.unwrap();
        assert!(got_up == up, "client-to-server bytes differ");
        assert!(got_down == down, "server-to-client bytes differ");
        // The stream is whole again once the halves are gone.
        assert!(c.try_read(&mut [0u8; 1]).is_ok_and(|n| n == 0));
    });
}

#[test]
fn dropping_the_owned_write_half_ends_the_peers_stream() {
    test(|| async {
        let (c, s) = pair().await;
        let (mut r, w) = c.into_split();
        w.write_all(b"last words").await.unwrap();
        drop(w);
        assert_eq!(read_to_end(&s).await.unwrap(), b"last words");
        s.write_all(b"still readable").await.unwrap();
        let mut buf = [0u8; 14];
        read_exact(&mut r, &mut buf).await.unwrap();
        assert_eq!(&buf, b"still readable");
    });
}

#[test]
fn try_read_and_try_write_never_wait() {
    test(|| async {
        let (c, s) = pair().await;
        let mut buf = [0u8; 16];
        let e = c.try_read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);

        s.writable().await.unwrap();
        assert_eq!(s.try_write(b"ping").unwrap(), 4);
        timeout(HANG, c.readable()).await.unwrap().unwrap();
        let mut got = Vec::new();
        while got.len() < 4 {
            match c.try_read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.readable().await.unwrap(),
                Err(e) => panic!("try_read: {e}"),
            }
        }
        assert_eq!(got, b"ping");
        assert_eq!(
            c.try_read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );

        // A full send buffer is WouldBlock, not a wait.
        small_buffers(&c);
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0usize;
        let full = loop {
            match c.try_write(&chunk) {
                Ok(n) => sent += n,
                Err(e) => break e,
            }
            assert!(sent < 1 << 30, "the send buffer never filled");
        };
        assert_eq!(full.kind(), io::ErrorKind::WouldBlock);
    });
}

#[test]
fn peek_does_not_consume() {
    test(|| async {
        let (c, s) = pair().await;
        s.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        let mut n = 0;
        for _ in 0..1000 {
            n = timeout(HANG, c.peek(&mut buf)).await.unwrap().unwrap();
            if n == 5 {
                break;
            }
            yield_now().await;
        }
        assert_eq!(&buf[..n], b"hello");
        let n2 = c.peek(&mut buf).await.unwrap();
        assert_eq!(
            &buf[..n2],
            &b"hello"[..n2],
            "a second peek sees the same bytes"
        );
        let mut all = [0u8; 5];
        read_exact(&mut &c, &mut all).await.unwrap();
        assert_eq!(&all, b"hello");
        assert_eq!(
            c.try_read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    });
}

#[test]
fn readable_after_an_abandoned_poll_read_is_not_busy() {
    test(|| async {
        let (c, s) = pair().await;
        let mut buf = [0u8; 4];
        let pending = poll_fn(|cx| {
            let r = Pin::new(&mut &c).poll_read(cx, &mut buf);
            std::task::Poll::Ready(r.is_pending())
        })
        .await;
        assert!(pending, "nothing was sent yet");
        s.write_all(b"data").await.unwrap();
        timeout(HANG, c.readable()).await.unwrap().unwrap();
        timeout(HANG, c.writable()).await.unwrap().unwrap();
        assert_eq!(c.try_read(&mut buf).unwrap(), 4);
    });
}

#[test]
fn socket_options_round_trip() {
    test(|| async {
        let (c, _s) = pair().await;
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        c.set_nodelay(false).unwrap();
        assert!(!c.nodelay().unwrap());
        c.set_ttl(42).unwrap();
        assert_eq!(c.ttl().unwrap(), 42);
        c.shutdown(Shutdown::Both).unwrap();
    });
}

/// A read into an empty buffer returns 0 at once (no data is waiting, the
/// stream is open): every read form, TCP and Unix alike.
#[test]
fn an_empty_read_returns_zero_at_once_with_nothing_to_read() {
    test(|| async {
        let (a, mut b) = pair().await;
        let mut empty = [0u8; 0];
        let r = oneport::time::timeout(Duration::from_secs(20), a.read(&mut empty)).await;
        assert_eq!(r.expect("read(&mut []) waited").unwrap(), 0);
        let r = poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut empty));
        let r = oneport::time::timeout(Duration::from_secs(20), r).await;
        assert_eq!(r.expect("poll_read(&mut []) waited").unwrap(), 0);
        // The stream is still fine afterwards.
        a.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        read_exact(&mut b, &mut one).await.unwrap();
        assert_eq!(&one, b"x");
    });
}
