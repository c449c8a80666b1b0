//! Injection lists: `--inject mass1=1.4,mass2=1.3,snr=10,time=...`, injection files (CSV with
//! named columns), and the file `chirpfarm simulate` writes beside the data.
//!
//! One format in and out, so the list written by a simulation can be fed back to `simulate`
//! (it reproduces the same data: the written `distance` is used) and to `search --injections`
//! (found/missed, recovered SNR against the written `optimal_snr`).

use super::SimError;
use chirpfarm_core::TemplateParams;
use std::io::Write;
use std::path::Path;

/// Column names an injection file may have (any order; `time`, `mass1`, `mass2` required).
///
/// `snr` and `optimal_snr` are the same quantity (a target when simulating, the expected SNR
/// when searching); `mchirp` is written for people and ignored when read.
pub const INJECTION_COLUMNS: [&str; 10] = [
    "time",
    "mass1",
    "mass2",
    "spin1z",
    "spin2z",
    "coa_phase",
    "snr",
    "optimal_snr",
    "distance",
    "mchirp",
];

/// More injections than this in one list is refused: each costs a full-length waveform.
pub const MAX_INJECTIONS: usize = 10_000;

/// One injection as given (an inline `--inject` spec or one file row), every field checked.
///
/// Why both `snr` and `distance` are optional here: a simulation needs one of them (a row with
/// both uses the distance, so a written list reproduces its data), a search needs only the
/// time and, for the SNR ratio, the expected SNR.
#[derive(Debug, Clone, PartialEq)]
pub struct InjectionRow {
    /// Where it came from, for messages ("bank.csv line 4", "--inject 'mass1=...'").
    pub origin: String,
    /// GPS coalescence time, seconds.
    pub time: f64,
    /// Masses and aligned spins.
    pub params: TemplateParams,
    /// Coalescence phase φ_c, radians (h̃ is multiplied by e^{iφ_c}); default 0.
    pub coa_phase: f64,
    /// Target (or expected) optimal SNR.
    pub snr: Option<f64>,
    /// Luminosity distance, Mpc.
    pub distance: Option<f64>,
}

/// What was injected: the row written to `<out>.injections.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Injected {
    /// GPS coalescence time, seconds.
    pub time: f64,
    /// Masses and aligned spins.
    pub params: TemplateParams,
    /// Coalescence phase, radians.
    pub coa_phase: f64,
    /// Distance in Mpc at which the waveform was injected.
    pub distance: f64,
    /// Its optimal SNR with the simulation's PSD and band, σ_h/D.
    pub optimal_snr: f64,
}

/// Parses one `--inject` value: `key=value` pairs separated by commas, keys from
/// [`INJECTION_COLUMNS`] (`time`, `mass1`, `mass2` required; `snr` or `distance`, not both).
pub fn parse_inject_spec(spec: &str) -> Result<InjectionRow, SimError> {
    let origin = format!("--inject {spec:?}");
    let mut names = Vec::new();
    let mut cells = Vec::new();
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| SimError::Injection(format!("{origin}: {pair:?} is not key=value")))?;
        names.push(k.trim().to_string());
        cells.push(v.trim());
    }
    let cols = columns(&names, &origin)?;
    let row = parse_row(&cols, &cells, origin.clone())?;
    if row.snr.is_some() && row.distance.is_some() {
        return Err(SimError::Injection(format!(
            "{origin}: give snr or distance, not both"
        )));
    }
    Ok(row)
}

/// Which field each column fills.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Time,
    Mass1,
    Mass2,
    Spin1z,
    Spin2z,
    CoaPhase,
    Snr,
    Distance,
    Ignored,
}

/// Maps column names to fields; unknown, repeated or missing required names are errors.
fn columns(names: &[String], origin: &str) -> Result<Vec<Field>, SimError> {
    let mut out = Vec::new();
    for name in names {
        let f = match name.to_ascii_lowercase().as_str() {
            "time" => Field::Time,
            "mass1" => Field::Mass1,
            "mass2" => Field::Mass2,
            "spin1z" => Field::Spin1z,
            "spin2z" => Field::Spin2z,
            "coa_phase" => Field::CoaPhase,
            "snr" | "optimal_snr" => Field::Snr,
            "distance" => Field::Distance,
            "mchirp" => Field::Ignored,
            _ => {
                return Err(SimError::Injection(format!(
                    "{origin}: unknown column {name:?} (known: {})",
                    INJECTION_COLUMNS.join(", ")
                )))
            }
        };
        if f != Field::Ignored && out.contains(&f) {
            return Err(SimError::Injection(format!(
                "{origin}: column {name:?} given twice (snr and optimal_snr are the same column)"
            )));
        }
        out.push(f);
    }
    for (need, name) in [
        (Field::Time, "time"),
        (Field::Mass1, "mass1"),
        (Field::Mass2, "mass2"),
    ] {
        if !out.contains(&need) {
            return Err(SimError::Injection(format!(
                "{origin}: no {name} (an injection needs time, mass1, mass2 and snr or distance)"
            )));
        }
    }
    Ok(out)
}

/// One row's cells (empty cells leave optional fields unset) → a checked [`InjectionRow`].
fn parse_row(cols: &[Field], cells: &[&str], origin: String) -> Result<InjectionRow, SimError> {
    let bad = |m: String| SimError::Injection(format!("{origin}: {m}"));
    if cells.len() != cols.len() {
        return Err(bad(format!(
            "{} values for {} columns",
            cells.len(),
            cols.len()
        )));
    }
    let mut v: [Option<f64>; 8] = [None; 8];
    for (f, cell) in cols.iter().zip(cells) {
        if *f == Field::Ignored || cell.is_empty() {
            continue;
        }
        let x: f64 = cell
            .parse()
            .map_err(|_| bad(format!("{cell:?} is not a number")))?;
        if !x.is_finite() {
            return Err(bad(format!("{cell:?} is not a finite number")));
        }
        v[*f as usize] = Some(x);
    }
    let need = |f: Field, name: &str| v[f as usize].ok_or_else(|| bad(format!("no {name}")));
    let params = TemplateParams {
        mass1: need(Field::Mass1, "mass1")?,
        mass2: need(Field::Mass2, "mass2")?,
        spin1z: v[Field::Spin1z as usize].unwrap_or(0.0),
        spin2z: v[Field::Spin2z as usize].unwrap_or(0.0),
    };
    params.validate().map_err(|e| bad(e.to_string()))?;
    let positive = |f: Field, name: &str| match v[f as usize] {
        Some(x) if x <= 0.0 => Err(bad(format!("{name} must be positive, got {x}"))),
        other => Ok(other),
    };
    Ok(InjectionRow {
        time: need(Field::Time, "time")?,
        params,
        coa_phase: v[Field::CoaPhase as usize].unwrap_or(0.0),
        snr: positive(Field::Snr, "snr")?,
        distance: positive(Field::Distance, "distance")?,
        origin,
    })
}

/// Reads an injection file: blank lines and `#` comments skipped, the first other line names
/// the columns (comma or whitespace separated), then one injection per line.
pub fn read_injection_file(path: &Path) -> Result<Vec<InjectionRow>, SimError> {
    let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let split = |l: &str| -> Vec<String> {
        if l.contains(',') {
            l.split(',').map(|c| c.trim().to_string()).collect()
        } else {
            l.split_whitespace().map(str::to_string).collect()
        }
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let file = path.display();
    let Some((hline, header)) = lines.next() else {
        return Err(SimError::Injection(format!(
            "{file}: no header line (expected column names such as time,mass1,mass2,snr)"
        )));
    };
    let cols = columns(&split(header), &format!("{file} line {hline}"))?;
    let mut rows = Vec::new();
    for (n, line) in lines {
        if rows.len() == MAX_INJECTIONS {
            return Err(SimError::Injection(format!(
                "{file}: more than {MAX_INJECTIONS} injections"
            )));
        }
        let cells = split(line);
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        rows.push(parse_row(&cols, &cells, format!("{file} line {n}"))?);
    }
    if rows.is_empty() {
        return Err(SimError::Injection(format!(
            "{file}: a header but no injections"
        )));
    }
    Ok(rows)
}

/// Writes what was injected as CSV (`# ` + `comment` first, then the header
/// `time,mass1,mass2,spin1z,spin2z,coa_phase,distance,optimal_snr,mchirp`), numbers in their
/// shortest round-trip form, through a temporary file renamed into place.
pub fn write_injection_file(path: &Path, comment: &str, rows: &[Injected]) -> Result<(), SimError> {
    let io = |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut buf = Vec::new();
    let w = |buf: &mut Vec<u8>| -> std::io::Result<()> {
        writeln!(buf, "# {comment}")?;
        writeln!(
            buf,
            "time,mass1,mass2,spin1z,spin2z,coa_phase,distance,optimal_snr,mchirp"
        )?;
        for r in rows {
            let p = &r.params;
            writeln!(
                buf,
                "{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?}",
                r.time,
                p.mass1,
                p.mass2,
                p.spin1z,
                p.spin2z,
                r.coa_phase,
                r.distance,
                r.optimal_snr,
                p.chirp_mass()
            )?;
        }
        Ok(())
    };
    w(&mut buf).map_err(io)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, &buf).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_spec() {
        let r = parse_inject_spec("mass1=1.4,mass2=1.3,snr=10,time=1000000200").unwrap();
        assert_eq!(r.params.mass1, 1.4);
        assert_eq!(r.params.spin1z, 0.0);
        assert_eq!(r.snr, Some(10.0));
        assert_eq!(r.distance, None);
        assert_eq!(r.time, 1_000_000_200.0);
        for (bad, want) in [
            ("mass1=1.4,mass2=1.3,snr=10", "no time"),
            ("mass1=1.4,mass2=1.3,snr=10,time=5,distance=3", "not both"),
            (
                "mass1=1.4,mass2=-1,snr=10,time=5",
                "masses must be positive",
            ),
            ("mass1=1.4,mass2=1,spin1z=1.5,time=5", "spins within"),
            ("mass1=1.4,mass2=1,snr=0,time=5", "snr must be positive"),
            ("mass1=1.4,mass2=1,snr=x,time=5", "not a number"),
            ("mass1=1.4,mas2=1,snr=1,time=5", "unknown column"),
            ("mass1=1.4,mass2", "not key=value"),
        ] {
            let e = parse_inject_spec(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn file_round_trip() {
        let dir = std::env::temp_dir().join(format!("chirpfarm-inj-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("inj.csv");
        let rows = vec![Injected {
            time: 1_000_000_200.123,
            params: TemplateParams {
                mass1: 1.4,
                mass2: 1.3,
                spin1z: 0.1,
                spin2z: -0.2,
            },
            coa_phase: 0.5,
            distance: 123.456,
            optimal_snr: 10.0,
        }];
        write_injection_file(&p, "test", &rows).unwrap();
        let back = read_injection_file(&p).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].time, rows[0].time);
        assert_eq!(back[0].params, rows[0].params);
        assert_eq!(back[0].distance, Some(123.456));
        assert_eq!(back[0].snr, Some(10.0));
        assert_eq!(back[0].coa_phase, 0.5);
        std::fs::write(&p, "time mass1 mass2 snr\n5 1.4 1.3\n").unwrap();
        let e = read_injection_file(&p).unwrap_err().to_string();
        assert!(e.contains("line 2: 3 values for 4 columns"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
