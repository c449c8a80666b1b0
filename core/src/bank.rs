//! Template banks: which chirp masses a search filters against.
//!
//! A range bank reproduces `numpy.arange(start, stop, step)` bit for bit: its length is
//! `ceil((stop - start) / step)` and element `i` is `start + i * ((start + step) - start)` — not
//! `start + i * step` (see `shared/physics.md` §1.2: element 40 of the seed bank is
//! `1.2000000000000004`).

use crate::error::SpecError;
use serde::{Deserialize, Serialize};

/// The seed's bank, `numpy.arange(0.8, 1.74, 0.01)`: 94 templates.
pub const SEED_BANK: BankSpec = BankSpec::Range {
    start: 0.8,
    stop: 1.74,
    step: 0.01,
};

/// A template bank, described compactly so it can travel in a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BankSpec {
    /// `numpy.arange(start, stop, step)`: `stop` excluded.
    Range {
        /// First chirp mass.
        start: f64,
        /// Excluded upper end.
        stop: f64,
        /// Spacing; must be positive.
        step: f64,
    },
    /// An explicit list of chirp masses, in bank order.
    List(Vec<f64>),
}

impl BankSpec {
    /// Parses `START:STOP:STEP` (the CLI's `--bank`).
    pub fn parse_range(text: &str) -> Result<BankSpec, SpecError> {
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() != 3 {
            return Err(SpecError::BadRange(text.to_string()));
        }
        let num = |s: &str| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| SpecError::BadRange(text.to_string()))
        };
        Ok(BankSpec::Range {
            start: num(parts[0])?,
            stop: num(parts[1])?,
            step: num(parts[2])?,
        })
    }

    /// Parses the text of a bank file: one chirp mass per line; blank lines and lines starting
    /// with `#` are skipped. A line that is not a number is reported by its 1-based number.
    pub fn parse_list(text: &str) -> Result<BankSpec, SpecError> {
        let mut masses = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mc = line.parse::<f64>().map_err(|_| SpecError::BadBankLine {
                line: i + 1,
                text: line.to_string(),
            })?;
            masses.push(mc);
        }
        Ok(BankSpec::List(masses))
    }

    /// The number of templates, computed without building the bank (so a huge range can be
    /// rejected cheaply). Errors if the range itself is malformed.
    pub fn len(&self) -> Result<u64, SpecError> {
        match *self {
            BankSpec::List(ref v) => Ok(v.len() as u64),
            BankSpec::Range { start, stop, step } => {
                if !(step.is_finite() && step > 0.0) {
                    return Err(SpecError::BadStep(step));
                }
                if !(start.is_finite() && stop.is_finite()) {
                    return Err(SpecError::BadBounds { start, stop });
                }
                let n = ((stop - start) / step).ceil();
                if n <= 0.0 {
                    Ok(0)
                } else if n >= u64::MAX as f64 {
                    Ok(u64::MAX)
                } else {
                    Ok(n as u64)
                }
            }
        }
    }

    /// Whether the bank has no template (a malformed range counts as empty).
    pub fn is_empty(&self) -> bool {
        self.len().map(|n| n == 0).unwrap_or(true)
    }

    /// Builds and validates the bank: at least one template, at most `max_templates`, every
    /// chirp mass positive and finite.
    pub fn masses(&self, max_templates: u64) -> Result<Vec<f64>, SpecError> {
        let len = self.len()?;
        if len == 0 {
            return Err(SpecError::EmptyBank(self.describe()));
        }
        if len > max_templates {
            return Err(SpecError::BankTooLarge {
                len,
                limit: max_templates,
            });
        }
        let masses = match *self {
            BankSpec::List(ref v) => v.clone(),
            BankSpec::Range { start, step, .. } => {
                let delta = (start + step) - start;
                (0..len).map(|i| start + (i as f64) * delta).collect()
            }
        };
        for &mc in &masses {
            crate::spec::validate_mc(mc)?;
        }
        Ok(masses)
    }

    /// A short human description, e.g. `0.8:1.74:0.01` or `list of 12 masses`.
    pub fn describe(&self) -> String {
        match self {
            BankSpec::Range { start, stop, step } => format!("{start}:{stop}:{step}"),
            BankSpec::List(v) => format!("list of {} masses", v.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_bank_matches_numpy_arange() {
        let m = SEED_BANK.masses(1_000_000).unwrap();
        assert_eq!(m.len(), 94);
        assert_eq!(m[40], 1.2000000000000004);
        assert_eq!(m[93], 1.7300000000000009);
        assert_eq!(m[0], 0.8);
    }

    #[test]
    fn fine_bank_has_940_templates() {
        let b = BankSpec::parse_range("0.8:1.74:0.001").unwrap();
        assert_eq!(b.len().unwrap(), 940);
    }

    #[test]
    fn bad_ranges_are_rejected() {
        assert_eq!(
            BankSpec::parse_range("1:2:0").unwrap().len(),
            Err(SpecError::BadStep(0.0))
        );
        assert!(matches!(
            BankSpec::parse_range("1:2"),
            Err(SpecError::BadRange(_))
        ));
        assert!(matches!(
            BankSpec::parse_range("2:1:0.1").unwrap().masses(10),
            Err(SpecError::EmptyBank(_))
        ));
        assert!(matches!(
            BankSpec::parse_range("0.8:1000:0.0001")
                .unwrap()
                .masses(1_000_000),
            Err(SpecError::BankTooLarge { .. })
        ));
        assert!(matches!(
            BankSpec::List(vec![1.0, -1.0]).masses(10),
            Err(SpecError::BadMc(_))
        ));
    }

    #[test]
    fn bank_file_names_bad_line() {
        let err = BankSpec::parse_list("1.0\n# c\n\n1.2\nabc\n").unwrap_err();
        assert_eq!(
            err,
            SpecError::BadBankLine {
                line: 5,
                text: "abc".into()
            }
        );
        let ok = BankSpec::parse_list("1.0\n1.5\n").unwrap();
        assert_eq!(ok, BankSpec::List(vec![1.0, 1.5]));
    }
}
