//! The noise spectrum a bank is built for: the analytic aLIGO curve or a PSD file.
//!
//! Placement and checks need S(f) at arbitrary frequencies (a log-spaced quadrature grid for
//! the metric, a uniform grid for exact matches), not on one segment's grid, so a file is kept
//! as its table and interpolated linearly in (ln f, ln S), as `pycbc.psd.from_txt` does.

use crate::BankError;
use std::path::Path;

/// A one-sided PSD S(f), Hz⁻¹, evaluable anywhere inside its table.
#[derive(Debug, Clone)]
pub enum Noise {
    /// physics.md §3.3, Ajith 2011's fit to the aLIGO design curve (`--psd aligo`).
    Aligo,
    /// A two-column text file (frequency Hz, PSD), as ln f and ln S for interpolation.
    Table {
        /// Where it came from, for messages.
        name: String,
        /// ln of the frequencies, increasing.
        ln_f: Vec<f64>,
        /// ln of the PSD values.
        ln_s: Vec<f64>,
    },
}

impl Noise {
    /// `aligo`, or a PSD file (read with `chirpfarm-strain`'s reader: errors name file and line).
    pub fn parse(spec: &str) -> Result<Noise, BankError> {
        if spec == "aligo" {
            return Ok(Noise::Aligo);
        }
        let path = Path::new(spec);
        let (freqs, values) = chirpfarm_strain::psd::read_psd_file(path)
            .map_err(|e| BankError::Input(format!("--psd: {e}")))?;
        if freqs.len() < 2 {
            return Err(BankError::Input(format!(
                "--psd: {spec}: at least 2 lines are needed to interpolate"
            )));
        }
        Ok(Noise::Table {
            name: spec.to_string(),
            ln_f: freqs.iter().map(|f| f.ln()).collect(),
            ln_s: values.iter().map(|s| s.ln()).collect(),
        })
    }

    /// S(f); for a table, the log-log interpolation (NaN outside the table, caught by
    /// [`Noise::check_band`]).
    pub fn psd(&self, f: f64) -> f64 {
        match self {
            Noise::Aligo => chirpfarm_strain::psd::aligo(f),
            Noise::Table { ln_f, ln_s, .. } => {
                let x = f.ln();
                let last = ln_f.len() - 1;
                if !(x >= ln_f[0] && x <= ln_f[last]) {
                    return f64::NAN;
                }
                let j = ln_f.partition_point(|&v| v <= x).clamp(1, last);
                let t = (x - ln_f[j - 1]) / (ln_f[j] - ln_f[j - 1]);
                (ln_s[j - 1] + t * (ln_s[j] - ln_s[j - 1])).exp()
            }
        }
    }

    /// Checks that S is finite and positive across [f_low, f_high] (sampled every 1/8 Hz), so
    /// nothing downstream divides by zero or NaN; the error names the first bad frequency.
    pub fn check_band(&self, f_low: f64, f_high: f64) -> Result<(), BankError> {
        let n = ((f_high - f_low) * 8.0).ceil() as usize;
        for i in 0..=n {
            let f = (f_low + i as f64 / 8.0).min(f_high);
            let s = self.psd(f);
            if !(s.is_finite() && s > 0.0) {
                return Err(BankError::Input(format!(
                    "--psd {}: S({f} Hz) = {s}; the PSD must be finite and positive from --f-low {f_low} to --f-high {f_high} Hz",
                    self.name()
                )));
            }
        }
        Ok(())
    }

    /// `aligo` or the file name.
    pub fn name(&self) -> &str {
        match self {
            Noise::Aligo => "aligo",
            Noise::Table { name, .. } => name,
        }
    }
}
