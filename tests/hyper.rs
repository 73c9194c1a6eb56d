//! hyper on oneport (`oneport::hyper`): the example server answers hyper's
//! own client over HTTP/1.1 and HTTP/2 (keep-alive, large bodies, many
//! connections at once) and curl where it is installed; a half-sent
//! request is cut off by the header-read timeout on oneport's timer; the
//! executor runs `!Send` HTTP/2 services; the timer's sleeps reset in place.
#![cfg(feature = "hyper")]
mod common;

#[allow(dead_code)]
#[path = "../examples/http_server.rs"]
mod http_server;

use std::convert::Infallible;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::http::{get, h1, h2, post, read};
use common::within;
use futures_io::{AsyncRead, AsyncWrite};
use http_body_util::Full;
use hyper::client::conn::http1 as client1;
use hyper::{Response, StatusCode};
use oneport::net::{TcpListener, TcpStream};

fn test<F: std::future::Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    within(120, move || oneport::run(f()));
}

/// Starts the example's server on a fresh port of this runtime.
fn start_server(header_timeout: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    oneport::spawn(async move {
        http_server::serve(listener, header_timeout).await.unwrap();
    })
    .detach();
    addr
}

/// A pattern that makes a misplaced or lost byte show.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect()
}

#[test]
fn http1_get_and_many_keep_alive_requests_on_one_connection() {
    test(|| async {
        let addr = start_server(http_server::HEADER_TIMEOUT);
        let mut c = h1(addr).await;
        for i in 0..200 {
            c.ready().await.unwrap();
            let (status, body) = read(c.send_request(get("/")).await.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "request {i}");
            assert_eq!(body, b"hello from oneport");
        }
        c.ready().await.unwrap();
        let (status, _) = read(c.send_request(get("/nowhere")).await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    });
}

#[test]
fn http2_get_and_concurrent_streams_on_one_connection() {
    test(|| async {
        let addr = start_server(http_server::HEADER_TIMEOUT);
        let c = h2(addr).await;
        let streams: Vec<_> = (0..50)
            .map(|i| {
                let mut c = c.clone();
                oneport::spawn(async move {
                    let body = pattern(1000 + i * 37, i as u8);
                    let resp = c.send_request(post("/echo", body.clone())).await.unwrap();
                    assert_eq!(resp.version(), hyper::Version::HTTP_2);
                    let (status, got) = read(resp).await;
                    assert_eq!(status, StatusCode::OK);
                    assert!(got == body, "stream {i}: echoed body differs");
                })
            })
            .collect();
        for s in streams {
            s.await;
        }
        let mut c = c;
        let (status, body) = read(c.send_request(get("/")).await.unwrap()).await;
        assert_eq!(
            (status, body.as_slice()),
            (StatusCode::OK, &b"hello from oneport"[..])
        );
    });
}

#[test]
fn large_bodies_come_back_byte_exact_over_both_protocols() {
    test(|| async {
        let addr = start_server(http_server::HEADER_TIMEOUT);
        let body = pattern(3 << 20, 7);
        let mut c1 = h1(addr).await;
        let (status, got) = read(c1.send_request(post("/echo", body.clone())).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            got == body,
            "HTTP/1.1: echoed {} bytes of {}",
            got.len(),
            body.len()
        );
        let mut c2 = h2(addr).await;
        let (status, got) = read(c2.send_request(post("/echo", body.clone())).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            got == body,
            "HTTP/2: echoed {} bytes of {}",
            got.len(),
            body.len()
        );
    });
}

#[test]
fn many_connections_at_once_each_get_their_own_answers() {
    test(|| async {
        let addr = start_server(http_server::HEADER_TIMEOUT);
        let clients: Vec<_> = (0..100u8)
            .map(|i| {
                oneport::spawn(async move {
                    let mut c = h1(addr).await;
                    for round in 0..5u8 {
                        let body = pattern(100 + i as usize, i ^ round);
                        c.ready().await.unwrap();
                        let (status, got) =
                            read(c.send_request(post("/echo", body.clone())).await.unwrap()).await;
                        assert_eq!(status, StatusCode::OK);
                        assert!(got == body, "client {i} round {round}");
                    }
                })
            })
            .collect();
        for c in clients {
            c.await;
        }
    });
}

async fn write_all(s: &mut TcpStream, mut buf: &[u8]) {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *s).poll_write(cx, buf))
            .await
            .unwrap();
        buf = &buf[n..];
    }
}

/// Reads until end of stream (or a reset, which also ends the
/// connection); returns what came.
async fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match poll_fn(|cx| Pin::new(&mut *s).poll_read(cx, &mut buf)).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn a_half_sent_request_is_cut_off_after_the_header_timeout() {
    test(|| async {
        let timeout = Duration::from_millis(300);
        let addr = start_server(timeout);
        let mut s = TcpStream::connect(addr).await.unwrap();
        let t0 = Instant::now();
        write_all(&mut s, b"GET / HTTP/1.1\r\nhost: oneport.test\r\nx-half: ").await;
        let got = oneport::time::timeout(Duration::from_secs(30), read_to_end(&mut s))
            .await
            .expect("the server kept a half-sent request open");
        let waited = t0.elapsed();
        // A timer never fires early; hyper may answer 408 before closing.
        assert!(
            waited >= timeout,
            "closed after {waited:?}, before the timeout"
        );
        let text = String::from_utf8_lossy(&got);
        assert!(
            got.is_empty() || text.starts_with("HTTP/1.1 408"),
            "unexpected answer to a half-sent request: {text}"
        );

        // A complete request on a fresh connection is still answered.
        let mut s = TcpStream::connect(addr).await.unwrap();
        write_all(
            &mut s,
            b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        let got = read_to_end(&mut s).await;
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.ends_with("hello from oneport"), "{text}");
    });
}

#[test]
fn the_executor_runs_http2_services_that_are_not_send() {
    test(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Rc::new(std::cell::Cell::new(0u32));
        let counter = hits.clone();
        oneport::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = hyper::service::service_fn(move |_req| {
                let counter = counter.clone(); // Rc: the service is !Send
                async move {
                    counter.set(counter.get() + 1);
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                        counter.get().to_string(),
                    ))))
                }
            });
            hyper::server::conn::http2::Builder::new(oneport::hyper::Executor)
                .timer(oneport::hyper::Timer)
                .serve_connection(stream, svc)
                .await
                .unwrap();
        })
        .detach();
        let mut c = h2(addr).await;
        for i in 1..=10u32 {
            let (status, body) = read(c.send_request(get("/")).await.unwrap()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, i.to_string().as_bytes());
        }
        assert_eq!(hits.get(), 10);
    });
}

#[test]
fn the_timer_resets_its_own_sleeps_in_place_and_replaces_foreign_ones() {
    use hyper::rt::Timer as _;
    struct Foreign;
    impl std::future::Future for Foreign {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
            std::task::Poll::Pending
        }
    }
    impl hyper::rt::Sleep for Foreign {}
    test(|| async {
        let timer = oneport::hyper::Timer;
        let mut s = timer.sleep(Duration::from_secs(3600));
        let t0 = Instant::now();
        timer.reset(&mut s, t0 + Duration::from_millis(20));
        assert!(
            s.as_mut()
                .downcast_mut_pin::<oneport::time::Sleep>()
                .is_some(),
            "reset replaced our own sleep"
        );
        s.await;
        assert!(t0.elapsed() >= Duration::from_millis(20));

        let mut f: Pin<Box<dyn hyper::rt::Sleep>> = Box::pin(Foreign);
        timer.reset(&mut f, Instant::now() + Duration::from_millis(5));
        f.await; // would hang were the foreign sleep kept
        assert_eq!(oneport::lowlevel::statistics().timers, 0);
    });
}

/// Any `futures-io` stream serves hyper through `oneport::hyper::Io`.
#[test]
fn io_wraps_any_futures_io_stream() {
    test(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        oneport::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let io = oneport::hyper::Io::new(stream);
            assert!(io.get_ref().peer_addr().is_ok());
            hyper::server::conn::http1::Builder::new()
                .serve_connection(io, hyper::service::service_fn(http_server::handle))
                .await
                .unwrap();
        })
        .detach();
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut c, conn) = client1::handshake(oneport::hyper::Io::new(stream))
            .await
            .unwrap();
        oneport::spawn(async move {
            let _ = conn.await;
        })
        .detach();
        let body = pattern(200_000, 3);
        let (status, got) = read(c.send_request(post("/echo", body.clone())).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(got == body);
    });
}

#[cfg(unix)]
#[test]
fn hyper_over_a_unix_stream_pair() {
    test(|| async {
        let (server, client) = oneport::net::UnixStream::pair().unwrap();
        oneport::spawn(async move {
            hyper::server::conn::http1::Builder::new()
                .timer(oneport::hyper::Timer)
                .serve_connection(server, hyper::service::service_fn(http_server::handle))
                .await
                .unwrap();
        })
        .detach();
        let (mut c, conn) = client1::handshake(client).await.unwrap();
        oneport::spawn(async move {
            let _ = conn.await;
        })
        .detach();
        let (status, body) = read(c.send_request(get("/")).await.unwrap()).await;
        assert_eq!(
            (status, body.as_slice()),
            (StatusCode::OK, &b"hello from oneport"[..])
        );
    });
}

/// curl, where installed, gets answers over HTTP/1.1 and HTTP/2 from the
/// example server running on its own thread.
#[cfg(unix)]
#[test]
fn curl_gets_answers_over_http1_and_http2() {
    use std::process::Command;
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("curl_gets_answers: skipped, curl is not installed");
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        oneport::run(async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            http_server::serve(listener, http_server::HEADER_TIMEOUT).await
        })
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let url = format!("http://{addr}/");
    for (flag, version) in [("--http1.1", "1.1"), ("--http2-prior-knowledge", "2")] {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "30",
                flag,
                "-w",
                "\n%{http_version}",
                &url,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl {flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text,
            format!("hello from oneport\n{version}"),
            "curl {flag}"
        );
    }
    // A body through curl comes back whole.
    let dir = std::env::temp_dir().join(format!("oneport-curl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body");
    let body = pattern(1 << 20, 9);
    std::fs::write(&file, &body).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(format!("http://{addr}/echo"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success());
    assert!(
        out.stdout == body,
        "curl: echoed {} bytes of {}",
        out.stdout.len(),
        body.len()
    );
}
