//! `search`'s arguments: what to search (bank, signals, convention, data), how to print it, and
//! the injections a data search is matched against (shared with `submit` and `watch`).

use clap::{Args, ValueEnum};
use std::path::PathBuf;

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
    pub remote: super::Remote,
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
    /// Data search: injections to match against the triggers.
    #[command(flatten)]
    pub injections: InjectionArgs,
}

/// `--injections` and its window, on `search`, `submit` and `watch` (data searches).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Injections (data searches)")]
pub struct InjectionArgs {
    /// An injection list (as `simulate` writes: time, mass1, mass2, optimal_snr, ...) to match
    /// against a data search's triggers: found/missed per injection, recovered SNR / expected.
    #[arg(long, value_name = "FILE")]
    pub injections: Option<PathBuf>,
    /// An injection is found by the loudest trigger (any template) within this many seconds of
    /// its coalescence time.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0.1,
        requires = "injections"
    )]
    pub injection_window: f64,
}

/// Checks a `--name` label with the coordinator's rules (so a bad one never leaves the machine).
pub fn job_name(s: &str) -> Result<String, String> {
    chirpfarm_proto::labels::check_job_name(s).map(|()| s.to_string())
}
