//! `chirpfarm-coordinator`'s automatic-allocation flags, and starting the driver from them.

use super::machine::Tunables;
use super::rpc::{DEFAULT_IDLE_TIMEOUT_S, DEFAULT_TIME_LIMIT_S};
use super::script::WorkerLaunch;
use super::QueueParams;
use crate::duration::parse_duration;
use crate::state::Coordinator;
use std::path::PathBuf;

/// The batch systems automatic allocation can ask for workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Slurm: `sbatch`, `squeue`, `scancel` on this machine's PATH.
    Slurm,
}

/// Flags of automatic allocation (a queue at start; `chirpfarm alloc add` adds more later).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Automatic allocation (Slurm)")]
pub struct AllocArgs {
    /// Ask this batch system for worker jobs while tasks wait (one queue; `chirpfarm alloc`
    /// lists, adds and removes queues at run time). Needs --max-workers.
    #[arg(long, value_name = "BACKEND", requires = "max_workers")]
    pub autoalloc: Option<Backend>,
    /// Most worker jobs the --autoalloc queue keeps at once (one worker, one node each).
    #[arg(long, value_name = "N", requires = "autoalloc")]
    pub max_workers: Option<u32>,
    /// Slurm partition of the worker jobs (default: the cluster's default partition).
    #[arg(long, value_name = "NAME", requires = "autoalloc")]
    pub partition: Option<String>,
    /// Time limit of each worker job, e.g. 30m, 4h; workers drain 60 s before it and exit 0.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "autoalloc")]
    pub time_limit: Option<std::time::Duration>,
    /// Extra chirpfarm-worker arguments, one string split at spaces, e.g.
    /// --worker-args "--template-cache-mb 4096 --token-file /home/me/token".
    #[arg(
        long,
        value_name = "ARGS",
        allow_hyphen_values = true,
        requires = "autoalloc"
    )]
    pub worker_args: Option<String>,
    /// CPUs per worker job (Slurm --cpus-per-task; default: Slurm's default, often 1).
    #[arg(long, value_name = "N", requires = "autoalloc")]
    pub cpus_per_worker: Option<u32>,
    /// Seconds an allocated worker may sit idle, with no task pending, before its job is
    /// ended (the worker drains and exits 0).
    #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT_S, value_name = "SECONDS")]
    pub alloc_idle_timeout: u64,
    /// The chirpfarm-worker binary as the compute nodes see it (default: the one beside this
    /// coordinator's binary, else chirpfarm-worker on the nodes' PATH).
    #[arg(long, value_name = "PATH")]
    pub worker_bin: Option<PathBuf>,
    /// The URL allocated workers connect to (default: this coordinator's listening address,
    /// with this machine's host name when it listens on every interface).
    #[arg(long, value_name = "URL")]
    pub worker_url: Option<String>,
    /// Folder for the worker jobs' output files, visible to the compute nodes (default:
    /// DATA_DIR/alloc with --data-dir, else ./chirpfarm-alloc).
    #[arg(long, value_name = "DIR")]
    pub alloc_dir: Option<PathBuf>,
    /// Seconds between two readings of the jobs' states (squeue).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub alloc_poll: f64,
}

impl AllocArgs {
    /// The --autoalloc queue's parameters, validated; `None` without --autoalloc.
    pub fn queue(&self) -> Result<Option<QueueParams>, String> {
        let Some(Backend::Slurm) = self.autoalloc else {
            return Ok(None);
        };
        let p = QueueParams {
            max_workers: self.max_workers.unwrap_or(0),
            partition: self.partition.clone(),
            time_limit_s: self
                .time_limit
                .map_or(DEFAULT_TIME_LIMIT_S, |d| d.as_secs()),
            worker_args: self
                .worker_args
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            idle_timeout_ms: self.alloc_idle_timeout.saturating_mul(1000),
            cpus: self.cpus_per_worker.unwrap_or(0),
        };
        p.check().map_err(|e| e.to_string())?;
        Ok(Some(p))
    }

    /// The machine's timings from the flags.
    pub fn tunables(&self) -> Result<Tunables, String> {
        if !(self.alloc_poll.is_finite() && (0.1..=3600.0).contains(&self.alloc_poll)) {
            return Err("--alloc-poll must be between 0.1 and 3600 seconds".into());
        }
        Ok(Tunables {
            poll_ms: (self.alloc_poll * 1000.0) as u64,
            ..Tunables::default()
        })
    }

    /// How worker jobs start: binary, URL, output folder, job name. `listen` is the bound
    /// address, `tls` whether clients speak https.
    pub fn launch(
        &self,
        listen: std::net::SocketAddr,
        tls: bool,
        data_dir: Option<&std::path::Path>,
    ) -> Result<WorkerLaunch, String> {
        let worker_bin = match &self.worker_bin {
            Some(p) => p.display().to_string(),
            None => std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(|d| d.join("chirpfarm-worker")))
                .filter(|p| p.is_file())
                .map_or("chirpfarm-worker".to_string(), |p| p.display().to_string()),
        };
        let coordinator_url = match &self.worker_url {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => u.clone(),
            Some(u) => {
                return Err(format!(
                    "--worker-url {u:?} must start with http:// or https://"
                ))
            }
            None => {
                let scheme = if tls { "https" } else { "http" };
                if listen.ip().is_unspecified() {
                    let host = hostname().ok_or(
                        "cannot tell this machine's host name for the workers: pass --worker-url",
                    )?;
                    format!("{scheme}://{host}:{}", listen.port())
                } else {
                    format!("{scheme}://{listen}")
                }
            }
        };
        let dir = match (&self.alloc_dir, data_dir) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) => d.join("alloc"),
            (None, None) => PathBuf::from("chirpfarm-alloc"),
        };
        // Absolute (sbatch runs in this process's folder, the nodes may not); created at the
        // first submission, so a coordinator that never allocates leaves no folder behind.
        let output_dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()
                .map_err(|e| format!("cannot tell the current folder for --alloc-dir: {e}"))?
                .join(dir)
        };
        if output_dir
            .to_string_lossy()
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(format!(
                "--alloc-dir {} holds spaces or control characters (Slurm's --output cannot)",
                output_dir.display()
            ));
        }
        use rand::Rng;
        let tag: u32 = rand::rngs::OsRng.gen_range(0x10_0000..0xff_ffff);
        Ok(WorkerLaunch {
            worker_bin,
            coordinator_url,
            output_dir,
            job_name: format!("chirpfarm-{tag:06x}"),
        })
    }
}

/// This machine's host name (as the compute nodes would resolve it), from the kernel.
fn hostname() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty()).then(|| h.to_string())
}

/// Starts the driver with the --autoalloc queue (if any); the driver runs in any case, so
/// `chirpfarm alloc add` works on every coordinator. The task ends after shutdown began and
/// every allocated job was told to end: await it before exiting.
pub fn start(
    coord: &Coordinator,
    tunables: Tunables,
    queue: Option<QueueParams>,
    launch: WorkerLaunch,
) -> tokio::task::JoinHandle<()> {
    {
        let mut m = coord.autoalloc.lock();
        m.tunables = tunables;
        if let Some(q) = queue {
            let id = m.add_queue(q);
            tracing::info!(queue = id, job_name = %launch.job_name, workers_connect_to = %launch.coordinator_url, output = %launch.output_dir.display(), "autoalloc: Slurm queue {id}");
        }
    }
    tokio::spawn(super::driver::run(coord.clone(), launch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        alloc: AllocArgs,
    }

    fn flags(args: &[&str]) -> AllocArgs {
        Flags::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .alloc
    }

    #[test]
    fn the_queue_comes_from_the_flags_and_is_checked() {
        assert_eq!(flags(&[]).queue(), Ok(None));
        let q = flags(&[
            "--autoalloc",
            "slurm",
            "--max-workers",
            "3",
            "--time-limit",
            "2h",
            "--worker-args",
            "--template-cache-mb 64",
        ])
        .queue()
        .unwrap()
        .unwrap();
        assert_eq!((q.max_workers, q.time_limit_s), (3, 7200));
        assert_eq!(q.worker_args, ["--template-cache-mb", "64"]);
        assert_eq!(q.idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_S * 1000);
        let e = flags(&[
            "--autoalloc",
            "slurm",
            "--max-workers",
            "3",
            "--partition",
            "a b",
        ])
        .queue()
        .unwrap_err();
        assert!(e.contains("partition"), "{e}");
        assert!(flags(&["--alloc-poll", "0"]).tunables().is_err());
    }

    #[test]
    fn workers_connect_to_the_listening_address_and_output_goes_to_an_absolute_folder() {
        let a = flags(&["--worker-bin", "/opt/w"]);
        let l = a
            .launch("127.0.0.1:5005".parse().unwrap(), false, None)
            .unwrap();
        assert_eq!(l.coordinator_url, "http://127.0.0.1:5005");
        assert_eq!(l.worker_bin, "/opt/w");
        assert!(l.output_dir.is_absolute() && l.output_dir.ends_with("chirpfarm-alloc"));
        assert!(l.job_name.starts_with("chirpfarm-") && l.job_name.len() == 16);
        let l = a
            .launch(
                "127.0.0.1:5005".parse().unwrap(),
                true,
                Some(std::path::Path::new("/var/lib/cf")),
            )
            .unwrap();
        assert_eq!(l.coordinator_url, "https://127.0.0.1:5005");
        assert_eq!(l.output_dir, std::path::Path::new("/var/lib/cf/alloc"));
        let bad = flags(&["--worker-url", "lab1:5005"]);
        let e = bad
            .launch("127.0.0.1:1".parse().unwrap(), false, None)
            .unwrap_err();
        assert!(e.contains("http://"), "{e}");
    }
}
