//! `bench`'s subcommands: developer benchmarks, hidden from the main help.

use super::Remote;
use clap::Subcommand;

/// `chirpfarm bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Time one template (multiply + inverse real FFT of n = 131072 + max scan, f64) on one
    /// thread.
    Filter {
        /// Print {"per_template_seconds", "threads", "n", "precision"} as JSON.
        #[arg(long)]
        json: bool,
        /// Timed repetitions.
        #[arg(long, default_value_t = 200)]
        iters: usize,
    },
    /// The seed's script 2 on the embedded cluster: 10 signals submitted one after another over
    /// the same bank, with the worker's template cache on and off; prints JSON.
    Cache {
        /// Banks to run (START:STOP:STEP), default the seed bank and a 940-template bank.
        #[arg(long, default_values_t = vec!["0.8:1.74:0.01".to_string(), "0.8:1.74:0.001".to_string()])]
        bank: Vec<String>,
        /// Signals per bank.
        #[arg(long, default_value_t = 10)]
        signals: usize,
    },
    /// Dispatch overhead: no-op tasks (one template each) through an embedded coordinator and
    /// in-process workers over loopback gRPC; prints tasks per second as JSON.
    Dispatch {
        /// Number of tasks.
        #[arg(long, default_value_t = 2000)]
        tasks: u64,
        /// Number of workers.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Credits (tasks requested ahead) per worker.
        #[arg(long, default_value_t = 16)]
        credits: u32,
    },
    /// What a crowd costs a running coordinator: the latency of a seed search and the
    /// coordinator's memory with idle connections, unread watch streams and queued jobs piled
    /// on; prints JSON (see bench/trust_load.sh).
    Load {
        #[command(flatten)]
        remote: Remote,
        /// The coordinator's process id, to report its resident memory (same machine).
        #[arg(long)]
        coordinator_pid: Option<u32>,
        /// TCP connections opened and left silent.
        #[arg(long, default_value_t = 1000)]
        idle_connections: usize,
        /// Watch streams opened and never read.
        #[arg(long, default_value_t = 100)]
        unread_watchers: usize,
        /// One-template jobs queued before the measured search.
        #[arg(long, default_value_t = 1000)]
        queued_jobs: usize,
        /// A finished job for the unread watchers (default: a 940 x 10 job run first).
        #[arg(long)]
        watch_job: Option<String>,
    },
    /// The embedded cluster's fixed cost: start-up, job and teardown of `chirpfarm search`'s
    /// in-process cluster, round after round, next to the same search computed directly
    /// (no cluster); prints JSON with medians (see bench/RESULTS.md).
    Embedded {
        /// Bank (START:STOP:STEP), default the seed bank.
        #[arg(long, default_value = "0.8:1.74:0.01", value_name = "START:STOP:STEP")]
        bank: String,
        /// Signal chirp masses (comma list).
        #[arg(
            long,
            value_name = "MSUN",
            value_delimiter = ',',
            default_value = "1.2"
        )]
        signal_mc: Vec<f64>,
        /// Measured rounds (after one warm-up round).
        #[arg(long, default_value_t = 20, value_name = "N")]
        rounds: usize,
        /// Compute threads (default: all cores).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
    },
    /// Coordinator scale: the real coordinator state driven by instant fake workers, no
    /// sockets; prints tasks per second and peak RSS as JSON.
    Sim {
        /// Fake workers.
        #[arg(long, default_value_t = 1000)]
        workers: usize,
        /// Templates in the job's bank.
        #[arg(long, default_value_t = 1_000_000)]
        templates: u64,
        /// Templates per task (0 = automatic).
        #[arg(long, default_value_t = 0)]
        chunk_size: u32,
    },
}
