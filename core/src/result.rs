//! What a search produces, per (signal, template), and how the best template is chosen.

use serde::{Deserialize, Serialize};

/// The outcome of filtering one signal with one template.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct TemplateResult {
    /// The SNR in the job's convention, maximised over circular lags.
    pub snr: f64,
    /// The signal's coalescence time relative to the template's at the maximum, in seconds, in
    /// (−32, 32]; a signal delayed by +3 s gives +3.0.
    pub lag_seconds: f64,
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
/// Returns `None` for an empty slice.
pub fn best_template(results: &[TemplateResult]) -> Option<BestTemplate> {
    let mut best: Option<BestTemplate> = None;
    for (i, r) in results.iter().enumerate() {
        if best.is_none_or(|b| r.snr > b.result.snr) {
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
}
