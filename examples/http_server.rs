//! An HTTP server on hyper and oneport: HTTP/1.1 and HTTP/2 on one port.
//!
//! ```sh
//! cargo run --example http_server -- 127.0.0.1:8080
//! curl http://127.0.0.1:8080/                          # HTTP/1.1
//! curl --http2-prior-knowledge http://127.0.0.1:8080/  # HTTP/2 (cleartext)
//! curl --data-binary @file http://127.0.0.1:8080/echo  # the body comes back
//! ```
//!
//! It prints `http server listening on ADDR` once it accepts connections.
//! `GET /` answers `hello from oneport`; `POST /echo` answers the request
//! body; anything else is a 404. Each connection is one task on one
//! thread: the protocol is chosen from the first bytes (an HTTP/2 client
//! without TLS opens with the preface `PRI * HTTP/2.0`), and HTTP/1.1
//! connections get a header-read timeout from oneport's timer, so a client
//! that sends half a request is cut off. `tests/hyper.rs` drives this
//! server with hyper's client and with curl, and `tests/http_wine.rs` runs
//! its Windows build under Wine against Linux clients.

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use oneport::net::{TcpListener, TcpStream};

/// How long an HTTP/1.1 client may take to send a request's head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What an HTTP/2 client without TLS sends first.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// Answers one request.
pub async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: Bytes| {
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = status;
        r
    };
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => reply(StatusCode::OK, Bytes::from_static(b"hello from oneport")),
        (&Method::POST, "/echo") => match req.into_body().collect().await {
            Ok(body) => reply(StatusCode::OK, body.to_bytes()),
            Err(e) => reply(StatusCode::BAD_REQUEST, Bytes::from(e.to_string())),
        },
        _ => reply(StatusCode::NOT_FOUND, Bytes::from_static(b"not found")),
    })
}

/// Whether the connection opens with the HTTP/2 preface. Waits (peeking,
/// nothing is consumed) until the first bytes tell, or for at most
/// [`HEADER_TIMEOUT`].
async fn speaks_http2(stream: &TcpStream) -> io::Result<bool> {
    let look = async {
        let mut buf = [0u8; PREFACE.len()];
        loop {
            let n = stream.peek(&mut buf).await?;
            if n == 0 || buf[..n] != PREFACE[..n] {
                return Ok(false);
            }
            if n == PREFACE.len() {
                return Ok(true);
            }
            // A prefix of the preface so far: wait for the rest.
            oneport::time::sleep(Duration::from_millis(1)).await;
        }
    };
    oneport::time::timeout(HEADER_TIMEOUT, look)
        .await
        .unwrap_or(Ok(false))
}

/// Serves one connection, HTTP/1.1 or HTTP/2, until the client is done.
pub async fn serve_connection(stream: TcpStream, header_timeout: Duration) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let served = if speaks_http2(&stream).await? {
        http2::Builder::new(oneport::hyper::Executor)
            .timer(oneport::hyper::Timer)
            .serve_connection(stream, service_fn(handle))
            .await
    } else {
        http1::Builder::new()
            .timer(oneport::hyper::Timer)
            .header_read_timeout(header_timeout)
            .serve_connection(stream, service_fn(handle))
            .await
    };
    served.map_err(io::Error::other)
}

/// Accepts connections for ever, each served in its own task.
pub async fn serve(listener: TcpListener, header_timeout: Duration) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => oneport::spawn(async move {
                if let Err(e) = serve_connection(stream, header_timeout).await {
                    eprintln!("http_server: {peer}: {e}");
                }
            })
            .detach(),
            Err(e) => eprintln!("http_server: accept: {e}"),
        }
    }
}

#[allow(dead_code)]
fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let result = oneport::run(async move {
        let listener = TcpListener::bind(addr)?;
        println!("http server listening on {}", listener.local_addr()?);
        serve(listener, HEADER_TIMEOUT).await
    });
    if let Err(e) = result {
        eprintln!("http_server: {e}");
        std::process::exit(1);
    }
}
