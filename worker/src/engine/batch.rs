//! [`Engine`]: filter a block of templates against a set of signals, in parallel, with a
//! template cache.
//!
//! Work is spread over templates with rayon on the *current* pool (a caller can `install` its
//! own). Each template is fetched from the cache or generated once (outside any lock), then
//! filtered against every signal of the call on the same thread, with that thread's buffers.
//! Signals are built once per call, in groups of [`SIGNAL_GROUP`] to bound memory (1 MB
//! each).

use super::cache::TemplateCache;
use super::filter::with_scratch;
use super::slab::{Slab, TemplateBuf};
use super::template::{signal_band, signal_band_in, NormTemplate};
use chirpfarm_core::{SignalSpec, SnrConvention, TemplateResult};
use num_complex::Complex64;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Signals built at once inside [`Engine::filter_block`] (64 MB of signal arrays at most).
pub const SIGNAL_GROUP: usize = 64;

/// Signal groups up to this size are stored in the engine's template slots (see
/// [`Engine::filter_block_until`]).
const SLAB_SIGNALS: usize = 4;

/// The per-process matched-filter engine: shared c2r plan, per-thread buffers and a bounded
/// template cache. `Send + Sync`; share it in an `Arc`. Its template storage is not copied
/// into forked children (`engine::nofork`): a child process makes an engine of its own.
pub struct Engine {
    /// Normalised templates by chirp mass.
    cache: TemplateCache,
    /// Storage of every template this engine generates: slots of evicted (or, uncached,
    /// filtered) templates are reused without new page faults.
    slab: Arc<Slab>,
    /// Cache misses since creation.
    generated: AtomicU64,
}

/// Builds the process-wide FFT plan and frequency tables if they are not built yet, both at
/// once (a `rayon::join` on the current pool; the tables spread their bins over one plain
/// thread per core: ~1.7 ms on two cores; a no-op once built). Every first search pays this,
/// so [`Engine::new`] calls it: call `Engine::new` inside the pool that will run the search,
/// so that no other pool is started for it.
pub fn warm() {
    rayon::join(super::fused::plan, super::grid::tables);
}

impl Engine {
    /// An engine whose template cache may hold `cache_bytes` (about 1 MB per template; 0
    /// disables caching). Builds the FFT plan and the frequency tables now (see [`warm`]),
    /// so the first block does not pay for them.
    pub fn new(cache_bytes: usize) -> Engine {
        warm();
        Engine {
            cache: TemplateCache::new(cache_bytes),
            slab: Arc::new(Slab::new()),
            generated: AtomicU64::new(0),
        }
    }

    /// The normalised template for `mc`, from the cache or freshly generated (and inserted).
    pub fn normalised_template(&self, mc: f64) -> Arc<NormTemplate> {
        if let Some(t) = self.cache.get(mc) {
            return t;
        }
        let t = Arc::new(NormTemplate::new_in(mc, &self.slab));
        self.generated.fetch_add(1, Ordering::Relaxed);
        self.cache.insert(Arc::clone(&t));
        t
    }

    /// Filters every signal against the templates `masses` (a contiguous bank slice) and
    /// returns `results[signal][template]` in the given orders. Parallel over templates on the
    /// current rayon pool.
    pub fn filter_block(
        &self,
        masses: &[f64],
        signals: &[SignalSpec],
        conv: SnrConvention,
    ) -> Vec<Vec<TemplateResult>> {
        self.filter_block_until(masses, signals, conv, &|_| false)
            .expect("never stopped")
    }

    /// Like [`Engine::filter_block`], but `stop(mc)` is asked before each template: once it
    /// answers `true` the remaining templates are skipped and `None` is returned, so a revoked
    /// lease stops within one template per thread instead of running to the end. (The daemon
    /// also uses the hook for its test-only fault injection.)
    pub fn filter_block_until(
        &self,
        masses: &[f64],
        signals: &[SignalSpec],
        conv: SnrConvention,
        stop: &(dyn Fn(f64) -> bool + Sync),
    ) -> Option<Vec<Vec<TemplateResult>>> {
        let mut results = vec![Vec::with_capacity(masses.len()); signals.len()];
        if masses.is_empty() {
            return Some(results);
        }
        let stopped = AtomicBool::new(false);
        for (g, specs) in signals.chunks(SIGNAL_GROUP).enumerate() {
            // A few signals go to the template storage (mapped memory once warm); a large group
            // goes to the heap, so that the storage, which keeps its slots, never grows by a
            // whole group of signals.
            let bands: Vec<TemplateBuf> = specs
                .par_iter()
                .map(|s| {
                    if specs.len() <= SLAB_SIGNALS {
                        signal_band_in(s, &self.slab)
                    } else {
                        TemplateBuf::heap(signal_band(s))
                    }
                })
                .collect();
            let ns = bands.len();
            // Template-major: row t holds this group's results for template t.
            let mut flat = vec![TemplateResult::default(); masses.len() * ns];
            flat.par_chunks_mut(ns)
                .zip(masses.par_iter())
                .for_each(|(row, &mc)| {
                    if stopped.load(Ordering::Relaxed) || stop(mc) {
                        stopped.store(true, Ordering::Relaxed);
                        return;
                    }
                    self.filter_one_template(mc, &bands, conv, row)
                });
            if stopped.load(Ordering::Relaxed) {
                return None;
            }
            for (si, out) in results[g * SIGNAL_GROUP..][..ns].iter_mut().enumerate() {
                out.extend((0..masses.len()).map(|t| flat[t * ns + si]));
            }
        }
        Some(results)
    }

    /// One template against all signal bands of a group, on the calling thread.
    fn filter_one_template(
        &self,
        mc: f64,
        bands: &[TemplateBuf],
        conv: SnrConvention,
        row: &mut [TemplateResult],
    ) {
        let t = self.normalised_template(mc);
        with_scratch(|sc| {
            for (r, s) in row.iter_mut().zip(bands) {
                *r = match conv {
                    SnrConvention::Seed => sc.seed(s, &t.band, super::grid::K0),
                    SnrConvention::Physical => sc.physical(s, &t.band, t.inv_sigma_phys),
                };
            }
        });
    }

    /// Takes `slots` template slots of this engine's storage and writes every page of them,
    /// so that the templates and signals that take them once they are given back (dropped:
    /// the most recently given back slots are taken first) are written to memory that is
    /// already mapped: a fresh slot costs 256 page faults, ~0.35 ms on this project's VM. Call
    /// it on each thread that will compute, so that the pages are also local to it, and drop
    /// the slots only once every thread has taken its own (a slot given back at once would be
    /// the next thread's too).
    #[must_use = "the slots go back to the engine when dropped"]
    pub fn prefault(&self, slots: usize) -> Vec<TemplateBuf> {
        (0..slots)
            .map(|_| {
                let mut b = self.slab.alloc();
                b.fill(Complex64::new(0.0, 0.0));
                b
            })
            .collect()
    }

    /// Number of templates in the cache.
    pub fn cached_templates(&self) -> usize {
        self.cache.len()
    }

    /// Bytes accounted to cached templates (never above the budget given to [`Engine::new`]).
    pub fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// The template cache's hits, misses and evictions.
    pub fn cache_stats(&self) -> crate::engine::CacheStats {
        self.cache.stats()
    }

    /// Templates generated (cache misses) since creation; tests and benchmarks use it to prove
    /// reuse.
    pub fn templates_generated(&self) -> u64 {
        self.generated.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::cache::TEMPLATE_BYTES;
    use super::super::template::{normtemplate, signal};
    use super::super::SingleFilter;
    use super::*;

    fn specs() -> Vec<SignalSpec> {
        vec![
            SignalSpec::chirp(1.2),
            SignalSpec {
                mc: 1.0,
                delay_seconds: 2.5,
            },
            SignalSpec {
                mc: 1.45,
                delay_seconds: -0.75,
            },
        ]
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Engine>();
        check::<Arc<Engine>>();
    }

    #[test]
    fn cache_reuse_and_identical_results() {
        let masses = [1.3, 1.0, 1.2, 1.45];
        let e = Engine::new(64 * TEMPLATE_BYTES);
        let first = e.filter_block(&masses, &specs(), SnrConvention::Seed);
        assert_eq!(e.templates_generated(), 4);
        assert_eq!(e.cached_templates(), 4);
        assert_eq!(e.cached_bytes(), 4 * TEMPLATE_BYTES);
        let second = e.filter_block(&masses, &specs(), SnrConvention::Seed);
        assert_eq!(e.templates_generated(), 4, "second pass must not generate");
        assert_eq!(
            first, second,
            "cached and fresh templates give identical results"
        );
        // A cache-less engine regenerates and still agrees bit for bit.
        let cold = Engine::new(0);
        assert_eq!(
            cold.filter_block(&masses, &specs(), SnrConvention::Seed),
            first
        );
        assert_eq!(cold.cached_templates(), 0);
        assert_eq!(cold.templates_generated(), 4);
    }

    #[test]
    fn multi_signal_equals_per_signal_and_order_is_kept() {
        let masses = [1.45, 1.0, 1.2];
        let e = Engine::new(0);
        for conv in [SnrConvention::Seed, SnrConvention::Physical] {
            let all = e.filter_block(&masses, &specs(), conv);
            assert_eq!(all.len(), 3);
            let mut single = SingleFilter::new();
            for (si, spec) in specs().iter().enumerate() {
                let one = e.filter_block(&masses, std::slice::from_ref(spec), conv);
                assert_eq!(one[0], all[si]);
                let s = signal(spec);
                for (ti, &mc) in masses.iter().enumerate() {
                    assert_eq!(single.run(&s, &normtemplate(mc), conv), all[si][ti]);
                }
            }
            // Each signal's best template is its own chirp mass, at its own delay.
            assert_eq!(all[0][2].lag_seconds, 0.0);
            assert!(all[0][2].snr > all[0][0].snr && all[0][2].snr > all[0][1].snr);
            assert_eq!(all[1][1].lag_seconds, 2.5);
            assert_eq!(all[2][0].lag_seconds, -0.75);
        }
        assert!(e
            .filter_block(&[], &specs(), SnrConvention::Seed)
            .iter()
            .all(Vec::is_empty));
        assert!(e.filter_block(&masses, &[], SnrConvention::Seed).is_empty());
    }

    #[test]
    fn cache_bound_is_respected() {
        let e = Engine::new(2 * TEMPLATE_BYTES + 100);
        let masses = [1.0, 1.1, 1.2, 1.3, 1.4];
        let sig = [SignalSpec::chirp(1.2)];
        e.filter_block(&masses, &sig, SnrConvention::Seed);
        assert_eq!(e.cached_templates(), 2);
        assert!(e.cached_bytes() <= 2 * TEMPLATE_BYTES + 100);
        assert_eq!(e.templates_generated(), 5);
    }

    #[test]
    fn evicted_templates_free_their_slots_for_reuse() {
        use super::super::slab::SLOTS_PER_CHUNK;
        let e = Engine::new(2 * TEMPLATE_BYTES);
        let masses: Vec<f64> = (0..SLOTS_PER_CHUNK + 7)
            .map(|i| 0.9 + 0.01 * i as f64)
            .collect();
        e.filter_block(&masses, &[SignalSpec::chirp(1.2)], SnrConvention::Seed);
        assert_eq!(e.templates_generated(), masses.len() as u64);
        // More templates than one chunk holds went through, but at most a few were alive at
        // once: one chunk, and every slot but the two cached ones free again.
        assert_eq!(e.slab.capacity(), SLOTS_PER_CHUNK);
        assert_eq!(e.slab.free_slots(), SLOTS_PER_CHUNK - 2);
        assert!(e.normalised_template(masses[0]).band.in_slab());
    }

    #[test]
    fn a_panic_inside_a_block_propagates_and_the_engine_survives() {
        let e = Engine::new(8 * TEMPLATE_BYTES);
        let sig = [SignalSpec::chirp(1.2)];
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            e.filter_block_until(&[1.0, 1.1, 1.2], &sig, SnrConvention::Seed, &|mc| {
                assert!(mc != 1.1, "boom");
                false
            })
        }));
        assert!(r.is_err());
        let ok = e.filter_block(&[1.0, 1.1, 1.2], &sig, SnrConvention::Seed);
        assert_eq!(ok[0].len(), 3);
    }

    #[test]
    fn a_stopped_block_skips_the_rest() {
        let e = Engine::new(0);
        let masses: Vec<f64> = (0..64).map(|i| 0.9 + 0.01 * i as f64).collect();
        let asked = AtomicU64::new(0);
        let r = e.filter_block_until(
            &masses,
            &[SignalSpec::chirp(1.2)],
            SnrConvention::Seed,
            &|_| asked.fetch_add(1, Ordering::Relaxed) >= 3,
        );
        assert!(r.is_none());
        // Only the templates started before the stop (at most one more per thread) were made.
        let threads = rayon::current_num_threads() as u64;
        assert!(
            e.templates_generated() <= 3 + threads,
            "{}",
            e.templates_generated()
        );
    }
}
