//! Command-line parsing by hand: `oneport-bench SUBCOMMAND [--flag value]...`.
//!
//! Every size is a flag with a default; `--quick` swaps the defaults for a
//! smoke-run set that finishes in seconds (flags given explicitly still win).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Parsed options shared by every workload.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Smoke-run sizes.
    pub quick: bool,
    /// Time bound of one echo case (one contender, one size).
    pub echo_secs: f64,
    /// Message sizes of the echo workload, in bytes.
    pub echo_sizes: Vec<usize>,
    /// Connection counts of the echo workload.
    pub echo_conns: Vec<usize>,
    /// Round trips of the ping-pong workload.
    pub pingpong_rounds: u64,
    /// Connections opened by the churn workload (per contender).
    pub churn_conns: u64,
    /// Concurrent client loops of the churn workload.
    pub churn_parallel: usize,
    /// Socket counts of the idle workload.
    pub idle_sizes: Vec<usize>,
    /// Sleeps of the timers workload.
    pub timers: usize,
    /// Deadlines of the timers workload are uniform in `0..timers_spread`.
    pub timers_spread: Duration,
    /// Size of the file the files workload reads.
    pub file_size: u64,
    /// Where that file lives.
    pub file_path: PathBuf,
    /// Read sizes of the files workload.
    pub file_blocks: Vec<usize>,
    /// Bytes read per contender and read size (bounds the count of reads).
    pub file_bytes: u64,
    /// Reads in flight at once (tasks, or threads for std).
    pub file_depth: usize,
    /// Message sizes of the pipes workload.
    pub pipe_sizes: Vec<usize>,
    /// Bytes echoed per contender and message size.
    pub pipe_bytes: u64,
    /// Threads (cores) every multicore server uses.
    pub mc_cores: usize,
    /// Connections of the multicore load.
    pub mc_conns: usize,
    /// Client threads of the multicore load.
    pub mc_client_threads: usize,
    /// Bytes per multicore message.
    pub mc_msg: usize,
    /// Round trips per connection of the multicore load.
    pub mc_rounds: u64,
    /// Repetitions of each multicore case.
    pub mc_reps: usize,
    /// Keep-alive connection counts of the http workload.
    pub http_conns: Vec<usize>,
    /// Time bound of one http case's measured part.
    pub http_duration: Duration,
    /// Measured requests at most in one http case, all connections
    /// together (each gets its share, rounded up).
    pub http_requests: u64,
    /// Repetitions of each http case.
    pub http_reps: usize,
    /// Client threads of the http load.
    pub http_client_threads: usize,
    /// Upper bound on the wall time of one contender in one case.
    pub case_limit: Duration,
    /// Only run these contenders (by name), when given.
    pub only: Option<Vec<String>>,
}

impl Opts {
    fn defaults(quick: bool) -> Opts {
        Opts {
            quick,
            echo_secs: pick(quick, 1.0, 0.05),
            echo_sizes: vec![64, 4 << 10, 64 << 10],
            echo_conns: vec![1, 64],
            pingpong_rounds: pick(quick, 10_000, 200),
            churn_conns: pick(quick, 5_000, 50),
            churn_parallel: 4,
            idle_sizes: pick(quick, vec![1_000, 10_000], vec![100, 1_000]),
            timers: pick(quick, 100_000, 2_000),
            timers_spread: Duration::from_millis(pick(quick, 50, 5)),
            file_size: pick(quick, 256 << 20, 4 << 20),
            file_path: PathBuf::from("target/oneport-bench-file.bin"),
            file_blocks: vec![4 << 10, 512 << 10],
            file_bytes: pick(quick, 256 << 20, 2 << 20),
            file_depth: 4,
            pipe_sizes: vec![64 << 10, 1 << 20],
            pipe_bytes: pick(quick, 256 << 20, 4 << 20),
            mc_cores: 2,
            mc_conns: pick(quick, 64, 4),
            mc_client_threads: 2,
            mc_msg: 64,
            mc_rounds: pick(quick, 5_000, 25),
            mc_reps: 3,
            http_conns: pick(quick, vec![1, 10, 100, 1_000], vec![1, 10]),
            http_duration: Duration::from_secs(2),
            http_requests: pick(quick, u64::MAX, 200),
            http_reps: 3,
            http_client_threads: 1,
            case_limit: Duration::from_secs(pick(quick, 10, 2)),
            only: None,
        }
    }
}

/// The usage text printed for `help` or a bad argument.
pub const USAGE: &str = "\
usage: oneport-bench WORKLOAD [flags]
workloads: echo pingpong churn idle timers files pipes multicore http all
flags (defaults in brackets; --quick shrinks every default to a smoke run):
  --quick                    smoke-run sizes (a few seconds in all)
  --only a,b                 only these contenders (oneport, tokio-ct, tokio-mt, mio, smol, std)
  --echo-secs F              seconds per echo case [1]
  --echo-sizes 64,4K,64K     echo message sizes, at most 256K [64,4K,64K]
  --echo-conns 1,64          echo connection counts [1,64]
  --rounds N                 ping-pong round trips [10000]
  --churn N                  churn connections per contender [5000]
  --churn-parallel N         concurrent churn clients [4]
  --idle 1000,10000          idle socket counts [1000,10000]
  --timers N                 timers sleeps [100000]
  --timers-spread-ms N       timers deadlines uniform in 0..N ms [50]
  --file-size BYTES          files: file size, suffix K/M/G allowed [256M]
  --file-path PATH           files: where the file is made [target/oneport-bench-file.bin]
  --file-blocks 4K,512K      files: read sizes [4K,512K]
  --file-bytes BYTES         files: bytes read per contender and size [256M]
  --file-depth N             files: reads in flight [4]
  --pipe-sizes 64K,1M        pipes: message sizes [64K,1M]
  --pipe-bytes BYTES         pipes: bytes echoed per contender and size [256M]
  --mc-cores N               multicore: threads of every server [2]
  --mc-conns N               multicore: client connections [64]
  --mc-client-threads N      multicore: client threads (a mio loop each) [2]
  --mc-msg BYTES             multicore: message size, at most 4K [64]
  --mc-rounds N              multicore: round trips per connection [5000]
  --mc-reps N                multicore: repetitions of each case [3]
  --http-conns 1,10,100,1000 http: keep-alive connection counts [1,10,100,1000]
  --http-secs F              http: seconds of requests per case [2]
  --http-requests N          http: requests per case at most, over all its connections [no bound; 200 with --quick]
  --http-reps N              http: repetitions of each case [3]
  --http-client-threads N    http: client threads (a mio loop each) [1]
  --case-limit-secs N        time bound per contender and case [10]";

/// The largest echo message: write-then-read must fit the socket buffers.
const MAX_ECHO: usize = 256 << 10;

/// Parses `args` (without the program name) into a workload name and options.
pub fn parse(args: &[String]) -> Result<(String, Opts), String> {
    let mut it = args.iter();
    let workload = it.next().cloned().unwrap_or_else(|| "help".into());
    let mut flags: HashMap<String, String> = HashMap::new();
    let mut quick = false;
    let mut positional = Vec::new();
    while let Some(a) = it.next() {
        if a == "--quick" {
            quick = true;
        } else if let Some(name) = a.strip_prefix("--") {
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => {
                    let v = it
                        .next()
                        .ok_or_else(|| format!("flag --{name} needs a value"))?;
                    (name.to_string(), v.clone())
                }
            };
            flags.insert(name, value);
        } else {
            positional.push(a.clone());
        }
    }
    if !positional.is_empty() && workload != "idle-peer" {
        return Err(format!("unexpected argument {:?}", positional[0]));
    }
    let mut o = Opts::defaults(quick);
    for (name, v) in &flags {
        match name.as_str() {
            "only" => o.only = Some(v.split(',').map(|s| s.trim().to_string()).collect()),
            "echo-secs" => o.echo_secs = num(name, v)?,
            "echo-sizes" => o.echo_sizes = list(name, v)?,
            "echo-conns" => o.echo_conns = list(name, v)?,
            "rounds" => o.pingpong_rounds = size(name, v)?,
            "churn" => o.churn_conns = size(name, v)?,
            "churn-parallel" => o.churn_parallel = size(name, v)? as usize,
            "idle" => o.idle_sizes = list(name, v)?,
            "timers" => o.timers = size(name, v)? as usize,
            "timers-spread-ms" => o.timers_spread = Duration::from_millis(size(name, v)?),
            "file-size" => o.file_size = size(name, v)?,
            "file-path" => o.file_path = PathBuf::from(v),
            "file-blocks" => o.file_blocks = list(name, v)?,
            "file-bytes" => o.file_bytes = size(name, v)?,
            "file-depth" => o.file_depth = size(name, v)? as usize,
            "pipe-sizes" => o.pipe_sizes = list(name, v)?,
            "pipe-bytes" => o.pipe_bytes = size(name, v)?,
            "mc-cores" => o.mc_cores = size(name, v)? as usize,
            "mc-conns" => o.mc_conns = size(name, v)? as usize,
            "mc-client-threads" => o.mc_client_threads = size(name, v)? as usize,
            "mc-msg" => o.mc_msg = size(name, v)? as usize,
            "mc-rounds" => o.mc_rounds = size(name, v)?,
            "mc-reps" => o.mc_reps = size(name, v)? as usize,
            "http-conns" => o.http_conns = list(name, v)?,
            "http-secs" => o.http_duration = Duration::from_secs_f64(positive(name, v)?),
            "http-requests" => o.http_requests = size(name, v)?,
            "http-reps" => o.http_reps = size(name, v)? as usize,
            "http-client-threads" => o.http_client_threads = size(name, v)? as usize,
            "case-limit-secs" => o.case_limit = Duration::from_secs_f64(num(name, v)?),
            _ => return Err(format!("unknown flag --{name}")),
        }
    }
    let positive = [
        ("--file-depth", o.file_depth),
        ("--churn-parallel", o.churn_parallel),
        ("--timers", o.timers),
        ("--mc-cores", o.mc_cores),
        ("--mc-conns", o.mc_conns),
        ("--mc-client-threads", o.mc_client_threads),
        ("--mc-msg", o.mc_msg),
        ("--mc-reps", o.mc_reps),
        ("--mc-rounds", o.mc_rounds as usize),
        ("--http-requests", o.http_requests.min(1) as usize),
        ("--http-reps", o.http_reps),
        ("--http-client-threads", o.http_client_threads),
    ];
    for (name, v) in positive {
        if v == 0 {
            return Err(format!("{name} must be at least 1"));
        }
    }
    if o.http_conns.is_empty() || o.http_conns.contains(&0) {
        return Err("--http-conns: every count must be at least 1".into());
    }
    if o.echo_sizes.contains(&0) || o.file_blocks.contains(&0) || o.pipe_sizes.contains(&0) {
        return Err("message and block sizes must be at least 1 byte".into());
    }
    if o.echo_sizes.iter().any(|&s| s > MAX_ECHO) {
        // A client writes a whole message before it reads: beyond what the
        // loopback socket buffers hold, the echo would stall.
        return Err(format!(
            "--echo-sizes: at most {MAX_ECHO} bytes per message"
        ));
    }
    if o.mc_msg > crate::load::MAX_MSG {
        return Err(format!(
            "--mc-msg: at most {} bytes per message",
            crate::load::MAX_MSG
        ));
    }
    if !(o.echo_secs > 0.0 && o.echo_secs.is_finite()) {
        return Err("--echo-secs must be a positive number".into());
    }
    Ok((workload, o))
}

fn pick<T>(quick: bool, full: T, small: T) -> T {
    if quick {
        small
    } else {
        full
    }
}

/// A finite number above zero.
fn positive(name: &str, v: &str) -> Result<f64, String> {
    match num(name, v)? {
        x if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("--{name} must be a positive number")),
    }
}

fn num(name: &str, v: &str) -> Result<f64, String> {
    v.parse()
        .map_err(|_| format!("--{name}: {v:?} is not a number"))
}

/// A count or byte size, with an optional K, M or G (binary) suffix.
pub fn size(name: &str, v: &str) -> Result<u64, String> {
    let v = v.trim();
    let (digits, mult) = match v.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&v[..v.len() - 1], 1u64 << 10),
        Some('M') => (&v[..v.len() - 1], 1 << 20),
        Some('G') => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    digits
        .replace('_', "")
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("--{name}: {v:?} is not a size"))
}

fn list(name: &str, v: &str) -> Result<Vec<usize>, String> {
    v.split(',')
        .map(|p| size(name, p).map(|n| n as usize))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn sizes_take_suffixes() {
        assert_eq!(size("x", "4K"), Ok(4096));
        assert_eq!(size("x", "256M"), Ok(256 << 20));
        assert_eq!(size("x", "10_000"), Ok(10_000));
        assert!(size("x", "lots").is_err());
    }

    #[test]
    fn flags_override_quick_defaults() {
        let (w, o) = parse(&args("echo --quick --echo-sizes 1,2K --only=oneport,mio")).unwrap();
        assert_eq!(w, "echo");
        assert!(o.quick);
        assert_eq!(o.echo_sizes, vec![1, 2048]);
        assert_eq!(o.only.unwrap(), vec!["oneport", "mio"]);
        let (_, o) = parse(&args("http --quick --http-conns 1,1K")).unwrap();
        assert_eq!(o.http_conns, vec![1, 1024]);
        assert_eq!(o.http_requests, 200);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse(&args("echo --nope 1")).is_err());
        assert!(parse(&args("echo --rounds")).is_err());
        assert!(parse(&args("echo --file-depth 0")).is_err());
        assert!(parse(&args("echo stray")).is_err());
        assert!(parse(&args("echo --echo-sizes 1M")).is_err());
        assert!(parse(&args("multicore --mc-msg 1M")).is_err());
        assert!(parse(&args("multicore --mc-cores 0")).is_err());
        assert!(parse(&args("http --http-conns 0,10")).is_err());
        assert!(parse(&args("http --http-secs -1")).is_err());
        assert!(parse(&args("http --http-reps 0")).is_err());
        assert!(parse(&args("http --http-requests 0")).is_err());
    }
}
