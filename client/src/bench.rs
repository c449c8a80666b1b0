//! `chirpfarm bench cache`: template reuse across signals (the seed's standing workers), measured
//! through the real embedded cluster — submit one signal at a time over the same bank and time
//! each, with the worker's template cache enabled and disabled.

use crate::embedded::Embedded;
use crate::error::CliError;
use crate::progress::Progress;
use crate::remote::{collect, Conn};
use chirpfarm_core::{random_signals, BankSpec, SearchSpec, SnrConvention};
use chirpfarm_proto::v1;
use serde_json::json;
use std::time::Instant;

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
            let cluster = Embedded::start_with_cache(threads, None, cache_bytes).await?;
            let conn = Conn::connect(&cluster.url, None).await?;
            let mut times = Vec::new();
            for s in &sigs {
                let spec = SearchSpec {
                    bank: bank.clone(),
                    signals: vec![*s],
                    convention: SnrConvention::Seed,
                };
                let t0 = Instant::now();
                let sub = conn
                    .client()
                    .submit(conn.req(v1::SubmitRequest {
                        spec: Some(chirpfarm_proto::spec_to_proto(&spec)),
                        chunk_size: 0,
                        wait_for_workers: true,
                    }))
                    .await
                    .map_err(CliError::from_status)?
                    .into_inner();
                collect(
                    &conn,
                    &sub.job_id,
                    1,
                    masses.len() as u64,
                    &Progress::new(0, true),
                )
                .await?;
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
