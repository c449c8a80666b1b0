//! `chirpfarm alloc list|add|remove`: the coordinator's automatic-allocation queues (worker
//! jobs it asks Slurm for while tasks wait), as `hq alloc` manages HyperQueue's. The table and
//! JSON are built without I/O ([`table`], [`json`]) and tested on literal replies.

use crate::args::Remote;
use crate::commands::connect;
use crate::error::CliError;
use chirpfarm_proto::v1;
use clap::{Args, Subcommand};
use serde_json::json;

/// Shown after `chirpfarm alloc --help` and its subcommands' help.
pub const EXAMPLES: &str = "\
Examples:
  chirpfarm alloc list
  chirpfarm alloc add slurm --max-workers 8 --partition short --time-limit 2h
  chirpfarm alloc add slurm --max-workers 4 --worker-args \"--template-cache-mb 4096\"
  chirpfarm alloc remove 2          its jobs end: their workers finish their tasks and exit 0

A queue submits one worker job (one node, one worker) at a time while tasks wait and fewer than
--max-workers of its jobs are alive; a worker with nothing to do for --idle-timeout is drained.
Failures (sbatch refused, a job ending before its worker registered, one stuck in the queue)
delay the next submission exponentially; after 5 in a row the queue pauses and `alloc list`
says why.";

/// `chirpfarm alloc`.
#[derive(Debug, Subcommand)]
pub enum AllocCmd {
    /// List the queues, their worker jobs, failures and back-off.
    #[command(after_help = EXAMPLES)]
    List(ListCmd),
    /// Add a queue (it starts submitting when tasks wait).
    #[command(after_help = EXAMPLES)]
    Add(AddCmd),
    /// Remove a queue: its jobs are ended (running workers drain and exit 0).
    #[command(after_help = EXAMPLES)]
    Remove(RemoveCmd),
}

/// `chirpfarm alloc list`.
#[derive(Debug, Args)]
pub struct ListCmd {
    /// Print one JSON array of queue objects.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// The batch systems a queue can use.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Backend {
    /// Slurm (sbatch, squeue, scancel on the coordinator's machine).
    Slurm,
}

/// `chirpfarm alloc add`.
#[derive(Debug, Args)]
pub struct AddCmd {
    /// The batch system.
    pub backend: Backend,
    /// Most worker jobs alive at once (one worker, one node each).
    #[arg(long, value_name = "N")]
    pub max_workers: u32,
    /// Slurm partition (default: the cluster's default).
    #[arg(long, value_name = "NAME")]
    pub partition: Option<String>,
    /// Each job's time limit, e.g. 30m, 4h (default 1h); workers drain 60 s before it.
    #[arg(long, value_parser = chirpfarm_coordinator::duration::parse_duration, value_name = "DURATION")]
    pub time_limit: Option<std::time::Duration>,
    /// Extra chirpfarm-worker arguments, one string split at spaces.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub worker_args: Option<String>,
    /// CPUs per worker job (Slurm --cpus-per-task; default: Slurm's).
    #[arg(long, value_name = "N")]
    pub cpus_per_worker: Option<u32>,
    /// Seconds a worker may sit idle, nothing pending, before its job is ended (default 60).
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout: Option<u64>,
    /// Print the new queue as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// `chirpfarm alloc remove`.
#[derive(Debug, Args)]
pub struct RemoveCmd {
    /// The queue id (from `alloc list`).
    pub id: u32,
    /// Print the removed queue as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// Runs an `alloc` subcommand.
pub async fn alloc(cmd: AllocCmd) -> Result<(), CliError> {
    match cmd {
        AllocCmd::List(c) => {
            let conn = connect(&c.remote).await?;
            let list = conn
                .client()
                .list_alloc_queues(conn.req(v1::ListAllocQueuesRequest {}))
                .await
                .map_err(|s| conn.status_error(s))?
                .into_inner();
            print(&list.queues, c.json)
        }
        AllocCmd::Add(c) => {
            if c.idle_timeout == Some(0) {
                return Err(CliError::Input(
                    "--idle-timeout must be at least 1 second".into(),
                ));
            }
            let params = v1::AllocQueueParams {
                backend: "slurm".into(),
                max_workers: c.max_workers,
                partition: c.partition.unwrap_or_default(),
                time_limit_seconds: c.time_limit.map_or(0, |d| d.as_secs().max(1)),
                worker_args: c
                    .worker_args
                    .as_deref()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
                idle_timeout_seconds: c.idle_timeout.unwrap_or(0),
                cpus_per_worker: c.cpus_per_worker.unwrap_or(0),
            };
            let conn = connect(&c.remote).await?;
            let q = conn
                .client()
                .add_alloc_queue(conn.req(params))
                .await
                .map_err(|s| conn.status_error(s))?
                .into_inner();
            print(&[q], c.json)
        }
        AllocCmd::Remove(c) => {
            let conn = connect(&c.remote).await?;
            let q = conn
                .client()
                .remove_alloc_queue(conn.req(v1::AllocQueueRef { id: c.id }))
                .await
                .map_err(|s| conn.status_error(s))?
                .into_inner();
            print(&[q], c.json)
        }
    }
}

fn print(queues: &[v1::AllocQueueInfo], as_json: bool) -> Result<(), CliError> {
    let text = if as_json {
        format!("{}\n", json(queues))
    } else {
        table(queues)
    };
    crate::stdout::write(|out| out.write_all(text.as_bytes()))
}

/// Text from the coordinator made safe for a terminal.
fn esc(text: &str) -> String {
    chirpfarm_core::logging::escape(text, 300)
}

/// The queues for people: one block per queue, one line per job.
pub fn table(queues: &[v1::AllocQueueInfo]) -> String {
    if queues.is_empty() {
        return "no allocation queues (chirpfarm alloc add slurm --max-workers N)\n".into();
    }
    let mut s = String::new();
    for q in queues {
        let p = q.params.clone().unwrap_or_default();
        let partition = if p.partition.is_empty() {
            "default".into()
        } else {
            esc(&p.partition)
        };
        let state = if q.removing {
            "removing".to_string()
        } else if !q.paused.is_empty() {
            "paused".to_string()
        } else if q.next_submit_in_ms > 0 {
            format!("backing off {} s", q.next_submit_in_ms.div_ceil(1000))
        } else {
            "active".to_string()
        };
        s += &format!(
            "queue {}  slurm  {state}  max workers {}  partition {partition}  time limit {} min  idle timeout {} s\n",
            q.id,
            p.max_workers,
            p.time_limit_seconds.div_ceil(60),
            p.idle_timeout_seconds
        );
        s += &format!(
            "  jobs submitted {}, ended {}, failures {} ({} in a row)\n",
            q.submitted, q.ended, q.failures, q.failures_in_row
        );
        if !p.worker_args.is_empty() {
            s += &format!("  worker args: {}\n", esc(&p.worker_args.join(" ")));
        }
        if !q.paused.is_empty() {
            s += &format!("  paused: {}\n", esc(&q.paused));
        }
        if !q.last_error.is_empty() {
            s += &format!("  last error: {}\n", esc(&q.last_error));
        }
        for j in &q.jobs {
            let mut notes = Vec::new();
            if j.worker_registered {
                notes.push("worker registered".to_string());
            }
            if !j.reason.is_empty() {
                notes.push(format!("reason {}", esc(&j.reason)));
            }
            if j.stuck {
                notes.push("stuck in the queue".into());
            }
            if !j.ending.is_empty() {
                notes.push(format!("ending: {}", esc(&j.ending)));
            }
            s += &format!(
                "  job {:<10} {:<10} {:>6} s  {}\n",
                esc(&j.job_id),
                esc(&j.state),
                j.age_seconds,
                notes.join(", ")
            );
        }
    }
    s
}

/// The queues as one JSON array (field names as in the proto).
pub fn json(queues: &[v1::AllocQueueInfo]) -> serde_json::Value {
    queues
        .iter()
        .map(|q| {
            let p = q.params.clone().unwrap_or_default();
            json!({
                "id": q.id,
                "backend": "slurm",
                "max_workers": p.max_workers,
                "partition": (!p.partition.is_empty()).then_some(&p.partition),
                "time_limit_seconds": p.time_limit_seconds,
                "idle_timeout_seconds": p.idle_timeout_seconds,
                "cpus_per_worker": p.cpus_per_worker,
                "worker_args": p.worker_args,
                "submitted": q.submitted,
                "ended": q.ended,
                "failures": q.failures,
                "failures_in_row": q.failures_in_row,
                "last_error": (!q.last_error.is_empty()).then_some(&q.last_error),
                "paused": (!q.paused.is_empty()).then_some(&q.paused),
                "next_submit_in_ms": q.next_submit_in_ms,
                "removing": q.removing,
                "jobs": q.jobs.iter().map(|j| json!({
                    "job_id": j.job_id,
                    "state": j.state,
                    "reason": j.reason,
                    "worker_registered": j.worker_registered,
                    "age_seconds": j.age_seconds,
                    "ending": (!j.ending.is_empty()).then_some(&j.ending),
                    "stuck": j.stuck,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> v1::AllocQueueInfo {
        v1::AllocQueueInfo {
            id: 2,
            params: Some(v1::AllocQueueParams {
                backend: "slurm".into(),
                max_workers: 4,
                partition: "short".into(),
                time_limit_seconds: 3600,
                worker_args: vec![],
                idle_timeout_seconds: 60,
                cpus_per_worker: 0,
            }),
            jobs: vec![v1::AllocJob {
                job_id: "17".into(),
                state: "PENDING".into(),
                reason: "Resources\u{1b}[2J".into(),
                worker_registered: false,
                age_seconds: 12,
                ending: String::new(),
                stuck: false,
            }],
            submitted: 3,
            failures: 2,
            failures_in_row: 2,
            last_error: "sbatch failed: invalid partition".into(),
            paused: String::new(),
            next_submit_in_ms: 1500,
            removing: false,
            ended: 2,
        }
    }

    #[test]
    fn the_table_shows_back_off_failures_and_jobs_without_control_characters() {
        let t = table(&[queue()]);
        assert!(
            t.contains("queue 2  slurm  backing off 2 s  max workers 4  partition short"),
            "{t}"
        );
        assert!(
            t.contains("failures 2 (2 in a row)") && t.contains("last error: sbatch failed"),
            "{t}"
        );
        assert!(
            t.contains("job 17") && t.contains("PENDING") && t.contains("reason Resources"),
            "{t}"
        );
        assert!(!t.contains('\u{1b}'), "{t:?}");
        assert!(table(&[]).contains("no allocation queues"));
    }

    #[test]
    fn the_json_has_one_object_per_queue() {
        let v = json(&[queue()]);
        assert_eq!(v[0]["id"], 2);
        assert_eq!(v[0]["jobs"][0]["job_id"], "17");
        assert_eq!(v[0]["failures_in_row"], 2);
        assert!(v[0]["paused"].is_null());
    }
}
