//! What every contender shares: the job descriptions it is handed, the
//! outcomes it returns, and the helpers (random numbers, socket handles,
//! test file) that must not differ between contenders for the comparison to
//! be fair.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The loopback address every server binds (port chosen by the OS).
pub fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// A TCP workload: `conns` client loops, each doing round trips of `msg`
/// bytes (write it all, read it all back) against an echo server running on
/// the same runtime. Echo, ping-pong and churn are all this job with other
/// numbers.
#[derive(Clone, Debug)]
pub struct NetJob {
    /// Concurrent client loops (each with its own connection).
    pub conns: usize,
    /// Bytes per message.
    pub msg: usize,
    /// Round trips on one connection before the client closes it (with an
    /// abortive close, so no TIME_WAIT piles up) and connects again.
    pub rounds_per_conn: u64,
    /// Round trips per client loop at most (the count bound).
    pub rounds_per_client: u64,
    /// The time bound: clients stop at their first round after it.
    pub duration: Duration,
    /// Record the latency of each round trip.
    pub record: bool,
}

/// What a [`NetJob`] did.
#[derive(Clone, Debug, Default)]
pub struct NetOut {
    /// Completed round trips, all clients together.
    pub rounds: u64,
    /// Connections the clients opened.
    pub connects: u64,
    /// From just before the first client started to the last one's end.
    pub elapsed: Duration,
    /// Latency of every round trip when `record` was set.
    pub rtts: Vec<Duration>,
}

impl NetOut {
    /// Adds one client's share.
    pub fn add(&mut self, c: ClientOut) {
        self.rounds += c.rounds;
        self.connects += c.connects;
        self.rtts.extend(c.rtts);
    }
}

/// One client loop's share of a [`NetOut`].
#[derive(Clone, Debug, Default)]
pub struct ClientOut {
    /// Completed round trips.
    pub rounds: u64,
    /// Connections opened.
    pub connects: u64,
    /// Per-round latency if recorded.
    pub rtts: Vec<Duration>,
}

/// Tracks one client loop's progress against the job's bounds, so every
/// contender decides "connect again?" and "stop?" the same way.
pub struct ClientPlan {
    job: NetJob,
    end: Instant,
    /// Totals so far.
    pub out: ClientOut,
    on_conn: u64,
}

impl ClientPlan {
    /// Starts the bounds now.
    pub fn new(job: &NetJob, start: Instant) -> ClientPlan {
        ClientPlan {
            job: job.clone(),
            end: start + job.duration,
            out: ClientOut::default(),
            on_conn: 0,
        }
    }

    /// Whether another round trip may start.
    pub fn more(&self) -> bool {
        self.out.rounds < self.job.rounds_per_client && Instant::now() < self.end
    }

    /// Whether the client must open a (new) connection before the next round.
    pub fn needs_connect(&self) -> bool {
        self.out.connects == 0 || self.on_conn >= self.job.rounds_per_conn
    }

    /// Records a connect.
    pub fn connected(&mut self) {
        self.out.connects += 1;
        self.on_conn = 0;
    }

    /// Records a finished round trip that began at `began`.
    pub fn round_done(&mut self, began: Instant) {
        self.out.rounds += 1;
        self.on_conn += 1;
        if self.job.record {
            self.out.rtts.push(began.elapsed());
        }
    }

    /// The message every client sends (its content does not matter).
    pub fn message(&self) -> Vec<u8> {
        (0..self.job.msg).map(|i| i as u8).collect()
    }
}

/// Read sizes and positions for one files case.
#[derive(Clone, Debug)]
pub struct FileJob {
    /// The prepared file.
    pub path: PathBuf,
    /// Bytes per read.
    pub block: usize,
    /// Offsets to read at, block-aligned, in order; worker `w` of `depth`
    /// takes offsets `w, w + depth, ...`.
    pub offsets: Vec<u64>,
    /// Reads in flight at once.
    pub depth: usize,
    /// Stop issuing reads after this long.
    pub limit: Duration,
}

/// What a [`FileJob`] did.
#[derive(Clone, Debug, Default)]
pub struct FileOut {
    /// Completed reads.
    pub reads: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Wall time of the whole job.
    pub elapsed: Duration,
}

/// Offsets worker `w` of `job.depth` reads at.
pub fn worker_offsets(job: &FileJob, w: usize) -> impl Iterator<Item = u64> + '_ {
    job.offsets.iter().copied().skip(w).step_by(job.depth)
}

/// Checks one read's result: a short read of the prepared file is a failure.
pub fn check_read(n: io::Result<usize>, job: &FileJob) -> io::Result<u64> {
    let n = n?;
    if n < job.block {
        return Err(io::Error::other(format!(
            "short read: {n} of {} bytes",
            job.block
        )));
    }
    Ok(n as u64)
}

/// A named-pipe echo job (the pipes workload runs on Windows only): one client writes `msg` bytes, the server echoes
/// them, `rounds` times at most or until `limit`.
#[derive(Clone, Debug)]
#[cfg_attr(not(windows), allow(dead_code))]
pub struct PipeJob {
    /// Bytes per message.
    pub msg: usize,
    /// Round trips at most.
    pub rounds: u64,
    /// Time bound.
    pub limit: Duration,
}

/// A fresh named-pipe name for one pipes case.
#[cfg_attr(not(windows), allow(dead_code))]
pub fn pipe_name(who: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(r"\\.\pipe\oneport-bench-{who}-{}-{n}", std::process::id())
}

/// A small xorshift generator: the same seed gives every contender the same
/// deadlines and offsets.
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    /// The next value.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A socket as the OS names it (what `oneport::lowlevel` waits on).
pub type RawSock = oneport::lowlevel::RawSock;

/// The trait that gives a socket's OS handle (`AsRawFd` / `AsRawSocket`).
#[cfg(unix)]
pub use std::os::fd::AsRawFd as AsRawSock;
/// The trait that gives a socket's OS handle (`AsRawFd` / `AsRawSocket`).
#[cfg(windows)]
pub use std::os::windows::io::AsRawSocket as AsRawSock;

/// The OS handle of any socket type of any contender.
#[cfg(unix)]
pub fn raw_of<T: AsRawSock>(s: &T) -> RawSock {
    s.as_raw_fd()
}
/// The OS handle of any socket type of any contender.
#[cfg(windows)]
pub fn raw_of<T: AsRawSock>(s: &T) -> RawSock {
    s.as_raw_socket()
}

/// A positioned read with std: `pread` on Unix, `ReadFile` at an offset on
/// Windows.
#[cfg(unix)]
pub fn std_read_at(f: &std::fs::File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, pos)
}
/// A positioned read with std: `pread` on Unix, `ReadFile` at an offset on
/// Windows.
#[cfg(windows)]
pub fn std_read_at(f: &std::fs::File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, pos)
}

/// Polls every future of `futs` once; a wait on a silent socket must stay
/// pending, so one that completes is reported as an error.
pub async fn poll_each_once<F>(futs: &mut [std::pin::Pin<Box<F>>]) -> io::Result<()>
where
    F: std::future::Future<Output = io::Result<()>> + ?Sized,
{
    std::future::poll_fn(|cx| {
        for f in futs.iter_mut() {
            match f.as_mut().poll(cx) {
                std::task::Poll::Pending => {}
                std::task::Poll::Ready(Ok(())) => {
                    return std::task::Poll::Ready(Err(io::Error::other(
                        "a wait on a silent socket completed",
                    )))
                }
                std::task::Poll::Ready(Err(e)) => return std::task::Poll::Ready(Err(e)),
            }
        }
        std::task::Poll::Ready(Ok(()))
    })
    .await
}

/// Lends a raw socket owned elsewhere as a std stream. Give it back with
/// [`give_back`], never drop it (that would close the owner's socket).
///
/// # Safety
/// `raw` must be an open TCP socket that outlives the loan and is not closed
/// by anyone during it.
#[cfg(unix)]
pub unsafe fn borrow_std(raw: RawSock) -> TcpStream {
    // SAFETY: the caller guarantees `raw` is open for the loan; `give_back`
    // releases ownership without closing.
    unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) }
}
/// Lends a raw socket owned elsewhere as a std stream. Give it back with
/// [`give_back`], never drop it (that would close the owner's socket).
///
/// # Safety
/// `raw` must be an open TCP socket that outlives the loan and is not closed
/// by anyone during it.
#[cfg(windows)]
pub unsafe fn borrow_std(raw: RawSock) -> TcpStream {
    // SAFETY: the caller guarantees `raw` is open for the loan; `give_back`
    // releases ownership without closing.
    unsafe { std::os::windows::io::FromRawSocket::from_raw_socket(raw) }
}

/// Ends a loan made by [`borrow_std`] without closing the socket.
#[cfg(unix)]
pub fn give_back(s: TcpStream) {
    let _ = std::os::fd::IntoRawFd::into_raw_fd(s);
}
/// Ends a loan made by [`borrow_std`] without closing the socket.
#[cfg(windows)]
pub fn give_back(s: TcpStream) {
    let _ = std::os::windows::io::IntoRawSocket::into_raw_socket(s);
}

/// Makes the next close of `raw` abortive (linger 0: a reset, no
/// TIME_WAIT), so churn does not run out of loopback ports.
pub fn abortive_close(raw: RawSock) {
    // SAFETY: `raw` is an open socket of the caller's for the duration of
    // this call; the loan is given back before returning.
    let s = unsafe { borrow_std(raw) };
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    give_back(s);
}

/// Accepted-but-silent TCP connections for the idle workload. The client
/// ends live in a child process (this binary's `idle-peer` subcommand) so
/// the file-descriptor limit only has to hold the accepted ends.
pub struct IdleSockets {
    /// The accepted (server) ends: never written to by anyone.
    pub socks: Vec<TcpStream>,
    child: std::process::Child,
}

impl IdleSockets {
    /// Opens up to `n` connections; fewer when a limit stops the child or
    /// this process (the caller reports how many it got).
    pub fn open(n: usize, limit: Duration) -> io::Result<IdleSockets> {
        let listener = std::net::TcpListener::bind(loopback())?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .args(["idle-peer", &addr.to_string(), &n.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = io::BufRead::read_line(&mut io::BufReader::new(&mut stdout), &mut s);
            let _ = tx.send(s.trim().parse::<usize>().ok());
        });
        let end = Instant::now() + limit;
        let mut socks = Vec::with_capacity(n);
        let mut made: Option<usize> = None;
        while socks.len() < made.unwrap_or(n) && Instant::now() < end {
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(true)?;
                    socks.push(s)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if made.is_none() {
                        if let Ok(m) = rx.try_recv() {
                            made = Some(m.unwrap_or(0));
                            continue;
                        }
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => {
                    eprintln!("idle: accept stopped after {} sockets: {e}", socks.len());
                    break;
                }
            }
        }
        Ok(IdleSockets { socks, child })
    }

    /// The raw handles of the accepted ends.
    pub fn raws(&self) -> Vec<RawSock> {
        self.socks.iter().map(raw_of).collect()
    }
}

impl Drop for IdleSockets {
    fn drop(&mut self) {
        for s in &self.socks {
            abortive_close(raw_of(s));
        }
        self.socks.clear();
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The child side of [`IdleSockets`]: connect `n` times to `addr`, print how
/// many connected, hold them until stdin closes, then reset them all.
pub fn idle_peer(addr: &str, n: &str) -> io::Result<()> {
    let addr: SocketAddr = addr.parse().map_err(io::Error::other)?;
    let n: usize = n.parse().map_err(io::Error::other)?;
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        match TcpStream::connect(addr) {
            Ok(s) => held.push(s),
            Err(e) => {
                eprintln!(
                    "idle-peer: connect stopped after {} sockets: {e}",
                    held.len()
                );
                break;
            }
        }
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{}", held.len())?;
    out.flush()?;
    drop(out);
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
    for s in &held {
        abortive_close(raw_of(s));
    }
    Ok(())
}

/// Makes (or reuses, when its size already matches) the files workload's
/// file: `size` bytes of a non-constant pattern.
pub fn prepare_file(path: &std::path::Path, size: u64) -> io::Result<()> {
    if std::fs::metadata(path)
        .map(|m| m.len() == size)
        .unwrap_or(false)
    {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut f = std::fs::File::create(path)?;
    let mut rng = Rng::new(7);
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for w in chunk.chunks_mut(8) {
            let v = rng.next().to_le_bytes();
            w.copy_from_slice(&v[..w.len()]);
        }
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    f.sync_all()
}

/// The median and 99th percentile of `v` (sorted in place), or zeros.
pub fn percentiles(v: &mut [Duration]) -> (Duration, Duration) {
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    v.sort_unstable();
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let (p50, p99) = percentiles(&mut v);
        assert_eq!(p50, Duration::from_micros(51));
        assert_eq!(p99, Duration::from_micros(99));
        assert_eq!(percentiles(&mut []), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn plan_reconnects_and_stops_on_count() {
        let job = NetJob {
            conns: 1,
            msg: 1,
            rounds_per_conn: 2,
            rounds_per_client: 3,
            duration: Duration::from_secs(60),
            record: true,
        };
        let mut p = ClientPlan::new(&job, Instant::now());
        let mut connects = 0;
        while p.more() {
            if p.needs_connect() {
                p.connected();
                connects += 1;
            }
            p.round_done(Instant::now());
        }
        assert_eq!((p.out.rounds, connects, p.out.rtts.len()), (3, 2, 3));
    }

    #[test]
    fn same_seed_same_numbers() {
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        for _ in 0..10 {
            assert_eq!(a.below(1000), b.below(1000));
        }
    }
}
