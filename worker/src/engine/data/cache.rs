//! A bounded, least-recently-used cache of band templates, shared by all threads.
//!
//! A template depends on its chirp mass and on the grid, so the key is
//! `(mc, n, sample_rate, f_low)` by bit pattern. Entries account for their band's bytes (they
//! differ with `n`); a hit hands out an `Arc` and the lock is held only for the map operation.

use super::grid::DataGrid;
use num_complex::Complex64;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// What identifies a template: chirp mass and grid, as bit patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemplateKey {
    /// `mc.to_bits()`.
    pub mc: u64,
    /// Segment length.
    pub n: usize,
    /// `sample_rate.to_bits()`.
    pub sample_rate: u64,
    /// `f_low.to_bits()`.
    pub f_low: u64,
}

impl TemplateKey {
    /// The key of `mc` on `grid`.
    pub fn new(mc: f64, grid: &DataGrid) -> TemplateKey {
        TemplateKey {
            mc: mc.to_bits(),
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
}

impl BandCache {
    /// An empty cache with a byte budget (0 caches nothing).
    pub fn new(budget: usize) -> BandCache {
        BandCache {
            budget,
            inner: Mutex::new(Inner::default()),
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
        let e = inner.map.get_mut(key)?;
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
        // A bigger entry evicts as many as needed.
        c.insert(TemplateKey::new(4.0, &g1), band(250));
        assert!(c.bytes() <= 3 * one && c.len() == 1);
        // Too big for the budget: not stored.
        assert!(!c.insert(TemplateKey::new(5.0, &g1), band(1000)));
    }
}
