//! `chirpfarm bench embedded`: what the embedded cluster costs around a search.
//!
//! `chirpfarm search` without `--coordinator` starts a coordinator and a worker in its own
//! process, submits, collects and stops them. Each round here does exactly that (the same
//! calls, in the same order, as [`crate::commands::search`]) and times the three phases:
//! start-up (coordinator, worker, client connection), the job (submit to the last result) and
//! teardown. Next to it, the same search is computed directly — the worker's engine on a thread
//! pool of the same size, no cluster — so the cluster's fixed cost is `total − direct`, both
//! measured in the same process, round after round, interleaved. Each round runs the cluster
//! over in-process pipes (what `search` uses) and over loopback TCP (the networked path), so
//! the two transports are compared side by side.
//!
//! Round 0 is a warm-up (it builds the process-wide FFT plan and frequency tables, which a
//! one-shot `chirpfarm search` pays once whichever way it computes) and is left out of the
//! statistics but printed.

use crate::embedded::{Embedded, Options, Transport};
use crate::error::CliError;
use crate::progress::Progress;
use crate::remote::{collect, SignalSink};
use chirpfarm_core::{BankSpec, SearchSpec, SignalSpec, SnrConvention, TemplateResult};
use chirpfarm_proto::v1;
use serde_json::{json, Value};
use std::time::Instant;

/// One embedded round's phases, seconds.
#[derive(Debug, Clone, Copy)]
struct Phases {
    /// `Embedded::start` and the client's connection.
    start: f64,
    /// Submit to the job's last result.
    job: f64,
    /// `Embedded::stop`.
    stop: f64,
}

impl Phases {
    /// Start to stopped.
    fn total(&self) -> f64 {
        self.start + self.job + self.stop
    }

    /// The phases as JSON, seconds.
    fn to_json(self) -> Value {
        json!({ "start_seconds": self.start, "job_seconds": self.job, "stop_seconds": self.stop,
                "total_seconds": self.total() })
    }
}

/// Runs one search on a fresh embedded cluster, as `chirpfarm search` does; returns the phases
/// and the results (to check them against the direct computation).
async fn embedded_round(
    opts: Options,
    spec: &SearchSpec,
) -> Result<(Phases, Vec<Vec<TemplateResult>>), CliError> {
    let templates = spec.bank.len()?;
    let t0 = Instant::now();
    let cluster = Embedded::start(opts).await?;
    let conn = cluster.connect().await?;
    let t1 = Instant::now();
    let sub = conn
        .client()
        .submit(conn.req(v1::SubmitRequest {
            spec: Some(chirpfarm_proto::spec_to_proto(spec)),
            wait_for_workers: true,
            ..Default::default()
        }))
        .await
        .map_err(|s| conn.status_error(s))?
        .into_inner();
    let progress = Progress::new(templates, true);
    let mut sink = SignalSink::new(spec.signals.len(), templates);
    let collected = collect(&conn, &sub.job_id, &mut sink, &progress).await?;
    crate::commands::check_succeeded(&sub.job_id, &collected.finished)?;
    let t2 = Instant::now();
    cluster.stop().await;
    let t3 = Instant::now();
    drop(conn);
    let phases = Phases {
        start: (t1 - t0).as_secs_f64(),
        job: (t2 - t1).as_secs_f64(),
        stop: (t3 - t2).as_secs_f64(),
    };
    Ok((phases, sink.results))
}

/// The same search with no cluster: a pool of `threads` and the worker's engine (no template
/// cache, as the embedded search's worker), built and run; seconds and results.
fn direct_round(
    threads: usize,
    masses: &[f64],
    signals: &[SignalSpec],
) -> Result<(f64, Vec<Vec<TemplateResult>>), CliError> {
    let t0 = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start compute threads: {e}")))?;
    let engine = chirpfarm_worker::engine::Engine::new(0);
    let results = pool.install(|| engine.filter_block(masses, signals, SnrConvention::Seed));
    Ok((t0.elapsed().as_secs_f64(), results))
}

/// Median and minimum of `xs` (not empty).
fn stats(mut xs: Vec<f64>) -> Value {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    json!({ "median": median, "min": xs[0] })
}

/// Runs `rounds` (+1 warm-up) interleaved rounds of the embedded search and the direct
/// computation over `bank` with `signals`, and prints one JSON document.
pub async fn embedded(
    bank: String,
    signal_mc: Vec<f64>,
    rounds: usize,
    threads: Option<usize>,
) -> Result<(), CliError> {
    if rounds == 0 {
        return Err(CliError::Input("--rounds must be at least 1".into()));
    }
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if threads == 0 || threads > crate::commands::max_threads() {
        return Err(CliError::Input(format!(
            "--threads must be between 1 and {}",
            crate::commands::max_threads()
        )));
    }
    let bank_spec = BankSpec::parse_range(&bank)?;
    let masses = bank_spec.masses(100_000)?;
    let signals: Vec<SignalSpec> = signal_mc.iter().map(|&mc| SignalSpec::chirp(mc)).collect();
    for s in &signals {
        s.validate()?;
    }
    let spec = SearchSpec {
        bank: bank_spec,
        signals: signals.clone(),
        convention: SnrConvention::Seed,
        data: None,
        approximant: Default::default(),
        f_final: None,
    };
    // What a fresh process pays once, whichever way it computes: the FFT plan and the
    // frequency tables (built here first, so no round below pays them).
    let t0 = Instant::now();
    let _ = chirpfarm_worker::engine::fused::plan();
    let plan_seconds = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let _ = chirpfarm_worker::engine::grid::tables();
    let tables_seconds = t0.elapsed().as_secs_f64();
    let transports = [Transport::InProcess, Transport::Loopback];
    let mut phases: Vec<Vec<Phases>> = vec![Vec::new(); transports.len()];
    let mut direct = Vec::new();
    let mut warm_up = serde_json::Map::new();
    for round in 0..=rounds {
        let (d, computed) = direct_round(threads, &masses, &signals)?;
        for (i, &transport) in transports.iter().enumerate() {
            let opts = Options {
                transport,
                ..Options::search(threads, None)
            };
            let (p, from_cluster) = embedded_round(opts, &spec).await?;
            if !same_bits(&from_cluster, &computed) {
                return Err(CliError::Failed(format!(
                    "the embedded search's results ({}) differ from the direct computation's",
                    transport.name()
                )));
            }
            if round == 0 {
                warm_up.insert(transport.name().into(), p.to_json());
            } else {
                phases[i].push(p);
            }
        }
        if round == 0 {
            warm_up.insert("direct_seconds".into(), json!(d));
        } else {
            direct.push(d);
        }
    }
    let mut per_transport = serde_json::Map::new();
    for (t, ps) in transports.iter().zip(&phases) {
        let col = |f: fn(&Phases) -> f64| stats(ps.iter().map(f).collect());
        let fixed: Vec<f64> = ps.iter().zip(&direct).map(|(p, d)| p.total() - d).collect();
        per_transport.insert(
            t.name().into(),
            json!({
                "start_seconds": col(|p| p.start),
                "job_seconds": col(|p| p.job),
                "stop_seconds": col(|p| p.stop),
                "start_plus_stop_seconds": col(|p| p.start + p.stop),
                "total_seconds": col(Phases::total),
                // Per round: this round's total minus this round's direct computation (their
                // minima come from different rounds, so only the median is given).
                "fixed_cost_seconds": { "median": stats(fixed)["median"] },
            }),
        );
    }
    let median = |t: Transport, k: &str| per_transport[t.name()][k]["median"].as_f64();
    let ratio = match (
        median(Transport::Loopback, "fixed_cost_seconds"),
        median(Transport::InProcess, "fixed_cost_seconds"),
    ) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let mut doc = json!({
        "benchmark": "embedded",
        "bank": bank,
        "templates": masses.len(),
        "signals": signals.len(),
        "threads": threads,
        "rounds": rounds,
        "transports": per_transport,
        "direct_seconds": stats(direct),
        "warm_up_round": warm_up,
        "process_once_seconds": { "fft_plan": plan_seconds, "frequency_tables": tables_seconds },
        "results_identical": true,
    });
    if let Some(r) = ratio {
        doc["fixed_cost_ratio_loopback_over_in_process"] = json!(r);
    }
    crate::stdout::line(&doc.to_string())
}

/// Whether two result sets are bit-for-bit the same.
fn same_bits(a: &[Vec<TemplateResult>], b: &[Vec<TemplateResult>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| {
                    p.snr.to_bits() == q.snr.to_bits()
                        && p.lag_seconds.to_bits() == q.lag_seconds.to_bits()
                })
        })
}
