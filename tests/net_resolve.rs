//! `oneport::net` constructors given names instead of addresses: what
//! resolves, what fails (as an `io::Error`, never a panic), and that the
//! lookup happens off the run loop's thread.
mod common;

use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use common::within;
use oneport::net::{TcpListener, TcpStream, UdpSocket};
use oneport::spawn;
use oneport::time::timeout;

const HANG: Duration = Duration::from_secs(20);

fn test<F: Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    within(60, move || oneport::run(f()));
}

/// A loopback port nothing listens on (bound, read back, closed).
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// An address list that records which thread asked for it.
#[derive(Clone)]
struct Recorded {
    addrs: Vec<SocketAddr>,
    asked_on: Arc<Mutex<Vec<ThreadId>>>,
}

impl Recorded {
    fn new(addrs: Vec<SocketAddr>) -> Recorded {
        Recorded {
            addrs,
            asked_on: Arc::default(),
        }
    }
    fn threads(&self) -> Vec<ThreadId> {
        self.asked_on.lock().unwrap().clone()
    }
}

impl ToSocketAddrs for Recorded {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        self.asked_on
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        Ok(self.addrs.clone().into_iter())
    }
}

#[test]
fn localhost_and_a_port_works_for_every_constructor() {
    test(|| async {
        let l = TcpListener::bind("localhost:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(l.local_addr().unwrap().ip().is_loopback());
        let accept = spawn(async move {
            let (first, _) = l.accept().await?;
            let (second, _) = l.accept().await?;
            io::Result::Ok((first, second))
        });
        let c = TcpStream::connect(format!("localhost:{port}"))
            .await
            .unwrap();
        let c2 = TcpStream::connect(("localhost", port)).await;
        assert!(c2.is_ok(), "(host, port) form: {c2:?}");
        let (s, _) = timeout(HANG, accept).await.unwrap().unwrap();
        c.write_all(b"by name").await.unwrap();
        let mut buf = [0u8; 7];
        let n = s.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &b"by name"[..n]);

        let a = UdpSocket::bind("localhost:0").unwrap();
        let aa = a.local_addr().unwrap();
        let b = UdpSocket::bind(String::from("127.0.0.1:0")).unwrap();
        let target = match aa {
            SocketAddr::V4(_) => format!("localhost:{}", aa.port()),
            SocketAddr::V6(_) => format!("[::1]:{}", aa.port()),
        };
        b.send_to(b"dgram", target.clone()).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = timeout(HANG, a.recv_from(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf[..n], b"dgram");
        assert_eq!(from.port(), b.local_addr().unwrap().port());
        b.connect(target).await.unwrap();
        b.send(b"again").await.unwrap();
        let n = timeout(HANG, a.recv(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf[..n], b"again");
    });
}

#[test]
fn a_name_that_does_not_resolve_is_an_error_not_a_panic() {
    test(|| async {
        for bad in [
            "no-such-host.invalid:80",
            "localhost",
            "localhost:notaport",
            "",
        ] {
            let e = timeout(HANG, TcpStream::connect(bad)).await.unwrap();
            assert!(e.is_err(), "connect({bad:?}) succeeded");
            assert!(TcpListener::bind(bad).is_err(), "bind({bad:?}) succeeded");
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            assert!(u.send_to(b"x", bad).await.is_err(), "send_to({bad:?})");
            assert!(u.connect(bad).await.is_err(), "connect({bad:?})");
            assert!(UdpSocket::bind(bad).is_err(), "udp bind({bad:?})");
        }
    });
}

#[test]
fn a_name_that_resolves_to_nothing_is_invalid_input() {
    test(|| async {
        let none: &'static [SocketAddr] = &[];
        let kind = |r: io::Result<()>| r.unwrap_err().kind();
        let invalid = io::ErrorKind::InvalidInput;
        assert_eq!(kind(TcpStream::connect(none).await.map(drop)), invalid);
        assert_eq!(kind(TcpListener::bind(none).map(drop)), invalid);
        assert_eq!(kind(UdpSocket::bind(none).map(drop)), invalid);
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(kind(u.send_to(b"x", none).await.map(drop)), invalid);
        assert_eq!(kind(u.connect(none).await), invalid);
        let empty = Recorded::new(Vec::new());
        assert_eq!(kind(TcpStream::connect(empty).await.map(drop)), invalid);
    });
}

#[test]
fn names_are_resolved_off_the_loop_thread() {
    test(|| async {
        let loop_thread = std::thread::current().id();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let accept = spawn(async move { l.accept().await });

        let name = Recorded::new(vec![addr]);
        TcpStream::connect(name.clone()).await.unwrap();
        timeout(HANG, accept).await.unwrap().unwrap();
        let listen = Recorded::new(vec!["127.0.0.1:0".parse().unwrap()]);
        TcpListener::bind(listen.clone()).unwrap();
        let udp = Recorded::new(vec!["127.0.0.1:0".parse().unwrap()]);
        let u = UdpSocket::bind(udp.clone()).unwrap();
        u.send_to(b"x", name.clone()).await.unwrap();

        for (what, r) in [("connect", &name), ("bind", &listen), ("udp bind", &udp)] {
            let threads = r.threads();
            assert!(!threads.is_empty(), "{what}: never resolved");
            assert!(
                threads.iter().all(|t| *t != loop_thread),
                "{what}: resolved on the loop thread"
            );
        }
    });
}

#[test]
fn connect_tries_each_address_and_returns_the_last_error() {
    test(|| async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = l.local_addr().unwrap();
        let accept = spawn(async move { l.accept().await });
        let (dead1, dead2) = (closed_port(), closed_port());

        let c = TcpStream::connect(Recorded::new(vec![dead1, good]))
            .await
            .unwrap();
        assert_eq!(c.peer_addr().unwrap(), good);
        timeout(HANG, accept).await.unwrap().unwrap();

        let e = timeout(HANG, TcpStream::connect(Recorded::new(vec![dead1, dead2])))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    });
}
