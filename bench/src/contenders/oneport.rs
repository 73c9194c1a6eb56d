//! oneport: one single-threaded runtime per job; the reference of every
//! ratio. For the multicore workload, a `Pool` with one runtime per core.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oneport::net::{TcpListener, TcpStream};
use oneport::pool::Pool;

use super::Contender;
#[cfg(windows)]
use crate::harness::PipeJob;
use crate::harness::{self, ClientOut, ClientPlan, FileJob, FileOut, NetJob, NetOut};
use crate::harness::{raw_of, RawSock};
use crate::httpserve::{self, ServerThread};
use crate::load::Serving;

/// The oneport contender.
pub struct Oneport;

fn run<T>(fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    oneport::Runtime::new()?.block_on(fut)
}

impl Contender for Oneport {
    fn name(&self) -> &'static str {
        "oneport"
    }

    fn net(&self, job: &NetJob) -> Option<io::Result<NetOut>> {
        Some(run(net(job)))
    }

    fn can_idle(&self) -> bool {
        true
    }

    fn idle(&self, socks: &[RawSock]) -> Option<io::Result<Duration>> {
        Some(run(async {
            let start = Instant::now();
            let mut waits: Vec<Pin<Box<dyn Future<Output = io::Result<()>>>>> = socks
                .iter()
                .map(|&s| Box::pin(oneport::lowlevel::wait_readable(s)) as Pin<Box<_>>)
                .collect();
            harness::poll_each_once(&mut waits).await?;
            // One turn of the loop with the waits in place, so a driver
            // that defers submitting them (mio on Windows) really issues them.
            oneport::yield_now().await;
            drop(waits);
            // One more turn of the loop, so deferred cancellation work is in.
            oneport::yield_now().await;
            Ok(start.elapsed())
        }))
    }

    fn timers(&self, deadlines: &[Duration]) -> Option<io::Result<Duration>> {
        Some(run(async {
            let start = Instant::now();
            let tasks: Vec<_> = deadlines
                .iter()
                .map(|&d| oneport::spawn(oneport::time::sleep(d)))
                .collect();
            for t in tasks {
                t.await;
            }
            Ok(start.elapsed())
        }))
    }

    fn files(&self, job: &FileJob) -> Option<io::Result<FileOut>> {
        Some(run(async {
            let file = Rc::new(oneport::fs::File::open(&job.path).await?);
            let start = Instant::now();
            let workers: Vec<_> = (0..job.depth)
                .map(|w| {
                    let (file, job) = (file.clone(), job.clone());
                    oneport::spawn(async move {
                        let mut out = FileOut::default();
                        let mut buf = Vec::with_capacity(job.block);
                        for off in harness::worker_offsets(&job, w) {
                            if start.elapsed() > job.limit {
                                break;
                            }
                            buf.clear();
                            let (r, b) = file.read_at(buf, off).await;
                            buf = b;
                            out.bytes += harness::check_read(r, &job)?;
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

    #[cfg(windows)]
    fn pipes(&self, job: &PipeJob) -> Option<io::Result<NetOut>> {
        Some(run(pipes(job)))
    }

    fn serve_multicore(&self, cores: usize) -> Option<io::Result<Box<dyn Serving>>> {
        Some(PoolEcho::start(cores).map(|s| Box::new(s) as Box<dyn Serving>))
    }

    fn serve_http(&self) -> Option<io::Result<Box<dyn Serving>>> {
        Some(ServerThread::start("oneport", |l, stop| {
            run(async move {
                let l = TcpListener::from_std(l)?;
                smol::future::or(serve_http(l), httpserve::stopped(stop)).await
            })
        }))
    }
}

/// The http workload's server: a task per connection, each hyper's
/// HTTP/1.1 code straight on oneport's `TcpStream` (it has hyper's I/O
/// traits), timeouts on oneport's timer. Runs until accepting fails.
async fn serve_http(l: TcpListener) -> io::Result<()> {
    loop {
        let (s, _) = l.accept().await?;
        s.set_nodelay(true)?;
        oneport::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(oneport::hyper::Timer)
                .header_read_timeout(httpserve::HEADER_TIMEOUT)
                .serve_connection(s, hyper::service::service_fn(httpserve::hello))
                .await;
        })
        .detach();
    }
}

/// The multicore server: a `Pool` of `cores` runtimes serving one port
/// with `Pool::serve` (a `SO_REUSEPORT` listener per runtime on Linux, one
/// acceptor handing connections over round robin on Windows).
struct PoolEcho {
    pool: Pool,
    addr: SocketAddr,
    /// Connections each runtime got, to show how evenly they were spread.
    per_runtime: Arc<Vec<AtomicUsize>>,
}

impl PoolEcho {
    fn start(cores: usize) -> io::Result<PoolEcho> {
        let pool = Pool::new(cores)?;
        let per_runtime: Arc<Vec<AtomicUsize>> =
            Arc::new((0..cores).map(|_| AtomicUsize::new(0)).collect());
        let counts = per_runtime.clone();
        let addr = pool.serve(harness::loopback(), move |s, _peer| {
            if let Some(n) = runtime_index().and_then(|i| counts.get(i)) {
                n.fetch_add(1, Ordering::Relaxed);
            }
            async move {
                let _ = s.set_nodelay(true);
                let mut buf = vec![0u8; 64 << 10];
                while let Ok(n @ 1..) = s.read(&mut buf).await {
                    if s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        })?;
        Ok(PoolEcho {
            pool,
            addr,
            per_runtime,
        })
    }
}

/// Which runtime of the pool this thread runs (its threads are named
/// `oneport-pool-N`).
fn runtime_index() -> Option<usize> {
    std::thread::current()
        .name()?
        .strip_prefix("oneport-pool-")?
        .parse()
        .ok()
}

impl Serving for PoolEcho {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn stop(self: Box<Self>) -> io::Result<()> {
        let spread: Vec<usize> = self
            .per_runtime
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect();
        eprintln!("    oneport: connections per runtime {spread:?}");
        // Dropping the pool stops every runtime and joins its thread.
        drop(self.pool);
        Ok(())
    }
}

async fn net(job: &NetJob) -> io::Result<NetOut> {
    let listener = TcpListener::bind(harness::loopback())?;
    let addr = listener.local_addr()?;
    let server = oneport::spawn(serve(listener));
    let start = Instant::now();
    let clients: Vec<_> = (0..job.conns)
        .map(|_| oneport::spawn(client(job.clone(), addr, start)))
        .collect();
    let mut out = NetOut::default();
    for c in clients {
        out.add(c.await?);
    }
    out.elapsed = start.elapsed();
    drop(server);
    Ok(out)
}

async fn serve(listener: TcpListener) {
    while let Ok((s, _)) = listener.accept().await {
        let _ = s.set_nodelay(true);
        oneport::spawn(async move {
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
        let s = conn.as_ref().expect("connected above");
        let began = Instant::now();
        s.write_all(&msg).await?;
        read_exact(s, &mut back).await?;
        plan.round_done(began);
    }
    if let Some(old) = conn {
        harness::abortive_close(raw_of(&old));
    }
    Ok(plan.out)
}

async fn read_exact(s: &TcpStream, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match s.read(buf).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

#[cfg(windows)]
async fn pipes(job: &PipeJob) -> io::Result<NetOut> {
    use oneport::windows::named_pipe::{ClientOptions, ServerOptions};
    use smol::io::{AsyncReadExt, AsyncWriteExt};

    let name = harness::pipe_name("oneport");
    let server = ServerOptions::new()
        .first_pipe_instance(true)
        .create(&name)?;
    let msg = job.msg;
    let srv = oneport::spawn(async move {
        server.connect().await?;
        let mut server = server;
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
    srv.await?;
    Ok(out)
}
