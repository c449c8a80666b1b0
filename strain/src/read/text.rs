//! Text strain files: one column (strain; `--sample-rate` and `--gps-start` required) or two
//! (`time strain`: the rate and start come from the times). Whitespace or commas separate the
//! columns; `#` comment lines and blank lines are skipped. Every error names its line.
//!
//! Times are absolute GPS seconds (about 1.1e9), where an f64 only resolves 2.4e-7 s and a
//! `%.17g` string 1e-7 s — a thousandth of a sample at 4096 Hz. So the rate is estimated over
//! the whole span, `(n − 1) / (t_last − t_0)`, and snapped to an integer only when it is within
//! that resolution of one; each step must be within `1e-6·Δt` plus that resolution of the
//! median step `Δt` (a stricter "within 1e-6·Δt of the first step" would refuse every GPS-stamped file).

use super::{
    check_agrees, not_finite, required_options, snap_rate, Format, ReadError, ReadOptions, Strain,
};
use chirpfarm_core::data::MAX_DATA_SAMPLES;
use std::io::BufRead;
use std::path::Path;

/// What was read from the data lines.
#[derive(Default)]
struct Columns {
    /// The strain column.
    samples: Vec<f64>,
    /// The time column (two-column files), one per sample.
    times: Vec<f64>,
    /// The line of each sample (two-column files: for the uniform-step error).
    lines: Vec<u64>,
    /// The finest decimal quantum among the time strings (1e-7 for "1126259446.0002441").
    time_quantum: f64,
}

/// Reads a one- or two-column text file.
pub(super) fn read(path: &Path, opts: &ReadOptions) -> Result<Strain, ReadError> {
    let file = std::fs::File::open(path).map_err(|e| ReadError::io(path, e))?;
    let cols = read_columns(path, std::io::BufReader::new(file), opts)?;
    if cols.times.is_empty() {
        let (sample_rate, gps_start) = required_options(path, Format::Text, opts)?;
        return Ok(Strain {
            samples: cols.samples,
            sample_rate,
            gps_start,
        });
    }
    let (sample_rate, gps_start) = rate_from_times(path, &cols, opts)?;
    check_agrees(path, opts, sample_rate, gps_start)?;
    Ok(Strain {
        samples: cols.samples,
        sample_rate,
        gps_start,
    })
}

/// Parses every data line: numbers, column count, finite samples, the sample limit.
fn read_columns(
    path: &Path,
    mut reader: impl BufRead,
    opts: &ReadOptions,
) -> Result<Columns, ReadError> {
    let mut cols = Columns {
        time_quantum: f64::INFINITY,
        ..Columns::default()
    };
    let mut width: Option<(usize, u64)> = None; // (columns, first data line)
    let mut raw = Vec::new();
    let mut line_no = 0u64;
    loop {
        raw.clear();
        let read = reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| ReadError::io(path, e))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        let at = format!("line {line_no}: ");
        let line = std::str::from_utf8(&raw)
            .map_err(|_| ReadError::invalid(path, &at, "not text (invalid UTF-8)"))?
            .trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = if line.contains(',') {
            line.split(',').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let (n_cols, first_line) = *width.get_or_insert((fields.len(), line_no));
        if fields.len() != n_cols {
            return Err(ReadError::invalid(
                path,
                &at,
                format!(
                    "{} columns, but line {first_line} has {n_cols}",
                    fields.len()
                ),
            ));
        }
        if !(1..=2).contains(&n_cols) {
            return Err(ReadError::invalid(
                path,
                &at,
                format!("{n_cols} columns: expected one (strain) or two (time strain)"),
            ));
        }
        if n_cols == 1 && cols.samples.is_empty() {
            // Fail before reading a large file when the options it needs are missing.
            required_options(path, Format::Text, opts)?;
        }
        if cols.samples.len() as u64 >= MAX_DATA_SAMPLES {
            return Err(ReadError::invalid(
                path,
                &at,
                format!("more than the limit of {MAX_DATA_SAMPLES} samples"),
            ));
        }
        let number = |s: &str| {
            s.parse::<f64>()
                .map_err(|_| ReadError::invalid(path, &at, format!("{s:?} is not a number")))
        };
        let value = number(fields[n_cols - 1])?;
        if !value.is_finite() {
            return Err(not_finite(
                path,
                Some(line_no),
                cols.samples.len() as u64,
                value,
            ));
        }
        if n_cols == 2 {
            let time = number(fields[0])?;
            if !time.is_finite() {
                return Err(ReadError::invalid(
                    path,
                    &at,
                    format!("time {time} is not finite"),
                ));
            }
            cols.times.push(time);
            cols.lines.push(line_no);
            cols.time_quantum = cols.time_quantum.min(decimal_quantum(fields[0]));
        }
        cols.samples.push(value);
    }
    Ok(cols)
}

/// The sample rate and GPS start of a two-column file, with the steps checked uniform.
fn rate_from_times(
    path: &Path,
    cols: &Columns,
    opts: &ReadOptions,
) -> Result<(f64, f64), ReadError> {
    let t = &cols.times;
    let t0 = t[0];
    let n = t.len();
    if n == 1 {
        // No step to measure: the option, if any, is the rate.
        let rate = opts.sample_rate.ok_or_else(|| {
            ReadError::invalid(
                path,
                format!("line {}: ", cols.lines[0]),
                "only one sample: the sample rate cannot come from the times, pass --sample-rate",
            )
        })?;
        return Ok((rate, t0));
    }
    let span = t[n - 1] - t0;
    if span <= 0.0 {
        return Err(ReadError::invalid(
            path,
            format!("line {}: ", cols.lines[n - 1]),
            format!("the last time {} is not after the first {t0}", t[n - 1]),
        ));
    }
    // The reference step is the median step: one gap or one shifted time does not move it, so
    // the first step that differs from it is the line to fix.
    let mut steps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let mid = steps.len() / 2;
    let step = *steps.select_nth_unstable_by(mid, f64::total_cmp).1;
    drop(steps);
    // Resolution of one time value: the f64 spacing at its magnitude plus the last decimal
    // digit written (but never more than 1% of a step: "0 1 2" are exact integers, not ±0.5);
    // a difference of two times is good to twice that.
    let ulp = |x: f64| f64::EPSILON * x.abs().max(f64::MIN_POSITIVE);
    let resolution = 2.0 * (ulp(t0).max(ulp(t[n - 1])) + cols.time_quantum.min(0.01 * step));
    let tolerance = 1e-6 * step + resolution;
    for i in 1..n {
        let d = t[i] - t[i - 1];
        if (d - step).abs() > tolerance {
            return Err(ReadError::invalid(
                path,
                format!("line {}: ", cols.lines[i]),
                format!(
                    "the time step {d} s (from the previous sample) differs from the usual step {step} s: times must be uniformly spaced"
                ),
            ));
        }
    }
    let rate = snap_rate((n - 1) as f64 / span, resolution / span + 1e-9);
    Ok((rate, t0))
}

/// The value of the last decimal digit written in a number ("1.25" → 0.01, "3e-3" → 0.001,
/// "1126259446" → 1): how finely the string resolves its value.
fn decimal_quantum(s: &str) -> f64 {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let decimals = mantissa
        .split_once('.')
        .map(|(_, frac)| frac.len() as i32)
        .unwrap_or(0);
    10f64.powi(exponent - decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, opts: &ReadOptions) -> Result<Strain, ReadError> {
        let path = Path::new("t.txt");
        let cols = read_columns(path, text.as_bytes(), opts)?;
        if cols.times.is_empty() {
            let (sample_rate, gps_start) = required_options(path, Format::Text, opts)?;
            return Ok(Strain {
                samples: cols.samples,
                sample_rate,
                gps_start,
            });
        }
        let (sample_rate, gps_start) = rate_from_times(path, &cols, opts)?;
        Ok(Strain {
            samples: cols.samples,
            sample_rate,
            gps_start,
        })
    }

    fn given() -> ReadOptions {
        ReadOptions {
            sample_rate: Some(16.0),
            gps_start: Some(5.0),
            format: None,
        }
    }

    #[test]
    fn quanta() {
        assert_eq!(decimal_quantum("1.25"), 0.01);
        assert_eq!(decimal_quantum("3e-3"), 0.001);
        assert_eq!(decimal_quantum("1126259446"), 1.0);
        assert_eq!(decimal_quantum("1.5E2"), 10.0);
    }

    #[test]
    fn one_and_two_columns() {
        let s = parse("# c\n\n1\r\n2\n  3  \n", &given()).unwrap();
        assert_eq!(
            (s.samples, s.sample_rate, s.gps_start),
            (vec![1.0, 2.0, 3.0], 16.0, 5.0)
        );
        let s = parse("10 1\n10.25\t2\n3\n", &ReadOptions::default());
        assert!(s
            .unwrap_err()
            .to_string()
            .contains("line 3: 1 columns, but line 1 has 2"));
        let s = parse("10 1\n10.25 2\n10.5 3\n", &ReadOptions::default()).unwrap();
        assert_eq!(
            (s.samples, s.sample_rate, s.gps_start),
            (vec![1.0, 2.0, 3.0], 4.0, 10.0)
        );
        let s = parse("10, 1\n10.25 ,2\n", &ReadOptions::default()).unwrap();
        assert_eq!(s.sample_rate, 4.0);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("1\n2\nnan\n", given(), "t.txt: line 3: sample 2 is NaN"),
            ("1\n-inf\n", given(), "t.txt: line 2: sample 1 is infinite"),
            ("1\n2x\n", given(), "t.txt: line 2: \"2x\" is not a number"),
            ("1 2 3\n", given(), "t.txt: line 1: 3 columns: expected one"),
            (
                "1\n",
                ReadOptions::default(),
                "t.txt: a one-column text file has no sample rate",
            ),
            (
                "0 1\n1 2\n3 3\n4 4\n",
                ReadOptions::default(),
                "t.txt: line 3: the time step 2 s",
            ),
            (
                "0 1\n",
                ReadOptions::default(),
                "t.txt: line 1: only one sample",
            ),
            (
                "2 1\n1 2\n",
                ReadOptions::default(),
                "t.txt: line 2: the last time 1 is not after",
            ),
            (
                "x 1\n",
                ReadOptions::default(),
                "t.txt: line 1: \"x\" is not a number",
            ),
            (
                "inf 1\n",
                ReadOptions::default(),
                "t.txt: line 1: time inf is not finite",
            ),
        ];
        for (text, opts, want) in cases {
            let e = parse(text, &opts).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
        let e = read_columns(Path::new("t.txt"), &b"1\n\xff\n"[..], &given())
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "t.txt: line 2: not text (invalid UTF-8)");
    }

    #[test]
    fn gps_times_at_4096_hz() {
        // %.17g of absolute GPS times resolves 1e-7 s: the rate is still exactly 4096.
        let text: String = (0..64)
            .map(|i| format!("{:.17e} {i}\n", 1126259446.0 + i as f64 / 4096.0))
            .collect();
        let s = parse(&text, &ReadOptions::default()).unwrap();
        assert_eq!((s.sample_rate, s.gps_start), (4096.0, 1126259446.0));
    }
}
