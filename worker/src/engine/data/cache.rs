//! A bounded, least-recently-used cache of band templates, shared by all threads.
//!
//! A template depends on its waveform (approximant and parameters) and on the grid, so the key
//! is the [`BankTemplate`] and `(n, sample_rate, f_low)`, all by bit pattern — two templates
//! with the same chirp mass but different approximants, mass ratios, spins or `f_final` never
//! share an entry. Entries account for their band's bytes (they differ with `n`); a hit hands
//! out an `Arc` and the lock is held only for the map operation.

use super::grid::DataGrid;
use super::BankTemplate;
use crate::engine::counters::{CacheCounters, CacheStats};
use chirpfarm_core::Approximant;
use num_complex::Complex64;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// What identifies a template: its waveform and the grid, as bit patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemplateKey {
    /// Which waveform.
    pub approximant: Approximant,
    /// The waveform's parameters' bits: `[mc, 0, 0, 0, 0]` (Newtonian) or
    /// `[mass1, mass2, spin1z, spin2z, f_final or 0]` (TaylorF2).
    pub params: [u64; 5],
    /// Segment length.
    pub n: usize,
    /// `sample_rate.to_bits()`.
    pub sample_rate: u64,
    /// `f_low.to_bits()`.
    pub f_low: u64,
}

impl TemplateKey {
    /// The key of the Newtonian chirp `mc` on `grid`.
    pub fn new(mc: f64, grid: &DataGrid) -> TemplateKey {
        TemplateKey::of(&BankTemplate::Newtonian { mc }, grid)
    }

    /// The key of any bank template on `grid`.
    pub fn of(t: &BankTemplate, grid: &DataGrid) -> TemplateKey {
        let (approximant, params) = match *t {
            BankTemplate::Newtonian { mc } => (Approximant::Newtonian, [mc.to_bits(), 0, 0, 0, 0]),
            BankTemplate::TaylorF2 { params: p, f_final } => (
                Approximant::TaylorF2,
                [
                    p.mass1.to_bits(),
                    p.mass2.to_bits(),
                    p.spin1z.to_bits(),
                    p.spin2z.to_bits(),
                    f_final.unwrap_or(0.0).to_bits(),
                ],
            ),
        };
        TemplateKey {
            approximant,
            params,
            n: grid.n,
            sample_rate: grid.sample_rate.to_bits(),
            f_low: grid.f_low.to_bits(),
        }
    }
}

/// A template's band bins `k_low..n/2`.
pub type BandTemplate = Arc<[Complex64]>;

/// Bytes a cached band accounts for.
pub fn entry_bytes(band: &[Complex64]) -> usize {
    std::mem::size_of_val(band) + 64
}

/// A cached template and when it was last used.
struct Entry {
    /// The band, shared with any filter still using it.
    band: BandTemplate,
    /// Last use, a key of `Inner::order`.
    tick: u64,
}

/// The cache's state, behind the mutex.
#[derive(Default)]
struct Inner {
    /// Entries by key.
    map: HashMap<TemplateKey, Entry>,
    /// `tick → key`, oldest first: the eviction order.
    order: BTreeMap<u64, TemplateKey>,
    /// Bumped on every access.
    tick: u64,
    /// Bytes accounted to the entries.
    bytes: usize,
}

/// A thread-safe LRU cache of band templates holding at most `budget` bytes.
pub struct BandCache {
    /// Most bytes the entries may account for.
    budget: usize,
    /// The state.
    inner: Mutex<Inner>,
    /// Hits, misses and evictions.
    counters: CacheCounters,
}

impl BandCache {
    /// An empty cache with a byte budget (0 caches nothing).
    pub fn new(budget: usize) -> BandCache {
        BandCache {
            budget,
            inner: Mutex::new(Inner::default()),
            counters: CacheCounters::default(),
        }
    }

    /// The lock, recovering from poisoning (the map is consistent between operations).
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The band for `key` if cached, marking it most recently used.
    pub fn get(&self, key: &TemplateKey) -> Option<BandTemplate> {
        let mut g = self.lock();
        let inner = &mut *g;
        inner.tick += 1;
        let tick = inner.tick;
        let found = inner.map.get_mut(key);
        self.counters.lookup(found.is_some());
        let e = found?;
        inner.order.remove(&e.tick);
        e.tick = tick;
        inner.order.insert(tick, *key);
        Some(Arc::clone(&e.band))
    }

    /// Inserts (or refreshes) a band, evicting the least recently used entries until the
    /// budget holds. Returns whether it was stored.
    pub fn insert(&self, key: TemplateKey, band: BandTemplate) -> bool {
        let bytes = entry_bytes(&band);
        if bytes > self.budget {
            return false;
        }
        let mut g = self.lock();
        let inner = &mut *g;
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(old) = inner.map.insert(key, Entry { band, tick }) {
            inner.order.remove(&old.tick);
            inner.bytes -= entry_bytes(&old.band);
        }
        inner.bytes += bytes;
        inner.order.insert(tick, key);
        while inner.bytes > self.budget {
            let Some((_, old_key)) = inner.order.pop_first() else {
                break;
            };
            if let Some(old) = inner.map.remove(&old_key) {
                inner.bytes -= entry_bytes(&old.band);
                self.counters.evicted();
            }
        }
        true
    }

    /// Number of cached templates.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes accounted to cached templates (≤ the budget).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Hits, misses and evictions so far.
    pub fn stats(&self) -> CacheStats {
        self.counters.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(len: usize) -> BandTemplate {
        vec![Complex64::new(1.0, 0.0); len].into()
    }

    #[test]
    fn lru_with_per_entry_sizes() {
        let g1 = DataGrid::new(4096, 1024.0, 20.0);
        let g2 = DataGrid::new(8192, 1024.0, 20.0);
        let one = entry_bytes(&band(100));
        let c = BandCache::new(3 * one);
        c.insert(TemplateKey::new(1.0, &g1), band(100));
        c.insert(TemplateKey::new(1.0, &g2), band(100));
        c.insert(TemplateKey::new(2.0, &g1), band(100));
        assert_eq!(c.len(), 3);
        assert!(c.get(&TemplateKey::new(1.0, &g1)).is_some()); // (1.0, g2) is now oldest
        c.insert(TemplateKey::new(3.0, &g1), band(100));
        assert!(c.get(&TemplateKey::new(1.0, &g2)).is_none());
        assert_eq!(c.bytes(), 3 * one);
        assert_eq!(
            c.stats(),
            CacheStats {
                hits: 1,
                misses: 1,
                evictions: 1
            }
        );
        // A bigger entry evicts as many as needed.
        c.insert(TemplateKey::new(4.0, &g1), band(250));
        assert!(c.bytes() <= 3 * one && c.len() == 1);
        // Too big for the budget: not stored.
        assert!(!c.insert(TemplateKey::new(5.0, &g1), band(1000)));
    }

    #[test]
    fn keys_separate_approximants_and_parameters() {
        use chirpfarm_core::TemplateParams;
        let g = DataGrid::new(4096, 1024.0, 20.0);
        let p = TemplateParams {
            mass1: 1.4,
            mass2: 1.4,
            spin1z: 0.0,
            spin2z: 0.0,
        };
        let f2 = |p: TemplateParams, f_final| BankTemplate::TaylorF2 { params: p, f_final };
        let base = TemplateKey::of(&f2(p, None), &g);
        // Same chirp mass as Newtonian: a different key.
        assert_ne!(base, TemplateKey::new(p.chirp_mass(), &g));
        assert_ne!(
            base,
            TemplateKey::of(&f2(TemplateParams { spin1z: 0.1, ..p }, None), &g)
        );
        assert_ne!(base, TemplateKey::of(&f2(p, Some(500.0)), &g));
        assert_eq!(base, TemplateKey::of(&f2(p, None), &g));
    }
}
