//! [`DataEngine`]: a block of templates × a set of conditioned segments, in parallel.
//!
//! Rayon over templates on the *current* pool (a caller can `install` its own). Each template
//! is taken from the bounded cache or generated once (outside any lock), its σ² computed once
//! for the call's PSD, then filtered against every segment on the same thread with that
//! thread's buffers: multiply-fill → inverse FFT → one pass over the analysed slice for the
//! window maxima → peak and PyCBC clustering on the window maxima → the power χ² and newSNR
//! at each trigger and at the segment's peak ([`chisq`](super::chisq)), when asked for.

use super::cache::{BandCache, BandTemplate, TemplateKey};
use super::chisq::{chisq_dof, newsnr, power_chisq_edges, ChisqInput};
use super::cluster::{clustered, peak, window_maxima_by};
use super::condition::{sigmasq_band, ConditionedSegment};
use super::filter::{snr_scale, split_plan, with_scratch};
use super::grid::DataGrid;
use super::taylorf2::fill_band_taylorf2;
use super::template::fill_band;
use chirpfarm_core::data::{Rank, TemplatePeak, Trigger};
use chirpfarm_core::{Approximant, BankSpec, SearchSpec, SpecError, TemplateParams};
use chirpfarm_waveform::TaylorF2;
use num_complex::Complex64;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

/// One conditioned segment as a filter call sees it.
#[derive(Debug, Clone)]
pub struct SegmentRef<'a> {
    /// Segment index in the search (goes into [`Trigger::segment`]).
    pub index: u32,
    /// Data sample of the segment's first sample (trigger sample = `start + j`).
    pub start: u64,
    /// Samples of the segment whose SNR counts (the rest is padding), `⊆ 0..n`.
    pub analyze: Range<usize>,
    /// The conditioned data.
    pub data: &'a ConditionedSegment,
}

/// One bank template as the data engine generates it: the same bank entry is a different
/// waveform depending on the search's approximant, so the engine is told which.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BankTemplate {
    /// The seed's Newtonian chirp of chirp mass `mc`.
    Newtonian {
        /// Chirp mass, M☉.
        mc: f64,
    },
    /// TaylorF2 (LAL's), ending at `f_final` or the template's ISCO.
    TaylorF2 {
        /// Component masses and aligned spins.
        params: TemplateParams,
        /// Upper frequency, Hz (`None`: ISCO).
        f_final: Option<f64>,
    },
}

impl BankTemplate {
    /// The seed's Newtonian chirps of the chirp masses `masses`, in order.
    pub fn newtonian(masses: &[f64]) -> Vec<BankTemplate> {
        masses
            .iter()
            .map(|&mc| BankTemplate::Newtonian { mc })
            .collect()
    }

    /// The templates of `spec`'s bank, in bank order, for its approximant (at most `limit`).
    /// TaylorF2 needs a bank of masses; every template's coefficients are checked here, and
    /// that it has at least one bin in the data's band (a template whose ISCO or `f_final` lies
    /// below `f_low` would have σ = 0), so the engine never meets an unusable one.
    pub fn list(spec: &SearchSpec, limit: u64) -> Result<Vec<BankTemplate>, SpecError> {
        spec.validate_waveform()?;
        match (spec.approximant, &spec.bank) {
            (Approximant::Newtonian, bank) => Ok(bank
                .masses(limit)?
                .into_iter()
                .map(|mc| BankTemplate::Newtonian { mc })
                .collect()),
            (Approximant::TaylorF2, BankSpec::Params(ps)) => {
                spec.bank.masses(limit)?; // size and parameter checks
                ps.iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let t = TaylorF2::new(p)?;
                        if let Some(d) = &spec.data {
                            let (first, end) = t.band(d.f_low, spec.f_final, d.delta_f());
                            let top = (d.segment_samples / 2) as usize; // Nyquist, excluded from the band
                            if end <= first || first >= top {
                                return Err(SpecError::BadParams(format!(
                                    "bank template {i} (mass1 {}, mass2 {}) ends at {:.2} Hz, \
                                     below the band from --f-low {} Hz: remove it, or lower \
                                     --f-low",
                                    p.mass1,
                                    p.mass2,
                                    spec.f_final.unwrap_or_else(|| t.f_isco()),
                                    d.f_low
                                )));
                            }
                        }
                        Ok(BankTemplate::TaylorF2 {
                            params: *p,
                            f_final: spec.f_final,
                        })
                    })
                    .collect()
            }
            // Not a bank of masses: `check_bank` says why (validate_waveform already did).
            (Approximant::TaylorF2, bank) => spec.approximant.check_bank(bank).map(|()| Vec::new()),
        }
    }

    /// The band bins `[k_low, n/2)` of this template on `grid` (`out.len() == grid.band_len()`).
    pub fn fill_band(&self, grid: &DataGrid, out: &mut [Complex64]) {
        match *self {
            BankTemplate::Newtonian { mc } => fill_band(mc, grid, out),
            BankTemplate::TaylorF2 { params, f_final } => match TaylorF2::new(&params) {
                Ok(t) => fill_band_taylorf2(&t, f_final, grid, out),
                // `list` checked every template; a hand-made bad one gives a zero template.
                Err(_) => out.fill(Complex64::new(0.0, 0.0)),
            },
        }
    }
}

/// What makes a trigger and what is computed for it (the trigger half of a `DataSpec`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TriggerOptions {
    /// Triggers are samples with `|z| >` this (then clustered).
    pub threshold: f64,
    /// Clustering window, analysed samples.
    pub cluster_window: usize,
    /// Power χ² bins (0: none).
    pub chisq_bins: u32,
    /// What picks each template's best sample.
    pub rank: Rank,
    /// Triggers with newSNR below this are dropped after the χ² (0: none).
    pub newsnr_threshold: f64,
}

impl TriggerOptions {
    /// SNR threshold and clustering only: no χ², ranked by SNR.
    pub fn snr_only(threshold: f64, cluster_window: usize) -> TriggerOptions {
        TriggerOptions {
            threshold,
            cluster_window,
            chisq_bins: 0,
            rank: Rank::Snr,
            newsnr_threshold: 0.0,
        }
    }
}

/// One template's result over a set of segments.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateOutcome {
    /// Best analysed sample over all segments by the rank (earliest on ties): the loudest by
    /// SNR, or by newSNR among each segment's triggers and loudest sample.
    pub peak: TemplatePeak,
    /// Clustered triggers, by (segment as given, sample).
    pub triggers: Vec<Trigger>,
}

/// The data-search engine: shared FFT plans, per-thread buffers and a bounded template cache.
/// `Send + Sync`; one per worker, shared by all its tasks.
pub struct DataEngine {
    /// Band templates by (waveform, grid).
    cache: BandCache,
    /// Cache misses since creation.
    generated: AtomicU64,
}

impl DataEngine {
    /// An engine whose template cache may hold `template_cache_bytes` (16 bytes per band bin:
    /// ~4 MB per template at n = 2^19; 0 disables caching).
    pub fn new(template_cache_bytes: usize) -> DataEngine {
        DataEngine {
            cache: BandCache::new(template_cache_bytes),
            generated: AtomicU64::new(0),
        }
    }

    /// The band template of `t` on `grid`, from the cache or generated (and inserted).
    fn template(&self, t: &BankTemplate, grid: &DataGrid) -> BandTemplate {
        let key = TemplateKey::of(t, grid);
        if let Some(t) = self.cache.get(&key) {
            return t;
        }
        let mut band = vec![Complex64::new(0.0, 0.0); grid.band_len()];
        t.fill_band(grid, &mut band);
        let band: BandTemplate = band.into();
        self.generated.fetch_add(1, Ordering::Relaxed);
        self.cache.insert(key, BandTemplate::clone(&band));
        band
    }

    /// Filters the templates `masses` (bank indices `first_template..`) against `segments`
    /// (all conditioned on `grid`): one outcome per template, in bank order. Triggers are
    /// samples with `|z| > threshold` kept by PyCBC's clustering over windows of
    /// `cluster_window` analysed samples (see [`cluster`](super::cluster)); no χ².
    #[allow(clippy::too_many_arguments)]
    pub fn filter_block(
        &self,
        first_template: u64,
        masses: &[f64],
        grid: &DataGrid,
        psd: &[f64],
        segments: &[SegmentRef<'_>],
        threshold: f64,
        cluster_window: usize,
    ) -> Vec<TemplateOutcome> {
        let opts = TriggerOptions::snr_only(threshold, cluster_window);
        let templates = BankTemplate::newtonian(masses);
        self.filter_templates(first_template, &templates, grid, psd, segments, &opts)
    }

    /// Filters `templates` of any approximant (bank indices `first_template..`) against
    /// `segments` with every trigger option (`opts`): the power χ² and newSNR at each trigger
    /// and each segment's loudest sample, the rank, the newSNR cut. The one filter loop.
    pub fn filter_templates(
        &self,
        first_template: u64,
        templates: &[BankTemplate],
        grid: &DataGrid,
        psd: &[f64],
        segments: &[SegmentRef<'_>],
        opts: &TriggerOptions,
    ) -> Vec<TemplateOutcome> {
        assert_eq!(psd.len(), grid.bins(), "the PSD has n/2 + 1 values");
        for s in segments {
            assert_eq!(s.data.grid, *grid, "segment {} is on another grid", s.index);
            assert!(
                s.analyze.end <= grid.n,
                "segment {}: analysed slice outside",
                s.index
            );
        }
        let _ = split_plan(grid.n); // plan once, before the threads race for it
        let psd_band = &psd[grid.k_low()..grid.k_high()];
        templates
            .par_iter()
            .enumerate()
            .map(|(i, t)| {
                let band = self.template(t, grid);
                let ss = sigmasq_band(&band, psd_band, grid.delta_f());
                let mut edges = Vec::new();
                if opts.chisq_bins > 0 {
                    let p = opts.chisq_bins as usize;
                    power_chisq_edges(&band, psd_band, grid.delta_f(), p, &mut edges);
                }
                let t = Template {
                    index: first_template + i as u64,
                    band: &band,
                    sigmasq: ss,
                    edges: &edges,
                };
                filter_template(&t, grid, segments, opts)
            })
            .collect()
    }

    /// Number of cached templates.
    pub fn cached_templates(&self) -> usize {
        self.cache.len()
    }

    /// Bytes accounted to cached templates.
    pub fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// The band-template cache's hits, misses and evictions.
    pub fn cache_stats(&self) -> crate::engine::CacheStats {
        self.cache.stats()
    }

    /// Templates generated (cache misses) since creation.
    pub fn templates_generated(&self) -> u64 {
        self.generated.load(Ordering::Relaxed)
    }
}

/// One template as [`filter_template`] needs it.
struct Template<'a> {
    /// Bank index.
    index: u64,
    /// Band bins.
    band: &'a [Complex64],
    /// σ² with the call's PSD.
    sigmasq: f64,
    /// χ² bin edges (empty: no χ²).
    edges: &'a [usize],
}

/// One template against every segment, on the calling thread.
fn filter_template(
    t: &Template<'_>,
    grid: &DataGrid,
    segments: &[SegmentRef<'_>],
    opts: &TriggerOptions,
) -> TemplateOutcome {
    let scale = snr_scale(t.sigmasq, grid);
    let thr_raw = opts.threshold / scale;
    let thr2 = thr_raw * thr_raw;
    let dof = if t.edges.is_empty() {
        0
    } else {
        chisq_dof(opts.chisq_bins)
    };
    let mut best: Option<TemplatePeak> = None;
    let mut triggers = Vec::new();
    with_scratch(grid.n, |sc| {
        // Taken out for the loop so the series can borrow the buffers (a move, no allocation).
        let mut wins = std::mem::take(&mut sc.wins);
        for seg in segments {
            sc.correlate(t.band, seg.data);
            let z = sc.series();
            window_maxima_by(
                |j| z.get(j),
                seg.analyze.clone(),
                opts.cluster_window,
                &mut wins,
            );
            let first = triggers.len();
            clustered(&wins, thr2, |w| {
                let z = z.get(w.loc);
                triggers.push(Trigger {
                    template: t.index,
                    segment: seg.index,
                    sample: seg.start + w.loc as u64,
                    snr: w.norm.sqrt() * scale,
                    phase: z.im.atan2(z.re),
                    sigmasq: t.sigmasq,
                    chisq: 0.0,
                    chisq_dof: dof,
                    newsnr: w.norm.sqrt() * scale,
                });
            });
            let Some(p) = peak(&wins) else { continue };
            let mut p = TemplatePeak {
                snr: p.norm.sqrt() * scale,
                sample: seg.start + p.loc as u64,
                chisq: 0.0,
                newsnr: p.norm.sqrt() * scale,
            };
            if dof > 0 {
                let input = ChisqInput {
                    template: t.band,
                    segment: &seg.data.w,
                    k_low: grid.k_low(),
                    n: grid.n,
                    edges: t.edges,
                    scale,
                };
                let at = |sample: u64| (sample - seg.start) as usize;
                chisq_triggers(&input, &mut triggers[first..], |j| z.get(j), at);
                p = peak_chisq(&input, p, &triggers[first..], |j| z.get(j), at);
                // The best by newSNR among the segment's triggers and its loudest sample.
                if opts.rank == Rank::Newsnr {
                    for tr in &triggers[first..] {
                        let q = TemplatePeak {
                            snr: tr.snr,
                            sample: tr.sample,
                            chisq: tr.chisq,
                            newsnr: tr.newsnr,
                        };
                        p = p.merge_by(q, Rank::Newsnr);
                    }
                }
                if opts.newsnr_threshold > 0.0 {
                    let mut keep = first;
                    for i in first..triggers.len() {
                        if triggers[i].newsnr >= opts.newsnr_threshold {
                            triggers[keep] = triggers[i];
                            keep += 1;
                        }
                    }
                    triggers.truncate(keep);
                }
            }
            best = Some(best.map_or(p, |b| b.merge_by(p, opts.rank)));
        }
        sc.wins = wins;
    });
    TemplateOutcome {
        peak: best.unwrap_or_default(),
        triggers,
    }
}

/// Fills `chisq` and `newsnr` of `triggers` (all of one segment), [`GROUP`](super::chisq::GROUP)
/// at a time, from the raw series `raw` (`at` maps a data sample to a segment sample).
fn chisq_triggers(
    input: &ChisqInput<'_>,
    triggers: &mut [Trigger],
    raw: impl Fn(usize) -> Complex64,
    at: impl Fn(u64) -> usize,
) {
    const G: usize = super::chisq::GROUP;
    for group in triggers.chunks_mut(G) {
        let mut locs = [0usize; G];
        let mut zs = [Complex64::new(0.0, 0.0); G];
        let mut out = [0.0f64; G];
        let m = group.len();
        for (i, tr) in group.iter().enumerate() {
            locs[i] = at(tr.sample);
            zs[i] = raw(locs[i]);
        }
        input.chisq_at(&locs[..m], &zs[..m], &mut out[..m]);
        for (tr, &c) in group.iter_mut().zip(&out) {
            tr.chisq = c;
            tr.newsnr = newsnr(tr.snr, c / tr.chisq_dof as f64);
        }
    }
}

/// The segment's loudest sample with its χ² and newSNR (taken from the trigger at that sample
/// when there is one, else computed).
fn peak_chisq(
    input: &ChisqInput<'_>,
    p: TemplatePeak,
    triggers: &[Trigger],
    raw: impl Fn(usize) -> Complex64,
    at: impl Fn(u64) -> usize,
) -> TemplatePeak {
    if let Some(tr) = triggers.iter().find(|t| t.sample == p.sample) {
        return TemplatePeak {
            chisq: tr.chisq,
            newsnr: tr.newsnr,
            ..p
        };
    }
    let j = at(p.sample);
    let mut c = [0.0];
    input.chisq_at(&[j], &[raw(j)], &mut c);
    let dof = (input.edges.len() as u32 - 1) * 2 - 2;
    TemplatePeak {
        chisq: c[0],
        newsnr: newsnr(p.snr, c[0] / dof as f64),
        ..p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<DataEngine>();
    }
}
