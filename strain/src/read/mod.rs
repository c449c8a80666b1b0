//! Strain file readers: GWOSC HDF5, `.npy` and text, validated sample by sample.
//!
//! [`read_strain`] picks the format from the extension (or [`ReadOptions::format`]), reads the
//! samples, the sample rate and the GPS start, and checks them all: every sample finite, at
//! least one sample, the sample rate a power of two, no more than
//! [`MAX_DATA_SAMPLES`](chirpfarm_core::data::MAX_DATA_SAMPLES) samples (checked from the
//! file's header, before anything is allocated). Every [`ReadError`] starts with the file's
//! path and names the position (line, sample index, dataset) of the problem, because the user
//! fixing the file needs exactly that.
//!
//! One private module per format: `hdf5` (GWOSC layout, through [`crate::h5`]), `npy` (our own
//! parser: the format is one header line) and `text`.

mod hdf5;
mod npy;
mod text;

use crate::h5::H5Error;
use chirpfarm_core::error::SpecError;
use std::path::{Path, PathBuf};

/// Strain samples read from a file.
///
/// Why a struct with the rate and start beside the samples: every file format carries (or is
/// told) both, and a search needs all three together to place triggers in GPS time.
#[derive(Debug, Clone, PartialEq)]
pub struct Strain {
    /// The samples, dimensionless strain, in time order; all finite, at least one.
    pub samples: Vec<f64>,
    /// Samples per second; always a power of two in Hz.
    pub sample_rate: f64,
    /// GPS time of the first sample, in seconds.
    pub gps_start: f64,
}

/// A strain file format.
///
/// Why explicit: the extension decides by default ([`Format::from_path`]), but a user with a
/// `data.dat` that is really `.npy` can say so ([`ReadOptions::format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GWOSC HDF5: `strain/Strain` with `Xspacing`, `meta/GPSstart`.
    Hdf5,
    /// NumPy `.npy`: a 1-D little-endian float64 or float32 array.
    Npy,
    /// Text: one column (strain) or two (`time strain`).
    Text,
}

impl Format {
    /// The format of a file from its extension: `.hdf5`/`.h5`/`.hdf` → HDF5, `.npy` → npy,
    /// anything else → text (case-insensitive).
    pub fn from_path(path: &Path) -> Format {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("hdf5" | "h5" | "hdf") => Format::Hdf5,
            Some("npy") => Format::Npy,
            _ => Format::Text,
        }
    }

    /// How error messages name a file of this format ("a .npy file").
    fn describe(self) -> &'static str {
        match self {
            Format::Hdf5 => "an HDF5 file",
            Format::Npy => "a .npy file",
            Format::Text => "a one-column text file",
        }
    }
}

/// What the user says about a file beyond its contents (`--sample-rate`, `--gps-start`,
/// `--format`).
///
/// Why optional fields: `.npy` and one-column text files carry no rate or start, so these are
/// required there; HDF5 and two-column text carry their own, and a value given anyway must
/// agree with the file's (a disagreement is an error naming both, never a silent override).
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Samples per second (`--sample-rate`).
    pub sample_rate: Option<f64>,
    /// GPS time of the first sample (`--gps-start`).
    pub gps_start: Option<f64>,
    /// The format, instead of guessing from the extension (`--format`).
    pub format: Option<Format>,
}

/// Two GPS starts closer than this (seconds) are the same start: both usually come from decimal
/// text, and a microsecond is a few thousandths of a sample at 4096 Hz.
const GPS_TOLERANCE_S: f64 = 1e-6;

/// Why a strain file could not be read. The message always starts with the file's path, then
/// names the problem and, where there is one, its position (line, sample index, dataset).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{}: cannot read the file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// An HDF5-level problem (not HDF5, truncated, wrong dataset type); the message names the
    /// file and the dataset.
    #[error(transparent)]
    Hdf5(#[from] H5Error),
    /// An HDF5 file without the GWOSC strain dataset.
    #[error("{}: no dataset strain/Strain (is this a GWOSC strain file?)", path.display())]
    NoStrainDataset {
        /// The file.
        path: PathBuf,
    },
    /// A NaN or infinite sample.
    #[error("{}: {}sample {index} is {what}", path.display(), line_prefix(*line))]
    NotFinite {
        /// The file.
        path: PathBuf,
        /// The line (text files), 1-based.
        line: Option<u64>,
        /// The sample's index, 0-based.
        index: u64,
        /// "NaN" or "infinite".
        what: &'static str,
    },
    /// A file that holds no samples.
    #[error("{}: no samples in the file", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A format without a rate or a start, and no option to give it.
    #[error("{}: {} has no {what}: pass {flag}", path.display(), format.describe())]
    MissingOption {
        /// The file.
        path: PathBuf,
        /// The file's format.
        format: Format,
        /// "sample rate" or "GPS start time".
        what: &'static str,
        /// The option that gives it.
        flag: &'static str,
    },
    /// An option that disagrees with the file.
    #[error("{}: the file says {what} {file_value} but {flag} {given} was given", path.display())]
    Disagrees {
        /// The file.
        path: PathBuf,
        /// "sample rate" or "GPS start".
        what: &'static str,
        /// The file's value.
        file_value: f64,
        /// The option.
        flag: &'static str,
        /// The option's value.
        given: f64,
    },
    /// A sample rate that is not a power of two.
    #[error("{}: {source}", path.display())]
    SampleRate {
        /// The file.
        path: PathBuf,
        /// Why the rate is refused.
        source: SpecError,
    },
    /// Anything else wrong with the contents; `at` is the position ("line 5: ", "header: ",
    /// "strain/Strain: ") or empty.
    #[error("{}: {at}{problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where, ending with ": ", or empty.
        at: String,
        /// What is wrong.
        problem: String,
    },
}

/// "line 12: " for a text file's line, nothing otherwise.
fn line_prefix(line: Option<u64>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

impl ReadError {
    /// An [`ReadError::Invalid`] at a position.
    fn invalid(path: &Path, at: impl Into<String>, problem: impl Into<String>) -> ReadError {
        ReadError::Invalid {
            path: path.to_path_buf(),
            at: at.into(),
            problem: problem.into(),
        }
    }

    /// An [`ReadError::Io`].
    fn io(path: &Path, source: std::io::Error) -> ReadError {
        ReadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reads a strain file: the format from `opts.format` or the extension, then every check
/// described in the module documentation.
pub fn read_strain(path: &Path, opts: &ReadOptions) -> Result<Strain, ReadError> {
    let format = opts.format.unwrap_or_else(|| Format::from_path(path));
    let strain = match format {
        Format::Hdf5 => hdf5::read(path, opts)?,
        Format::Npy => npy::read(path, opts)?,
        Format::Text => text::read(path, opts)?,
    };
    // Each reader checks what it can name best (lines, header sizes); these hold for all.
    if strain.samples.is_empty() {
        return Err(ReadError::Empty {
            path: path.to_path_buf(),
        });
    }
    chirpfarm_core::data::validate_sample_rate(strain.sample_rate).map_err(|source| {
        ReadError::SampleRate {
            path: path.to_path_buf(),
            source,
        }
    })?;
    if !strain.gps_start.is_finite() {
        return Err(ReadError::invalid(
            path,
            "",
            format!("the GPS start time {} is not finite", strain.gps_start),
        ));
    }
    Ok(strain)
}

/// The rate and start of a format that has none in the file: both options are required.
fn required_options(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
) -> Result<(f64, f64), ReadError> {
    let missing = |what, flag| ReadError::MissingOption {
        path: path.to_path_buf(),
        format,
        what,
        flag,
    };
    let rate = opts
        .sample_rate
        .ok_or_else(|| missing("sample rate", "--sample-rate"))?;
    let gps = opts
        .gps_start
        .ok_or_else(|| missing("GPS start time", "--gps-start"))?;
    Ok((rate, gps))
}

/// Checks options given for a file that has its own rate and start: they must agree.
fn check_agrees(path: &Path, opts: &ReadOptions, rate: f64, gps: f64) -> Result<(), ReadError> {
    if let Some(given) = opts.sample_rate {
        if given != rate {
            return Err(ReadError::Disagrees {
                path: path.to_path_buf(),
                what: "sample rate",
                file_value: rate,
                flag: "--sample-rate",
                given,
            });
        }
    }
    if let Some(given) = opts.gps_start {
        let agrees = (given - gps).abs() <= GPS_TOLERANCE_S; // false for NaN
        if !agrees {
            return Err(ReadError::Disagrees {
                path: path.to_path_buf(),
                what: "GPS start",
                file_value: gps,
                flag: "--gps-start",
                given,
            });
        }
    }
    Ok(())
}

/// The first non-finite sample, as an error naming its index (binary formats: no line).
fn check_finite(path: &Path, samples: &[f64]) -> Result<(), ReadError> {
    match samples.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(not_finite(path, None, i as u64, samples[i])),
    }
}

/// A [`ReadError::NotFinite`] for `value`.
fn not_finite(path: &Path, line: Option<u64>, index: u64, value: f64) -> ReadError {
    ReadError::NotFinite {
        path: path.to_path_buf(),
        line,
        index,
        what: if value.is_nan() { "NaN" } else { "infinite" },
    }
}

/// A rate computed from a spacing, snapped to the nearest integer Hz when it is within
/// `rel_tol` of it (1/Xspacing is rarely exact in binary floating point).
fn snap_rate(rate: f64, rel_tol: f64) -> f64 {
    let r = rate.round();
    if rate.is_finite() && r > 0.0 && (rate - r).abs() <= rel_tol * r {
        r
    } else {
        rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        for (p, f) in [
            ("a.hdf5", Format::Hdf5),
            ("a.H5", Format::Hdf5),
            ("dir.x/a.hdf", Format::Hdf5),
            ("a.npy", Format::Npy),
            ("a.txt", Format::Text),
            ("a.csv", Format::Text),
            ("a", Format::Text),
        ] {
            assert_eq!(Format::from_path(Path::new(p)), f, "{p}");
        }
    }

    #[test]
    fn snapping() {
        assert_eq!(snap_rate(1.0 / (1.0 / 4096.0), 1e-9), 4096.0);
        assert_eq!(snap_rate(4096.01, 1e-9), 4096.01);
        assert_eq!(snap_rate(4096.001, 1e-6), 4096.0);
        assert_eq!(snap_rate(1000.0000000001, 1e-9), 1000.0);
        assert!(snap_rate(f64::NAN, 1e-9).is_nan());
    }

    #[test]
    fn messages_start_with_the_path() {
        let p = Path::new("dir/data.txt");
        let e = not_finite(p, Some(12), 10, f64::NAN);
        assert_eq!(e.to_string(), "dir/data.txt: line 12: sample 10 is NaN");
        let e = not_finite(p, None, 3, f64::INFINITY);
        assert_eq!(e.to_string(), "dir/data.txt: sample 3 is infinite");
        let e = required_options(p, Format::Npy, &ReadOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/data.txt: a .npy file has no sample rate: pass --sample-rate"
        );
        let opts = ReadOptions {
            sample_rate: Some(4096.0),
            ..Default::default()
        };
        let e = required_options(p, Format::Text, &opts).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/data.txt: a one-column text file has no GPS start time: pass --gps-start"
        );
        let opts = ReadOptions {
            gps_start: Some(10.5),
            ..Default::default()
        };
        let e = check_agrees(p, &opts, 4096.0, 10.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/data.txt: the file says GPS start 10 but --gps-start 10.5 was given"
        );
    }
}
