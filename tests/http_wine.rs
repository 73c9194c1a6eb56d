//! The Windows build of `examples/http_server.rs`, running under Wine,
//! answers native Linux clients: hyper's client over HTTP/1.1 (keep-alive,
//! a 1 MiB body echoed byte-exact, 20 connections at once) and HTTP/2,
//! and curl where it is installed.
//!
//! `scripts/test.sh` builds `http_server.exe` before the native suite;
//! outside CI, when it (or Wine) is missing, this test says so and passes.
#![cfg(all(target_os = "linux", feature = "hyper"))]
mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::within;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper::{Request, StatusCode};
use oneport::net::TcpStream;

fn request(addr: SocketAddr, path: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    let method = if body.is_empty() { "GET" } else { "POST" };
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn answer(resp: hyper::Response<hyper::body::Incoming>) -> (StatusCode, Vec<u8>) {
    let status = resp.status();
    (
        status,
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

async fn clients(addr: SocketAddr) {
    // HTTP/1.1: keep-alive requests on one connection.
    let (mut c, conn) = http1::handshake(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    oneport::spawn(async move {
        let _ = conn.await;
    })
    .detach();
    for _ in 0..20 {
        c.ready().await.unwrap();
        let (status, body) =
            answer(c.send_request(request(addr, "/", vec![])).await.unwrap()).await;
        assert_eq!(
            (status, body.as_slice()),
            (StatusCode::OK, &b"hello from oneport"[..])
        );
    }
    let big: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i * 7 + (i >> 9)) as u8)
        .collect();
    c.ready().await.unwrap();
    let (status, body) = answer(
        c.send_request(request(addr, "/echo", big.clone()))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body == big,
        "HTTP/1.1 echo: {} bytes of {}",
        body.len(),
        big.len()
    );

    // HTTP/2 with prior knowledge.
    let (mut c2, conn) = http2::Builder::new(oneport::hyper::Executor)
        .timer(oneport::hyper::Timer)
        .handshake(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    oneport::spawn(async move {
        let _ = conn.await;
    })
    .detach();
    let resp = c2.send_request(request(addr, "/", vec![])).await.unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    let (status, body) = answer(resp).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, &b"hello from oneport"[..])
    );

    // Many connections at once.
    let all: Vec<_> = (0..20u8)
        .map(|i| {
            oneport::spawn(async move {
                let (mut c, conn) = http1::handshake(TcpStream::connect(addr).await.unwrap())
                    .await
                    .unwrap();
                oneport::spawn(async move {
                    let _ = conn.await;
                })
                .detach();
                let body = vec![i; 1000 + i as usize];
                let (status, got) = answer(
                    c.send_request(request(addr, "/echo", body.clone()))
                        .await
                        .unwrap(),
                )
                .await;
                assert_eq!(status, StatusCode::OK);
                assert!(got == body, "connection {i}");
            })
        })
        .collect();
    for c in all {
        c.await;
    }
}

#[test]
fn the_windows_http_server_under_wine_answers_native_clients() {
    let Some(server) = common::wine_example::start("http_server", &["127.0.0.1:0"]) else {
        return;
    };
    let addr = server.addr;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let result = std::panic::catch_unwind(move || {
        within(180, move || oneport::run(clients(addr)));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    if result.is_err() || !done.load(std::sync::atomic::Ordering::SeqCst) {
        panic!(
            "native clients against the Windows HTTP server failed; its stderr: {}",
            server.stderr()
        );
    }

    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok()
    {
        for flag in ["--http1.1", "--http2-prior-knowledge"] {
            let out = std::process::Command::new("curl")
                .args(["-sS", "--max-time", "60", flag, &format!("http://{addr}/")])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "curl {flag}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, b"hello from oneport", "curl {flag}");
        }
    } else {
        eprintln!("http_wine: curl not installed, its part skipped");
    }
}
