//! hyper clients on oneport for the HTTP tests (`hyper`, `http_wine`):
//! requests, whole answers, and HTTP/1.1 and HTTP/2 connections whose
//! drivers run as tasks of the current runtime.
#![cfg(feature = "hyper")]

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1 as client1, http2 as client2};
use hyper::{Request, Response, StatusCode};
use oneport::net::TcpStream;

/// A `GET path`.
pub fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "oneport.test")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// A `POST path` with `body`.
pub fn post(path: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "oneport.test")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// The status and whole body of a response.
pub async fn read(resp: Response<hyper::body::Incoming>) -> (StatusCode, Vec<u8>) {
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

/// An HTTP/1.1 client connection (its driver spawned on this runtime).
pub async fn h1(addr: SocketAddr) -> client1::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = client1::handshake(stream).await.unwrap();
    oneport::spawn(async move {
        let _ = conn.await;
    })
    .detach();
    sender
}

/// An HTTP/2 client connection (prior knowledge, no TLS).
pub async fn h2(addr: SocketAddr) -> client2::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = client2::Builder::new(oneport::hyper::Executor)
        .timer(oneport::hyper::Timer)
        .handshake(stream)
        .await
        .unwrap();
    oneport::spawn(async move {
        let _ = conn.await;
    })
    .detach();
    sender
}
