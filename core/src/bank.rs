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
    /// Templates given by their physical parameters (component masses and aligned spins), in
    /// bank order: the 2-D/4-D banks of physical searches. The Newtonian chirp depends only on
    /// the chirp mass of (mass1, mass2); spins enter at higher post-Newtonian orders.
    Params(Vec<TemplateParams>),
}

/// One template's physical parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemplateParams {
    /// Primary mass, solar masses.
    pub mass1: f64,
    /// Secondary mass, solar masses.
    pub mass2: f64,
    /// Dimensionless spin of body 1 along the orbital angular momentum, in [−1, 1].
    pub spin1z: f64,
    /// Dimensionless spin of body 2 along the orbital angular momentum, in [−1, 1].
    pub spin2z: f64,
}

impl TemplateParams {
    /// The chirp mass `(m1 m2)^(3/5) / (m1 + m2)^(1/5)`.
    pub fn chirp_mass(&self) -> f64 {
        (self.mass1 * self.mass2).powf(0.6) / (self.mass1 + self.mass2).powf(0.2)
    }

    /// Checks masses (positive, finite) and spins (finite, |χ| ≤ 1).
    pub fn validate(&self) -> Result<(), SpecError> {
        let m_ok = |m: f64| m.is_finite() && m > 0.0;
        let s_ok = |s: f64| s.is_finite() && s.abs() <= 1.0;
        if m_ok(self.mass1) && m_ok(self.mass2) && s_ok(self.spin1z) && s_ok(self.spin2z) {
            Ok(())
        } else {
            Err(SpecError::BadParams(format!(
                "masses must be positive and finite and spins within [-1, 1], got mass1 {}, mass2 {}, spin1z {}, spin2z {}",
                self.mass1, self.mass2, self.spin1z, self.spin2z
            )))
        }
    }
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

    /// Parses the text of a bank file: one chirp mass per line, or — when the first line that is
    /// not blank or a `#` comment names columns — a table with columns `mc`, or `mass1,mass2`
    /// and optionally `spin1z,spin2z` (comma or whitespace separated, any order). Anything after
    /// `#` is a comment and a leading UTF-8 byte-order mark is skipped (spreadsheets write one).
    /// Every error names the 1-based line.
    pub fn parse_list(text: &str) -> Result<BankSpec, SpecError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim()))
            .filter(|(_, l)| !l.is_empty());
        let Some((header_line, first)) = lines.clone().next() else {
            return Ok(BankSpec::List(Vec::new()));
        };
        let split = |l: &str| -> Vec<String> {
            l.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|f| !f.is_empty())
                .map(|f| f.to_string())
                .collect()
        };
        let header = split(first);
        if header.iter().all(|h| h.parse::<f64>().is_ok()) {
            return Self::parse_masses(lines);
        }
        lines.next();
        let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        for h in &header {
            if !["mc", "mass1", "mass2", "spin1z", "spin2z"]
                .iter()
                .any(|k| h.eq_ignore_ascii_case(k))
            {
                return Err(SpecError::BadParams(format!(
                    "bank file line {header_line}: unknown column {h:?} (expected mc, or mass1, mass2 and optionally spin1z, spin2z)"
                )));
            }
        }
        let number = |line: usize, fields: &[String], i: usize| -> Result<f64, SpecError> {
            let text = fields.get(i).cloned().unwrap_or_default();
            text.parse::<f64>()
                .map_err(|_| SpecError::BadBankLine { line, text })
        };
        let rows = lines.map(|(line, l)| {
            let f = split(l);
            if f.len() != header.len() {
                return Err(SpecError::BadBankLine {
                    line,
                    text: format!("{l} ({} columns, the header has {})", f.len(), header.len()),
                });
            }
            Ok((line, f))
        });
        match (col("mc"), col("mass1"), col("mass2")) {
            (Some(c), None, None) => {
                let v = rows
                    .map(|r| r.and_then(|(line, f)| checked_mc(line, number(line, &f, c)?)))
                    .collect::<Result<Vec<f64>, _>>()?;
                Ok(BankSpec::List(v))
            }
            (None, Some(a), Some(b)) => {
                let (s1, s2) = (col("spin1z"), col("spin2z"));
                let spin = |line, f: &[String], c: Option<usize>| match c {
                    Some(c) => number(line, f, c),
                    None => Ok(0.0),
                };
                let v = rows
                    .map(|r| {
                        let (line, f) = r?;
                        let p = TemplateParams {
                            mass1: number(line, &f, a)?,
                            mass2: number(line, &f, b)?,
                            spin1z: spin(line, &f, s1)?,
                            spin2z: spin(line, &f, s2)?,
                        };
                        p.validate().map_err(|e| {
                            SpecError::BadParams(format!("bank file line {line}: {e}"))
                        })?;
                        Ok(p)
                    })
                    .collect::<Result<Vec<_>, SpecError>>()?;
                Ok(BankSpec::Params(v))
            }
            _ => Err(SpecError::BadParams(format!(
                "bank file line {header_line}: header {header:?}: give either mc, or mass1 and mass2"
            ))),
        }
    }

    /// One chirp mass per line (comments and blank lines already removed).
    fn parse_masses<'a>(
        lines: impl Iterator<Item = (usize, &'a str)>,
    ) -> Result<BankSpec, SpecError> {
        let mut masses = Vec::new();
        for (line, text) in lines {
            let mc = text.parse::<f64>().map_err(|_| SpecError::BadBankLine {
                line,
                text: text.to_string(),
            })?;
            masses.push(checked_mc(line, mc)?);
        }
        Ok(BankSpec::List(masses))
    }

    /// The number of templates, computed without building the bank (so a huge range can be
    /// rejected cheaply). Errors if the range itself is malformed.
    pub fn len(&self) -> Result<u64, SpecError> {
        match *self {
            BankSpec::List(ref v) => Ok(v.len() as u64),
            BankSpec::Params(ref v) => Ok(v.len() as u64),
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
            BankSpec::Params(ref v) => {
                for p in v {
                    p.validate()?;
                }
                v.iter().map(TemplateParams::chirp_mass).collect()
            }
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
            BankSpec::Params(v) => format!("{} templates (mass1, mass2, spin1z, spin2z)", v.len()),
        }
    }

    /// The templates' physical parameters, for a bank given by them.
    pub fn params(&self) -> Option<&[TemplateParams]> {
        match self {
            BankSpec::Params(v) => Some(v),
            _ => None,
        }
    }
}

/// A bank file's chirp mass, refused with its line when not positive and finite.
fn checked_mc(line: usize, mc: f64) -> Result<f64, SpecError> {
    crate::spec::validate_mc(mc)
        .map(|()| mc)
        .map_err(|e| SpecError::BadParams(format!("bank file line {line}: {e}")))
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
    fn bank_files_with_named_columns() {
        let b = BankSpec::parse_list("# a 2-D bank\nmass1,mass2\n1.4,1.4\n2.0, 1.0\n").unwrap();
        let p = b.params().unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[1].mass1, p[1].mass2, p[1].spin1z), (2.0, 1.0, 0.0));
        // (1.4, 1.4) has chirp mass 1.2187707886145701 (physics.md §4).
        let m = b.masses(10).unwrap();
        assert!((m[0] - 1.21877078861457).abs() < 1e-13, "{}", m[0]);
        let b = BankSpec::parse_list("spin2z mass2 mass1 spin1z\n0.1 1.3 1.5 -0.2\n").unwrap();
        assert_eq!(
            b.params().unwrap()[0],
            TemplateParams {
                mass1: 1.5,
                mass2: 1.3,
                spin1z: -0.2,
                spin2z: 0.1
            }
        );
        assert_eq!(
            BankSpec::parse_list("mc\n1.2\n1.3\n").unwrap(),
            BankSpec::List(vec![1.2, 1.3])
        );
        // Errors name the line or the column.
        let e = BankSpec::parse_list("mass1,mass2\n1.4,1.4\n1.4,x\n").unwrap_err();
        assert_eq!(
            e,
            SpecError::BadBankLine {
                line: 3,
                text: "x".into()
            }
        );
        let e = BankSpec::parse_list("mass1,mass2\n1.4\n").unwrap_err();
        assert!(matches!(e, SpecError::BadBankLine { line: 2, .. }), "{e:?}");
        assert!(BankSpec::parse_list("mass1,eta\n1,2\n")
            .unwrap_err()
            .to_string()
            .contains("eta"));
        assert!(BankSpec::parse_list("mass1\n1\n").is_err());
        let bad_spin = BankSpec::parse_list("mass1,mass2,spin1z,spin2z\n1.4,1.4,1.5,0\n");
        assert!(bad_spin.unwrap_err().to_string().contains("spin"));
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
        // A byte-order mark, comments after values, line numbers on every error.
        let b = BankSpec::parse_list("\u{feff}mass1,mass2 # header\n1.4,1.3 # first\n").unwrap();
        assert_eq!(b.params().unwrap()[0].mass2, 1.3);
        assert_eq!(
            BankSpec::parse_list("1.2 # a\n1.3\n").unwrap(),
            BankSpec::List(vec![1.2, 1.3])
        );
        for (text, line) in [
            ("# c\nmass1,mass2\n1.4,-1\n", 3),
            ("\nmass1,foo\n", 2),
            ("mc\n1\n0\n", 3),
            ("1\n\n-2\n", 3),
        ] {
            let e = BankSpec::parse_list(text).unwrap_err().to_string();
            assert!(e.contains(&format!("line {line}")), "{text:?}: {e}");
        }
    }
}
