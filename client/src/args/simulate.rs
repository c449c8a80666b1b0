//! `simulate`'s arguments: duration, noise, injections, output.

use clap::Args;
use std::path::PathBuf;

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
    /// End TaylorF2 injections at this frequency in Hz instead of each one's ISCO (LAL's
    /// f_max, as `search --f-final` ends its templates; must be above --f-low). The optimal
    /// SNR in the injection list is the truncated waveform's.
    #[arg(long, value_name = "HZ")]
    pub f_final: Option<f64>,
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
