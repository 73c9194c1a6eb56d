//! hyper on oneport: the three pieces hyper asks its runtime for.
//!
//! hyper 1.x owns no runtime. A connection needs an I/O object with
//! [`hyper::rt::Read`] and [`Write`](::hyper::rt::Write),
//! an executor for the tasks HTTP/2 spawns, and a timer for its
//! keep-alive and header-read timeouts. Without a timer hyper has no
//! timeouts at all, so a client that sends half a request holds its
//! connection for ever; that is why [`Timer`] sits on oneport's own timers
//! rather than being left to the user.
//!
//! - [`Io`] wraps anything with `futures-io` traits; oneport's own
//!   streams ([`TcpStream`](crate::net::TcpStream), `UnixStream`) have
//!   hyper's traits directly and need no wrapper.
//! - [`Executor`] spawns on the runtime the connection runs on, so
//!   neither the service nor its bodies need be `Send`.
//! - [`Timer`] hands out [`time::Sleep`](crate::time::Sleep)s, which are
//!   `Send + Sync` as hyper's timer trait demands.
//!
//! Enabled by the `hyper` feature (on by default).
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use hyper::{body::Incoming, server::conn::http1, service::service_fn, Request, Response};
//! use oneport::net::{TcpListener, TcpStream};
//!
//! oneport::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     oneport::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let hello = service_fn(|_req: Request<Incoming>| async {
//!             Ok::<_, Infallible>(Response::new(String::from("hello")))
//!         });
//!         http1::Builder::new()
//!             .timer(oneport::hyper::Timer)
//!             .header_read_timeout(Duration::from_secs(5))
//!             .serve_connection(stream, hello)
//!             .await
//!             .unwrap();
//!     })
//!     .detach();
//!
//!     // A raw HTTP/1.1 exchange, to show the server answering.
//!     use futures_io::{AsyncRead, AsyncWrite};
//!     let mut client = TcpStream::connect(addr).await?;
//!     let req = b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
//!     std::future::poll_fn(|cx| std::pin::Pin::new(&mut client).poll_write(cx, req)).await?;
//!     let mut reply = Vec::new();
//!     let mut buf = [0u8; 1024];
//!     loop {
//!         let n = std::future::poll_fn(|cx| std::pin::Pin::new(&mut client).poll_read(cx, &mut buf)).await?;
//!         if n == 0 { break; }
//!         reply.extend_from_slice(&buf[..n]);
//!     }
//!     let reply = String::from_utf8_lossy(&reply);
//!     assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
//!     assert!(reply.ends_with("hello"), "{reply}");
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! ```

mod executor;
mod io;
mod timer;

pub use executor::Executor;
pub use io::Io;
pub use timer::Timer;
