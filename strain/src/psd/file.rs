//! PSDs from text files: reading them, and putting them on the segment grid the way
//! `pycbc.psd.from_txt(..., is_asd_file=False)` does.

use std::path::Path;

use super::{numpy_interp, LineProblem, PsdError};

/// Reads a two-column text PSD file (frequency Hz, one-sided PSD; '#' comments, blank lines) — errors name file and line (not a number, non-increasing frequency, negative/NaN value).
///
/// Columns are separated by white space or commas; anything after `#` is a comment. Like
/// PyCBC's `from_txt`, negative or non-finite numbers are refused (PyCBC names only the file;
/// this names the line too). Returns (frequencies, values).
pub fn read_psd_file(path: &Path) -> Result<(Vec<f64>, Vec<f64>), PsdError> {
    let text = std::fs::read_to_string(path).map_err(|source| PsdError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |line: usize, problem: LineProblem| PsdError::Line {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let (mut freqs, mut values) = (Vec::new(), Vec::new());
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("");
        let fields: Vec<&str> = content
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() != 2 {
            return Err(bad(
                line,
                LineProblem::Columns {
                    found: fields.len(),
                },
            ));
        }
        let parse = |s: &str| {
            s.parse::<f64>().map_err(|_| {
                bad(
                    line,
                    LineProblem::NotANumber {
                        field: s.to_string(),
                    },
                )
            })
        };
        let (freq, value) = (parse(fields[0])?, parse(fields[1])?);
        if !(freq.is_finite() && freq >= 0.0) {
            return Err(bad(line, LineProblem::BadFrequency { freq }));
        }
        if let Some(&previous) = freqs.last() {
            if freq <= previous {
                return Err(bad(line, LineProblem::NonIncreasing { freq, previous }));
            }
        }
        if !(value.is_finite() && value >= 0.0) {
            return Err(bad(line, LineProblem::BadValue { freq, value }));
        }
        freqs.push(freq);
        values.push(value);
    }
    if freqs.is_empty() {
        return Err(PsdError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    Ok((freqs, values))
}

/// The file's PSD on the segment grid: when the file's frequencies ARE the grid (k*delta_f for k=0..len, within 1e-9 relative) the values are used as they are (bit for bit); otherwise interpolated as `pycbc.psd.from_txt(..., is_asd_file=False)` does (read its code: log-log interpolation, low_freq_cutoff handling). Errors if the file does not cover [f_low, (len-1)*delta_f].
///
/// The exact-grid case is for PSDs written by another tool on the same grid: re-interpolating
/// them would only add rounding. (A file that continues past the grid's last bin but matches it
/// up to there counts as on the grid.) The interpolating case follows PyCBC's
/// `from_numpy_arrays` exactly: k_min = ⌊f_low/Δf⌋; the table starts at the last point below
/// k_min·Δf — or at f_low itself when the table contains f_low (then bin k_min, if it lies
/// below f_low, takes the value at f_low); `numpy.interp` of ln S over ln f at ln(k·Δf) for
/// k ≥ k_min, exponentiated; zero below k_min. Where PyCBC only warns and shortens the series
/// (a table ending below (len−1)·Δf), this refuses.
pub fn psd_on_grid(
    freqs: &[f64],
    values: &[f64],
    len: usize,
    delta_f: f64,
    f_low: f64,
) -> Result<Vec<f64>, PsdError> {
    if freqs.len() != values.len() {
        return Err(PsdError::Table(format!(
            "{} frequencies but {} values",
            freqs.len(),
            values.len()
        )));
    }
    if freqs.len() < 2 {
        return Err(PsdError::Table(format!(
            "{} point(s); interpolation needs at least 2",
            freqs.len()
        )));
    }
    if let Some(i) = (1..freqs.len())
        .find(|&i| freqs[i].partial_cmp(&freqs[i - 1]) != Some(std::cmp::Ordering::Greater))
    {
        return Err(PsdError::Table(format!(
            "frequency {} Hz at row {i} does not increase (previous {} Hz)",
            freqs[i],
            freqs[i - 1]
        )));
    }
    if let Some(i) = (0..values.len()).find(|&i| !(values[i].is_finite() && values[i] >= 0.0)) {
        return Err(PsdError::Table(format!(
            "value {} at {} Hz (row {i}) is negative or not finite",
            values[i], freqs[i]
        )));
    }
    let on_grid = |k: usize| {
        let want = k as f64 * delta_f;
        (freqs[k] - want).abs() <= 1e-9 * want.max(delta_f)
    };
    if freqs.len() >= len && (0..len).all(on_grid) {
        return Ok(values[..len].to_vec());
    }

    let need_high = len.saturating_sub(1) as f64 * delta_f;
    let (first, last) = (freqs[0], freqs[freqs.len() - 1]);
    if first > f_low || last < need_high {
        return Err(PsdError::NotCovered {
            first,
            last,
            need_low: f_low,
            need_high,
        });
    }
    let kmin = (f_low / delta_f) as usize;
    let flow = kmin as f64 * delta_f;
    let mut start = if first == f_low {
        0
    } else {
        freqs.partition_point(|&f| f < flow).saturating_sub(1)
    };
    if start + 1 < freqs.len() && freqs[start + 1] == f_low {
        start += 1;
    }
    let flog: Vec<f64> = freqs[start..].iter().map(|f| f.ln()).collect();
    let slog: Vec<f64> = values[start..].iter().map(|v| v.ln()).collect();
    Ok((0..len)
        .map(|k| {
            if k < kmin {
                0.0
            } else {
                numpy_interp((k as f64 * delta_f).ln(), &flog, &slog).exp()
            }
        })
        .collect())
}
