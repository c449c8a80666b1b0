//! Strain files out, in the formats [`crate::read`] reads: GWOSC-layout HDF5, `.npy` and
//! two-column text.
//!
//! Why here, beside the readers: a simulated stretch must be searchable as it is
//! (`chirpfarm simulate -o data.hdf5 && chirpfarm search --data data.hdf5`), so the writer and
//! the reader of each format live together and are tested as a round trip. Every writer writes
//! to `<path>.tmp` and renames it, so a failure never leaves half a file under `path`.

use crate::read::Format;
use hdf5_pure::{AttrValue, FileBuilder};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a strain file could not be written (the message names the file).
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot write the strain file: {detail}", path.display())]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub detail: String,
}

/// Writes `samples` (at `sample_rate`, first sample at `gps_start`) to `path` in `format`:
///
/// * HDF5: dataset `strain/Strain` (float64) with attributes `Xspacing` (1/rate), `Xstart` and
///   `Npoints`, and scalar datasets `meta/GPSstart` and `meta/Duration` — the GWOSC layout;
/// * `.npy`: a version 1.0 `<f8` 1-D array (a search needs `--sample-rate` and `--gps-start`);
/// * text: two columns `time strain`, the strain in shortest round-trip form (so the text file
///   holds exactly the same numbers) and the time to the nanosecond.
pub fn write_strain(
    path: &Path,
    format: Format,
    samples: &[f64],
    sample_rate: f64,
    gps_start: f64,
) -> Result<(), WriteError> {
    let err = |detail: String| WriteError {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = match format {
        Format::Hdf5 => hdf5_bytes(samples, sample_rate, gps_start).map_err(err)?,
        Format::Npy => npy_bytes(samples),
        Format::Text => text_bytes(samples, sample_rate, gps_start),
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &bytes).map_err(|e| err(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e.to_string())
    })
}

/// The GWOSC-layout HDF5 image.
fn hdf5_bytes(samples: &[f64], rate: f64, gps_start: f64) -> Result<Vec<u8>, String> {
    let mut b = FileBuilder::new();
    let mut strain = b.create_group("strain");
    strain
        .create_dataset("Strain")
        .with_f64_data(samples)
        .with_shape(&[samples.len() as u64])
        .set_attr("Xspacing", AttrValue::F64(1.0 / rate))
        .set_attr("Xstart", AttrValue::F64(gps_start))
        .set_attr("Npoints", AttrValue::I64(samples.len() as i64));
    b.add_group(strain.finish());
    let mut meta = b.create_group("meta");
    meta.create_dataset("GPSstart")
        .with_f64_data(&[gps_start])
        .with_shape(&[]);
    meta.create_dataset("Duration")
        .with_f64_data(&[samples.len() as f64 / rate])
        .with_shape(&[]);
    b.add_group(meta.finish());
    b.finish().map_err(|e| e.to_string())
}

/// A version 1.0 `.npy` image of a 1-D little-endian float64 array.
fn npy_bytes(samples: &[f64]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
        samples.len()
    );
    // magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64 (numpy's rule).
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 8 * samples.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in samples {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Two-column text: `time strain` per line after a `#` comment.
fn text_bytes(samples: &[f64], rate: f64, gps_start: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 * samples.len() + 64);
    let _ = writeln!(out, "# time [GPS s]  strain  ({rate} Hz)");
    for (j, v) in samples.iter().enumerate() {
        let _ = writeln!(out, "{:.9} {v:?}", gps_start + j as f64 / rate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{read_strain, ReadOptions};

    #[test]
    fn round_trips_through_the_readers() {
        let dir = std::env::temp_dir().join(format!("chirpfarm-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let x: Vec<f64> = (0..4096)
            .map(|i| ((i as f64) * 0.37).sin() * 1e-21)
            .collect();
        for (name, fmt) in [
            ("a.hdf5", Format::Hdf5),
            ("a.npy", Format::Npy),
            ("a.txt", Format::Text),
        ] {
            let p = dir.join(name);
            write_strain(&p, fmt, &x, 1024.0, 1_000_000_000.5).unwrap();
            let opts = ReadOptions {
                sample_rate: (fmt == Format::Npy).then_some(1024.0),
                gps_start: (fmt == Format::Npy).then_some(1_000_000_000.5),
                format: None,
            };
            let s = read_strain(&p, &opts).unwrap();
            assert_eq!(s.samples, x, "{name}");
            assert_eq!(s.sample_rate, 1024.0, "{name}");
            assert_eq!(s.gps_start, 1_000_000_000.5, "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
