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

/// Lower edge of the seed grid's band (Hz): the signal-search chirps start here. The same value
/// as the worker engine's `grid::FMIN` (a client test checks they agree).
pub const SEED_F_LOW_HZ: f64 = 40.0;

/// G·M☉/c³ in seconds, as the seed writes it (the engine's `grid::MSUN`).
pub const MSUN_SECONDS: f64 = 4.9257e-6;

/// Length of the seed grid's segment, seconds (131072 samples at 2048 Hz).
pub const SEED_SEGMENT_SECONDS: f64 = 64.0;

/// The Newtonian chirp duration τ0 from [`SEED_F_LOW_HZ`] to coalescence, in seconds
/// (physics.md §1: 25.5 s for Mc 1.2); a chirp longer than [`SEED_SEGMENT_SECONDS`] wraps.
pub fn seed_chirp_seconds(mc: f64) -> f64 {
    5.0 / 256.0
        * (std::f64::consts::PI * SEED_F_LOW_HZ).powf(-8.0 / 3.0)
        * (mc * MSUN_SECONDS).powf(-5.0 / 3.0)
}

/// Whether the seed-grid chirp of `mc` is longer than the 64 s segment (Mc below about 0.69), so
/// it wraps around onto itself: allowed, but worth a warning.
pub fn wraps_seed_segment(mc: f64) -> bool {
    seed_chirp_seconds(mc) > SEED_SEGMENT_SECONDS
}

/// The chirp masses a search accepts (`--mc-range`): a typo such as `--signal-mc 12000` or a
/// bank in grams is refused before any work instead of returning meaningless numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McRange {
    /// Smallest chirp mass accepted, solar masses.
    pub min: f64,
    /// Largest chirp mass accepted, solar masses.
    pub max: f64,
}

impl Default for McRange {
    /// 0.1–100 M☉: every compact binary a matched-filter search is built for.
    fn default() -> Self {
        McRange {
            min: 0.1,
            max: 100.0,
        }
    }
}

impl McRange {
    /// Parses `MIN:MAX` (solar masses, 0 < MIN < MAX, finite).
    pub fn parse(text: &str) -> Result<McRange, SpecError> {
        let bad = || {
            SpecError::BadParams(format!(
                "--mc-range {text:?}: expected MIN:MAX in solar masses with 0 < MIN < MAX, e.g. 0.1:100"
            ))
        };
        let (a, b) = text.split_once(':').ok_or_else(bad)?;
        let min: f64 = a.trim().parse().map_err(|_| bad())?;
        let max: f64 = b.trim().parse().map_err(|_| bad())?;
        if !(min.is_finite() && max.is_finite() && min > 0.0 && min < max) {
            return Err(bad());
        }
        Ok(McRange { min, max })
    }

    /// Refuses a chirp mass outside the range, naming it and what it is (`signal`, `template 3`).
    pub fn check(&self, what: &str, mc: f64) -> Result<(), SpecError> {
        if (self.min..=self.max).contains(&mc) {
            Ok(())
        } else {
            Err(SpecError::BadParams(format!(
                "{what} has chirp mass {mc} M☉, outside the physical range {}–{} M☉ (change it with --mc-range MIN:MAX)",
                self.min, self.max
            )))
        }
    }
}

impl Limits {
    /// Refuses `n` signals above [`Limits::max_signals`] before anything is allocated for them.
    pub fn check_signals(&self, n: u64) -> Result<(), SpecError> {
        if n > self.max_signals {
            return Err(SpecError::TooManySignals {
                len: n,
                limit: self.max_signals,
            });
        }
        Ok(())
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
    fn mc_range_and_wrapping() {
        let r = McRange::default();
        assert!(r.check("signal", 1.2).is_ok());
        let e = r.check("signal", 1e4).unwrap_err().to_string();
        assert!(e.contains("10000") && e.contains("--mc-range"), "{e}");
        assert!(r.check("signal", 0.05).is_err());
        assert_eq!(McRange::parse("0.01:1000").unwrap().max, 1000.0);
        for bad in ["1", "2:1", "0:1", "a:b", "1:inf"] {
            assert!(McRange::parse(bad).is_err(), "{bad}");
        }
        // physics.md §1: τ0 = 25.51 s at Mc 1.2; the 64 s segment wraps below Mc ≈ 0.69.
        assert!((seed_chirp_seconds(1.2) - 25.51).abs() < 0.01);
        assert!(wraps_seed_segment(0.68) && !wraps_seed_segment(0.7));
        assert!(Limits::default().check_signals(10_001).is_err());
        assert!(Limits::default().check_signals(10_000).is_ok());
    }

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
