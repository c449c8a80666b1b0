//! GWOSC HDF5 strain files: dataset `strain/Strain`, its `Xspacing` attribute (seconds per
//! sample) and the GPS start from `meta/GPSstart` (or the `Xstart` attribute when a file has
//! no `meta` group).
//!
//! The layout is GWOSC's (<https://gwosc.org/archive/dataset/>): files from the archive are
//! chunked and gzip-compressed, which [`crate::h5`] reads in pure Rust.

use super::{check_agrees, check_finite, snap_rate, ReadError, ReadOptions, Strain};
use crate::h5::H5Reader;
use std::path::Path;

/// The strain dataset of a GWOSC file.
const STRAIN: &str = "strain/Strain";

/// 1/Xspacing within this relative distance of an integer is that integer (Xspacing is
/// written as a decimal or binary fraction; 1/4096 is exact, 1/1000 is not).
const RATE_SNAP: f64 = 1e-9;

/// Reads a GWOSC HDF5 strain file. The rate and start come from the file; options, if given,
/// must agree with them.
pub(super) fn read(path: &Path, opts: &ReadOptions) -> Result<Strain, ReadError> {
    let file = H5Reader::open(path)?;
    if !file.has_dataset(STRAIN)? {
        return Err(ReadError::NoStrainDataset {
            path: path.to_path_buf(),
        });
    }
    let at = format!("{STRAIN}: ");
    let spacing = file.f64_attr(STRAIN, "Xspacing")?.ok_or_else(|| {
        ReadError::invalid(path, &at, "no Xspacing attribute (seconds per sample)")
    })?;
    if !(spacing.is_finite() && spacing > 0.0) {
        return Err(ReadError::invalid(
            path,
            &at,
            format!("Xspacing {spacing} is not a positive number of seconds per sample"),
        ));
    }
    let sample_rate = snap_rate(1.0 / spacing, RATE_SNAP);
    let gps_start = match file.f64_scalar("meta/GPSstart")? {
        Some(gps) => gps,
        None => file.f64_attr(STRAIN, "Xstart")?.ok_or_else(|| {
            ReadError::invalid(
                path,
                "",
                "no GPS start time: neither a meta/GPSstart dataset nor an Xstart attribute on strain/Strain",
            )
        })?,
    };
    check_agrees(path, opts, sample_rate, gps_start)?;
    // Refuse a bad rate before reading (and decompressing) the samples.
    chirpfarm_core::data::validate_sample_rate(sample_rate).map_err(|source| {
        ReadError::SampleRate {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let samples = file.f64_dataset(STRAIN)?;
    check_finite(path, &samples)?;
    Ok(Strain {
        samples,
        sample_rate,
        gps_start,
    })
}
