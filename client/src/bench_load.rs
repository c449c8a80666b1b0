//! `chirpfarm bench load`: what a crowd costs a running coordinator — idle TCP connections that
//! never speak HTTP/2, watch streams nobody reads, and queued jobs — measured as the latency of
//! one seed search (the seed's bank against one signal) and the coordinator's resident memory
//! after each stage. Run it against a coordinator with workers (`bench/trust_load.sh`).

use crate::args::Remote;
use crate::commands::connect;
use crate::error::CliError;
use crate::progress::Progress;
use crate::remote::{collect, Conn, SignalSink};
use chirpfarm_core::{BankSpec, SearchSpec, SignalSpec, SnrConvention};
use chirpfarm_proto::v1;
use serde_json::json;
use std::time::{Duration, Instant};

/// What to pile on.
#[derive(Debug, Clone)]
pub struct Load {
    /// The finished job the unread watchers watch (default: one run by the benchmark).
    pub watch_job: Option<String>,
    /// TCP connections opened and left silent.
    pub idle_connections: usize,
    /// Watch streams opened on a finished job and never read.
    pub unread_watchers: usize,
    /// One-template jobs queued before the measured search.
    pub queued_jobs: usize,
}

/// The coordinator's resident memory in MiB (Linux `/proc`), if it runs on this machine.
fn rss_mib(pid: Option<u32>) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Submits `spec` and collects all its results; returns the job id and the seconds it took.
async fn run(conn: &Conn, spec: &SearchSpec) -> Result<(String, f64), CliError> {
    let t0 = Instant::now();
    let sub = conn
        .client()
        .submit(conn.req(v1::SubmitRequest {
            spec: Some(chirpfarm_proto::spec_to_proto(spec)),
            chunk_size: 0,
            wait_for_workers: true,
            ..Default::default()
        }))
        .await
        .map_err(|s| conn.status_error(s))?
        .into_inner();
    let mut sink = SignalSink::new(spec.signals.len(), spec.bank.len()?);
    collect(conn, &sub.job_id, &mut sink, &Progress::new(0, true)).await?;
    Ok((sub.job_id, t0.elapsed().as_secs_f64()))
}

async fn seed_search(conn: &Conn, spec: &SearchSpec) -> Result<f64, CliError> {
    Ok(run(conn, spec).await?.1)
}

/// Median of `n` seed searches, in ms.
async fn median_ms(conn: &Conn, spec: &SearchSpec, n: usize) -> Result<f64, CliError> {
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        t.push(seed_search(conn, spec).await? * 1e3);
    }
    t.sort_by(f64::total_cmp);
    Ok(t[n / 2])
}

/// Runs the stages and prints one JSON document.
pub async fn load(remote: &Remote, pid: Option<u32>, load: Load) -> Result<(), CliError> {
    let conn = connect(remote).await?;
    let url = conn.url.clone();
    let spec = SearchSpec {
        bank: chirpfarm_core::bank::SEED_BANK,
        signals: vec![SignalSpec::chirp(1.2)],
        convention: SnrConvention::Seed,
        data: None,
        approximant: Default::default(),
        f_final: None,
    };
    let reps = 5;
    let mut stages = Vec::new();
    seed_search(&conn, &spec).await?; // warm the workers' caches
    stages.push(json!({"stage": "baseline", "seed_search_ms": median_ms(&conn, &spec, reps).await?, "rss_mib": rss_mib(pid)}));

    // Idle connections that never send a byte.
    let addr = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let mut idle = Vec::new();
    for _ in 0..load.idle_connections {
        match tokio::net::TcpStream::connect(&addr).await {
            Ok(s) => idle.push(s),
            Err(e) => {
                return Err(CliError::Failed(format!(
                    "idle connection {}: {e}",
                    idle.len()
                )))
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stages.push(json!({"stage": "idle_connections", "count": idle.len(), "seed_search_ms": median_ms(&conn, &spec, reps).await?, "rss_mib": rss_mib(pid)}));

    // Watchers that never read their stream, of a given finished job (bench/trust_load.sh makes
    // a large one) or else of a 940-template x 10-signal job run here.
    let big_job = match &load.watch_job {
        Some(j) => j.clone(),
        None => {
            let big = SearchSpec {
                bank: BankSpec::parse_range("0.8:1.74:0.001")?,
                signals: (0..10)
                    .map(|i| SignalSpec::chirp(0.9 + 0.08 * i as f64))
                    .collect(),
                convention: SnrConvention::Seed,
                data: None,
                approximant: Default::default(),
                f_final: None,
            };
            run(&conn, &big).await?.0
        }
    };
    let mut watchers = Vec::new();
    for _ in 0..load.unread_watchers {
        // Each on its own connection, as separate clients would be.
        let c = connect(remote).await?;
        let stream = c
            .client()
            .watch(c.req(v1::WatchRequest {
                job_id: big_job.clone(),
                cursor: 0,
                ..Default::default()
            }))
            .await
            .map_err(|s| conn.status_error(s))?;
        watchers.push((c, stream));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stages.push(json!({"stage": "unread_watchers", "count": watchers.len(), "seed_search_ms": median_ms(&conn, &spec, reps).await?, "rss_mib": rss_mib(pid)}));

    // Queued one-template jobs ahead of the measured search.
    let tiny = SearchSpec {
        bank: BankSpec::List(vec![1.2]),
        signals: vec![SignalSpec::chirp(1.2)],
        convention: SnrConvention::Seed,
        data: None,
        approximant: Default::default(),
        f_final: None,
    };
    let mut queued = 0;
    for _ in 0..load.queued_jobs {
        conn.client()
            .submit(conn.req(v1::SubmitRequest {
                spec: Some(chirpfarm_proto::spec_to_proto(&tiny)),
                chunk_size: 0,
                wait_for_workers: true,
                ..Default::default()
            }))
            .await
            .map_err(|s| conn.status_error(s))?;
        queued += 1;
    }
    let first = seed_search(&conn, &spec).await? * 1e3;
    stages.push(json!({"stage": "queued_jobs", "count": queued, "seed_search_ms": first, "rss_mib": rss_mib(pid)}));
    drop(watchers);
    drop(idle);
    let doc = json!({"coordinator": url, "watched_job": big_job, "stages": stages});
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    Ok(())
}
