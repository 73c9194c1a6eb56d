//! std with one thread per connection (and per client loop, and per read in
//! flight): the blocking baseline.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use super::Contender;
use crate::harness::{self, raw_of, ClientOut, ClientPlan, FileJob, FileOut, NetJob, NetOut};

/// The std-threads contender.
pub struct Threads;

impl Contender for Threads {
    fn name(&self) -> &'static str {
        "std"
    }

    fn net(&self, job: &NetJob) -> Option<io::Result<NetOut>> {
        Some(net(job))
    }

    fn files(&self, job: &FileJob) -> Option<io::Result<FileOut>> {
        Some(files(job))
    }
}

fn net(job: &NetJob) -> io::Result<NetOut> {
    let listener = TcpListener::bind(harness::loopback())?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let acceptor = {
        let stop = stop.clone();
        thread::spawn(move || {
            for s in listener.incoming() {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let Ok(mut s) = s else { break };
                let _ = s.set_nodelay(true);
                thread::spawn(move || {
                    let mut buf = vec![0u8; 64 << 10];
                    while let Ok(n @ 1..) = s.read(&mut buf) {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        })
    };
    let start = Instant::now();
    let clients: Vec<_> = (0..job.conns)
        .map(|_| {
            let job = job.clone();
            thread::spawn(move || client(&job, addr, start))
        })
        .collect();
    let mut out = NetOut::default();
    let mut first_err = None;
    for c in clients {
        match c
            .join()
            .map_err(|_| io::Error::other("client thread panicked"))
        {
            Ok(Ok(c)) => out.add(c),
            Ok(Err(e)) | Err(e) => first_err = first_err.or(Some(e)),
        }
    }
    out.elapsed = start.elapsed();
    // Wake the acceptor so it sees `stop` and ends.
    stop.store(true, Ordering::Release);
    if let Ok(s) = TcpStream::connect(addr) {
        harness::abortive_close(raw_of(&s));
    }
    let _ = acceptor.join();
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn client(job: &NetJob, addr: SocketAddr, start: Instant) -> io::Result<ClientOut> {
    let mut plan = ClientPlan::new(job, start);
    let msg = plan.message();
    let mut back = vec![0u8; job.msg];
    let mut conn: Option<TcpStream> = None;
    while plan.more() {
        if plan.needs_connect() {
            if let Some(old) = conn.take() {
                harness::abortive_close(raw_of(&old));
            }
            let s = TcpStream::connect(addr)?;
            s.set_nodelay(true)?;
            conn = Some(s);
            plan.connected();
        }
        let s = conn.as_mut().expect("connected above");
        let began = Instant::now();
        s.write_all(&msg)?;
        s.read_exact(&mut back)?;
        plan.round_done(began);
    }
    if let Some(old) = conn {
        harness::abortive_close(raw_of(&old));
    }
    Ok(plan.out)
}

fn files(job: &FileJob) -> io::Result<FileOut> {
    let file = Arc::new(std::fs::File::open(&job.path)?);
    let start = Instant::now();
    let workers: Vec<_> = (0..job.depth)
        .map(|w| {
            let (file, job) = (file.clone(), job.clone());
            thread::spawn(move || {
                let mut out = FileOut::default();
                let mut buf = vec![0u8; job.block];
                for off in harness::worker_offsets(&job, w) {
                    if start.elapsed() > job.limit {
                        break;
                    }
                    let n = harness::std_read_at(&file, &mut buf, off);
                    out.bytes += harness::check_read(n, &job)?;
                    out.reads += 1;
                }
                Ok::<_, io::Error>(out)
            })
        })
        .collect();
    let mut total = FileOut::default();
    for w in workers {
        let o = w
            .join()
            .map_err(|_| io::Error::other("reader thread panicked"))??;
        total.reads += o.reads;
        total.bytes += o.bytes;
    }
    total.elapsed = start.elapsed();
    Ok(total)
}
