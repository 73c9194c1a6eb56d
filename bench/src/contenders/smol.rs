//! smol: a `LocalExecutor` driven by `smol::block_on` on this thread
//! (async-io's reactor runs there while the executor waits). For the
//! multicore workload, a shared `Executor` run by one thread per core.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use smol::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use smol::{Async, Executor, LocalExecutor};

use super::smol_hyper::{SmolIo, SmolTimer};
use super::Contender;
use crate::harness::{self, ClientOut, ClientPlan, FileJob, FileOut, NetJob, NetOut};
use crate::harness::{raw_of, RawSock};
use crate::httpserve::{self, ServerThread};
use crate::load::Serving;

/// The smol contender.
pub struct Smol;

type Ex = Rc<LocalExecutor<'static>>;

fn run<T, F: Future<Output = io::Result<T>>>(f: impl FnOnce(Ex) -> F) -> io::Result<T> {
    let ex = Rc::new(LocalExecutor::new());
    let fut = f(ex.clone());
    smol::block_on(ex.run(fut))
}

impl Contender for Smol {
    fn name(&self) -> &'static str {
        "smol"
    }

    fn net(&self, job: &NetJob) -> Option<io::Result<NetOut>> {
        Some(run(|ex| net(ex, job)))
    }

    fn can_idle(&self) -> bool {
        true
    }

    fn idle(&self, socks: &[RawSock]) -> Option<io::Result<Duration>> {
        Some(run(|_| {
            async move {
                let start = Instant::now();
                let mut streams = Vec::with_capacity(socks.len());
                for &s in socks {
                    // SAFETY: the caller owns `s` for the whole call; the
                    // loan ends through `give_back` below.
                    streams.push(Async::new(unsafe { harness::borrow_std(s) })?);
                }
                let mut waits: Vec<Pin<Box<dyn Future<Output = io::Result<()>> + '_>>> = streams
                    .iter()
                    .map(|s| Box::pin(s.readable()) as Pin<Box<_>>)
                    .collect();
                harness::poll_each_once(&mut waits).await?;
                // One turn of the loop with the waits in place, so a driver
                // that defers submitting them (mio on Windows) really issues them.
                smol::future::yield_now().await;
                drop(waits);
                for s in streams {
                    harness::give_back(s.into_inner()?);
                }
                smol::future::yield_now().await;
                Ok(start.elapsed())
            }
        }))
    }

    fn timers(&self, deadlines: &[Duration]) -> Option<io::Result<Duration>> {
        Some(run(|ex| async move {
            let start = Instant::now();
            let tasks: Vec<_> = deadlines
                .iter()
                .map(|&d| ex.spawn(smol::Timer::after(d)))
                .collect();
            for t in tasks {
                t.await;
            }
            Ok(start.elapsed())
        }))
    }

    fn files(&self, job: &FileJob) -> Option<io::Result<FileOut>> {
        Some(run(|ex| async move {
            let start = Instant::now();
            let workers: Vec<_> = (0..job.depth)
                .map(|w| {
                    let job = job.clone();
                    ex.spawn(async move {
                        let mut f = smol::fs::File::open(&job.path).await?;
                        let mut out = FileOut::default();
                        let mut buf = vec![0u8; job.block];
                        for off in harness::worker_offsets(&job, w) {
                            if start.elapsed() > job.limit {
                                break;
                            }
                            f.seek(io::SeekFrom::Start(off)).await?;
                            let n = f.read_exact(&mut buf).await.map(|()| buf.len());
                            out.bytes += harness::check_read(n, &job)?;
                            out.reads += 1;
                        }
                        Ok::<_, io::Error>(out)
                    })
                })
                .collect();
            let mut total = FileOut::default();
            for w in workers {
                let o = w.await?;
                total.reads += o.reads;
                total.bytes += o.bytes;
            }
            total.elapsed = start.elapsed();
            Ok(total)
        }))
    }

    fn serve_multicore(&self, cores: usize) -> Option<io::Result<Box<dyn Serving>>> {
        Some(MtEcho::start(cores).map(|s| Box::new(s) as Box<dyn Serving>))
    }

    fn serve_http(&self) -> Option<io::Result<Box<dyn Serving>>> {
        Some(ServerThread::start("smol", |l, stop| {
            run(|ex| async move {
                let l = Async::new(l)?;
                smol::future::or(serve_http(ex, l), httpserve::stopped(stop)).await
            })
            // `run` dropped the executor, and with it every connection.
        }))
    }
}

/// The http workload's server: a task per connection on the local
/// executor, each hyper's HTTP/1.1 code on `Async<TcpStream>` through
/// [`SmolIo`], timeouts on smol's timers. Runs until accepting fails.
async fn serve_http(ex: Ex, l: Async<std::net::TcpListener>) -> io::Result<()> {
    loop {
        let (s, _) = l.accept().await?;
        s.get_ref().set_nodelay(true)?;
        ex.spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(SmolTimer)
                .header_read_timeout(httpserve::HEADER_TIMEOUT)
                .serve_connection(SmolIo(s), hyper::service::service_fn(httpserve::hello))
                .await;
        })
        .detach();
    }
}

/// The multicore server: one shared `Executor` run by `cores` threads
/// (each also drives async-io's reactor while it waits), one listener.
struct MtEcho {
    ex: Arc<Executor<'static>>,
    addr: SocketAddr,
    /// Closing it ends every executor thread's `run`.
    stop: Option<smol::channel::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl MtEcho {
    fn start(cores: usize) -> io::Result<MtEcho> {
        let ex = Arc::new(Executor::new());
        let listener = smol::block_on(TcpListener::bind(harness::loopback()))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let mut server = MtEcho {
            ex: ex.clone(),
            addr,
            stop: Some(stop),
            threads: Vec::new(),
        };
        for i in 0..cores {
            let (ex, stopped) = (ex.clone(), stopped.clone());
            let t = std::thread::Builder::new()
                .name(format!("smol-mt-{i}"))
                .spawn(move || {
                    let _ = smol::block_on(ex.run(stopped.recv()));
                })?;
            server.threads.push(t);
        }
        // A weak reference: the task must not keep its own executor alive.
        ex.spawn(serve_mt(Arc::downgrade(&ex), listener)).detach();
        Ok(server)
    }
}

async fn serve_mt(ex: Weak<Executor<'static>>, listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        let _ = s.set_nodelay(true);
        let Some(ex) = ex.upgrade() else { return };
        ex.spawn(async move {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n @ 1..) = s.read(&mut buf).await {
                if s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        })
        .detach();
    }
}

impl Serving for MtEcho {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn stop(mut self: Box<Self>) -> io::Result<()> {
        drop(self.stop.take());
        let mut panicked = 0;
        for t in self.threads.drain(..) {
            panicked += usize::from(t.join().is_err());
        }
        // The last reference: dropping the executor drops every task (and
        // with them the listener and the connections).
        drop(self.ex);
        match panicked {
            0 => Ok(()),
            n => Err(io::Error::other(format!("{n} executor thread(s) panicked"))),
        }
    }
}

async fn net(ex: Ex, job: &NetJob) -> io::Result<NetOut> {
    let listener = TcpListener::bind(harness::loopback()).await?;
    let addr = listener.local_addr()?;
    let server = ex.spawn(serve(ex.clone(), listener));
    let start = Instant::now();
    let clients: Vec<_> = (0..job.conns)
        .map(|_| ex.spawn(client(job.clone(), addr, start)))
        .collect();
    let mut out = NetOut::default();
    for c in clients {
        out.add(c.await?);
    }
    out.elapsed = start.elapsed();
    drop(server);
    Ok(out)
}

async fn serve(ex: Ex, listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        let _ = s.set_nodelay(true);
        ex.spawn(async move {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n @ 1..) = s.read(&mut buf).await {
                if s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        })
        .detach();
    }
}

async fn client(job: NetJob, addr: SocketAddr, start: Instant) -> io::Result<ClientOut> {
    let mut plan = ClientPlan::new(&job, start);
    let msg = plan.message();
    let mut back = vec![0u8; job.msg];
    let mut conn: Option<TcpStream> = None;
    while plan.more() {
        if plan.needs_connect() {
            if let Some(old) = conn.take() {
                harness::abortive_close(raw_of(&old));
            }
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            conn = Some(s);
            plan.connected();
        }
        let s = conn.as_mut().expect("connected above");
        let began = Instant::now();
        s.write_all(&msg).await?;
        s.read_exact(&mut back).await?;
        plan.round_done(began);
    }
    if let Some(old) = conn {
        harness::abortive_close(raw_of(&old));
    }
    Ok(plan.out)
}
