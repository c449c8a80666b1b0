//! Command-line arguments (clap derive). Help text is written for people: what each flag does,
//! its default, and the one physics caveat users hit (the 64 s segment).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod bench;
mod manage;
mod search;
mod simulate;

pub use bench::BenchCmd;
pub use manage::{CancelCmd, JobsCmd, SubmitCmd, WatchCmd, WorkersCmd};
pub use search::{
    job_name, ConventionArg, DataArgs, InjectionArgs, OutputArgs, RankArg, SearchArgs, SearchCmd,
};
pub use simulate::SimulateCmd;

/// Shown after `chirpfarm --help`.
const EXAMPLES: &str = "\
Examples:
  chirpfarm search --signal-mc 1.2                        the seed's script 1, embedded cluster
  chirpfarm search --random-signals 10 --seed 7 --json    the seed's script 2
  chirpfarm search --bank 0.8:1.74:0.001 --signal-mc 1.2 --coordinator http://lab1:50051
  chirpfarm submit --signal-mc 1.2 && chirpfarm watch job-1 --json
  chirpfarm search --data H-H1_GWOSC_4KHZ.hdf5 --bank 1.0:1.5:0.001 --f-low 30 --json
  chirpfarm search --data strain.npy --sample-rate 2048 --gps-start 1e9 --psd aligo --csv
  chirpfarm simulate --duration 512 --seed 7 --inject mass1=1.4,mass2=1.3,snr=10,time=1000000200 -o d.hdf5
  chirpfarm search --data d.hdf5 --psd aligo --injections d.hdf5.injections.csv
  chirpfarm bank --mass1 1:3 --mass2 1:3 --min-match 0.97 --f-low 30 --psd aligo -o bank.csv
  chirpfarm bank --check bank.csv --injections 1000

Environment: CHIRPFARM_COORDINATOR, CHIRPFARM_TOKEN / CHIRPFARM_TOKEN_FILE, CHIRPFARM_CA_FILE (as
the flags); RUST_LOG sets the log filter on stderr (default `warn`; e.g. RUST_LOG=info or
RUST_LOG=chirpfarm_worker=debug).";

/// What the seed convention's numbers mean: one text for `search --help` and the table footer.
macro_rules! seed_note {
    () => {
        "\
SNR convention \"seed\" is the 2012 teaching note's convention (the Python script chirpfarm
reproduces; unrelated to --seed, the random seed): the signal is the note's unnormalised
template, so SNR values are of order 1e-9 and only their ratios across the bank mean anything
(the physical SNR divided by 1024 Hz). --snr-convention physical gives PyCBC's |SNR|."
    };
}

/// What the seed convention's numbers mean, shown in `search --help` and under the table.
pub const SEED_CONVENTION_NOTE: &str = seed_note!();

/// Shown after `chirpfarm search --help`.
const SEARCH_EXAMPLES: &str = concat!(
    "\
Examples:
  chirpfarm search --signal-mc 1.2                           the note's script 1, all cores
  chirpfarm search --random-signals 10 --seed 7 --json       the note's script 2
  chirpfarm search --signal-mc 1.2 --snr-convention physical PyCBC's |SNR|
  chirpfarm search --bank 0.8:1.74:0.001 --signal-mc 1.2 --coordinator http://lab1:50051
  chirpfarm search --data H-H1_GWOSC_4KHZ.hdf5 --bank-file bank.csv --psd welch --json

",
    seed_note!(),
    "

SIGINT (Ctrl-C) and SIGTERM leave a remote job running and print its id (on a terminal, Ctrl-C
asks first), or cancel it with --cancel-on-exit; exit 130 (SIGINT) or 143 (SIGTERM).
RUST_LOG sets the log filter on stderr (default warn)."
);

/// Shown after `chirpfarm submit --help`.
const SUBMIT_EXAMPLES: &str = "\
Examples:
  chirpfarm submit --signal-mc 1.2 --coordinator http://lab1:50051        prints job-1
  chirpfarm submit --random-signals 100 --bank 0.8:1.74:0.001 --require-workers
  chirpfarm watch job-1 --json";

/// Shown after `chirpfarm watch --help`.
const WATCH_EXAMPLES: &str = "\
Examples:
  chirpfarm watch job-1 --coordinator http://lab1:50051
  chirpfarm watch job-1 --json > results.json
The progress bar's rate and ETA count from when the watch started.";

/// Shown after `chirpfarm jobs --help`.
const JOBS_EXAMPLES: &str = "\
Examples:
  chirpfarm jobs --coordinator http://lab1:50051
  CHIRPFARM_COORDINATOR=http://lab1:50051 chirpfarm jobs";

/// Shown after `chirpfarm cancel --help`.
const CANCEL_EXAMPLES: &str = "\
Examples:
  chirpfarm cancel job-7 --coordinator http://lab1:50051";

/// Shown after `chirpfarm workers --help`.
const WORKERS_EXAMPLES: &str = "\
Examples:
  chirpfarm workers --coordinator http://lab1:50051
  chirpfarm-worker --coordinator http://lab1:50051 --threads 8     (on each compute node)";

/// Shown after `chirpfarm simulate --help`.
const SIMULATE_EXAMPLES: &str = "\
Examples:
  chirpfarm simulate --duration 512 --seed 7 --inject mass1=1.4,mass2=1.3,snr=10,time=1000000200 -o d.hdf5
  chirpfarm simulate --duration 64 --no-noise --inject mass1=1.4,mass2=1.4,distance=100,time=1000000040 -o clean.npy";

/// chirpfarm: matched-filter template-bank searches for compact-binary chirps, on this machine or
/// on a networked cluster of worker daemons ("multiprocessing.Pool on networked clusters").
///
/// Without --coordinator, `search` runs on an embedded in-process cluster using all cores: no
/// servers to start. With --coordinator (or CHIRPFARM_COORDINATOR) it submits to a running
/// chirpfarm-coordinator and streams the results back in bank order.
#[derive(Debug, Parser)]
#[command(
    name = "chirpfarm",
    version,
    about,
    long_about,
    propagate_version = true,
    after_help = EXAMPLES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a search and print its results (embedded cluster unless --coordinator is given).
    #[command(after_help = SEARCH_EXAMPLES)]
    Search(SearchCmd),
    /// Submit a search to a coordinator and print its job id without waiting.
    #[command(after_help = SUBMIT_EXAMPLES)]
    Submit(SubmitCmd),
    /// Wait for a submitted job and print its results.
    #[command(after_help = WATCH_EXAMPLES)]
    Watch(WatchCmd),
    /// List the coordinator's jobs: label, state, owner, submit time and age, progress, rate.
    #[command(after_help = JOBS_EXAMPLES)]
    Jobs(JobsCmd),
    /// Cancel a job (idempotent: a job that already ended is left as it was, exit 0).
    #[command(after_help = CANCEL_EXAMPLES)]
    Cancel(CancelCmd),
    /// List the workers registered with the coordinator.
    #[command(after_help = WORKERS_EXAMPLES)]
    Workers(WorkersCmd),
    /// Automatic allocation: list, add or remove the coordinator's Slurm queues, which submit
    /// worker jobs while tasks wait and end them when idle.
    #[command(subcommand, after_help = crate::alloc::EXAMPLES)]
    Alloc(crate::alloc::AllocCmd),
    /// Check that a coordinator serves (gRPC health): exit 0 serving, 1 not serving, 3 unreachable.
    Health(crate::health::HealthCmd),
    /// Simulate coloured Gaussian noise with injected signals, written as a file `search --data`
    /// reads, and the injection list beside it (<OUT>.injections.csv).
    #[command(after_help = SIMULATE_EXAMPLES)]
    Simulate(SimulateCmd),
    /// Developer benchmarks (hidden from the main help): one template, template cache reuse,
    /// the embedded cluster's fixed cost, dispatch overhead, coordinator scale. `chirpfarm bench
    /// --help` lists them.
    #[command(subcommand, hide = true)]
    Bench(BenchCmd),
    /// Place a template bank at a minimal match with the metric, or check one's fitting factors.
    Bank(crate::bank_cmd::BankCmd),
}

/// Where the coordinator is and how to authenticate.
#[derive(Debug, Args, Clone)]
pub struct Remote {
    /// Coordinator URL, e.g. http://lab1:50051.
    #[arg(long, env = "CHIRPFARM_COORDINATOR", value_name = "URL")]
    pub coordinator: Option<String>,
    /// File holding the coordinator's shared secret (or set CHIRPFARM_TOKEN).
    #[arg(long, env = "CHIRPFARM_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// CA certificate (PEM) that signed the coordinator's certificate: needed for https://
    /// coordinators, refused with http:// ones.
    #[arg(long, env = "CHIRPFARM_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}
