//! The multicore workload: an echo server on every configured core against
//! many connections of client load.
//!
//! Every other workload runs one contender's server and clients on one
//! thread, which says nothing about using more cores. Here the servers get
//! `--mc-cores` threads (oneport: a `Pool` serving one port; tokio: the
//! multi-thread runtime with that many workers; smol: one `Executor` run
//! by that many threads) and the clients are outside them, the same for
//! everyone ([`crate::load`]). The reference is tokio-mt, the usual way to
//! use every core with tokio. The repetitions are interleaved (one round
//! of every contender, then the next), so a change in the machine's load
//! hits every contender alike, and each repetition's ratio is also printed.

use std::time::Duration;

use super::Bench;
use crate::load::{self, LoadJob};
use crate::report::{Cell, Column, Table};

/// The row the ratios are taken against.
const REFERENCE: &str = "tokio-mt";

/// The least process CPU time a repetition must use for its CPU figure to
/// be shown.
const MIN_CPU: Duration = Duration::from_millis(200);

impl Bench {
    pub(super) fn multicore(&self) -> Result<(), String> {
        let o = &self.opts;
        let job = LoadJob {
            conns: o.mc_conns,
            threads: o.mc_client_threads,
            msg: o.mc_msg,
            rounds: o.mc_rounds,
            limit: o.case_limit,
        };
        let cores = o.mc_cores;
        // Per contender: the rate of each repetition, or what went wrong.
        let mut runs: Vec<Result<Vec<f64>, Cell>> = vec![Ok(Vec::new()); self.contenders.len()];
        // And the CPU time per round trip (µs) of each, where measured.
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); self.contenders.len()];
        for rep in 1..=o.mc_reps {
            for ((c, run), cpu) in self.contenders.iter().zip(runs.iter_mut()).zip(&mut cpu) {
                let Ok(rates) = run else { continue };
                let job = job.clone();
                let r = self.case(c.as_ref(), &format!("multicore rep {rep}"), move |c| {
                    let server = c.serve_multicore(cores)?;
                    Some(load::load_then_stop(server, |addr| load::drive(addr, &job)))
                });
                match r {
                    Ok(Some((out, stop_time))) => {
                        if out.cut_short {
                            eprintln!(
                                "    {}: cut short by the time bound ({} round trips done)",
                                c.name(),
                                out.rounds
                            );
                        }
                        if stop_time > Duration::from_secs(1) {
                            eprintln!("    {}: the server took {stop_time:?} to stop", c.name());
                        }
                        rates.push(out.rounds as f64 / out.elapsed.as_secs_f64());
                        // Below 20 of its 10 ms ticks the figure is mostly
                        // rounding (a quick run): left out.
                        if let Some(t) = out.cpu.filter(|t| *t >= MIN_CPU) {
                            cpu.push(t.as_secs_f64() * 1e6 / out.rounds.max(1) as f64);
                        }
                    }
                    Ok(None) => *run = Err(Cell::NotApplicable),
                    Err(bad) => *run = Err(bad),
                }
            }
        }
        let mut t = Table::new(
            format!(
                "multicore: echo servers on {cores} threads; {} connections × {} B round trips, \
                 {} per connection, from {} client threads (mio loops); {} repetitions",
                job.conns, job.msg, job.rounds, job.threads, o.mc_reps
            ),
            vec![
                Column::more("median round trips/s"),
                Column::more("min"),
                Column::more("max"),
                Column::less("CPU µs/round trip (median)"),
            ],
        )
        .against(REFERENCE);
        for ((c, run), cpu) in self.contenders.iter().zip(&runs).zip(&cpu) {
            let cells = match run {
                Ok(rates) if !rates.is_empty() => {
                    let (med, min, max) = summary(rates);
                    let cpu = match cpu.is_empty() {
                        true => Cell::NotApplicable,
                        false => Cell::Value(summary(cpu).0),
                    };
                    vec![Cell::Value(med), Cell::Value(min), Cell::Value(max), cpu]
                }
                Ok(_) => vec![Cell::NotApplicable; 4],
                Err(bad) => vec![bad.clone(); 4],
            };
            t.row(c.name(), cells);
        }
        print!("{}", t.render());
        print!("{}", paired_ratios(&self.contenders, &runs, REFERENCE, ""));
        Ok(())
    }
}

/// Median, minimum and maximum of non-empty `rates`.
pub(super) fn summary(rates: &[f64]) -> (f64, f64, f64) {
    let mut v = rates.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let med = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    (med, v[0], v[v.len() - 1])
}

/// One line per contender: its rate ÷ the `reference` row's in each
/// repetition (same repetition, so both ran under the same load), and
/// their range; `case` names the case in each line ("" for none).
pub(super) fn paired_ratios(
    contenders: &[Box<dyn crate::contenders::Contender>],
    runs: &[Result<Vec<f64>, Cell>],
    reference_name: &str,
    case: &str,
) -> String {
    let Some(Ok(reference)) = contenders
        .iter()
        .position(|c| c.name() == reference_name)
        .map(|i| &runs[i])
    else {
        return String::new();
    };
    let mut out = String::from("\n");
    for (c, run) in contenders.iter().zip(runs) {
        let Ok(rates) = run else { continue };
        if c.name() == reference_name || rates.len() != reference.len() || rates.is_empty() {
            continue;
        }
        let ratios: Vec<f64> = rates.iter().zip(reference).map(|(a, b)| a / b).collect();
        let (med, min, max) = summary(&ratios);
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        out.push_str(&format!(
            "{}{case} ÷ {reference_name} by repetition: {} (median {med:.2}, range {min:.2}-{max:.2})\n",
            c.name(),
            each.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn summary_of_odd_and_even_counts() {
        assert_eq!(summary(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(summary(&[4.0, 1.0]), (2.5, 1.0, 4.0));
    }
}
