//! Automatic allocation: the coordinator asks the batch system (Slurm) for worker jobs while
//! tasks wait, and lets them go when there is nothing to do — HyperQueue's autoalloc, for
//! chirpfarm workers.
//!
//! * [`machine`]: the sans-IO state machine (load, job states and clock in; submit, cancel and
//!   poll out), where every rule lives and is unit-tested;
//! * [`slurm`]: `sbatch`, `squeue` and `scancel` run with timeouts, their output parsed and
//!   validated;
//! * [`script`]: the batch script of one worker job;
//! * [`driver`]: the loop joining them to the coordinator (one tick a second).
//!
//! Queues come from `chirpfarm-coordinator --autoalloc slurm ...` and from
//! `chirpfarm alloc add|remove` at run time; `chirpfarm alloc list` shows them.

pub mod cli;
pub mod driver;
pub mod machine;
pub mod rpc;
pub mod script;
pub mod slurm;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// Most worker jobs one queue may keep.
pub const MAX_WORKERS_LIMIT: u32 = 10_000;
/// The shortest time limit: workers are told to stop 60 s before it (`--signal=TERM@60`), so a
/// shorter job would be signalled at once.
pub const MIN_TIME_LIMIT_S: u64 = 120;
/// The longest time limit accepted (a year; sites cap it lower).
pub const MAX_TIME_LIMIT_S: u64 = 365 * 86_400;

/// One queue's settings, from the flags or `chirpfarm alloc add`: validated by [`Self::check`]
/// before use, since they come from clients and end up in a batch script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueParams {
    /// Most worker jobs alive at once (one worker each).
    pub max_workers: u32,
    /// Slurm partition, or the cluster's default.
    pub partition: Option<String>,
    /// Each job's time limit (Slurm `--time`), in seconds.
    pub time_limit_s: u64,
    /// Extra `chirpfarm-worker` arguments (e.g. `--template-cache-mb 4096`).
    pub worker_args: Vec<String>,
    /// A job whose worker had nothing to do for this long is cancelled (it drains, exits 0).
    pub idle_timeout_ms: u64,
    /// CPUs per worker job (Slurm `--cpus-per-task`); 0 leaves Slurm's default.
    pub cpus: u32,
}

/// Why a queue cannot be added, changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("no allocation queue {0}")]
    NoQueue(u32),
    #[error("{0}")]
    BadParams(String),
}

impl QueueParams {
    /// Refuses what could not work or could break the batch script: the partition is a plain
    /// name, worker arguments are printable single-line text, and the numbers are in range.
    pub fn check(&self) -> Result<(), AllocError> {
        let bad = |m: String| Err(AllocError::BadParams(m));
        if self.max_workers == 0 || self.max_workers > MAX_WORKERS_LIMIT {
            return bad(format!(
                "--max-workers must be between 1 and {MAX_WORKERS_LIMIT} (got {})",
                self.max_workers
            ));
        }
        if let Some(p) = &self.partition {
            let ok = !p.is_empty()
                && p.len() <= 64
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                return bad(format!(
                    "partition {p:?} is not a Slurm partition name (letters, digits, - _ . only)"
                ));
            }
        }
        if !(MIN_TIME_LIMIT_S..=MAX_TIME_LIMIT_S).contains(&self.time_limit_s) {
            return bad(format!(
                "the time limit must be between {} min and 365 d (workers stop 60 s before it); got {} s",
                MIN_TIME_LIMIT_S / 60,
                self.time_limit_s
            ));
        }
        if self.worker_args.len() > 64 {
            return bad("at most 64 worker arguments".into());
        }
        for a in &self.worker_args {
            if a.len() > 1024 || a.chars().any(char::is_control) {
                return bad(format!(
                    "worker argument {a:?} is too long or holds control characters"
                ));
            }
        }
        if self.idle_timeout_ms < 1000 || self.idle_timeout_ms > 7 * 86_400_000 {
            return bad("the idle timeout must be between 1 s and 7 d".into());
        }
        if self.cpus > 100_000 {
            return bad(format!("{} CPUs per worker is not plausible", self.cpus));
        }
        Ok(())
    }
}

/// A Slurm job state, as `squeue -o %T` prints it (the ones chirpfarm tells apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlurmState {
    Pending,
    Running,
    Completing,
    Completed,
    Cancelled,
    Failed,
    Timeout,
    NodeFail,
    OutOfMemory,
    BootFail,
    Deadline,
    Preempted,
    /// A state chirpfarm does not know (suspended, requeued, ...): treated as still alive.
    Other,
}

impl SlurmState {
    /// Parses `squeue`'s long state name.
    pub fn parse(s: &str) -> SlurmState {
        use SlurmState::*;
        match s {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" => Pending,
            "RUNNING" => Running,
            "COMPLETING" => Completing,
            "COMPLETED" => Completed,
            "CANCELLED" => Cancelled,
            "FAILED" => Failed,
            "TIMEOUT" => Timeout,
            "NODE_FAIL" => NodeFail,
            "OUT_OF_MEMORY" => OutOfMemory,
            "BOOT_FAIL" => BootFail,
            "DEADLINE" => Deadline,
            "PREEMPTED" => Preempted,
            _ => Other,
        }
    }

    /// The job has ended.
    pub fn is_final(self) -> bool {
        use SlurmState::*;
        !matches!(self, Pending | Running | Completing | Other)
    }

    /// The job ended in a way that counts against the queue.
    pub fn is_failure(self) -> bool {
        use SlurmState::*;
        matches!(self, Failed | NodeFail | OutOfMemory | BootFail)
    }
}

impl fmt::Display for SlurmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SlurmState::*;
        f.write_str(match self {
            Pending => "PENDING",
            Running => "RUNNING",
            Completing => "COMPLETING",
            Completed => "COMPLETED",
            Cancelled => "CANCELLED",
            Failed => "FAILED",
            Timeout => "TIMEOUT",
            NodeFail => "NODE_FAIL",
            OutOfMemory => "OUT_OF_MEMORY",
            BootFail => "BOOT_FAIL",
            Deadline => "DEADLINE",
            Preempted => "PREEMPTED",
            Other => "OTHER",
        })
    }
}

/// One line of `squeue`: a job's id, state and pending reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub job: String,
    pub state: SlurmState,
    pub reason: String,
}

/// The worker name of an allocated job: how the machine tells which registered worker came from
/// which job (the script passes `--name`).
pub fn worker_name(job: &str) -> String {
    format!("chirpfarm-alloc-{job}")
}

/// The machine, shared by the driver and the `alloc` RPCs.
#[derive(Debug, Clone, Default)]
pub struct Handle(Arc<Mutex<machine::AutoAlloc>>);

impl Handle {
    /// A machine with these timings and no queue.
    pub fn new(tunables: machine::Tunables) -> Handle {
        Handle(Arc::new(Mutex::new(machine::AutoAlloc::new(tunables))))
    }

    /// Locks it (a poisoned lock is recovered: each step leaves the machine consistent).
    pub fn lock(&self) -> MutexGuard<'_, machine::AutoAlloc> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
