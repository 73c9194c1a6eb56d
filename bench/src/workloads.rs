//! The workloads: each builds its jobs from the options, runs every
//! contender on them one after the other in this process, and prints one
//! table.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::args::Opts;
use crate::contenders::{self, Contender};
use crate::harness::{self, FileJob, IdleSockets, NetJob, PipeJob, Rng};
use crate::report::{Cell, Column, Table};

mod http;
mod multicore;

const MIB: f64 = (1 << 20) as f64;

/// The contenders and options of one run.
pub struct Bench {
    opts: Opts,
    contenders: Vec<Box<dyn Contender>>,
    failures: std::cell::Cell<usize>,
}

impl Bench {
    /// Every contender (or those `--only` names).
    pub fn new(opts: Opts) -> Result<Bench, String> {
        let mut contenders = contenders::all();
        if let Some(only) = &opts.only {
            if let Some(bad) = only
                .iter()
                .find(|n| !contenders.iter().any(|c| c.name() == *n))
            {
                return Err(format!("--only: no contender named {bad:?}"));
            }
            contenders.retain(|c| only.iter().any(|n| n == c.name()));
        }
        Ok(Bench {
            opts,
            contenders,
            failures: Default::default(),
        })
    }

    /// How many contender cases failed (error or panic) so far.
    pub fn failures(&self) -> usize {
        self.failures.get()
    }

    /// Runs one workload by name (or all of them).
    pub fn run(&self, workload: &str) -> Result<(), String> {
        match workload {
            "echo" => self.echo(),
            "pingpong" => self.pingpong(),
            "churn" => self.churn(),
            "idle" => self.idle(),
            "timers" => self.timers(),
            "files" => self.files(),
            "pipes" => self.pipes(),
            "multicore" => self.multicore(),
            "http" => self.http(),
            "all" => {
                // idle last: under Wine its thousands of polls slow every
                // later socket operation of the wineserver.
                for w in [
                    "echo",
                    "pingpong",
                    "churn",
                    "timers",
                    "files",
                    "pipes",
                    "multicore",
                    "http",
                    "idle",
                ] {
                    self.run(w)?;
                }
                Ok(())
            }
            other => Err(format!("unknown workload {other:?}")),
        }
    }

    /// Runs one contender's part of one case on a thread of its own (the
    /// contender made afresh there by name), so a contender that hangs is
    /// given up on after the bound and the tables still print. Errors,
    /// panics and give-ups become cells, are printed to stderr and counted.
    fn case<T: Send + 'static>(
        &self,
        c: &dyn Contender,
        what: &str,
        f: impl FnOnce(&dyn Contender) -> Option<io::Result<T>> + Send + 'static,
    ) -> Result<Option<T>, Cell> {
        let name = c.name();
        let (tx, rx) = std::sync::mpsc::channel();
        let t0 = Instant::now();
        std::thread::spawn(move || {
            let c = contenders::by_name(name).expect("a known contender");
            let r = catch_unwind(AssertUnwindSafe(|| f(c.as_ref())));
            let _ = tx.send(r.map(|o| o.map(|r| r.map_err(|e| e.to_string()))));
        });
        let limit = self.opts.case_limit * 3;
        let r = rx.recv_timeout(limit);
        eprintln!("  {what} / {name}: {:.2} s", t0.elapsed().as_secs_f64());
        let bad = match r {
            Ok(Ok(None)) => return Ok(None),
            Ok(Ok(Some(Ok(v)))) => return Ok(Some(v)),
            Ok(Ok(Some(Err(e)))) => {
                eprintln!("{what} / {name}: {e}");
                Cell::Failed
            }
            Ok(Err(_)) => {
                eprintln!("{what} / {name}: panicked");
                Cell::Failed
            }
            Err(_) => {
                eprintln!("{what} / {name}: not done after {limit:?}; given up (its thread is left behind)");
                Cell::TimedOut
            }
        };
        self.failures.set(self.failures.get() + 1);
        Err(bad)
    }

    fn cell<T: Send + 'static>(
        &self,
        c: &dyn Contender,
        what: &str,
        f: impl FnOnce(&dyn Contender) -> Option<io::Result<T>> + Send + 'static,
        fig: impl FnOnce(T) -> f64,
    ) -> Cell {
        match self.case(c, what, f) {
            Ok(Some(v)) => Cell::Value(fig(v)),
            Ok(None) => Cell::NotApplicable,
            Err(bad) => bad,
        }
    }

    fn echo(&self) -> Result<(), String> {
        let o = &self.opts;
        let cases: Vec<(usize, usize)> = o
            .echo_conns
            .iter()
            .flat_map(|&c| o.echo_sizes.iter().map(move |&s| (c, s)))
            .collect();
        let columns = cases
            .iter()
            .map(|(c, s)| Column::more(format!("{c}×{} MiB/s", bytes(*s))))
            .collect();
        let mut t = Table::new(
            format!("echo: MiB/s echoed (closed loop, one message in flight per connection, {} s per case)", o.echo_secs),
            columns,
        );
        for c in &self.contenders {
            let cells = cases
                .iter()
                .map(|&(conns, msg)| {
                    let job = NetJob {
                        conns,
                        msg,
                        rounds_per_conn: u64::MAX,
                        rounds_per_client: 10_000_000,
                        duration: Duration::from_secs_f64(o.echo_secs),
                        record: false,
                    };
                    self.cell(
                        c.as_ref(),
                        &format!("echo {conns}×{msg}"),
                        move |c| c.net(&job),
                        |r| r.rounds as f64 * msg as f64 / MIB / r.elapsed.as_secs_f64(),
                    )
                })
                .collect();
            t.row(c.name(), cells);
        }
        print!("{}", t.render());
        Ok(())
    }

    fn pingpong(&self) -> Result<(), String> {
        let o = &self.opts;
        let warmup = (o.pingpong_rounds / 10).min(500);
        let job = NetJob {
            conns: 1,
            msg: 1,
            rounds_per_conn: u64::MAX,
            rounds_per_client: o.pingpong_rounds + warmup,
            duration: o.case_limit,
            record: true,
        };
        let mut t = Table::new(
            format!("pingpong: 1-byte round trips on one connection ({} measured after {warmup} warm-up)", o.pingpong_rounds),
            vec![Column::less("median µs"), Column::less("p99 µs"), Column::more("round trips/s")],
        );
        for c in &self.contenders {
            let job = job.clone();
            let cells = match self.case(c.as_ref(), "pingpong", move |c| c.net(&job)) {
                Ok(Some(mut r)) => {
                    let measured = &mut r.rtts[(warmup as usize).min(r.rounds as usize)..];
                    let (p50, p99) = harness::percentiles(measured);
                    let rate = r.rounds as f64 / r.elapsed.as_secs_f64();
                    vec![us(p50), us(p99), Cell::Value(rate)]
                }
                Ok(None) => vec![Cell::NotApplicable; 3],
                Err(bad) => vec![bad; 3],
            };
            t.row(c.name(), cells);
        }
        print!("{}", t.render());
        Ok(())
    }

    fn churn(&self) -> Result<(), String> {
        let o = &self.opts;
        let p = o.churn_parallel;
        let job = NetJob {
            conns: p,
            msg: 1,
            rounds_per_conn: 1,
            rounds_per_client: o.churn_conns.div_ceil(p as u64),
            duration: o.case_limit,
            record: false,
        };
        let mut t = Table::new(
            format!("churn: connect, one 1-byte round trip, close ({} connections, {p} clients at once)", o.churn_conns),
            vec![Column::more("connections/s")],
        );
        for c in &self.contenders {
            let cell = self.cell(
                c.as_ref(),
                "churn",
                {
                    let job = job.clone();
                    move |c| c.net(&job)
                },
                |r| r.connects as f64 / r.elapsed.as_secs_f64(),
            );
            t.row(c.name(), vec![cell]);
        }
        print!("{}", t.render());
        Ok(())
    }

    fn idle(&self) -> Result<(), String> {
        let o = &self.opts;
        let mut got = Vec::new();
        let mut cells: Vec<Vec<Cell>> = vec![Vec::new(); self.contenders.len()];
        for &n in &o.idle_sizes {
            let socks =
                IdleSockets::open(n, Duration::from_secs(120)).map_err(|e| format!("idle: {e}"))?;
            let raws = socks.raws();
            if raws.len() < n {
                eprintln!(
                    "idle: asked for {n} sockets, got {} (a limit of this system)",
                    raws.len()
                );
            }
            got.push(raws.len());
            let mut abandoned = false;
            // The reference line last: under Wine, tokio-mt may not finish
            // with ~10,000 sockets, and a run left behind slows all others.
            let mut order: Vec<usize> = (0..self.contenders.len()).collect();
            order.sort_by_key(|&i| self.contenders[i].name() == "tokio-mt");
            for i in order {
                let c = &self.contenders[i];
                if !c.can_idle() {
                    cells[i].push(Cell::NotApplicable);
                    continue;
                }
                if abandoned {
                    cells[i].push(Cell::Skipped);
                    continue;
                }
                // Best of three: one issue-and-cancel of a thousand sockets
                // takes about a millisecond natively, where noise shows.
                // Runs of over a second (Wine) are not repeated.
                let mut best: Option<Duration> = None;
                let mut cell = Cell::NotApplicable;
                for _ in 0..3 {
                    if best.is_some_and(|b| b > Duration::from_secs(1)) {
                        break;
                    }
                    let raws = raws.clone();
                    match self.case(c.as_ref(), &format!("idle {n}"), move |c| c.idle(&raws)) {
                        Ok(Some(d)) => best = Some(best.map_or(d, |b| b.min(d))),
                        Ok(None) => break,
                        Err(bad) => {
                            abandoned |= matches!(bad, Cell::TimedOut);
                            cell = bad;
                            best = None;
                            break;
                        }
                    }
                }
                if let Some(b) = best {
                    cell = Cell::Value(b.as_secs_f64() * 1e6 / raws.len().max(1) as f64);
                }
                cells[i].push(cell);
            }
            if abandoned {
                // A contender's thread still uses these sockets: never close
                // them (their handles must not be reused under it).
                std::mem::forget(socks);
            }
        }
        let mut columns: Vec<Column> = got
            .iter()
            .map(|n| Column::less(format!("µs/socket @{n}")))
            .collect();
        let scale = got.len() >= 2;
        if scale {
            columns.push(Column::less(format!(
                "scale @{}/@{}",
                got[got.len() - 1],
                got[0]
            )));
        }
        let mut t = Table::new(
            "idle: issue a readable wait on N silent accepted sockets, then cancel them all (best of 3)",
            columns,
        );
        for (c, mut row) in self.contenders.iter().zip(cells) {
            if scale {
                let s = match (&row[0], &row[row.len() - 1]) {
                    (Cell::Value(a), Cell::Value(b)) if *a > 0.0 => Cell::Value(b / a),
                    (Cell::NotApplicable, _) => Cell::NotApplicable,
                    _ => Cell::Skipped,
                };
                row.push(s);
            }
            t.row(c.name(), row);
        }
        print!("{}", t.render());
        Ok(())
    }

    fn timers(&self) -> Result<(), String> {
        let o = &self.opts;
        let mut rng = Rng::new(42);
        let spread = o.timers_spread.as_nanos().max(1) as u64;
        let deadlines: Vec<Duration> = (0..o.timers)
            .map(|_| Duration::from_nanos(rng.below(spread)))
            .collect();
        let latest = deadlines.iter().max().copied().unwrap_or_default();
        let mut t = Table::new(
            format!(
                "timers: {} concurrent sleeps, deadlines uniform in 0..{} ms",
                o.timers,
                o.timers_spread.as_millis()
            ),
            vec![
                Column::less("wall ms"),
                Column::less("past latest deadline, ms"),
            ],
        );
        for c in &self.contenders {
            let deadlines = deadlines.clone();
            let cells = match self.case(c.as_ref(), "timers", move |c| c.timers(&deadlines)) {
                Ok(Some(d)) => vec![ms(d), ms(d.saturating_sub(latest))],
                Ok(None) => vec![Cell::NotApplicable; 2],
                Err(bad) => vec![bad; 2],
            };
            t.row(c.name(), cells);
        }
        print!("{}", t.render());
        Ok(())
    }

    fn files(&self) -> Result<(), String> {
        let o = &self.opts;
        let t0 = Instant::now();
        harness::prepare_file(&o.file_path, o.file_size)
            .map_err(|e| format!("files: preparing {}: {e}", o.file_path.display()))?;
        eprintln!(
            "files: {} ready ({} bytes) in {:?}",
            o.file_path.display(),
            o.file_size,
            t0.elapsed()
        );
        let mut rng = Rng::new(9);
        let jobs = o
            .file_blocks
            .iter()
            .map(|&block| {
                let slots = o.file_size / block as u64;
                if slots == 0 {
                    return Err(format!(
                        "files: the file ({} bytes) is smaller than a {block}-byte read",
                        o.file_size
                    ));
                }
                let count = (o.file_bytes / block as u64).clamp(1, 1_000_000);
                let offsets = (0..count)
                    .map(|_| rng.below(slots) * block as u64)
                    .collect();
                Ok(FileJob {
                    path: o.file_path.clone(),
                    block,
                    offsets,
                    depth: o.file_depth,
                    limit: o.case_limit,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let columns = jobs
            .iter()
            .map(|j| Column::more(format!("{} MiB/s", bytes(j.block))))
            .collect();
        let mut t = Table::new(
            format!(
                "files: random reads of a {} file (page cache warm), {} in flight",
                bytes(o.file_size as usize),
                o.file_depth
            ),
            columns,
        );
        for c in &self.contenders {
            let cells = jobs
                .iter()
                .map(|job| {
                    self.cell(
                        c.as_ref(),
                        &format!("files {}", job.block),
                        {
                            let job = job.clone();
                            move |c| c.files(&job)
                        },
                        |r| r.bytes as f64 / MIB / r.elapsed.as_secs_f64(),
                    )
                })
                .collect();
            t.row(c.name(), cells);
        }
        print!("{}", t.render());
        Ok(())
    }

    fn pipes(&self) -> Result<(), String> {
        if cfg!(not(windows)) {
            println!("\n### pipes\n\nwindows only (skipped)");
            return Ok(());
        }
        let o = &self.opts;
        let columns = o
            .pipe_sizes
            .iter()
            .map(|&s| Column::more(format!("{} MiB/s", bytes(s))))
            .collect();
        let mut t = Table::new(
            "pipes: named pipe, client writes a message, server reads it all and acks 1 byte",
            columns,
        );
        for c in &self.contenders {
            let cells = o
                .pipe_sizes
                .iter()
                .map(|&msg| {
                    let job = PipeJob {
                        msg,
                        rounds: (o.pipe_bytes / msg as u64).max(1),
                        limit: o.case_limit,
                    };
                    self.cell(
                        c.as_ref(),
                        &format!("pipes {msg}"),
                        move |c| c.pipes(&job),
                        |r| r.rounds as f64 * msg as f64 / MIB / r.elapsed.as_secs_f64(),
                    )
                })
                .collect();
            t.row(c.name(), cells);
        }
        print!("{}", t.render());
        Ok(())
    }
}

fn us(d: Duration) -> Cell {
    Cell::Value(d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> Cell {
    Cell::Value(d.as_secs_f64() * 1e3)
}

/// 65536 -> "64K", 1048576 -> "1M", 64 -> "64B".
fn bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}M", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}K", n >> 10),
        n => format!("{n}B"),
    }
}
