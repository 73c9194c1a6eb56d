//! A TCP echo server on every core: one runtime per thread, one port.
//!
//! ```sh
//! cargo run --release --example multicore_echo -- server 127.0.0.1:7000 --runtimes 4
//! cargo run --release --example multicore_echo -- demo    # server and 200 clients, bytes checked
//! ```
//!
//! [`Pool::serve`] gives every runtime its own share of the connections
//! (one `SO_REUSEPORT` socket per runtime on Linux; one acceptor handing
//! connections over round robin elsewhere). Each connection is then an
//! ordinary `!Send` task on the runtime that owns it. The demo's clients
//! run on the same pool, spread over its runtimes, and compare every byte.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use oneport::net::TcpStream;
use oneport::pool::Pool;

/// Serves echo on `addr` with every runtime of `pool`; returns the bound
/// address.
pub fn serve_echo(pool: &Pool, addr: SocketAddr) -> io::Result<SocketAddr> {
    pool.serve(addr, |stream, _peer| async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            if stream.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    })
}

/// One client: writes `bytes` of its own pattern while reading the echo
/// back, and checks it byte for byte.
pub async fn client(addr: SocketAddr, id: usize, bytes: usize) -> io::Result<()> {
    let stream = std::rc::Rc::new(TcpStream::connect(addr).await?);
    let pattern = move |i: usize| (i.wrapping_mul(31) ^ id) as u8;
    let writer = {
        let stream = stream.clone();
        oneport::spawn(async move {
            let data: Vec<u8> = (0..bytes).map(pattern).collect();
            stream.write_all(&data).await?;
            stream.shutdown(std::net::Shutdown::Write)
        })
    };
    let mut got = 0;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if let Some(i) = (0..n).find(|&i| buf[i] != pattern(got + i)) {
            return Err(io::Error::other(format!(
                "client {id}: wrong byte at {}",
                got + i
            )));
        }
        got += n;
    }
    writer.await?;
    if got != bytes {
        return Err(io::Error::other(format!(
            "client {id}: {got} of {bytes} bytes came back"
        )));
    }
    Ok(())
}

/// The demo: an echo server on every runtime of a `runtimes`-runtime pool
/// and `clients` clients spread over the same runtimes.
pub fn demo(runtimes: usize, clients: usize, bytes: usize) -> io::Result<String> {
    let pool = Pool::new(runtimes)?;
    let addr = serve_echo(&pool, "127.0.0.1:0".parse().unwrap())?;
    let start = Instant::now();
    let handles = (0..clients)
        .map(|id| pool.spawn_local_on(id % runtimes, move || client(addr, id, bytes)))
        .collect::<io::Result<Vec<_>>>()?;
    oneport::run(async {
        for h in handles {
            h.await?;
        }
        Ok::<_, io::Error>(())
    })?;
    let secs = start.elapsed().as_secs_f64();
    Ok(format!(
        "{clients} connections x {bytes} bytes echoed byte-exact on {runtimes} runtimes in {secs:.3} s"
    ))
}

fn runtimes_arg(args: &[String]) -> io::Result<usize> {
    match args.iter().position(|a| a == "--runtimes") {
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "--runtimes needs a number")
        }),
    }
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtimes = runtimes_arg(&args)?;
    match args.first().map(String::as_str) {
        Some("server") => {
            let addr = args
                .get(1)
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "server needs ADDR"))?;
            let pool = Pool::new(runtimes)?;
            let addr = serve_echo(&pool, addr)?;
            println!("echo on {addr} with {runtimes} runtimes");
            // Serve until killed.
            loop {
                std::thread::park();
            }
        }
        Some("demo") | None => {
            println!("{}", demo(runtimes, 200, 64 * 1024)?);
            Ok(())
        }
        Some(other) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown mode {other:?}: use server ADDR [--runtimes N] or demo"),
        )),
    }
}
