//! [`DataEngine`]: a block of templates × a set of conditioned segments, in parallel.
//!
//! Rayon over templates on the *current* pool (a caller can `install` its own). Each template
//! is taken from the bounded cache or generated once (outside any lock), its σ² computed once
//! for the call's PSD, then filtered against every segment on the same thread with that
//! thread's buffers: multiply-fill → inverse FFT → one pass over the analysed slice for the
//! window maxima → peak and PyCBC clustering on the window maxima.

use super::cache::{BandCache, BandTemplate, TemplateKey};
use super::cluster::{clustered, peak, window_maxima_by};
use super::condition::{sigmasq_band, ConditionedSegment};
use super::filter::{snr_scale, split_plan, with_scratch};
use super::grid::DataGrid;
use super::taylorf2::fill_band_taylorf2;
use super::template::fill_band;
use chirpfarm_core::data::{TemplatePeak, Trigger};
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
    /// The templates of `spec`'s bank, in bank order, for its approximant (at most `limit`).
    /// TaylorF2 needs a bank of masses; every template's coefficients are checked here, so the
    /// engine never meets an unusable one.
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
                    .map(|p| {
                        TaylorF2::new(p)?;
                        Ok(BankTemplate::TaylorF2 {
                            params: *p,
                            f_final: spec.f_final,
                        })
                    })
                    .collect()
            }
            (Approximant::TaylorF2, _) => unreachable!("validate_waveform rejects it"),
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

/// One template's result over a set of segments.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateOutcome {
    /// Loudest analysed sample over all segments (earliest on ties).
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
    /// `cluster_window` analysed samples (see [`cluster`](super::cluster)).
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
        let templates: Vec<BankTemplate> = masses
            .iter()
            .map(|&mc| BankTemplate::Newtonian { mc })
            .collect();
        self.filter_templates(
            first_template,
            &templates,
            grid,
            psd,
            segments,
            threshold,
            cluster_window,
        )
    }

    /// [`DataEngine::filter_block`] for templates of any approximant.
    #[allow(clippy::too_many_arguments)]
    pub fn filter_templates(
        &self,
        first_template: u64,
        templates: &[BankTemplate],
        grid: &DataGrid,
        psd: &[f64],
        segments: &[SegmentRef<'_>],
        threshold: f64,
        cluster_window: usize,
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
                filter_template(
                    first_template + i as u64,
                    &band,
                    ss,
                    grid,
                    segments,
                    threshold,
                    cluster_window,
                )
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

    /// Templates generated (cache misses) since creation.
    pub fn templates_generated(&self) -> u64 {
        self.generated.load(Ordering::Relaxed)
    }
}

/// One template (band bins, σ²) against every segment, on the calling thread.
fn filter_template(
    template: u64,
    band: &[Complex64],
    sigmasq: f64,
    grid: &DataGrid,
    segments: &[SegmentRef<'_>],
    threshold: f64,
    window: usize,
) -> TemplateOutcome {
    let scale = snr_scale(sigmasq, grid);
    let thr_raw = threshold / scale;
    let thr2 = thr_raw * thr_raw;
    let mut best: Option<TemplatePeak> = None;
    let mut triggers = Vec::new();
    with_scratch(grid.n, |sc| {
        // Taken out for the loop so the series can borrow the buffers (a move, no allocation).
        let mut wins = std::mem::take(&mut sc.wins);
        for seg in segments {
            sc.correlate(band, seg.data);
            let z = sc.series();
            window_maxima_by(|j| z.get(j), seg.analyze.clone(), window, &mut wins);
            if let Some(p) = peak(&wins) {
                let p = TemplatePeak {
                    snr: p.norm.sqrt() * scale,
                    sample: seg.start + p.loc as u64,
                };
                best = Some(best.map_or(p, |b| b.merge(p)));
            }
            clustered(&wins, thr2, |w| {
                let z = z.get(w.loc);
                triggers.push(Trigger {
                    template,
                    segment: seg.index,
                    sample: seg.start + w.loc as u64,
                    snr: w.norm.sqrt() * scale,
                    phase: z.im.atan2(z.re),
                    sigmasq,
                });
            });
        }
        sc.wins = wins;
    });
    TemplateOutcome {
        peak: best.unwrap_or_default(),
        triggers,
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
