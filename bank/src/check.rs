//! Fitting factors: how much of a random signal's SNR the best template of a bank recovers.
//!
//! FF(s) = max over templates t of match(s, t) (time and phase maximised, PSD-weighted,
//! TaylorF2 signal and templates: [`crate::matcher`]). Computing all N_bank matches per signal
//! would be wasteful; matches fall off as 1 − d² with the metric distance d, so only the
//! `nearest` templates (20 by default) in metric distance at the signal (g evaluated at the
//! signal's own (θ0, θ3)) get an exact match, and the maximum over them is reported. That is a
//! lower bound on the true FF (a far template can only add), so the check stays honest; the
//! metric's own prediction 1 − d²_min is reported beside it. Spins in the bank are used for
//! the exact matches; the metric distance ignores them (a non-spinning metric).

use crate::coords::Chirp;
use crate::matcher::Matcher;
use crate::metric::{dist2, MetricField};
use crate::region::Region;
use chirpfarm_core::TemplateParams;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// What to check.
#[derive(Debug, Clone, Copy)]
pub struct CheckSpec {
    /// Where the signals are drawn (uniform in each mass range).
    pub region: Region,
    /// How many signals.
    pub injections: usize,
    /// Random seed (ChaCha8: the same signals on every machine).
    pub seed: u64,
    /// Templates nearest in metric distance that get an exact match.
    pub nearest: usize,
    /// The bank's minimal match, to report the fraction above it.
    pub min_match: f64,
}

/// One signal's result.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Injection {
    /// Signal's larger mass, M☉.
    pub mass1: f64,
    /// Signal's smaller mass, M☉.
    pub mass2: f64,
    /// Best exact match over the nearest templates.
    pub fitting_factor: f64,
    /// Index of that template in the bank.
    pub template: usize,
    /// The metric's prediction for the nearest template, 1 − d².
    pub metric_match: f64,
}

/// The distribution of fitting factors.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// Signals checked.
    pub injections: usize,
    /// The minimal match compared with.
    pub min_match: f64,
    /// Fraction of signals with FF ≥ min_match.
    pub fraction_above: f64,
    /// Smallest FF.
    pub min: f64,
    /// Mean FF.
    pub mean: f64,
    /// FF percentiles: (percent, value) for 1, 5, 10, 50.
    pub percentiles: Vec<(f64, f64)>,
}

/// Draws the signals: m_a uniform in mass1's range, m_b in mass2's, reported m1 ≥ m2.
pub fn draw(spec: &CheckSpec) -> Vec<(f64, f64)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed);
    let r = spec.region;
    (0..spec.injections)
        .map(|_| {
            let a = r.mass1.lo + (r.mass1.hi - r.mass1.lo) * rng.gen::<f64>();
            let b = r.mass2.lo + (r.mass2.hi - r.mass2.lo) * rng.gen::<f64>();
            (a.max(b), a.min(b))
        })
        .collect()
}

/// One drawn signal and the templates that get an exact match against it: kept apart from
/// the matching so the same candidates can be matched in-process ([`fitting_factors`]) or on
/// the farm (`chirpfarm bank --check`), with identical inputs.
#[derive(Debug, Clone)]
pub struct Candidates {
    /// The signal (non-spinning, mass1 ≥ mass2).
    pub signal: TemplateParams,
    /// Bank indices of the `nearest` templates in metric distance at the signal.
    pub templates: Vec<usize>,
    /// The metric's prediction for the nearest template, 1 − d².
    pub metric_match: f64,
}

/// The drawn signals (in draw order) with their nearest templates (parallel with rayon).
pub fn candidates(
    bank: &[TemplateParams],
    spec: &CheckSpec,
    field: &MetricField,
) -> Vec<Candidates> {
    let chirp: Chirp = field.chirp;
    let thetas: Vec<[f64; 2]> = bank
        .iter()
        .map(|p| chirp.theta_of_masses(p.mass1, p.mass2))
        .collect();
    draw(spec)
        .into_par_iter()
        .map(|(m1, m2)| {
            let signal = TemplateParams {
                mass1: m1,
                mass2: m2,
                spin1z: 0.0,
                spin2z: 0.0,
            };
            let at = chirp.theta_of_masses(m1, m2);
            let g = field.at(at);
            let mut order: Vec<(f64, usize)> = thetas
                .iter()
                .enumerate()
                .map(|(i, &t)| (dist2(&g, at, t), i))
                .collect();
            let k = spec.nearest.clamp(1, order.len());
            order.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            order.truncate(k);
            let nearest = order.iter().map(|o| o.0).fold(f64::INFINITY, f64::min);
            Candidates {
                signal,
                templates: order.iter().map(|o| o.1).collect(),
                metric_match: 1.0 - nearest,
            }
        })
        .collect()
}

/// The fitting factor of each drawn signal (in draw order; parallel over signals with rayon).
pub fn fitting_factors(
    bank: &[TemplateParams],
    spec: &CheckSpec,
    field: &MetricField,
    matcher: &Matcher,
) -> Vec<Injection> {
    candidates(bank, spec, field)
        .into_par_iter()
        .map(|c| {
            let (fitting_factor, template) = c
                .templates
                .iter()
                .map(|&i| (matcher.matches(&c.signal, &bank[i]), i))
                .fold((f64::NEG_INFINITY, 0), |a, b| if b.0 > a.0 { b } else { a });
            Injection {
                mass1: c.signal.mass1,
                mass2: c.signal.mass2,
                fitting_factor,
                template,
                metric_match: c.metric_match,
            }
        })
        .collect()
}

/// The distribution of `ff` (not empty).
pub fn summarize(ff: &[f64], min_match: f64) -> Summary {
    let mut v = ff.to_vec();
    v.sort_by(f64::total_cmp);
    let pick = |p: f64| v[((p / 100.0 * v.len() as f64).floor() as usize).min(v.len() - 1)];
    Summary {
        injections: v.len(),
        min_match,
        fraction_above: v.iter().filter(|&&x| x >= min_match).count() as f64 / v.len() as f64,
        min: v[0],
        mean: v.iter().sum::<f64>() / v.len() as f64,
        percentiles: [1.0, 5.0, 10.0, 50.0]
            .iter()
            .map(|&p| (p, pick(p)))
            .collect(),
    }
}
