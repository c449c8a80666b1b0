//! What a search asks for, and the limits and validation rules that apply to it.

use crate::bank::BankSpec;
use crate::data::DataSpec;
use crate::error::SpecError;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Which definition of "SNR" the engine reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SnrConvention {
    /// The seed's `maxsnr`: the real part of the correlation, `(4/Δf)·irfft(conj(s)·t̂)`, maximised
    /// over integer lags, with `t̂` normalised by the seed's `normsq`. Absolute values are the
    /// physical SNR divided by 1024 Hz; only ratios matter.
    #[default]
    Seed,
    /// Phase-maximised `|z|` for white unit noise, equal to PyCBC's `matched_filter` |SNR|.
    Physical,
}

impl SnrConvention {
    /// The name used on the command line and in JSON (`seed` or `physical`).
    pub fn name(self) -> &'static str {
        match self {
            SnrConvention::Seed => "seed",
            SnrConvention::Physical => "physical",
        }
    }

    /// Parses `seed` or `physical`.
    pub fn parse(s: &str) -> Result<SnrConvention, SpecError> {
        match s {
            "seed" => Ok(SnrConvention::Seed),
            "physical" => Ok(SnrConvention::Physical),
            other => Err(SpecError::BadConvention(other.to_string())),
        }
    }
}

/// Which waveform a search's templates are: one type shared by the CLI, the wire conversion and
/// the engine, so "which templates" is decided in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Approximant {
    /// The seed's Newtonian chirp of the chirp mass (physics.md §1); any bank. The default, so
    /// specs and journals written before approximants existed keep their meaning.
    #[default]
    Newtonian,
    /// TaylorF2, 3.5PN phase with aligned spins, equal to LALSuite's (crate
    /// `chirpfarm-waveform`); needs a bank of (mass1, mass2[, spin1z, spin2z]).
    TaylorF2,
}

impl Approximant {
    /// The name used on the command line, on the wire and in JSON (`newtonian`, `taylorf2`).
    pub fn name(self) -> &'static str {
        match self {
            Approximant::Newtonian => "newtonian",
            Approximant::TaylorF2 => "taylorf2",
        }
    }

    /// Whether `bank` describes templates of this approximant: TaylorF2 needs component
    /// masses, which a chirp-mass bank does not have.
    pub fn check_bank(self, bank: &BankSpec) -> Result<(), SpecError> {
        if self == Approximant::TaylorF2 && !matches!(bank, BankSpec::Params(_)) {
            return Err(SpecError::BadParams(
                "--approximant taylorf2 needs component masses: give a --bank-file with \
                 columns mass1,mass2[,spin1z,spin2z] (a chirp-mass bank only describes \
                 newtonian templates; use --approximant newtonian for it)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Parses `newtonian` or `taylorf2` (case-insensitive).
    pub fn parse(s: &str) -> Result<Approximant, SpecError> {
        match s.to_ascii_lowercase().as_str() {
            "newtonian" => Ok(Approximant::Newtonian),
            "taylorf2" => Ok(Approximant::TaylorF2),
            _ => Err(SpecError::BadParams(format!(
                "unknown approximant {s:?}: expected \"newtonian\" or \"taylorf2\""
            ))),
        }
    }
}

/// A signal described by its parameters; the worker builds its frequency series itself, so
/// signals never travel as arrays.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignalSpec {
    /// Chirp mass in solar masses: the signal is the seed's (unnormalised) `template(mc)`.
    pub mc: f64,
    /// Coalescence time of the signal relative to the segment's origin, in seconds (the signal is
    /// multiplied by `exp(-2πi f delay)`); the seed's signals have 0.
    pub delay_seconds: f64,
}

impl SignalSpec {
    /// A seed-style signal: `template(mc)` with no delay.
    pub fn chirp(mc: f64) -> SignalSpec {
        SignalSpec {
            mc,
            delay_seconds: 0.0,
        }
    }

    /// Checks the chirp mass and the delay.
    pub fn validate(&self) -> Result<(), SpecError> {
        validate_mc(self.mc)?;
        if !(self.delay_seconds.is_finite() && self.delay_seconds.abs() <= 32.0) {
            return Err(SpecError::BadDelay(self.delay_seconds));
        }
        Ok(())
    }
}

/// Limits on what one search may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest bank accepted (default 10^6 templates).
    pub max_templates: u64,
    /// Most signals in one search (default 10^4).
    pub max_signals: u64,
    /// Most (signal, template) results in one search (default 10^8, about 1.6 GB of results).
    pub max_results: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_templates: 1_000_000,
            max_signals: 10_000,
            max_results: 100_000_000,
        }
    }
}

/// Everything a search needs: small enough to send over the network as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSpec {
    /// The template bank.
    pub bank: BankSpec,
    /// Signals, in the order the user gave them; results come back in this order.
    pub signals: Vec<SignalSpec>,
    /// Which SNR definition to report (signal searches; a data search always reports the
    /// PSD-weighted phase-maximised |z|).
    pub convention: SnrConvention,
    /// A search over strain data instead of `signals`.
    pub data: Option<DataSpec>,
    /// Which waveform the templates are. TaylorF2 needs a data search and a bank of masses;
    /// absent in older specs and journals, which were all Newtonian.
    #[serde(default)]
    pub approximant: Approximant,
    /// Where TaylorF2 templates end, Hz (`None`: each template's ISCO, LAL's default); must lie
    /// above the data's `f_low`. Newtonian templates ignore it (they run to Nyquist).
    #[serde(default)]
    pub f_final: Option<f64>,
}

impl SearchSpec {
    /// A signal search over `bank` (the seed's kind of search).
    pub fn signals(bank: BankSpec, signals: Vec<SignalSpec>, convention: SnrConvention) -> Self {
        SearchSpec {
            bank,
            signals,
            convention,
            data: None,
            approximant: Approximant::Newtonian,
            f_final: None,
        }
    }

    /// Checks the approximant against the rest of the request: TaylorF2 needs a data search
    /// and a bank of component masses, and `f_final` must be a frequency above `f_low`.
    pub fn validate_waveform(&self) -> Result<(), SpecError> {
        if let Some(f) = self.f_final {
            let f_low = self.data.as_ref().map_or(0.0, |d| d.f_low);
            if !(f.is_finite() && f > f_low) {
                return Err(SpecError::BadParams(format!(
                    "--f-final must be a frequency in Hz above the filter's f_low ({f_low} Hz), got {f}"
                )));
            }
        }
        if self.approximant == Approximant::TaylorF2 && self.data.is_none() {
            return Err(SpecError::BadParams(
                "--approximant taylorf2 is for data searches (--data); signal searches \
                 (--signal-mc, --random-signals) use the seed's newtonian chirp"
                    .into(),
            ));
        }
        self.approximant.check_bank(&self.bank)
    }

    /// Validates the whole request and returns the bank's chirp masses.
    pub fn validate(&self, limits: &Limits) -> Result<Vec<f64>, SpecError> {
        self.validate_waveform()?;
        if let Some(data) = &self.data {
            if !self.signals.is_empty() {
                return Err(SpecError::BadData(
                    "a search is over signals or over data, not both".into(),
                ));
            }
            let segments = data.validate()?.len() as u64;
            let masses = self.bank.masses(limits.max_templates)?;
            let pairs = masses.len() as u64 * segments;
            if pairs > limits.max_results {
                return Err(SpecError::TooManyResults {
                    templates: masses.len() as u64,
                    signals: segments,
                    limit: limits.max_results,
                });
            }
            return Ok(masses);
        }
        if self.signals.is_empty() {
            return Err(SpecError::NoSignals);
        }
        if self.signals.len() as u64 > limits.max_signals {
            return Err(SpecError::TooManySignals {
                len: self.signals.len() as u64,
                limit: limits.max_signals,
            });
        }
        for s in &self.signals {
            s.validate()?;
        }
        let masses = self.bank.masses(limits.max_templates)?;
        let results = masses.len() as u64 * self.signals.len() as u64;
        if results > limits.max_results {
            return Err(SpecError::TooManyResults {
                templates: masses.len() as u64,
                signals: self.signals.len() as u64,
                limit: limits.max_results,
            });
        }
        Ok(masses)
    }
}

/// Checks that a chirp mass is positive and finite.
pub fn validate_mc(mc: f64) -> Result<(), SpecError> {
    if mc.is_finite() && mc > 0.0 {
        Ok(())
    } else {
        Err(SpecError::BadMc(mc))
    }
}

/// Draws `n` chirp masses uniformly in `[lo, hi)` from a ChaCha8 stream seeded with `seed`
/// (the seed's script 2 draws `random.uniform(0.8, 1.74)`); the same seed gives the same masses
/// on every machine and version.
pub fn random_signals(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<SignalSpec> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| SignalSpec::chirp(lo + (hi - lo) * rng.gen::<f64>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mc_validation() {
        assert!(validate_mc(1.2).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(validate_mc(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn random_signals_are_reproducible_and_in_range() {
        let a = random_signals(10, 7, 0.8, 1.74);
        let b = random_signals(10, 7, 0.8, 1.74);
        assert_eq!(a, b);
        assert!(a.iter().all(|s| s.mc >= 0.8 && s.mc < 1.74));
        assert_ne!(a, random_signals(10, 8, 0.8, 1.74));
    }

    #[test]
    fn approximant_names_and_serde_default() {
        for a in [Approximant::Newtonian, Approximant::TaylorF2] {
            assert_eq!(Approximant::parse(a.name()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
        assert_eq!(
            Approximant::parse("TaylorF2").unwrap(),
            Approximant::TaylorF2
        );
        assert!(Approximant::parse("imrphenomd").is_err());
        assert_eq!(Approximant::default(), Approximant::Newtonian);
        // A spec written before approximants existed parses as Newtonian.
        let spec = SearchSpec::signals(crate::bank::SEED_BANK, vec![], SnrConvention::Seed);
        let mut v = serde_json::to_value(&spec).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("approximant");
        obj.remove("f_final");
        let old: SearchSpec = serde_json::from_value(v).unwrap();
        assert_eq!(old, spec);
    }

    #[test]
    fn taylorf2_needs_data_and_masses() {
        let mut spec = SearchSpec::signals(
            crate::bank::SEED_BANK,
            vec![SignalSpec::chirp(1.2)],
            SnrConvention::Seed,
        );
        spec.approximant = Approximant::TaylorF2;
        let e = spec.validate(&Limits::default()).unwrap_err().to_string();
        assert!(e.contains("--data"), "{e}");
        spec.f_final = Some(-1.0);
        spec.approximant = Approximant::Newtonian;
        let e = spec.validate(&Limits::default()).unwrap_err().to_string();
        assert!(e.contains("--f-final"), "{e}");
    }

    #[test]
    fn search_validation() {
        let mut spec = SearchSpec::signals(crate::bank::SEED_BANK, vec![], SnrConvention::Seed);
        assert_eq!(spec.validate(&Limits::default()), Err(SpecError::NoSignals));
        spec.signals.push(SignalSpec::chirp(1.2));
        assert_eq!(spec.validate(&Limits::default()).unwrap().len(), 94);
        let tight = Limits {
            max_results: 100,
            ..Limits::default()
        };
        spec.signals.push(SignalSpec::chirp(1.3));
        assert!(matches!(
            spec.validate(&tight),
            Err(SpecError::TooManyResults { .. })
        ));
    }
}
