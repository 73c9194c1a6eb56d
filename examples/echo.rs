//! A TCP echo server and a load client that checks every byte comes back.
//!
//! ```sh
//! cargo run --example echo -- server 127.0.0.1:7000
//! cargo run --example echo -- client 127.0.0.1:7000 --connections 100 --bytes 65536
//! cargo run --release --example echo -- demo      # both in one process
//! ```
//!
//! Every connection is one task per direction on one thread: the server
//! echoes with `read` + `write_all`; each client writes a pattern of its own
//! while reading the echo back, then compares byte for byte. The tests run
//! the same functions in-process (`tests/echo_example.rs`) and against the
//! Windows build of this program under Wine (`tests/echo_wine.rs`).

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use oneport::net::{TcpListener, TcpStream};

/// Bytes each client hands to `write_all` at a time.
const CHUNK: usize = 16 * 1024;

/// What a client run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Connections that echoed everything byte-exact.
    pub connections: usize,
    /// Bytes each connection sent (and got back).
    pub bytes_each: usize,
    /// From the first connect to the last comparison.
    pub elapsed: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = (self.connections * self.bytes_each) as f64;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "{} connections x {} bytes echoed byte-exact in {:.3} s ({:.1} MB/s each way)",
            self.connections,
            self.bytes_each,
            secs,
            total / secs / 1e6
        )
    }
}

/// Accepts connections on `listener` forever, echoing each one in its own
/// task. Failed accepts (a reset before accept, out of descriptors) are
/// reported and the loop goes on.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => oneport::spawn(async move {
                if let Err(e) = echo(&stream).await {
                    eprintln!("echo: connection from {peer}: {e}");
                }
            })
            .detach(),
            Err(e) if oneport::is_closed_resource(&e) => return Err(e),
            Err(e) => {
                eprintln!("echo: accept failed: {e}");
                oneport::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Writes back everything read from `stream` until end of stream, then
/// shuts down the write half. Returns the bytes echoed.
pub async fn echo(stream: &TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            stream.shutdown(Shutdown::Write)?;
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// The bytes client `id` sends: different for every client and offset, so
/// a byte delivered to the wrong connection or place is caught.
pub fn pattern(id: usize, len: usize) -> Vec<u8> {
    let mut x = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One client: connects, sends `pattern(id, bytes)` while reading the echo,
/// and checks the echo is exactly what was sent.
pub async fn client(addr: SocketAddr, id: usize, bytes: usize) -> io::Result<()> {
    let stream = Rc::new(TcpStream::connect(addr).await?);
    stream.set_nodelay(true)?;
    let data = Rc::new(pattern(id, bytes));
    let writer = oneport::spawn({
        let (stream, data) = (stream.clone(), data.clone());
        async move {
            for chunk in data.chunks(CHUNK) {
                stream.write_all(chunk).await?;
            }
            stream.shutdown(Shutdown::Write)
        }
    });
    let mut got = Vec::with_capacity(bytes);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() > bytes {
            break;
        }
    }
    writer.await?;
    if got.len() != bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "connection {id}: sent {bytes} bytes, got {} back",
                got.len()
            ),
        ));
    }
    if let Some(at) = got.iter().zip(data.iter()).position(|(a, b)| a != b) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("connection {id}: echo differs at byte {at}"),
        ));
    }
    Ok(())
}

/// Runs `connections` clients at once against `addr`, each sending `bytes`.
/// Fails with the first client's error.
pub async fn run_clients(addr: SocketAddr, connections: usize, bytes: usize) -> io::Result<Report> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|id| oneport::spawn(client(addr, id, bytes)))
        .collect();
    for t in tasks {
        t.await?;
    }
    Ok(Report {
        connections,
        bytes_each: bytes,
        elapsed: start.elapsed(),
    })
}

/// Starts a server on an ephemeral loopback port and runs the clients
/// against it, in this one runtime.
pub async fn demo(connections: usize, bytes: usize) -> io::Result<(SocketAddr, Report)> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = listener.local_addr()?;
    let server = oneport::spawn(serve(listener));
    let report = run_clients(addr, connections, bytes).await;
    drop(server); // cancels the accept loop (and the listener closes)
    oneport::yield_now().await;
    Ok((addr, report?))
}

/// What the command line asked for.
#[derive(Debug, PartialEq)]
pub enum Mode {
    /// `server ADDR`
    Server(SocketAddr),
    /// `client ADDR [--connections N] [--bytes N]`
    Client(SocketAddr, usize, usize),
    /// `demo [--connections N] [--bytes N]`
    Demo(usize, usize),
}

/// The usage text printed on a bad command line.
pub const USAGE: &str = "usage:
  echo server ADDR                                  echo every connection on ADDR (port 0: any)
  echo client ADDR [--connections N] [--bytes N]    N connections at once, check the echo byte-exact
  echo demo [--connections N] [--bytes N]           a server and its clients in one process
defaults: --connections 100 --bytes 65536";

/// Parses the arguments after the program name.
pub fn parse_args(args: &[String]) -> Result<Mode, String> {
    let mut it = args.iter();
    let mode = it.next().ok_or("missing mode (server, client or demo)")?;
    if !["server", "client", "demo"].contains(&mode.as_str()) {
        return Err(format!(
            "unknown mode {mode:?} (want server, client or demo)"
        ));
    }
    let mut addr = None;
    if mode == "server" || mode == "client" {
        let a = it.next().ok_or(format!("{mode}: missing ADDR"))?;
        addr = Some(
            a.parse::<SocketAddr>()
                .map_err(|e| format!("{mode}: bad address {a:?}: {e} (want IP:PORT)"))?,
        );
    }
    let (mut connections, mut bytes) = (100usize, 65536usize);
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--connections" if mode != "server" => &mut connections,
            "--bytes" if mode != "server" => &mut bytes,
            _ => return Err(format!("{mode}: unexpected argument {flag:?}")),
        };
        let v = it.next().ok_or(format!("{flag}: missing value"))?;
        *slot = v
            .parse()
            .map_err(|e| format!("{flag}: bad number {v:?}: {e}"))?;
    }
    if connections == 0 {
        return Err("--connections: must be at least 1".into());
    }
    match (mode.as_str(), addr) {
        ("server", Some(a)) => Ok(Mode::Server(a)),
        ("client", Some(a)) => Ok(Mode::Client(a, connections, bytes)),
        _ => Ok(Mode::Demo(connections, bytes)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match parse_args(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("echo: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let result = oneport::run(async {
        match mode {
            Mode::Server(addr) => {
                let listener = TcpListener::bind(addr)?;
                println!("echo server listening on {}", listener.local_addr()?);
                serve(listener).await
            }
            Mode::Client(addr, connections, bytes) => {
                println!("{}", run_clients(addr, connections, bytes).await?);
                Ok(())
            }
            Mode::Demo(connections, bytes) => {
                let (addr, report) = demo(connections, bytes).await?;
                println!("echo server on {addr}; {report}");
                let s = oneport::lowlevel::statistics();
                println!(
                    "backend {}; tasks waiting to read {}, to write {} after the run",
                    s.backend, s.tasks_waiting_read, s.tasks_waiting_write
                );
                Ok(())
            }
        }
    });
    if let Err(e) = result {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}
