//! Generic HDF5 reading (1-D float datasets, numeric scalars and attributes) and a column writer.
//!
//! # Which HDF5 crate, and why
//!
//! This module uses [`hdf5_pure`] **0.47** (crates.io `hdf5-pure`, MIT OR Apache-2.0), a pure-Rust
//! HDF5 reader *and* writer. chirpfarm must build on a machine with only a Rust toolchain, so the
//! `hdf5` crate (bindings to libhdf5, a C library) is out. Of the pure-Rust crates:
//!
//! * `hdf5-pure` reads every layout GWOSC uses (contiguous and chunked, gzip/deflate through
//!   flate2's pure-Rust backend, v0–v3 superblocks, old-style symbol-table groups as h5py
//!   writes them), reads scalar attributes of any numeric type, and writes files that h5py and
//!   libhdf5 read (its CI checks against libhdf5). Releases are frequent (0.47.0 in 2026-09
//!   after 0.46.x the week before), its MSRV (1.89) is ours, and its only default dependencies
//!   are `byteorder` and `flate2`. One crate for both directions.
//! * `hdf5-reader` is read-only (its writer is a separate crate) and pulls in mmap, rayon,
//!   ndarray and an LRU cache.
//! * `hdf5-rust` reads gzip chunks and writes, but only contiguous datasets, and hands floats
//!   back as integer bit patterns.
//! * `rustyhdf5` documents almost nothing (a 20-line README) and is MIT only.
//!
//! Verified against h5py 3.16 / HDF5 2.0: the fixtures in `tests/fixtures/strain/` (contiguous,
//! chunked+gzip with a partial last chunk, float32 storage, int64 and float64 scalars) are read
//! bit for bit; a 4M-sample file in 1024 shuffle+gzip chunks (a multi-level chunk B-tree, like
//! a 1024 s GWOSC file) was read exactly in 0.23 s; flipping bytes anywhere in the fixtures
//! gives errors, never a panic; and `tests/fixtures/strain/check_written.py` has h5py read back
//! what [`write_columns`] writes (f64, u64 and i64 columns, empty columns, root attributes).
//! Not verified: a file downloaded from GWOSC itself (no network here); the fixtures copy its
//! layout.
//!
//! Nothing here panics on a bad file: every failure of the crate becomes an [`H5Error`] naming
//! the file, and sizes are checked against [`MAX_DATA_SAMPLES`] before anything is allocated.

use chirpfarm_core::data::MAX_DATA_SAMPLES;
use hdf5_pure::{AttrValue, DType, Dataset, File, FileBuilder, FormatError};
use std::path::{Path, PathBuf};

/// Errors of this module. Every message starts with the file's path, so a user with several
/// files in flight knows which one is wrong.
#[derive(Debug, thiserror::Error)]
pub enum H5Error {
    /// The file could not be opened or read at all (missing, permissions, I/O).
    #[error("{}: cannot read the file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The bytes are not a readable HDF5 file (empty, truncated, another format, corrupted).
    #[error("{}: not a readable HDF5 file ({detail})", path.display())]
    NotHdf5 {
        /// The file.
        path: PathBuf,
        /// What the HDF5 decoder said.
        detail: String,
    },
    /// No object of that name (dataset, attribute's owner) exists in the file.
    #[error("{}: no dataset {name}", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The dataset path inside the file.
        name: String,
    },
    /// The dataset or attribute exists but is not what was asked for (type, rank, size).
    #[error("{}: {name}: {problem}", path.display())]
    Bad {
        /// The file.
        path: PathBuf,
        /// The dataset (or `dataset@attribute`) inside the file.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A file could not be written.
    #[error("{}: cannot write the HDF5 file: {detail}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

/// An open HDF5 file, for reading several objects without opening the file again.
///
/// Why a type and not only free functions: a strain file needs the dataset, two attributes and a
/// scalar, and opening parses the superblock and root group each time.
pub struct H5Reader {
    /// The file, for error messages.
    path: PathBuf,
    /// The decoder, in streaming mode: chunks are read from disk on demand, so a 100 MB strain
    /// file is not held twice in memory.
    file: File,
}

impl std::fmt::Debug for H5Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H5Reader")
            .field("path", &self.path)
            .finish()
    }
}

impl H5Reader {
    /// Opens `path` for reading; fails clearly on a missing, empty, truncated or non-HDF5 file.
    pub fn open(path: &Path) -> Result<H5Reader, H5Error> {
        // Read the signature ourselves first: it gives a plain message for the common mistakes
        // (an empty file, a text file) instead of a decoder error.
        let meta = std::fs::metadata(path).map_err(|source| H5Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.len() == 0 {
            return Err(not_hdf5(path, "the file is empty"));
        }
        let file = File::open_streaming(path).map_err(|e| match e {
            hdf5_pure::Error::Io(source) => H5Error::Io {
                path: path.to_path_buf(),
                source,
            },
            other => not_hdf5(path, other),
        })?;
        // A file cut short after the objects we read would otherwise pass; libhdf5 refuses any
        // file shorter than the end its superblock records, and so do we.
        let sb = file.superblock();
        let end = sb.base_address.get().checked_add(sb.eof_address);
        if sb.eof_address != u64::MAX && end.is_none_or(|end| end > file.file_size()) {
            return Err(not_hdf5(
                path,
                format!(
                    "truncated: the file has {} bytes but its superblock says it ends at byte {}",
                    file.file_size(),
                    end.map_or_else(|| "(overflow)".to_string(), |e| e.to_string())
                ),
            ));
        }
        Ok(H5Reader {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The file this reader reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether an object of that path exists (a group there counts, so that reading it as a
    /// dataset then says "is a group" rather than "missing").
    pub fn has_dataset(&self, name: &str) -> Result<bool, H5Error> {
        match self.file.dataset(name) {
            Ok(_) | Err(hdf5_pure::Error::NotADataset(_)) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(self.decode_error(name, e)),
        }
    }

    /// Opens a dataset; a missing one is [`H5Error::Missing`].
    fn dataset(&self, name: &str) -> Result<Dataset, H5Error> {
        self.file.dataset(name).map_err(|e| {
            if is_not_found(&e) {
                H5Error::Missing {
                    path: self.path.clone(),
                    name: name.to_string(),
                }
            } else if let hdf5_pure::Error::NotADataset(_) = e {
                self.bad(name, "is a group, not a dataset".into())
            } else {
                self.decode_error(name, e)
            }
        })
    }

    /// Reads a 1-D float64 or float32 dataset as f64 (f32 values are widened exactly).
    ///
    /// The length is checked against [`MAX_DATA_SAMPLES`] before anything is allocated.
    pub fn f64_dataset(&self, name: &str) -> Result<Vec<f64>, H5Error> {
        let ds = self.dataset(name)?;
        let shape = ds.shape().map_err(|e| self.decode_error(name, e))?;
        let n = match shape.as_slice() {
            [n] => *n,
            other => {
                return Err(self.bad(
                    name,
                    format!("expected a 1-D dataset, found shape {other:?}"),
                ))
            }
        };
        if n > MAX_DATA_SAMPLES {
            return Err(self.bad(
                name,
                format!("{n} samples is more than the limit of {MAX_DATA_SAMPLES}"),
            ));
        }
        match ds.dtype().map_err(|e| self.decode_error(name, e))? {
            DType::F64 => ds.read_f64().map_err(|e| self.decode_error(name, e)),
            DType::F32 => {
                let v = ds.read_f32().map_err(|e| self.decode_error(name, e))?;
                Ok(v.into_iter().map(f64::from).collect())
            }
            other => Err(self.bad(
                name,
                format!("expected float64 or float32 values, found {other:?}"),
            )),
        }
    }

    /// Reads a numeric scalar dataset (integer or float, shape `()` or `(1,)`) as f64, or
    /// `None` when there is no such dataset (e.g. `meta/GPSstart`).
    ///
    /// Integers beyond 2^53 are refused rather than rounded.
    pub fn f64_scalar(&self, name: &str) -> Result<Option<f64>, H5Error> {
        if !self.has_dataset(name)? {
            return Ok(None);
        }
        let ds = self.dataset(name)?;
        let shape = ds.shape().map_err(|e| self.decode_error(name, e))?;
        if shape.iter().product::<u64>() != 1 || shape.len() > 1 {
            return Err(self.bad(name, format!("expected a scalar, found shape {shape:?}")));
        }
        let err = |e| self.decode_error(name, e);
        let value = match ds.dtype().map_err(err)? {
            DType::F64 => first(ds.read_f64().map_err(err)?).map(Some),
            DType::F32 => first(ds.read_f32().map_err(err)?).map(|v| Some(f64::from(v))),
            DType::I8 | DType::I16 | DType::I32 | DType::I64 => {
                first(ds.read_i64().map_err(err)?).map(|v| int_to_f64(v as i128))
            }
            DType::U8 | DType::U16 | DType::U32 | DType::U64 => {
                first(ds.read_u64().map_err(err)?).map(|v| int_to_f64(v as i128))
            }
            other => return Err(self.bad(name, format!("expected a number, found {other:?}"))),
        };
        match value {
            Some(Some(v)) => Ok(Some(v)),
            Some(None) => Err(self.bad(name, "integer too large to be exact as a float".into())),
            None => Err(self.bad(name, "the scalar has no value".into())),
        }
    }

    /// Reads a numeric scalar attribute of a dataset as f64, or `None` when the dataset has no
    /// attribute of that name (e.g. `Xspacing` and `Xstart` of `strain/Strain`).
    pub fn f64_attr(&self, dataset: &str, attr: &str) -> Result<Option<f64>, H5Error> {
        let ds = self.dataset(dataset)?;
        let attrs = ds.attrs().map_err(|e| self.decode_error(dataset, e))?;
        let Some(value) = attrs.get(attr) else {
            return Ok(None);
        };
        match attr_to_f64(value) {
            Ok(v) => Ok(Some(v)),
            Err(problem) => Err(self.bad(&format!("{dataset} attribute {attr}"), problem)),
        }
    }

    /// Reads a numeric scalar attribute of the root group as f64, or `None` when there is none
    /// (banks keep how they were made there).
    pub fn root_f64_attr(&self, attr: &str) -> Result<Option<f64>, H5Error> {
        let attrs = self
            .file
            .root()
            .attrs()
            .map_err(|e| self.decode_error("/", e))?;
        match attrs.get(attr).map(attr_to_f64) {
            None => Ok(None),
            Some(Ok(v)) => Ok(Some(v)),
            Some(Err(problem)) => Err(self.bad(&format!("root attribute {attr}"), problem)),
        }
    }

    /// Reads `name` as a scalar dataset if there is one, else as the attribute after the last
    /// `/` of the dataset before it (`strain/Strain/Xstart`); `None` when neither exists.
    pub fn f64_attr_or_scalar(&self, name: &str) -> Result<Option<f64>, H5Error> {
        if let Some(v) = self.f64_scalar(name)? {
            return Ok(Some(v));
        }
        match name.rsplit_once('/') {
            Some((owner, attr)) if self.has_dataset(owner)? => self.f64_attr(owner, attr),
            _ => Ok(None),
        }
    }

    /// Turns a decoder error about `name` into an [`H5Error`]: a file the decoder cannot make
    /// sense of (a truncated one, usually) is reported as such.
    fn decode_error(&self, name: &str, e: hdf5_pure::Error) -> H5Error {
        match e {
            hdf5_pure::Error::Io(source) => H5Error::Io {
                path: self.path.clone(),
                source,
            },
            other => not_hdf5(&self.path, format!("reading {name}: {other}")),
        }
    }

    /// An [`H5Error::Bad`] about `name`.
    fn bad(&self, name: &str, problem: String) -> H5Error {
        H5Error::Bad {
            path: self.path.clone(),
            name: name.to_string(),
            problem,
        }
    }
}

/// Reads a 1-D float64 or float32 dataset of `path` as f64 (see [`H5Reader::f64_dataset`]).
pub fn read_f64_dataset(path: &Path, name: &str) -> Result<Vec<f64>, H5Error> {
    H5Reader::open(path)?.f64_dataset(name)
}

/// Reads a numeric scalar dataset of `path`, or the attribute named by the last component of
/// `name` on the dataset before it (see [`H5Reader::f64_attr_or_scalar`]); `None` when neither
/// exists.
pub fn read_f64_attr_or_scalar(path: &Path, name: &str) -> Result<Option<f64>, H5Error> {
    H5Reader::open(path)?.f64_attr_or_scalar(name)
}

/// One column of a table written by [`write_columns`], borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    /// Float64 values (SNRs, times).
    F64(&'a [f64]),
    /// Unsigned 64-bit integers (sample indices, template indices).
    U64(&'a [u64]),
    /// Signed 64-bit integers.
    I64(&'a [i64]),
}

impl Column<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::F64(v) => v.len(),
            Column::U64(v) => v.len(),
            Column::I64(v) => v.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes a table as an HDF5 file: one 1-D dataset per column at the root (contiguous,
/// little-endian), and scalar float64 attributes on the root group.
///
/// Why columns and not a compound dataset: `h5py`/pandas users read `f["snr"][:]` directly,
/// and PyCBC's trigger files are laid out the same way. Columns may be empty (a search with no
/// triggers still writes a valid file). The file is written to a temporary name next to `path`
/// and renamed, so a failure never leaves half a file under `path`.
pub fn write_columns(
    path: &Path,
    columns: &[(&str, Column<'_>)],
    attrs: &[(&str, f64)],
) -> Result<(), H5Error> {
    let write_err = |detail: String| H5Error::Write {
        path: path.to_path_buf(),
        detail,
    };
    let mut names: Vec<&str> = Vec::new();
    for name in columns
        .iter()
        .map(|(n, _)| *n)
        .chain(attrs.iter().map(|(n, _)| *n))
    {
        if name.is_empty() || name == "." || name.contains('/') {
            return Err(write_err(format!(
                "{name:?} is not a valid name (empty, \".\" or containing '/')"
            )));
        }
    }
    for (name, _) in columns {
        if names.contains(name) {
            return Err(write_err(format!("two columns are named {name:?}")));
        }
        names.push(name);
    }
    let mut builder = FileBuilder::new();
    for (name, column) in columns {
        let ds = builder.create_dataset(name);
        match column {
            Column::F64(v) => ds.with_f64_data(v),
            Column::U64(v) => ds.with_u64_data(v),
            Column::I64(v) => ds.with_i64_data(v),
        };
        ds.with_shape(&[column.len() as u64]);
    }
    for (name, value) in attrs {
        builder.set_attr(name, AttrValue::F64(*value));
    }
    let bytes = builder.finish().map_err(|e| write_err(e.to_string()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &bytes).map_err(|e| write_err(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        write_err(e.to_string())
    })
}

/// An [`H5Error::NotHdf5`] for `path`.
fn not_hdf5(path: &Path, detail: impl std::fmt::Display) -> H5Error {
    let detail = detail.to_string();
    // The decoder's words for a file that ends too early; say it plainly.
    let detail = if detail.contains("EOF") || detail.contains("out of bounds") {
        format!("truncated? {detail}")
    } else {
        detail
    };
    H5Error::NotHdf5 {
        path: path.to_path_buf(),
        detail,
    }
}

/// Whether a decoder error means "no object of that name" (as opposed to a broken file).
fn is_not_found(e: &hdf5_pure::Error) -> bool {
    matches!(
        e,
        hdf5_pure::Error::Format(FormatError::PathNotFound(_)) | hdf5_pure::Error::NotAGroup(_)
    )
}

/// The only element of a one-element read, `None` for an empty one.
fn first<T: Copy>(v: Vec<T>) -> Option<T> {
    v.first().copied()
}

/// An integer as f64 when the conversion is exact (|v| ≤ 2^53), else `None`.
fn int_to_f64(v: i128) -> Option<f64> {
    (v.unsigned_abs() <= 1u128 << 53).then_some(v as f64)
}

/// A numeric scalar attribute (or a one-element array) as f64.
fn attr_to_f64(value: &AttrValue) -> Result<f64, String> {
    let int = |v: i128| int_to_f64(v).ok_or_else(|| format!("integer {v} is too large"));
    let one = |n: usize| format!("expected a scalar, found {n} values");
    match value {
        AttrValue::F64(v) => Ok(*v),
        AttrValue::F32(v) => Ok(f64::from(*v)),
        AttrValue::I8(v) => int(i128::from(*v)),
        AttrValue::I16(v) => int(i128::from(*v)),
        AttrValue::I32(v) => int(i128::from(*v)),
        AttrValue::I64(v) => int(i128::from(*v)),
        AttrValue::U8(v) => int(i128::from(*v)),
        AttrValue::U16(v) => int(i128::from(*v)),
        AttrValue::U32(v) => int(i128::from(*v)),
        AttrValue::U64(v) => int(i128::from(*v)),
        AttrValue::F64Array(v) if v.len() == 1 => Ok(v[0]),
        AttrValue::F64Array(v) => Err(one(v.len())),
        AttrValue::F32Array(v) if v.len() == 1 => Ok(f64::from(v[0])),
        AttrValue::F32Array(v) => Err(one(v.len())),
        AttrValue::I64Array(v) if v.len() == 1 => int(i128::from(v[0])),
        AttrValue::I64Array(v) => Err(one(v.len())),
        _ => Err("expected a number".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_conversions() {
        assert_eq!(attr_to_f64(&AttrValue::I64(1126259446)), Ok(1126259446.0));
        assert_eq!(attr_to_f64(&AttrValue::F32(0.5)), Ok(0.5));
        assert_eq!(attr_to_f64(&AttrValue::F64Array(vec![2.0])), Ok(2.0));
        assert!(attr_to_f64(&AttrValue::F64Array(vec![1.0, 2.0])).is_err());
        assert!(attr_to_f64(&AttrValue::U64(u64::MAX)).is_err());
        assert!(attr_to_f64(&AttrValue::String("x".into())).is_err());
    }

    #[test]
    fn column_names_are_checked() {
        let dir = std::env::temp_dir().join(format!("chirpfarm-h5-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.h5");
        let x = [1.0];
        for bad in ["", "a/b", "."] {
            let e = write_columns(&p, &[(bad, Column::F64(&x))], &[]).unwrap_err();
            assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
        }
        let e =
            write_columns(&p, &[("a", Column::F64(&x)), ("a", Column::F64(&x))], &[]).unwrap_err();
        assert!(e.to_string().contains("two columns"), "{e}");
        assert!(!p.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
