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

use common::http::{get, h1, h2, post, read};
use common::within;
use hyper::StatusCode;

async fn clients(addr: SocketAddr) {
    let hello = (StatusCode::OK, b"hello from oneport".to_vec());
    // HTTP/1.1: keep-alive requests on one connection.
    let mut c = h1(addr).await;
    for _ in 0..20 {
        c.ready().await.unwrap();
        assert_eq!(read(c.send_request(get("/")).await.unwrap()).await, hello);
    }
    let big: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i * 7 + (i >> 9)) as u8)
        .collect();
    c.ready().await.unwrap();
    let (status, body) = read(c.send_request(post("/echo", big.clone())).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body == big,
        "HTTP/1.1 echo: {} bytes of {}",
        body.len(),
        big.len()
    );

    // HTTP/2 with prior knowledge.
    let mut c2 = h2(addr).await;
    let resp = c2.send_request(get("/")).await.unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    assert_eq!(read(resp).await, hello);

    // Many connections at once.
    let all: Vec<_> = (0..20u8)
        .map(|i| {
            oneport::spawn(async move {
                let mut c = h1(addr).await;
                let body = vec![i; 1000 + i as usize];
                let (status, got) =
                    read(c.send_request(post("/echo", body.clone())).await.unwrap()).await;
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
