//! tokio, current-thread (the target to beat) and multi-thread (a reference
//! line: it may use both cores).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Contender;
#[cfg(windows)]
use crate::harness::PipeJob;
use crate::harness::{self, ClientOut, ClientPlan, FileJob, FileOut, NetJob, NetOut};
use crate::harness::{raw_of, RawSock};
use crate::httpserve::{self, ServerThread};
use crate::load::Serving;

/// The tokio contenders.
pub struct Tokio {
    /// The multi-thread scheduler (else current-thread).
    pub multi_thread: bool,
}

impl Tokio {
    fn run<T>(&self, fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
        let rt = if self.multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        };
        rt.block_on(fut)
    }
}

impl Contender for Tokio {
    fn name(&self) -> &'static str {
        if self.multi_thread {
            "tokio-mt"
        } else {
            "tokio-ct"
        }
    }

    fn net(&self, job: &NetJob) -> Option<io::Result<NetOut>> {
        Some(self.run(net(job)))
    }

    fn can_idle(&self) -> bool {
        true
    }

    fn idle(&self, socks: &[RawSock]) -> Option<io::Result<Duration>> {
        Some(self.run(async {
            let start = Instant::now();
            let mut streams = Vec::with_capacity(socks.len());
            for &s in socks {
                // SAFETY: the caller owns `s` for the whole call; the loan
                // ends through `give_back` below.
                streams.push(TcpStream::from_std(unsafe { harness::borrow_std(s) })?);
            }
            let mut waits: Vec<Pin<Box<dyn Future<Output = io::Result<()>> + '_>>> = streams
                .iter()
                .map(|s| Box::pin(s.readable()) as Pin<Box<_>>)
                .collect();
            harness::poll_each_once(&mut waits).await?;
            // One turn of the loop with the waits in place, so a driver
            // that defers submitting them (mio on Windows) really issues them.
            tokio::task::yield_now().await;
            drop(waits);
            for s in streams {
                harness::give_back(s.into_std()?);
            }
            tokio::task::yield_now().await;
            Ok(start.elapsed())
        }))
    }

    fn timers(&self, deadlines: &[Duration]) -> Option<io::Result<Duration>> {
        Some(self.run(async {
            let start = Instant::now();
            let tasks: Vec<_> = deadlines
                .iter()
                .map(|&d| tokio::spawn(tokio::time::sleep(d)))
                .collect();
            for t in tasks {
                t.await?;
            }
            Ok(start.elapsed())
        }))
    }

    fn files(&self, job: &FileJob) -> Option<io::Result<FileOut>> {
        Some(self.run(async {
            let start = Instant::now();
            let workers: Vec<_> = (0..job.depth)
                .map(|w| {
                    let job = job.clone();
                    tokio::spawn(async move {
                        let mut f = tokio::fs::File::open(&job.path).await?;
                        let mut out = FileOut::default();
                        let mut buf = vec![0u8; job.block];
                        for off in harness::worker_offsets(&job, w) {
                            if start.elapsed() > job.limit {
                                break;
                            }
                            f.seek(io::SeekFrom::Start(off)).await?;
                            let n = f.read_exact(&mut buf).await;
                            out.bytes += harness::check_read(n, &job)?;
                            out.reads += 1;
                        }
                        Ok::<_, io::Error>(out)
                    })
                })
                .collect();
            let mut total = FileOut::default();
            for w in workers {
                let o = w.await??;
                total.reads += o.reads;
                total.bytes += o.bytes;
            }
            total.elapsed = start.elapsed();
            Ok(total)
        }))
    }

    #[cfg(windows)]
    fn pipes(&self, job: &PipeJob) -> Option<io::Result<NetOut>> {
        Some(self.run(pipes(job.clone())))
    }

    fn serve_multicore(&self, cores: usize) -> Option<io::Result<Box<dyn Serving>>> {
        // Only the multi-thread scheduler can use more than one core.
        self.multi_thread
            .then(|| MtEcho::start(cores).map(|s| Box::new(s) as Box<dyn Serving>))
    }

    fn serve_http(&self) -> Option<io::Result<Box<dyn Serving>>> {
        // The single-threaded comparison: current-thread only.
        (!self.multi_thread).then(|| {
            ServerThread::start("tokio-ct", |l, stop| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let r = rt.block_on(async move {
                    let l = TcpListener::from_std(l)?;
                    smol::future::or(serve_http(l), httpserve::stopped(stop)).await
                });
                // Dropping the runtime drops every connection's task.
                drop(rt);
                r
            })
        })
    }
}

/// The http workload's server: a task per connection, each hyper's
/// HTTP/1.1 code on a tokio `TcpStream` through hyper-util's `TokioIo`,
/// timeouts on tokio's timer (hyper-util's `TokioTimer`). Runs until
/// accepting fails.
async fn serve_http(l: TcpListener) -> io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    loop {
        let (s, _) = l.accept().await?;
        s.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(httpserve::HEADER_TIMEOUT)
                .serve_connection(
                    TokioIo::new(s),
                    hyper::service::service_fn(httpserve::hello),
                )
                .await;
        });
    }
}

/// The multicore server: a multi-thread runtime with `cores` workers, one
/// listener, a task per connection (work stealing spreads them).
struct MtEcho {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
}

impl MtEcho {
    fn start(cores: usize) -> io::Result<MtEcho> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .enable_all()
            .build()?;
        let listener = rt.block_on(TcpListener::bind(harness::loopback()))?;
        let addr = listener.local_addr()?;
        rt.spawn(serve(listener));
        Ok(MtEcho { rt, addr })
    }
}

impl Serving for MtEcho {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn stop(self: Box<Self>) -> io::Result<()> {
        // Cancels every task and waits for the worker threads, up to the
        // bound; reaching it means some thread was left running.
        let t0 = Instant::now();
        self.rt.shutdown_timeout(STOP_BOUND);
        if t0.elapsed() >= STOP_BOUND {
            return Err(io::Error::other(
                "tokio-mt: the runtime did not stop within its bound",
            ));
        }
        Ok(())
    }
}

/// How long a multicore server's shutdown may take before it is left.
const STOP_BOUND: Duration = Duration::from_secs(10);

async fn net(job: &NetJob) -> io::Result<NetOut> {
    let listener = TcpListener::bind(harness::loopback()).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(serve(listener));
    let start = Instant::now();
    let clients: Vec<_> = (0..job.conns)
        .map(|_| tokio::spawn(client(job.clone(), addr, start)))
        .collect();
    let mut out = NetOut::default();
    for c in clients {
        out.add(c.await??);
    }
    out.elapsed = start.elapsed();
    server.abort();
    Ok(out)
}

async fn serve(listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        let _ = s.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n @ 1..) = s.read(&mut buf).await {
                if s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
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

#[cfg(windows)]
async fn pipes(job: PipeJob) -> io::Result<NetOut> {
    use tokio::net::windows::named_pipe::{ClientOptions, ServerOptions};

    let name = harness::pipe_name("tokio");
    let mut server = ServerOptions::new()
        .first_pipe_instance(true)
        .create(&name)?;
    let msg = job.msg;
    let srv = tokio::spawn(async move {
        server.connect().await?;
        let mut buf = vec![0u8; msg];
        while server.read_exact(&mut buf).await.is_ok() {
            server.write_all(&[1]).await?;
        }
        Ok::<_, io::Error>(())
    });
    let mut client = ClientOptions::new().open(&name)?;
    let data = vec![7u8; msg];
    let mut ack = [0u8; 1];
    let mut out = NetOut::default();
    let start = Instant::now();
    while out.rounds < job.rounds && start.elapsed() < job.limit {
        client.write_all(&data).await?;
        client.read_exact(&mut ack).await?;
        out.rounds += 1;
    }
    out.elapsed = start.elapsed();
    drop(client);
    srv.await??;
    Ok(out)
}
