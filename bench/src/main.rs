//! `oneport-bench`: oneport side by side with tokio (current-thread and
//! multi-thread), a hand-written mio loop, smol, compio and std threads, on
//! the same workloads in the same process (hyper servers on oneport, tokio
//! current-thread and smol for the http workload). See BENCHMARKS.md at the
//! repository root.

mod args;
mod closed_loop;
mod contenders;
mod harness;
mod httpload;
mod httpserve;
mod load;
mod report;
mod workloads;

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // The child process that holds the client ends of the idle workload.
    if argv.first().map(String::as_str) == Some("idle-peer") {
        return match harness::idle_peer(
            argv.get(1).map_or("", String::as_str),
            argv.get(2).map_or("", String::as_str),
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("idle-peer: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let (workload, opts) = match args::parse(&argv) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("oneport-bench: {e}\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    if matches!(workload.as_str(), "help" | "-h" | "--help") {
        println!("{}", args::USAGE);
        return ExitCode::SUCCESS;
    }
    let started = std::time::Instant::now();
    println!(
        "# oneport-bench {workload}{}: {} ({}), {} cores",
        if opts.quick { " --quick" } else { "" },
        if cfg!(windows) { "windows" } else { "linux" },
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let bench = match workloads::Bench::new(opts) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("oneport-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match bench.run(&workload) {
        Ok(()) => {
            println!("\n(total {:.1} s)", started.elapsed().as_secs_f64());
            match bench.failures() {
                0 => ExitCode::SUCCESS,
                n => {
                    eprintln!("oneport-bench: {n} contender case(s) failed (see above)");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("oneport-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
