//! Command-line arguments (clap derive). Help text is written for people: what each flag does,
//! its default, and the one physics caveat users hit (the 64 s segment).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

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
    /// dispatch overhead, coordinator scale. `chirpfarm bench --help` lists them.
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

/// What to search: bank, signals, convention.
#[derive(Debug, Args, Clone)]
pub struct SearchArgs {
    /// Template bank as START:STOP:STEP, built exactly like numpy.arange (stop excluded).
    /// Default: the seed's bank 0.8:1.74:0.01 (94 templates).
    #[arg(
        long,
        value_name = "START:STOP:STEP",
        conflicts_with = "bank_file",
        allow_hyphen_values = true
    )]
    pub bank: Option<String>,
    /// Template bank from a file: one chirp mass (solar masses) per line, or a table whose first
    /// line names its columns: `mc`, or `mass1,mass2` with optional `spin1z,spin2z` (comma or
    /// space separated; the Newtonian chirp uses the chirp mass of mass1, mass2). Blank lines
    /// and anything after # are ignored; `-` reads standard input. A PyCBC HDF5 bank (datasets
    /// mass1, mass2, spin1z, spin2z; recognised by its signature) is read too.
    #[arg(long, value_name = "FILE")]
    pub bank_file: Option<PathBuf>,
    /// Signal chirp mass in solar masses; repeat or give a comma list (1.2,1.35). The signal is
    /// the seed's unnormalised template(Mc). Mc below about 0.69 makes the chirp longer than the
    /// 64 s segment, so it wraps around onto itself (a warning says so).
    #[arg(
        long = "signal-mc",
        value_name = "MSUN",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub signal_mc: Vec<String>,
    /// Delay every signal by this many seconds (its coalescence time in the segment).
    #[arg(
        long,
        default_value_t = 0.0,
        allow_hyphen_values = true,
        value_name = "SECONDS"
    )]
    pub signal_delay: f64,
    /// Add N signals with chirp masses drawn uniformly in the bank's range (the seed's script 2:
    /// templates are computed once and reused for every signal). At most 10,000.
    #[arg(long, value_name = "N")]
    pub random_signals: Option<usize>,
    /// Random seed for --random-signals (not related to the "seed" SNR convention).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// SNR convention: seed (the 2012 teaching note's maxsnr, numpy-exact; values ~1e-9, only
    /// ratios matter: see below) or physical (phase-maximised |SNR| for white unit noise, as
    /// PyCBC's matched_filter).
    #[arg(long, value_enum, default_value_t = ConventionArg::Seed)]
    pub snr_convention: ConventionArg,
    /// Template waveform. newtonian: the seed's Newtonian chirp of the chirp mass (any bank).
    /// taylorf2: TaylorF2 to 3.5PN in phase with aligned spins, Newtonian amplitude, ending at
    /// the ISCO (or --f-final), equal to LALSuite's SimInspiralChooseFDWaveform(TaylorF2); needs
    /// --data and a --bank-file with columns mass1,mass2[,spin1z,spin2z].
    #[arg(long, value_name = "newtonian|taylorf2", default_value = "newtonian")]
    pub approximant: String,
    /// End TaylorF2 templates at this frequency in Hz instead of each template's ISCO
    /// (LAL's f_max; must be above --f-low).
    #[arg(long, value_name = "HZ")]
    pub f_final: Option<f64>,
    /// Refuse banks with more templates than this (the embedded cluster runs at most 1,000,000;
    /// the client builds at most 100,000,000).
    #[arg(long, default_value_t = 1_000_000, value_name = "TEMPLATES")]
    pub max_templates: u64,
    /// Templates per task (default: automatic, ~0.2-2 s of work per task).
    #[arg(long, value_name = "TEMPLATES")]
    pub chunk_size: Option<u32>,
    /// Chirp masses accepted for signals and templates, in solar masses: anything outside is
    /// refused (a typo, or a bank in the wrong unit).
    #[arg(long, value_name = "MIN:MAX", default_value = "0.1:100")]
    pub mc_range: String,
    /// A label for the job, shown by `chirpfarm jobs` (at most 64 printable characters).
    /// The job's owner is recorded as $USER@ADDRESS: the user this client declares and the
    /// address the coordinator sees.
    #[arg(long, value_name = "LABEL", value_parser = job_name)]
    pub name: Option<String>,
    /// Search strain data instead of noiseless signals.
    #[command(flatten)]
    pub data: DataArgs,
}

/// A search over strain data: the file, the noise spectrum, segments, thresholds.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Searching data")]
pub struct DataArgs {
    /// Strain data to search: a GWOSC HDF5 file (.hdf5/.h5: strain/Strain, Xspacing,
    /// meta/GPSstart), a .npy array (float64/float32; needs --sample-rate and --gps-start), or
    /// text (one column of strain, needing --sample-rate and --gps-start, or two columns
    /// time strain). Reports triggers and, per template, the loudest SNR and its time.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["signal_mc", "random_signals", "snr_convention"])]
    pub data: Option<PathBuf>,
    /// Sample rate of a .npy or one-column text file, in Hz (a power of two).
    #[arg(long, value_name = "HZ", requires = "data")]
    pub sample_rate: Option<f64>,
    /// GPS time of the first sample of a .npy or one-column text file, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        requires = "data",
        allow_hyphen_values = true
    )]
    pub gps_start: Option<f64>,
    /// Noise PSD: `welch` (estimated from the data as pycbc.psd.welch with median averaging,
    /// then interpolated to the segment grid), `aligo` (the analytic aLIGO design fit), or a
    /// FILE with two columns, frequency [Hz] and one-sided PSD [1/Hz] (used as is when its
    /// frequencies are the segment's grid, else interpolated as pycbc.psd.from_txt).
    #[arg(
        long,
        value_name = "welch|aligo|FILE",
        default_value = "welch",
        requires = "data"
    )]
    pub psd: String,
    /// Welch: length of each PSD segment, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 4.0, requires = "data")]
    pub psd_segment_length: f64,
    /// Welch: stride between PSD segments, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, requires = "data")]
    pub psd_segment_stride: f64,
    /// Truncate the inverse PSD to this many seconds in the time domain (PyCBC's
    /// inverse_spectrum_truncation, Hann taper); default: no truncation.
    #[arg(long, value_name = "SECONDS", requires = "data")]
    pub psd_inverse_length: Option<f64>,
    /// Lower frequency cut-off of the filter, in Hz (the bin at exactly this frequency is in the
    /// band, as PyCBC's).
    #[arg(long, value_name = "HZ", default_value_t = 20.0, requires = "data")]
    pub f_low: f64,
    /// Analysis segment length in seconds (× sample rate must be a power of two, 2^12 to 2^22
    /// samples); each segment is FFT'd once per worker.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 256.0,
        requires = "data"
    )]
    pub segment_length: f64,
    /// Seconds at each end of a segment whose SNR is discarded (the filter wraps around there);
    /// segments overlap so that what they keep tiles the data. 0 keeps a segment's whole
    /// circular SNR series, as PyCBC's matched_filter returns it. Default: 1/8 of the segment.
    #[arg(long, value_name = "SECONDS", requires = "data")]
    pub segment_pad: Option<f64>,
    /// Report triggers where the SNR |z| is at least this.
    #[arg(
        long,
        value_name = "SNR",
        default_value_t = 5.5,
        requires = "data",
        allow_hyphen_values = true
    )]
    pub snr_threshold: f64,
    /// Keep only the loudest sample in each window of this many seconds, per template and
    /// segment (PyCBC's threshold_and_cluster).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, requires = "data")]
    pub cluster_window: f64,
    /// Power χ² bins (Allen 2005; PyCBC's power_chisq) computed at each trigger, with its
    /// reduced χ² = χ²/(2P − 2) and newSNR (PyCBC's newsnr, q = 6, n = 2); 0 turns it off.
    #[arg(long, value_name = "P", default_value_t = 16, requires = "data")]
    pub chisq_bins: u32,
    /// Order the table's triggers and pick each template's best by `snr` or `newsnr`.
    /// Triggers are always the clustered samples with SNR ≥ --snr-threshold: as PyCBC, the
    /// threshold is on SNR and newSNR only ranks (see --newsnr-threshold to cut on it).
    #[arg(long, value_enum, default_value_t = RankArg::Snr, requires = "data")]
    pub rank: RankArg,
    /// After the χ², drop triggers whose newSNR is below this (pycbc_inspiral's
    /// --newsnr-threshold; the SNR threshold and clustering come first). Needs the χ².
    #[arg(long, value_name = "NEWSNR", requires = "data")]
    pub newsnr_threshold: Option<f64>,
    /// Also write the triggers to this HDF5 file (one dataset per column).
    #[arg(long, value_name = "FILE.hdf5", requires = "data")]
    pub output: Option<PathBuf>,
}

/// `--rank` values: the ranking statistic of a data search.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RankArg {
    /// The matched-filter SNR |z| (default).
    Snr,
    /// PyCBC's reweighted SNR from the power χ² (needs --chisq-bins ≥ 2).
    Newsnr,
}

/// `--snr-convention` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ConventionArg {
    /// The seed's maxsnr (default).
    Seed,
    /// Phase-maximised |SNR| (PyCBC).
    Physical,
}

/// Output format flags.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Print the results as JSON (schema version 1 for signal searches, 2 for data searches;
    /// see README). An error is then one JSON object on stderr instead of the `error:` line:
    /// {"error":{"code":2,"kind":"bad_input","message":"..."}} (code: the exit code).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print one CSV row per signal × template (per trigger for a data search).
    #[arg(long)]
    pub csv: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also draw the results to FILE.png or FILE.svg (the format follows the extension),
    /// after printing them: SNR against template chirp mass, one line per signal, or for a
    /// data search the triggers' SNR against time with the best template's peak (and the
    /// injections) marked.
    #[arg(long, value_name = "FILE.png|FILE.svg", value_parser = crate::plot::PlotTarget::parse)]
    pub plot: Option<crate::plot::PlotTarget>,
}

/// `chirpfarm search`.
#[derive(Debug, Args)]
pub struct SearchCmd {
    /// The search.
    #[command(flatten)]
    pub search: SearchArgs,
    /// Output.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Coordinator and token (omit for the embedded cluster).
    #[command(flatten)]
    pub remote: Remote,
    /// Embedded cluster only: compute threads (default: all cores; at most 4 × the cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Fail at once if the coordinator has no worker, instead of queueing the job.
    #[arg(long)]
    pub require_workers: bool,
    /// With --coordinator: submit, print the job id and return, leaving the job running
    /// (`chirpfarm watch JOB` later). Without it, Ctrl-C asks whether to cancel the job.
    #[arg(long, requires = "coordinator")]
    pub detach: bool,
    /// With --coordinator: cancel the job when interrupted (SIGINT/Ctrl-C, SIGTERM) instead of
    /// leaving it running.
    #[arg(long, requires = "coordinator")]
    pub cancel_on_exit: bool,
    /// Data search: an injection list (as `simulate` writes: time, mass1, mass2, optimal_snr,
    /// ...) to match against the triggers: found/missed per injection, recovered SNR / expected.
    #[arg(
        long,
        value_name = "FILE",
        requires = "data",
        help_heading = "Searching data"
    )]
    pub injections: Option<PathBuf>,
    /// An injection is found by the loudest trigger (any template) within this many seconds of
    /// its coalescence time.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0.1,
        requires = "injections",
        help_heading = "Searching data"
    )]
    pub injection_window: f64,
}

/// `chirpfarm simulate`: noise from a PSD (PyCBC's frequency-domain recipe) plus injections.
#[derive(Debug, Args)]
pub struct SimulateCmd {
    /// Length of the data in seconds (× sample rate: an even number of samples, at most 2^26).
    #[arg(long, value_name = "SECONDS")]
    pub duration: f64,
    /// Samples per second (a power of two).
    #[arg(long, value_name = "HZ", default_value_t = 2048.0)]
    pub sample_rate: f64,
    /// Noise PSD: `aligo` (the analytic aLIGO design fit) or a FILE of two columns, frequency
    /// [Hz] and one-sided PSD [1/Hz] (interpolated as pycbc.psd.from_txt).
    #[arg(long, value_name = "aligo|FILE", default_value = "aligo")]
    pub psd: String,
    /// Lower edge of the noise band and of the injections' waveforms, Hz (no noise below; the
    /// optimal SNR is computed from here to Nyquist).
    #[arg(long, value_name = "HZ", default_value_t = 20.0)]
    pub f_low: f64,
    /// Random seed: the same seed gives the same samples on every machine.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,
    /// GPS time of the first sample.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 1_000_000_000.0,
        allow_hyphen_values = true
    )]
    pub gps_start: f64,
    /// An injection `mass1=1.4,mass2=1.3[,spin1z=..,spin2z=..,coa_phase=..],snr=10,time=GPS`
    /// (or `distance=MPC` instead of snr), or an injection FILE (CSV with those column names);
    /// repeatable. The coalescence time must leave the whole chirp inside the data.
    #[arg(long, value_name = "SPEC|FILE")]
    pub inject: Vec<String>,
    /// Waveform of the injections: newtonian (the seed's stationary-phase chirp of the chirp
    /// mass of mass1, mass2) or taylorf2 (3.5PN phase, aligned spins, LALSuite-equal h̃+,
    /// ending at the ISCO).
    #[arg(long, value_name = "newtonian|taylorf2", default_value = "newtonian")]
    pub approximant: String,
    /// No noise: the injections alone (for tests and templates' sanity checks).
    #[arg(long)]
    pub no_noise: bool,
    /// Output: .hdf5/.h5 (GWOSC layout), .npy, or text (two columns: time strain).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// No summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

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
}

/// Checks a `--name` label with the coordinator's rules (so a bad one never leaves the machine).
pub fn job_name(s: &str) -> Result<String, String> {
    chirpfarm_proto::labels::check_job_name(s).map(|()| s.to_string())
}

/// `chirpfarm watch`.
#[derive(Debug, Args)]
#[command(after_help = "\
With --partial, a job that was cancelled or failed prints the results that arrived (in bank
order; the JSON has \"complete\": false and lists the missing templates) and exits 1.
Exit codes: 0 complete results, 1 the job failed or was cancelled, 2 bad input, 3 coordinator
unreachable.")]
pub struct WatchCmd {
    /// The job id printed by submit (job-N).
    pub job: String,
    /// If the job was cancelled or failed, print the results it has anyway (signal searches),
    /// marked incomplete, and exit 1. Without it such a job prints only the error.
    #[arg(long)]
    pub partial: bool,
    /// Output.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Coordinator and token.
    #[command(flatten)]
    pub remote: Remote,
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
