//! Slurm's commands, run for the driver: `sbatch` (script on stdin), `squeue` and `scancel`,
//! each with a timeout, killed if it hangs, its output parsed and validated (a job id is
//! digits; a status line is `ID|STATE|REASON`): nothing a command prints is trusted.

use super::{JobStatus, SlurmState};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long one Slurm command may take (a busy slurmctld answers slowly, never this slowly).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of output read from one command.
const MAX_OUTPUT: usize = 4 << 20;

/// Runs `program args...` with `stdin` fed in; its stdout, or an error naming the command with
/// the first line of its stderr.
async fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let shown = format!("{program} {}", args.join(" "));
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .await
            .map_err(|e| format!("{shown}: cannot write its input: {e}"))?;
    }
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "{shown} did not answer within {} s",
                COMMAND_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("{shown}: {e}"))?;
    if out.stdout.len() > MAX_OUTPUT {
        return Err(format!(
            "{shown} printed more than {} MiB",
            MAX_OUTPUT >> 20
        ));
    }
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!("{shown} failed ({}): {}", out.status, first.trim()));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| format!("{shown} printed something that is not UTF-8"))
}

/// A Slurm job id: ASCII digits, not absurdly long.
fn job_id(text: &str) -> Option<&str> {
    let t = text.trim();
    (!t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit())).then_some(t)
}

/// Parses `sbatch --parsable`: `ID` or `ID;CLUSTER` on the first line.
pub fn parse_sbatch(output: &str) -> Result<String, String> {
    let first = output.lines().next().unwrap_or("").trim();
    let id = first.split(';').next().unwrap_or("");
    job_id(id)
        .map(str::to_string)
        .ok_or_else(|| format!("sbatch printed {first:?}, not a job id"))
}

/// Parses `squeue -h -o %i|%T|%r`, one job per line.
pub fn parse_squeue(output: &str) -> Result<Vec<JobStatus>, String> {
    let mut jobs = Vec::new();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let mut f = line.trim().splitn(3, '|');
        let (Some(id), Some(state)) = (f.next(), f.next()) else {
            return Err(format!("squeue printed {line:?}, not ID|STATE|REASON"));
        };
        let id =
            job_id(id).ok_or_else(|| format!("squeue printed {line:?}: {id:?} is not a job id"))?;
        let reason = f.next().unwrap_or("").trim();
        let reason = if reason == "None" { "" } else { reason };
        jobs.push(JobStatus {
            job: id.to_string(),
            state: SlurmState::parse(state.trim()),
            reason: reason.chars().take(200).collect(),
        });
    }
    Ok(jobs)
}

/// Submits a batch script (on stdin); returns the job id.
pub async fn submit(script: &str) -> Result<String, String> {
    parse_sbatch(&run("sbatch", &["--parsable"], Some(script)).await?)
}

/// The jobs named `job_name` that Slurm still knows, ended ones included.
pub async fn list(job_name: &str) -> Result<Vec<JobStatus>, String> {
    let name = format!("--name={job_name}");
    let out = run(
        "squeue",
        &["-h", "-t", "all", &name, "-o", "%i|%T|%r"],
        None,
    )
    .await?;
    parse_squeue(&out)
}

/// Ends a job. `drain`: only SIGTERM to its steps (the worker drains and exits 0, the job ends
/// COMPLETED); otherwise a plain `scancel` (a queued job, or a worker that never came up).
pub async fn cancel(job: &str, drain: bool) -> Result<(), String> {
    let job = job_id(job).ok_or_else(|| format!("{job:?} is not a job id"))?;
    let args: &[&str] = if drain {
        &["--signal=TERM", job]
    } else {
        &[job]
    };
    run("scancel", args, None).await.map(|_| ())
}
