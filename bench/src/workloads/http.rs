//! The http workload: a hyper HTTP/1.1 keep-alive server on one thread of
//! each contender's runtime, against 1 to 1,000 keep-alive connections of
//! client load on other threads.
//!
//! hyper's connection code is the same for every contender; what differs
//! is the runtime under it (its I/O adapter, its wakeups, its timer, its
//! task scheduling), which is what an HTTP server on that runtime would
//! pay. The load ([`crate::httpload`]) is the same for everyone. The
//! reference is tokio current-thread: the single-threaded runtime most
//! hyper servers run on. As in the multicore workload, repetitions are
//! interleaved (every contender once, then again) so a change in the
//! machine's load hits everyone alike, and the per-repetition ratios are
//! printed under the table.

use super::multicore::{paired_ratios, summary};
use super::Bench;
use crate::httpload::{self, HttpJob};
use crate::load;
use crate::report::{Cell, Column, Table};

/// The row the ratios are taken against.
const REFERENCE: &str = "tokio-ct";

impl Bench {
    pub(super) fn http(&self) -> Result<(), String> {
        let o = &self.opts;
        let most = o.http_conns.iter().copied().max().unwrap_or(0);
        // The load's ends and the server's ends are in this one process.
        let need = 2 * most as u64 + 256;
        if let Some(got) = httpload::raise_fd_limit(need) {
            if got < need {
                eprintln!(
                    "http: the open-file limit is {got}, below the {need} that {most} \
                     connections need: the largest cases will fail"
                );
            }
        }
        let mut columns = Vec::new();
        for &n in &o.http_conns {
            columns.push(Column::more(format!("{n} conn req/s")));
            columns.push(Column::info(format!("{n} conn spread %")));
        }
        let mut rows: Vec<Vec<Cell>> = vec![Vec::new(); self.contenders.len()];
        let mut paired = String::new();
        for &conns in &o.http_conns {
            let job = HttpJob {
                conns,
                threads: o.http_client_threads,
                requests: o.http_requests.div_ceil(conns as u64),
                duration: o.http_duration,
                setup_limit: o.case_limit,
            };
            // Per contender: the rate of each repetition, or what went wrong.
            let mut runs: Vec<Result<Vec<f64>, Cell>> = vec![Ok(Vec::new()); self.contenders.len()];
            for rep in 1..=o.http_reps {
                for (c, run) in self.contenders.iter().zip(runs.iter_mut()) {
                    let Ok(rates) = run else { continue };
                    let job = job.clone();
                    let r = self.case(
                        c.as_ref(),
                        &format!("http {conns} conn rep {rep}"),
                        move |c| {
                            let server = c.serve_http()?;
                            Some(load::load_then_stop(server, |addr| {
                                httpload::drive(addr, &job)
                            }))
                        },
                    );
                    match r {
                        Ok(Some((out, stop_time))) => {
                            if stop_time.as_secs_f64() > 1.0 {
                                eprintln!(
                                    "    {}: the server took {stop_time:?} to stop",
                                    c.name()
                                );
                            }
                            rates.push(out.requests as f64 / out.elapsed.as_secs_f64());
                        }
                        Ok(None) => *run = Err(Cell::NotApplicable),
                        Err(bad) => *run = Err(bad),
                    }
                }
            }
            for (row, run) in rows.iter_mut().zip(&runs) {
                match run {
                    Ok(rates) if !rates.is_empty() => {
                        let (med, min, max) = summary(rates);
                        row.push(Cell::Value(med));
                        row.push(Cell::Value((max - min) / med * 100.0));
                    }
                    Ok(_) => row.extend([Cell::NotApplicable, Cell::NotApplicable]),
                    Err(bad) => row.extend([bad.clone(), bad.clone()]),
                }
            }
            paired.push_str(&paired_ratios(
                &self.contenders,
                &runs,
                REFERENCE,
                &format!(" @{conns} conn"),
            ));
        }
        let bound = if o.http_requests < u64::MAX / 2 {
            format!(
                "{} requests per case or {:.1} s",
                o.http_requests,
                o.http_duration.as_secs_f64()
            )
        } else {
            format!("{:.1} s", o.http_duration.as_secs_f64())
        };
        let mut t = Table::new(
            format!(
                "http: hyper HTTP/1.1 keep-alive server on one runtime thread, `GET /` → 13-byte \
                 body; sequential requests per connection ({bound}) from {} client thread(s) \
                 (mio loops); median of {} repetitions, spread = (max - min) / median",
                o.http_client_threads, o.http_reps
            ),
            columns,
        )
        .against(REFERENCE);
        for (c, row) in self.contenders.iter().zip(rows) {
            t.row(c.name(), row);
        }
        print!("{}", t.render());
        print!("{paired}");
        Ok(())
    }
}
