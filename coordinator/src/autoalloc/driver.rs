//! The driver: once a second it shows the machine the coordinator's load and carries out what
//! the machine decides (`sbatch`, `squeue`, `scancel`, each in its own task so a slow command
//! never delays the next tick). On shutdown it ends every job it allocated (their workers drain).

use super::machine::{Action, Load};
use super::script::{self, WorkerLaunch};
use super::{slurm, Handle};
use crate::state::Coordinator;
use std::time::Duration;

/// How often the machine is ticked.
pub const TICK: Duration = Duration::from_secs(1);

/// The coordinator's load, read under its lock.
pub fn load(coord: &Coordinator) -> Load {
    let inner = coord.lock();
    let leases: std::collections::HashMap<_, _> = inner
        .sched
        .worker_counts()
        .into_iter()
        .map(|(id, leased, _, _)| (id, leased))
        .collect();
    Load {
        pending_tasks: inner.sched.pending_tasks(),
        workers: inner
            .sessions
            .iter()
            .map(|(id, s)| {
                (
                    s.register.name.clone(),
                    leases.get(id).copied().unwrap_or(0),
                )
            })
            .collect(),
    }
}

/// Carries out one action, reporting its outcome to the machine.
async fn act(
    coord: Coordinator,
    handle: Handle,
    launch: std::sync::Arc<WorkerLaunch>,
    action: Action,
) {
    match action {
        Action::Submit { queue, params } => {
            let result = match tokio::fs::create_dir_all(&launch.output_dir).await {
                Ok(()) => slurm::submit(&script::build(&params, &launch)).await,
                Err(e) => Err(format!(
                    "cannot create the output folder {}: {e}",
                    launch.output_dir.display()
                )),
            };
            match &result {
                Ok(job) => {
                    tracing::info!(queue, job = %job, "autoalloc: submitted worker job {job}")
                }
                Err(e) => tracing::warn!(queue, "autoalloc: {e}"),
            }
            let now = coord.now_ms();
            handle.lock().submitted(now, queue, result);
        }
        Action::Poll { queue } => {
            let result = slurm::list(&launch.job_name).await;
            let now = coord.now_ms();
            handle.lock().polled(now, queue, result);
        }
        Action::Cancel { queue, job, drain } => {
            tracing::info!(queue, job = %job, drain, "autoalloc: ending worker job {job}");
            if let Err(e) = slurm::cancel(&job, drain).await {
                tracing::warn!(queue, job = %job, "autoalloc: {e}");
                if drain {
                    // A job that cannot be signalled (not running yet, or already ending): cancel it.
                    if let Err(e) = slurm::cancel(&job, false).await {
                        tracing::warn!(queue, job = %job, "autoalloc: {e}");
                    }
                }
            }
        }
    }
}

/// Runs the driver until the coordinator starts shutting down, then ends every allocated job.
pub async fn run(coord: Coordinator, launch: WorkerLaunch) {
    let handle = coord.autoalloc.clone();
    let launch = std::sync::Arc::new(launch);
    let mut closing = coord.closing();
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = closing.wait_for(|c| *c) => break,
        }
        let load = load(&coord);
        let now = coord.now_ms();
        let actions = handle.lock().tick(now, &load);
        for a in actions {
            tokio::spawn(act(coord.clone(), handle.clone(), launch.clone(), a));
        }
    }
    // Shutting down: the allocated workers would otherwise sit idle until their time limit.
    let actions = handle.lock().remove_all();
    let mut done = tokio::task::JoinSet::new();
    for a in actions {
        done.spawn(act(coord.clone(), handle.clone(), launch.clone(), a));
    }
    while done.join_next().await.is_some() {}
}
