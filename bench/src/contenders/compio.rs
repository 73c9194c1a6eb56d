//! compio: a completion-based runtime (io_uring on Linux, with epoll as its
//! fallback; IOCP on Windows). It has no readiness waits, so the idle
//! workload is n/a; its owned-buffer I/O mirrors oneport's files API.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use compio::io::{AsyncRead, AsyncReadAt, AsyncReadExt, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};
use compio::runtime::JoinHandle;
use compio::BufResult;

use super::Contender;
use crate::harness::{self, ClientOut, ClientPlan, FileJob, FileOut, NetJob, NetOut};

/// The compio contender.
pub struct Compio;

fn run<T>(f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    compio::runtime::Runtime::new()?.block_on(f)
}

/// A task's output, a panic or cancellation becoming an `io::Error`.
async fn join<T>(h: JoinHandle<io::Result<T>>) -> io::Result<T> {
    h.await
        .map_err(|e| io::Error::other(format!("compio task failed: {e:?}")))?
}

impl Contender for Compio {
    fn name(&self) -> &'static str {
        "compio"
    }

    fn net(&self, job: &NetJob) -> Option<io::Result<NetOut>> {
        Some(run(net(job)))
    }

    fn timers(&self, deadlines: &[Duration]) -> Option<io::Result<Duration>> {
        Some(run(async {
            let start = Instant::now();
            let tasks: Vec<_> = deadlines
                .iter()
                .map(|&d| compio::runtime::spawn(compio::time::sleep(d)))
                .collect();
            for t in tasks {
                t.await.map_err(|e| io::Error::other(format!("{e:?}")))?;
            }
            Ok(start.elapsed())
        }))
    }

    fn files(&self, job: &FileJob) -> Option<io::Result<FileOut>> {
        Some(run(async {
            let file = Rc::new(compio::fs::File::open(&job.path).await?);
            let start = Instant::now();
            let workers: Vec<_> = (0..job.depth)
                .map(|w| {
                    let (file, job) = (file.clone(), job.clone());
                    compio::runtime::spawn(async move {
                        let mut out = FileOut::default();
                        let mut buf = Vec::with_capacity(job.block);
                        for off in harness::worker_offsets(&job, w) {
                            if start.elapsed() > job.limit {
                                break;
                            }
                            buf.clear();
                            let BufResult(r, b) = file.read_at(buf, off).await;
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
                let o = join(w).await?;
                total.reads += o.reads;
                total.bytes += o.bytes;
            }
            total.elapsed = start.elapsed();
            Ok(total)
        }))
    }
}

async fn net(job: &NetJob) -> io::Result<NetOut> {
    let listener = TcpListener::bind(harness::loopback()).await?;
    let addr = listener.local_addr()?;
    let server = compio::runtime::spawn(serve(listener));
    let start = Instant::now();
    let clients: Vec<_> = (0..job.conns)
        .map(|_| compio::runtime::spawn(client(job.clone(), addr, start)))
        .collect();
    let mut out = NetOut::default();
    for c in clients {
        out.add(join(c).await?);
    }
    out.elapsed = start.elapsed();
    drop(server);
    Ok(out)
}

async fn serve(listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        let _ = s.set_nodelay(true);
        compio::runtime::spawn(async move {
            let mut buf = Vec::with_capacity(64 << 10);
            loop {
                buf.clear();
                let BufResult(r, b) = s.read(buf).await;
                buf = b;
                if !matches!(r, Ok(1..)) {
                    break;
                }
                let BufResult(r, b) = s.write_all(buf).await;
                buf = b;
                if r.is_err() {
                    break;
                }
            }
        })
        .detach();
    }
}

async fn client(job: NetJob, addr: SocketAddr, start: Instant) -> io::Result<ClientOut> {
    let mut plan = ClientPlan::new(&job, start);
    let mut msg = plan.message();
    let mut back = Vec::with_capacity(job.msg);
    let mut conn: Option<TcpStream> = None;
    while plan.more() {
        if plan.needs_connect() {
            if let Some(old) = conn.take() {
                harness::abortive_close(harness::raw_of(&old));
            }
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            conn = Some(s);
            plan.connected();
        }
        let s = conn.as_mut().expect("connected above");
        let began = Instant::now();
        let BufResult(r, m) = s.write_all(msg).await;
        msg = m;
        r?;
        back.clear();
        let BufResult(r, b) = s.read_exact(back).await;
        back = b;
        r?;
        plan.round_done(began);
    }
    if let Some(old) = conn {
        harness::abortive_close(harness::raw_of(&old));
    }
    Ok(plan.out)
}
