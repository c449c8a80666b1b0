//! NumPy `.npy` files: a 1-D little-endian float64 (`<f8`) or float32 (`<f4`) array, header
//! versions 1.0, 2.0 and 3.0.
//!
//! Why our own parser and not a crate: the format is a magic string, a length and one line of
//! Python dict literal (<https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>);
//! parsing it here keeps every error in our words, with the file name, and lets the sample count
//! be checked against the limit before the data is read.

use super::{check_finite, required_options, Format, ReadError, ReadOptions, Strain};
use chirpfarm_core::data::MAX_DATA_SAMPLES;
use std::io::Read;
use std::path::Path;

/// The six bytes every `.npy` file starts with.
const MAGIC: &[u8] = b"\x93NUMPY";

/// A header longer than this is not a real `.npy` header (numpy's are 128 bytes or so); the
/// limit keeps a corrupted length from allocating gigabytes.
const MAX_HEADER: usize = 1 << 20;

/// The dtype, fortran order and shape of a `.npy` header.
#[derive(Debug, PartialEq)]
struct Header {
    /// Bytes per element: 8 (`<f8`) or 4 (`<f4`).
    item_size: usize,
    /// The array's shape.
    shape: Vec<u64>,
}

/// Reads a `.npy` file; `--sample-rate` and `--gps-start` are required.
pub(super) fn read(path: &Path, opts: &ReadOptions) -> Result<Strain, ReadError> {
    let (sample_rate, gps_start) = required_options(path, Format::Npy, opts)?;
    let mut file = std::fs::File::open(path).map_err(|e| ReadError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| ReadError::io(path, e))?.len();
    let (header, data_offset) = read_header(&mut file, path)?;
    let n = match header.shape.as_slice() {
        [n] => *n,
        other => {
            return Err(ReadError::invalid(
                path,
                "header: ",
                format!("the array must be 1-D, found shape {}", shape_text(other)),
            ))
        }
    };
    if n > MAX_DATA_SAMPLES {
        return Err(ReadError::invalid(
            path,
            "header: ",
            format!("{n} samples is more than the limit of {MAX_DATA_SAMPLES}"),
        ));
    }
    let data_len = n * header.item_size as u64;
    let available = file_len.saturating_sub(data_offset);
    if available < data_len {
        return Err(ReadError::invalid(
            path,
            "",
            format!(
                "truncated: the header says {n} samples ({data_len} bytes) but only {available} bytes of data follow"
            ),
        ));
    }
    let samples = read_samples(&mut file, path, n as usize, header.item_size)?;
    check_finite(path, &samples)?;
    Ok(Strain {
        samples,
        sample_rate,
        gps_start,
    })
}

/// A shape as numpy prints it: `(4, 8)`, `(5,)`, `()`.
fn shape_text(shape: &[u64]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// Reads the magic, version and header; returns the parsed header and the data's offset.
fn read_header(file: &mut impl Read, path: &Path) -> Result<(Header, u64), ReadError> {
    let bad = |problem: String| ReadError::invalid(path, "header: ", problem);
    let mut start = [0u8; 8];
    read_exact(
        file,
        &mut start,
        path,
        "not a .npy file (shorter than its signature)",
    )?;
    if &start[..6] != MAGIC {
        return Err(ReadError::invalid(
            path,
            "",
            "not a .npy file (no \\x93NUMPY signature)",
        ));
    }
    let (major, minor) = (start[6], start[7]);
    let len_bytes = match major {
        1 => 2,
        2 | 3 => 4,
        _ => return Err(bad(format!("unknown .npy version {major}.{minor}"))),
    };
    let mut len = [0u8; 4];
    read_exact(file, &mut len[..len_bytes], path, "truncated header")?;
    let header_len = u32::from_le_bytes(len) as usize;
    if header_len > MAX_HEADER {
        return Err(bad(format!("header length {header_len} is not plausible")));
    }
    let mut text = vec![0u8; header_len];
    read_exact(file, &mut text, path, "truncated header")?;
    let text = std::str::from_utf8(&text).map_err(|_| bad("the header is not text".into()))?;
    let header = parse_header(text).map_err(bad)?;
    Ok((header, (8 + len_bytes + header_len) as u64))
}

/// `read_exact` with a clear error when the file ends early.
fn read_exact(
    file: &mut impl Read,
    buf: &mut [u8],
    path: &Path,
    short: &str,
) -> Result<(), ReadError> {
    file.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ReadError::invalid(path, "", short),
        _ => ReadError::io(path, e),
    })
}

/// Parses the header dict: `{'descr': '<f8', 'fortran_order': False, 'shape': (512,), }`.
fn parse_header(text: &str) -> Result<Header, String> {
    let descr = value_after(text, "descr")?;
    let descr = descr
        .strip_prefix(['\'', '"'])
        .and_then(|d| d.split(['\'', '"']).next())
        .ok_or_else(|| "the dtype ('descr') is not a string".to_string())?;
    let item_size = match descr {
        "<f8" => 8,
        "<f4" => 4,
        ">f8" | ">f4" => {
            return Err(format!(
                "big-endian data ({descr:?}) is not supported: save it as little-endian (arr.astype('<f8'))"
            ))
        }
        other => {
            return Err(format!(
                "dtype {other:?} is not float64 ('<f8') or float32 ('<f4')"
            ))
        }
    };
    // The order does not matter for a 1-D array; it is only parsed to reject a bad header.
    let fortran = value_after(text, "fortran_order")?;
    if !(fortran.starts_with("False") || fortran.starts_with("True")) {
        return Err("'fortran_order' is not True or False".into());
    }
    let shape = value_after(text, "shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| "the shape is not a tuple".to_string())?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<u64>()
                .map_err(|_| format!("the shape ({inner}) is not a tuple of sizes"))
        })
        .collect::<Result<Vec<u64>, String>>()?;
    Ok(Header { item_size, shape })
}

/// The text after `'key':` in the header dict, trimmed at the start.
fn value_after<'a>(text: &'a str, key: &str) -> Result<&'a str, String> {
    for quote in ['\'', '"'] {
        let pattern = format!("{quote}{key}{quote}");
        if let Some(i) = text.find(&pattern) {
            let rest = text[i + pattern.len()..].trim_start();
            if let Some(rest) = rest.strip_prefix(':') {
                return Ok(rest.trim_start());
            }
        }
    }
    Err(format!("no '{key}' in the header"))
}

/// Reads `n` little-endian floats of `item_size` bytes, a block at a time (no second copy of
/// the whole file in memory).
fn read_samples(
    file: &mut impl Read,
    path: &Path,
    n: usize,
    item_size: usize,
) -> Result<Vec<f64>, ReadError> {
    let mut samples = Vec::with_capacity(n);
    let mut block = vec![0u8; (1 << 20) / item_size * item_size];
    while samples.len() < n {
        let want = ((n - samples.len()) * item_size).min(block.len());
        let buf = &mut block[..want];
        read_exact(file, buf, path, "truncated data")?;
        if item_size == 8 {
            samples.extend(
                buf.chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
            );
        } else {
            samples.extend(
                buf.chunks_exact(4)
                    .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            );
        }
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let h =
            parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (512,), }").unwrap();
        assert_eq!(
            h,
            Header {
                item_size: 8,
                shape: vec![512]
            }
        );
        let h = parse_header("{\"descr\": \"<f4\", \"fortran_order\": True, \"shape\": (3L, 4L)}")
            .unwrap();
        assert_eq!(
            h,
            Header {
                item_size: 4,
                shape: vec![3, 4]
            }
        );
        let h = parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (), }").unwrap();
        assert!(h.shape.is_empty());
        for (bad, needle) in [
            (
                "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }",
                "not float64",
            ),
            (
                "{'descr': '>f8', 'fortran_order': False, 'shape': (5,), }",
                "big-endian",
            ),
            ("{'descr': '<f8', 'shape': (5,), }", "fortran_order"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (x,), }",
                "shape",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': 5, }",
                "tuple",
            ),
            ("", "descr"),
        ] {
            let e = parse_header(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn truncated_headers_are_errors() {
        let p = Path::new("x.npy");
        for bytes in [
            &b""[..],
            b"\x93NUMPY",
            b"\x93NUMPY\x01\x00\x40",
            b"\x93NUMPY\x01\x00\x40\x00{'d",
        ] {
            let e = read_header(&mut &bytes[..], p).unwrap_err().to_string();
            assert!(
                e.starts_with("x.npy: ") && e.contains("truncated") || e.contains("shorter"),
                "{e}"
            );
        }
        let e = read_header(&mut &b"\x93NUMPY\x09\x00\x00\x00"[..], p).unwrap_err();
        assert!(e.to_string().contains("version 9.0"), "{e}");
    }
}
