//! What every server of the http workload shares: the listener, the one
//! answer, the header-read timeout, and the thread a server runs on with
//! its way of being stopped.
//!
//! Each contender's server is hyper's HTTP/1.1 connection code on that
//! contender's single-threaded runtime, started on a thread of its own so
//! that the load ([`crate::httpload`]) never shares it. Everything but the
//! runtime (and its adapter to hyper's I/O and timer traits) is the same
//! for all of them, so the figures differ only by what the runtime adds.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};

use crate::load::Serving;

/// The header-read timeout every server sets, with its runtime's timer
/// (so each runtime also pays for one timer per request, as a real
/// server would).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections the listener queues before the server accepts them: the
/// load connects up to a thousand at once.
const BACKLOG: i32 = 1024;

/// The one service: `GET /` gets [`crate::httpload::BODY`], anything else
/// a 404.
pub async fn hello<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut r = Response::new(Full::new(Bytes::from_static(crate::httpload::BODY)));
    if req.method() != Method::GET || req.uri().path() != "/" {
        *r.body_mut() = Full::new(Bytes::from_static(b"not found"));
        *r.status_mut() = StatusCode::NOT_FOUND;
    }
    Ok(r)
}

/// A non-blocking listener on 127.0.0.1 with a deep backlog.
fn listener() -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.bind(&crate::harness::loopback().into())?;
    s.listen(BACKLOG)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// The stop signal a server's runtime waits on beside its accept loop:
/// it ends (with an error from `recv`) when the sender is dropped.
pub type Stop = smol::channel::Receiver<()>;

/// Waits for the stop signal (runtime-neutral: it only needs a waker).
pub async fn stopped(stop: Stop) -> io::Result<()> {
    let _ = stop.recv().await;
    Ok(())
}

/// A server running on its own thread.
pub struct ServerThread {
    addr: SocketAddr,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl ServerThread {
    /// Binds the listener and starts `serve` on a thread named after
    /// `who`; `serve` must return once [`Stop`] fires, with its runtime
    /// and every connection dropped.
    pub fn start(
        who: &str,
        serve: impl FnOnce(std::net::TcpListener, Stop) -> io::Result<()> + Send + 'static,
    ) -> io::Result<Box<dyn Serving>> {
        let l = listener()?;
        let addr = l.local_addr()?;
        let (tx, rx) = smol::channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name(format!("bench-http-{who}"))
            .spawn(move || serve(l, rx))?;
        Ok(Box::new(ServerThread {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }))
    }
}

impl Serving for ServerThread {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn stop(mut self: Box<Self>) -> io::Result<()> {
        drop(self.stop.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        // Dropped without `stop` (an error path): still stop the thread.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
