//! `chirpfarm bench cache`: template reuse across signals (the seed's standing workers), measured
//! through the real embedded cluster — submit one signal at a time over the same bank and time
//! each, with the worker's template cache enabled and disabled.

use crate::embedded::{Embedded, Options};
use crate::error::CliError;
use crate::progress::Progress;
use crate::remote::{collect, Conn, SignalSink};
use chirpfarm_core::{random_signals, BankSpec, SearchSpec, SnrConvention};
use chirpfarm_proto::v1;
use serde_json::json;
use std::time::Instant;

/// Submits a search and waits for all its results.
async fn run_job(conn: &Conn, spec: &SearchSpec, chunk_size: u32) -> Result<(), CliError> {
    let templates = spec.bank.len()?;
    let sub = conn
        .client()
        .submit(conn.req(v1::SubmitRequest {
            spec: Some(chirpfarm_proto::spec_to_proto(spec)),
            chunk_size,
            wait_for_workers: true,
            ..Default::default()
        }))
        .await
        .map_err(|s| conn.status_error(s))?
        .into_inner();
    let progress = Progress::new(0, true);
    let mut sink = SignalSink::new(spec.signals.len(), templates);
    collect(conn, &sub.job_id, &mut sink, &progress).await?;
    Ok(())
}

/// Runs the cache benchmark and prints one JSON document.
pub async fn cache(banks: Vec<String>, signals: usize) -> Result<(), CliError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut rows = Vec::new();
    for bank_text in banks {
        let bank = BankSpec::parse_range(&bank_text)?;
        let masses = bank.masses(u64::MAX)?;
        let sigs = random_signals(signals, 42, masses[0], *masses.last().unwrap_or(&masses[0]));
        let mut per_mode = serde_json::Map::new();
        for (mode, cache_bytes) in [("uncached", 0usize), ("cached", 4096usize << 20)] {
            let cluster = Embedded::start(Options {
                cache_bytes,
                ..Options::search(threads, None)
            })
            .await?;
            let conn = cluster.connect().await?;
            let mut times = Vec::new();
            for s in &sigs {
                let spec = SearchSpec {
                    bank: bank.clone(),
                    signals: vec![*s],
                    convention: SnrConvention::Seed,
                    data: None,
                    approximant: Default::default(),
                    f_final: None,
                };
                let t0 = Instant::now();
                run_job(&conn, &spec, 0).await?;
                times.push(t0.elapsed().as_secs_f64());
            }
            cluster.stop().await;
            let warm = &times[1..];
            let mean_warm = if warm.is_empty() {
                times[0]
            } else {
                warm.iter().sum::<f64>() / warm.len() as f64
            };
            per_mode.insert(
                mode.to_string(),
                json!({ "first_signal_seconds": times[0], "mean_later_signal_seconds": mean_warm, "per_signal_seconds": times }),
            );
        }
        let ratio = per_mode["uncached"]["mean_later_signal_seconds"]
            .as_f64()
            .unwrap_or(0.0)
            / per_mode["cached"]["mean_later_signal_seconds"]
                .as_f64()
                .unwrap_or(1.0);
        rows.push(json!({
            "bank": bank_text,
            "templates": masses.len(),
            "signals": signals,
            "threads": threads,
            "modes": per_mode,
            "speedup_cached_vs_uncached": ratio,
        }));
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "benchmark": "template-cache", "results": rows }))
            .unwrap_or_default()
    );
    Ok(())
}

/// `chirpfarm bench dispatch`: tasks per second through the real gRPC path with no compute.
pub async fn dispatch(tasks: u64, workers: usize, credits: u32) -> Result<(), CliError> {
    let cluster = Embedded::start(Options {
        workers,
        noop: true,
        credits,
        ..Options::search(1, Some(1))
    })
    .await?;
    let conn = cluster.connect().await?;
    // Wait until every worker registered, so the timing covers dispatch only.
    for _ in 0..200 {
        let n = conn
            .client()
            .list_workers(conn.req(v1::ListWorkersRequest {}))
            .await
            .map_err(|s| conn.status_error(s))?
            .into_inner()
            .workers
            .len();
        if n >= workers {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let spec = SearchSpec {
        bank: BankSpec::Range {
            start: 1.0,
            stop: 1.0 + tasks as f64,
            step: 1.0,
        },
        signals: vec![chirpfarm_core::SignalSpec::chirp(1.2)],
        convention: SnrConvention::Seed,
        data: None,
        approximant: Default::default(),
        f_final: None,
    };
    let t0 = Instant::now();
    run_job(&conn, &spec, 1).await?;
    let secs = t0.elapsed().as_secs_f64();
    cluster.stop().await;
    println!(
        "{}",
        json!({
            "benchmark": "dispatch",
            "tasks": tasks,
            "workers": workers,
            "credits": credits,
            "seconds": secs,
            "tasks_per_second": tasks as f64 / secs,
        })
    );
    Ok(())
}

/// `chirpfarm bench sim`: the coordinator's own cost per task at scale.
pub fn sim(workers: usize, templates: u64, chunk: u32) -> Result<(), CliError> {
    if workers == 0 || templates == 0 {
        return Err(CliError::Input(
            "--workers and --templates must be at least 1".into(),
        ));
    }
    let r = chirpfarm_coordinator::sim::simulate(workers, templates, chunk)
        .map_err(CliError::Failed)?;
    println!(
        "{}",
        json!({ "benchmark": "simulation", "workers": r.workers, "templates": r.templates, "tasks": r.tasks,
                "seconds": r.seconds, "tasks_per_second": r.tasks_per_second, "peak_rss_bytes": r.peak_rss_bytes })
    );
    Ok(())
}
