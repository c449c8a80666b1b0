//! What a search produces, per (signal, template), and how the best template is chosen.

use serde::{Deserialize, Serialize};

/// Largest |lag| a signal search can report: half the seed grid's 131072 samples at 2048 Hz.
pub const MAX_LAG_SECONDS: f64 = 32.0;

/// Largest SNR the coordinator accepts from a worker. The engine's SNRs of the seed's normalised
/// chirps are of order 1e-9 (seed convention) to 1e3 (physical), and data-search SNRs of real
/// strain are below 1e6; anything above this is a corrupt or forged number, not a detection.
pub const MAX_SNR: f64 = 1e15;

/// Lags are whole samples of the seed grid (1/2048 s).
pub const LAG_STEP_SECONDS: f64 = 1.0 / 2048.0;

/// The outcome of filtering one signal with one template.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct TemplateResult {
    /// The SNR in the job's convention, maximised over circular lags.
    pub snr: f64,
    /// The signal's coalescence time relative to the template's at the maximum, in seconds, in
    /// (−32, 32]; a signal delayed by +3 s gives +3.0.
    pub lag_seconds: f64,
}

impl TemplateResult {
    /// Whether this could have come out of the engine: a finite SNR in [0, [`MAX_SNR`]] (the
    /// seed's maximum of a zero-mean correlation, or a modulus) and a lag of whole samples within
    /// ±[`MAX_LAG_SECONDS`]. The coordinator rejects anything else a worker sends.
    pub fn is_plausible(&self) -> bool {
        let steps = self.lag_seconds / LAG_STEP_SECONDS;
        (0.0..=MAX_SNR).contains(&self.snr)
            && self.lag_seconds.abs() <= MAX_LAG_SECONDS
            && steps == steps.round()
    }
}

/// The best template of one signal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestTemplate {
    /// Index of the template in the bank.
    pub template_index: usize,
    /// The template's result.
    pub result: TemplateResult,
}

/// The argmax of the SNR over the bank; the first template wins ties (like `numpy.argmax`).
/// A NaN SNR is never chosen (unlike `numpy.argmax`, which would return it): it means nothing
/// was measured. Returns `None` for an empty slice or one with no number.
pub fn best_template(results: &[TemplateResult]) -> Option<BestTemplate> {
    let mut best: Option<BestTemplate> = None;
    for (i, r) in results.iter().enumerate() {
        if !r.snr.is_nan() && best.is_none_or(|b| r.snr > b.result.snr) {
            best = Some(BestTemplate {
                template_index: i,
                result: *r,
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_wins_ties() {
        let r = |snr| TemplateResult {
            snr,
            lag_seconds: 0.0,
        };
        let b = best_template(&[r(1.0), r(3.0), r(3.0), r(2.0)]).unwrap();
        assert_eq!(b.template_index, 1);
        assert!(best_template(&[]).is_none());
    }

    #[test]
    fn nan_is_never_best() {
        let r = |snr| TemplateResult {
            snr,
            lag_seconds: 0.0,
        };
        // A NaN first would win under `>` (nothing is greater than NaN): it must be skipped.
        let b = best_template(&[r(f64::NAN), r(1.0), r(f64::NAN), r(2.0)]).unwrap();
        assert_eq!(b.template_index, 3);
        assert!(best_template(&[r(f64::NAN), r(f64::NAN)]).is_none());
    }
}
