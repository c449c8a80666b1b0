//! The batch script of one allocated worker job, and the shell quoting it needs.
//!
//! One node, one task: a job is one worker, so the machine's count of jobs is its count of
//! workers. The worker runs as a job step (`srun`), so `--signal=TERM@60` reaches it 60 s
//! before the time limit (not `B:`, which signals only the batch shell, whose forwarding
//! makes srun answer with SIGKILL); it finishes or hands back its tasks and exits 0, and the
//! job ends COMPLETED. Its name, `chirpfarm-alloc-JOBID`, tells the coordinator which job a
//! registered worker came from.

use super::QueueParams;
use std::path::Path;

/// Where and how a worker job reaches the coordinator: fixed for the coordinator's life.
#[derive(Debug, Clone)]
pub struct WorkerLaunch {
    /// The `chirpfarm-worker` binary, as the compute nodes see it.
    pub worker_bin: String,
    /// The URL workers pass as `--coordinator`.
    pub coordinator_url: String,
    /// The folder for the jobs' output files (`chirpfarm-alloc-JOBID.out`).
    pub output_dir: std::path::PathBuf,
    /// The Slurm job name of this coordinator's jobs (`squeue --name` finds them).
    pub job_name: String,
}

/// Quotes one word for bash: single quotes, with `'` written as `'\''`.
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Slurm's `--time` in minutes, rounded up.
fn minutes(seconds: u64) -> u64 {
    seconds.div_ceil(60)
}

/// The script for one worker job of a queue.
pub fn build(params: &QueueParams, launch: &WorkerLaunch) -> String {
    let out = Path::new(&launch.output_dir).join("chirpfarm-alloc-%j.out");
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("#SBATCH --job-name={}\n", launch.job_name);
    s += "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n";
    s += &format!("#SBATCH --time={}\n", minutes(params.time_limit_s));
    s += "#SBATCH --signal=TERM@60\n";
    s += &format!("#SBATCH --output={}\n", out.display());
    if let Some(p) = &params.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if params.cpus > 0 {
        s += &format!("#SBATCH --cpus-per-task={}\n", params.cpus);
    }
    let args: Vec<String> = params.worker_args.iter().map(|a| shell_quote(a)).collect();
    s += &format!(
        r#"# Written by chirpfarm-coordinator (automatic allocation): one worker, one node.
echo "chirpfarm worker job $SLURM_JOB_ID on $(hostname -s): $SLURM_CPUS_ON_NODE CPU(s)"
srun --ntasks=1 --kill-on-bad-exit=0 {bin} --coordinator {url} \
    --threads "${{SLURM_CPUS_ON_NODE:-1}}" --name "chirpfarm-alloc-$SLURM_JOB_ID"{args} &
srun_pid=$!
# A SIGTERM to this shell alone goes to the worker through Slurm (srun itself is not signalled:
# it would kill the worker), then we wait for it to drain.
trap 'scancel --signal=TERM "$SLURM_JOB_ID" 2>/dev/null || true' TERM INT
wait "$srun_pid"
rc=$?
while [ "$rc" -gt 128 ]; do
    wait "$srun_pid"
    again=$?
    [ "$again" = 127 ] && break
    rc=$again
done
echo "chirpfarm worker job $SLURM_JOB_ID: srun exited with $rc"
exit "$rc"
"#,
        bin = shell_quote(&launch.worker_bin),
        url = shell_quote(&launch.coordinator_url),
        args = if args.is_empty() {
            String::new()
        } else {
            format!(" {}", args.join(" "))
        },
    );
    s
}
