//! Arguments of the commands that talk to a running coordinator about jobs and workers:
//! `submit`, `watch`, `jobs`, `workers`, `cancel`.

use super::{InjectionArgs, OutputArgs, Remote, SearchArgs};
use clap::Args;

/// `chirpfarm submit`.
#[derive(Debug, Args)]
pub struct SubmitCmd {
    /// The search.
    #[command(flatten)]
    pub search: SearchArgs,
    /// Coordinator and token.
    #[command(flatten)]
    pub remote: Remote,
    /// Fail at once if the coordinator has no worker, instead of queueing the job.
    #[arg(long)]
    pub require_workers: bool,
    /// Print {"job":"job-N"} instead of the bare id; an error is then one JSON object on
    /// stderr: {"error":{"code":2,"kind":"bad_input","message":"..."}}.
    #[arg(long)]
    pub json: bool,
    /// Data search: an injection list, checked now (a bad file exits 2 before the job is
    /// queued); the results are matched against it by `watch JOB --injections FILE`.
    #[command(flatten)]
    pub injections: InjectionArgs,
}

/// `chirpfarm watch`.
#[derive(Debug, Args)]
#[command(after_help = "\
With --partial, a job that was cancelled or failed prints the results that arrived (in bank
order; the JSON has \"complete\": false and lists the missing templates, or for a data search
the missing result units, template × segment group) and exits 1.
Exit codes: 0 complete results, 1 the job failed or was cancelled, 2 bad input, 3 coordinator
unreachable.")]
pub struct WatchCmd {
    /// The job id printed by submit (job-N).
    pub job: String,
    /// If the job was cancelled or failed, print the results it has anyway (signal and data
    /// searches), marked incomplete, and exit 1. Without it such a job prints only the error.
    #[arg(long)]
    pub partial: bool,
    /// Output.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Coordinator and token.
    #[command(flatten)]
    pub remote: Remote,
    /// Data search: injections to match against the job's triggers (as `search` does).
    #[command(flatten)]
    pub injections: InjectionArgs,
}

/// `chirpfarm jobs`.
#[derive(Debug, Args)]
#[command(after_help = "\
Columns: DONE/TOTAL and RATE count result units (templates; for a data search, templates ×
segment blocks); SUBMITTED is UTC; AGE is the time since submission; WALL is seconds from
submission to the end. Exit codes: 0 success, 2 bad input, 3 coordinator unreachable.")]
pub struct JobsCmd {
    /// Print one JSON array of job objects (fields in README; absent ones are omitted).
    #[arg(long)]
    pub json: bool,
    /// Only jobs with this label.
    #[arg(long, value_name = "LABEL")]
    pub name: Option<String>,
    /// Coordinator and token.
    #[command(flatten)]
    pub remote: Remote,
}

/// `chirpfarm workers`.
#[derive(Debug, Args)]
#[command(after_help = "Exit codes: 0 success, 2 bad input, 3 coordinator unreachable.")]
pub struct WorkersCmd {
    /// Print one JSON array of worker objects (fields in README).
    #[arg(long)]
    pub json: bool,
    /// Coordinator and token.
    #[command(flatten)]
    pub remote: Remote,
}

/// `chirpfarm cancel`.
#[derive(Debug, Args)]
#[command(after_help = "\
Cancelling a job that already ended (succeeded, failed or cancelled) changes nothing: it says
which state the job is in and exits 0. Exit codes: 0 cancelled or already ended, 2 no such job
or bad input, 3 coordinator unreachable.")]
pub struct CancelCmd {
    /// The job id (job-N).
    pub job: String,
    /// Coordinator and token.
    #[command(flatten)]
    pub remote: Remote,
}
