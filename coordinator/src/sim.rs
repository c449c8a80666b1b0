//! A simulation of a large farm inside one process: the real coordinator state (scheduler,
//! job records, result assembly) driven by fake workers that answer every lease at once. It
//! measures what the coordinator itself costs per task — no sockets, no compute.
//!
//! [`simulate_durable`] runs the same farm over a data dir, so every result goes through the
//! journal (checksummed records, fsync): it measures results per second as the disk allows,
//! with group commit or (journal batch 1) one fsync per record.

use crate::scheduler::{Event, WorkerId};
use crate::state::{Coordinator, CoordinatorConfig, Session};
use chirpfarm_core::{BankSpec, SearchSpec, SignalSpec, SnrConvention};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::coordinator_message::Msg;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// What a simulation measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimReport {
    /// Fake workers.
    pub workers: usize,
    /// Templates in the job's bank.
    pub templates: u64,
    /// Tasks the job was cut into.
    pub tasks: u64,
    /// Seconds from submission to the job's end.
    pub seconds: f64,
    /// Tasks leased, completed and stored per second.
    pub tasks_per_second: f64,
    /// Peak resident memory of this process (VmHWM), in bytes, if known.
    pub peak_rss_bytes: Option<u64>,
}

/// Runs one job of `templates` templates (one signal) over `workers` fake workers, each
/// granting 2 credits and answering leases instantly. `chunk` 0 sizes tasks automatically.
pub fn simulate(workers: usize, templates: u64, chunk: u32) -> Result<SimReport, String> {
    run(workers, templates, chunk, None)
}

/// Like [`simulate`], over a fresh data dir `dir` (created; must not be in use): every result is
/// journalled before release, at most `journal_batch` records per fsync.
pub fn simulate_durable(
    workers: usize,
    templates: u64,
    chunk: u32,
    dir: &Path,
    journal_batch: usize,
) -> Result<SimReport, String> {
    run(workers, templates, chunk, Some((dir, journal_batch)))
}

fn run(
    workers: usize,
    templates: u64,
    chunk: u32,
    durable: Option<(&Path, usize)>,
) -> Result<SimReport, String> {
    let mut config = CoordinatorConfig::default();
    config.scheduler.heartbeat_timeout_ms = u64::MAX / 2;
    config.limits.max_templates = templates.max(1);
    if let Some((dir, batch)) = durable {
        config.data_dir = Some(dir.to_path_buf());
        config.journal_batch = batch;
    }
    let coord = Coordinator::open(config).map_err(|e| e.to_string())?;
    let mut inboxes: Vec<(WorkerId, UnboundedReceiver<_>)> = Vec::with_capacity(workers);
    {
        let mut inner = coord.lock();
        for i in 0..workers {
            let id = WorkerId(i as u64 + 1);
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            inner
                .sessions
                .insert(id, Session::new(tx, 0, v1::Register::default()));
            let joined = Event::WorkerJoined {
                worker: id,
                cache_capacity: 1024,
                in_flight: vec![],
            };
            coord.apply(&mut inner, joined, None);
            inboxes.push((id, rx));
        }
    }
    let spec = SearchSpec {
        bank: BankSpec::Range {
            start: 1.0,
            stop: 1.0 + templates as f64,
            step: 1.0,
        },
        signals: vec![SignalSpec::chirp(1.2)],
        convention: SnrConvention::Seed,
        data: None,
        approximant: Default::default(),
        f_final: None,
    };
    let t0 = Instant::now();
    let sub = coord
        .submit(spec, chunk, true)
        .map_err(|s| s.message().to_string())?;
    {
        let mut inner = coord.lock();
        for (id, _) in &inboxes {
            coord.apply(
                &mut inner,
                Event::Credit {
                    worker: *id,
                    credits: 2,
                },
                None,
            );
        }
    }
    let job = Coordinator::parse_job_id(&sub.job_id).map_err(|s| s.message().to_string())?;
    let mut completed = 0u64;
    let mut idle_since = Instant::now();
    loop {
        let mut progressed = false;
        for (id, rx) in inboxes.iter_mut() {
            while let Ok(Ok(msg)) = rx.try_recv() {
                let Some(Msg::Lease(l)) = msg.msg else {
                    continue;
                };
                progressed = true;
                let zeros = vec![chirpfarm_core::TemplateResult::default(); l.count as usize];
                let block = chirpfarm_proto::signal_result_block(l.start, &[zeros]);
                let mut inner = coord.lock();
                let done = Event::TaskCompleted {
                    worker: *id,
                    job,
                    task: l.task as u32,
                    attempt: l.attempt,
                };
                coord.apply(&mut inner, done, Some(block));
                coord.apply(
                    &mut inner,
                    Event::Credit {
                        worker: *id,
                        credits: 1,
                    },
                    None,
                );
                completed += 1;
            }
        }
        let finished = coord.lock().sched.job_ended(job);
        if finished {
            break;
        }
        if progressed {
            idle_since = Instant::now();
        } else if idle_since.elapsed() > Duration::from_secs(30) {
            return Err(format!("simulation stalled after {completed} tasks"));
        } else {
            // Results are being written by the journal thread: new leases follow its reports.
            std::thread::sleep(Duration::from_micros(20));
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(SimReport {
        workers,
        templates,
        tasks: sub.tasks as u64,
        seconds,
        tasks_per_second: completed as f64 / seconds,
        peak_rss_bytes: peak_rss(),
    })
}

/// This process's peak resident set size (Linux `VmHWM`).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_small_simulation_completes_every_task() {
        let r = super::simulate(10, 1000, 7).unwrap();
        assert_eq!(r.tasks, 143);
        assert!(r.tasks_per_second > 0.0);
    }

    #[test]
    fn a_durable_simulation_stores_every_task() {
        let dir = std::env::temp_dir().join(format!("chirpfarm-sim-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let r = super::simulate_durable(4, 200, 7, &dir, 4096).unwrap();
        assert_eq!(r.tasks, 29);
        let store = crate::store::Store::open(&dir).unwrap();
        let jobs = store.load().unwrap();
        assert_eq!(jobs[0].blocks.len(), 29, "every result is in the journal");
        std::fs::remove_dir_all(&dir).ok();
    }
}
