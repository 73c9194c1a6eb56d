//! The socket types are `Send`: a socket made on one thread (or runtime)
//! can be moved to another and used there. A socket moved in the middle
//! of a poll-based read, while its wait is parked on the old runtime,
//! gives a clear error once and then works on the new one.
mod common;

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use common::within;
use futures_io::{AsyncRead, AsyncWrite};
use oneport::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};

#[test]
fn the_socket_types_are_send() {
    fn send<T: Send>() {}
    send::<TcpStream>();
    send::<TcpListener>();
    send::<UdpSocket>();
    send::<UnixStream>();
    send::<UnixListener>();
}

async fn write_all(s: &mut TcpStream, mut buf: &[u8]) {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *s).poll_write(cx, buf))
            .await
            .unwrap();
        buf = &buf[n..];
    }
}

async fn read_exact(s: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = poll_fn(|cx| Pin::new(&mut *s).poll_read(cx, &mut out[got..]))
            .await
            .unwrap();
        assert!(n > 0, "end of stream after {got} bytes");
        got += n;
    }
    out
}

#[test]
fn a_connected_stream_moves_to_another_runtime_and_works_there() {
    within(60, || {
        let (server, client) = oneport::run(async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            (s, c)
        });
        let t = std::thread::spawn(move || {
            oneport::run(async move {
                let mut server = server;
                let got = read_exact(&mut server, 5).await;
                write_all(&mut server, &got).await;
            })
        });
        oneport::run(async move {
            let mut client = client;
            write_all(&mut client, b"hello").await;
            assert_eq!(read_exact(&mut client, 5).await, b"hello");
        });
        t.join().unwrap();
    });
}

#[test]
fn a_stream_moved_while_a_read_is_parked_errors_once_then_works() {
    within(60, || {
        let rt = oneport::Runtime::new().unwrap();
        let (mut server, mut client) = rt.block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            (s, c)
        });
        // Park a read on this thread's runtime: nothing to read yet.
        rt.block_on(async {
            let mut buf = [0u8; 8];
            let mut cx = Context::from_waker(Waker::noop());
            assert!(Pin::new(&mut server)
                .poll_read(&mut cx, &mut buf)
                .is_pending());
        });
        let t = std::thread::spawn(move || {
            oneport::run(async move {
                let mut buf = [0u8; 8];
                let first =
                    poll_fn(|cx| Poll::Ready(Pin::new(&mut server).poll_read(cx, &mut buf))).await;
                let err = match first {
                    Poll::Ready(Err(e)) => e,
                    other => panic!("expected the moved-mid-wait error, got {other:?}"),
                };
                assert!(err.to_string().contains("moved to another thread"), "{err}");
                // Then the stream waits on this runtime like any other.
                let got = read_exact(&mut server, 4).await;
                assert_eq!(got, b"ping");
                server
            })
        });
        rt.block_on(async {
            oneport::time::sleep(std::time::Duration::from_millis(50)).await;
            write_all(&mut client, b"ping").await;
        });
        let server = t.join().unwrap();
        drop(server);
        drop(rt);
    });
}

#[test]
fn a_udp_socket_and_a_listener_move_between_runtimes() {
    within(60, || {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let laddr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            oneport::run(async move {
                let mut buf = [0u8; 16];
                let (n, from) = udp.recv_from(&mut buf).await.unwrap();
                udp.send_to(&buf[..n], from).await.unwrap();
                let (mut s, _) = listener.accept().await.unwrap();
                write_all(&mut s, b"accepted").await;
            })
        });
        oneport::run(async move {
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            u.send_to(b"datagram", addr).await.unwrap();
            let mut buf = [0u8; 16];
            let (n, _) = u.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"datagram");
            let mut c = TcpStream::connect(laddr).await.unwrap();
            assert_eq!(read_exact(&mut c, 8).await, b"accepted");
        });
        t.join().unwrap();
    });
}
