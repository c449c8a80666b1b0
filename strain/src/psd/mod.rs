//! Noise power spectral densities, reproducing PyCBC 2.11 (`pycbc.psd`) operation for operation.
//!
//! The matched filter weights every frequency bin by 1/S(f) (physics.md §3.1), so the PSD decides
//! every SNR the farm reports; to make those SNRs comparable with PyCBC's, each function here is
//! a transcription of the PyCBC function it names, with the same windows, scalings and edge rules:
//!
//! * [`welch`]: `pycbc.psd.welch(..., window='hann', avg_method='median')` — the estimate from the
//!   data itself.
//! * [`interpolate`], [`inverse_spectrum_truncation`]: the two steps PyCBC applies before the PSD
//!   meets a segment (`pycbc.psd.interpolate`, `pycbc.psd.inverse_spectrum_truncation`).
//! * [`read_psd_file`], [`psd_on_grid`]: a PSD from a text file (`pycbc.psd.from_txt`).
//! * [`aligo`], [`aligo_series`]: the analytic aLIGO curve of physics.md §3.3.
//! * [`check_band`]: the last gate before 1/S is taken.
//!
//! The PyCBC details that matter (and are tested against PyCBC's own output in
//! `strain/tests/psd.rs`) are written next to the code that reproduces them.

mod file;
mod spectrum;
mod welch;

use std::path::PathBuf;

pub use file::{psd_on_grid, read_psd_file};
pub use spectrum::{aligo, aligo_series, check_band, interpolate, inverse_spectrum_truncation};
pub use welch::{median_bias, welch};

/// Why a PSD could not be made.
///
/// One enum for every PSD source, because the caller (the client building a search) only needs
/// to tell the user which file or parameter is wrong and why; the `Display` text says both.
#[derive(Debug, thiserror::Error)]
pub enum PsdError {
    /// The PSD file could not be opened or read.
    #[error("cannot read PSD file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// One line of a PSD file is wrong.
    #[error("PSD file {}, line {line}: {problem}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// A PSD file with no data lines (only comments or blanks).
    #[error("PSD file {} has no data lines (expected 'frequency PSD' pairs)", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// A PSD table given as slices (not from a file) is malformed.
    #[error("PSD table: {0}")]
    Table(String),
    /// The PSD file or table does not reach the frequencies the analysis needs.
    #[error(
        "PSD covers {first} Hz to {last} Hz but the analysis needs {need_low} Hz to {need_high} Hz"
    )]
    NotCovered {
        /// Lowest frequency in the table.
        first: f64,
        /// Highest frequency in the table.
        last: f64,
        /// The low-frequency cutoff asked for.
        need_low: f64,
        /// The highest grid frequency, (len-1)·Δf.
        need_high: f64,
    },
    /// Welch: the sample rate is not a positive finite number.
    #[error("PSD estimate: sample rate {0} Hz is not a positive finite number")]
    BadSampleRate(f64),
    /// Welch: a segment length of zero samples.
    #[error("PSD estimate: segment length must be at least 1 sample")]
    ZeroSegLen,
    /// Welch: a segment stride of zero samples.
    #[error("PSD estimate: segment stride must be at least 1 sample")]
    ZeroStride,
    /// Welch: the data is shorter than one PSD segment.
    #[error(
        "PSD estimate: the data has {samples} samples, shorter than one {seg_len}-sample PSD segment"
    )]
    DataTooShort {
        /// Samples in the data.
        samples: usize,
        /// Samples in one PSD segment.
        seg_len: usize,
    },
    /// Welch: a sample is NaN or infinite (a median would silently hide or spread it).
    #[error("PSD estimate: sample {index} is {value}; the data must be finite")]
    NonFiniteSample {
        /// Position of the sample.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// Welch: fewer than two segments fit, so a median average means nothing.
    #[error(
        "PSD estimate: {samples} samples with segment length {seg_len} and stride {seg_stride} \
         give {segments} segment(s); the median average needs at least 2"
    )]
    TooFewSegments {
        /// Samples in the data.
        samples: usize,
        /// Segment length in samples.
        seg_len: usize,
        /// Stride in samples.
        seg_stride: usize,
        /// Segments that fit.
        segments: usize,
    },
    /// The analysis band asks for bins the PSD does not have.
    #[error("analysis band bins {k_low}..{k_high} do not fit a PSD of {len} bins")]
    BandOutOfRange {
        /// First bin of the band.
        k_low: usize,
        /// One past the last bin.
        k_high: usize,
        /// Bins in the PSD.
        len: usize,
    },
    /// A PSD value inside the analysis band cannot be divided by.
    #[error("PSD is {value} at {freq} Hz (bin {bin}); inside the analysis band it must be finite and > 0")]
    BadBand {
        /// Frequency of the first bad bin.
        freq: f64,
        /// Its index.
        bin: usize,
        /// Its value.
        value: f64,
    },
}

/// What is wrong with one line of a PSD file (the file and line number are in [`PsdError::Line`]).
///
/// Separate from the error so tests and callers can match on the kind of problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineProblem {
    /// A field is not a number.
    #[error("{field:?} is not a number")]
    NotANumber {
        /// The text that failed to parse.
        field: String,
    },
    /// Not exactly two columns.
    #[error("expected 2 columns (frequency Hz, one-sided PSD), found {found}")]
    Columns {
        /// Columns found.
        found: usize,
    },
    /// A frequency that is negative or not finite.
    #[error("frequency {freq} Hz is negative or not finite")]
    BadFrequency {
        /// The frequency.
        freq: f64,
    },
    /// A frequency not above the previous line's.
    #[error("frequency {freq} Hz does not increase (previous line: {previous} Hz)")]
    NonIncreasing {
        /// This line's frequency.
        freq: f64,
        /// The previous data line's frequency.
        previous: f64,
    },
    /// A PSD value that is negative, NaN or infinite (PyCBC's `from_txt` rejects these too).
    #[error("PSD value {value} at {freq} Hz is negative or not finite")]
    BadValue {
        /// The frequency.
        freq: f64,
        /// The value.
        value: f64,
    },
}

/// `numpy.hanning(m)`: the *symmetric* Hann window, 0.5 + 0.5·cos(π·n/(m−1)) for
/// n = 1−m, 3−m, …, m−1, evaluated in numpy's order of operations.
///
/// PyCBC's `welch` and `inverse_spectrum_truncation` both use numpy's window (zero at both ends),
/// not scipy's periodic `get_window('hann')`; the two differ by O(1/m) and that would show in
/// every bin.
pub(crate) fn numpy_hanning(m: usize) -> Vec<f64> {
    match m {
        0 => Vec::new(),
        1 => vec![1.0],
        _ => {
            let denom = (m - 1) as f64;
            (0..m)
                .map(|i| {
                    let n = 1.0 - m as f64 + 2.0 * i as f64; // exact: small integers
                    0.5 + 0.5 * (std::f64::consts::PI * n / denom).cos()
                })
                .collect()
        }
    }
}

/// `numpy.interp(x, xp, fp)` for one point, with numpy's default `left = fp[0]`,
/// `right = fp[-1]` and its exact branches (an exact hit on a knot returns the knot's value;
/// a NaN from an infinite slope is retried from the right end).
///
/// Both `pycbc.psd.interpolate` and `from_txt` (through scipy's `interp1d`, which delegates to
/// `numpy.interp` for 1-D float64) land here. `xp` must be strictly increasing and non-empty.
pub(crate) fn numpy_interp(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let last = xp.len() - 1;
    if x.is_nan() {
        return x;
    }
    if last == 0 {
        return fp[0];
    }
    if x > xp[last] {
        return fp[last];
    }
    if x < xp[0] {
        return fp[0];
    }
    // largest j with xp[j] <= x
    let j = xp.partition_point(|&v| v <= x) - 1;
    if j == last || xp[j] == x {
        return fp[j];
    }
    let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    let mut y = slope * (x - xp[j]) + fp[j];
    if y.is_nan() {
        y = slope * (x - xp[j + 1]) + fp[j + 1];
        if y.is_nan() && fp[j] == fp[j + 1] {
            y = fp[j];
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hanning_is_symmetric_with_zero_ends() {
        let w = numpy_hanning(12);
        assert_eq!(w[0], 0.0);
        assert_eq!(w[11], 0.0);
        // numpy.hanning(12)[1] = 0.07937323358440945
        assert!((w[1] - 0.07937323358440945).abs() < 1e-16);
        for i in 0..12 {
            assert!((w[i] - w[11 - i]).abs() < 1e-16);
        }
        assert_eq!(numpy_hanning(1), vec![1.0]);
    }

    #[test]
    fn interp_matches_numpy_edges() {
        let xp = [1.0, 2.0, 4.0];
        let fp = [10.0, 20.0, 0.0];
        assert_eq!(numpy_interp(0.5, &xp, &fp), 10.0);
        assert_eq!(numpy_interp(5.0, &xp, &fp), 0.0);
        assert_eq!(numpy_interp(2.0, &xp, &fp), 20.0);
        assert_eq!(numpy_interp(1.5, &xp, &fp), 15.0);
        assert_eq!(numpy_interp(3.0, &xp, &fp), 10.0);
        assert_eq!(numpy_interp(4.0, &xp, &fp), 0.0);
    }
}
