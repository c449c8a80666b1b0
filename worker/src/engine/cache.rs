//! A bounded, least-recently-used cache of normalised templates, shared by all threads.
//!
//! Keys are the chirp mass's bit pattern (`f64::to_bits`), so `1.2` and `1.2000000000000004`
//! (the seed bank's element 40) are different templates, as they are in numpy. Values are
//! `Arc<NormTemplate>`: a hit hands out a reference-counted pointer and the lock is held only
//! for the map operation, never while generating or filtering. The entry is convention
//! independent (the physical convention's normalisation is a scalar stored alongside).

use super::counters::{CacheCounters, CacheStats};
use super::grid::NB;
use super::template::NormTemplate;
use num_complex::Complex64;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes one cached template accounts for (its `NB` complex bins plus the struct).
pub const TEMPLATE_BYTES: usize =
    NB * std::mem::size_of::<Complex64>() + std::mem::size_of::<NormTemplate>();

/// A cached template and when it was last used.
struct Entry {
    /// The template, shared with any filter still using it.
    template: Arc<NormTemplate>,
    /// Last use, a key of `Inner::order`.
    tick: u64,
}

/// The cache's state, behind the mutex.
#[derive(Default)]
struct Inner {
    /// Entries by `mc.to_bits()`.
    map: HashMap<u64, Entry>,
    /// `tick → key`, oldest first: the eviction order.
    order: BTreeMap<u64, u64>,
    /// A counter bumped on every access.
    tick: u64,
    /// `TEMPLATE_BYTES` per entry.
    bytes: usize,
}

/// A thread-safe LRU cache of [`NormTemplate`]s holding at most `budget` bytes
/// ([`TEMPLATE_BYTES`] per entry). A budget below one entry caches nothing.
pub struct TemplateCache {
    /// Most bytes the entries may account for.
    budget: usize,
    /// The state.
    inner: Mutex<Inner>,
    /// Hits, misses and evictions.
    counters: CacheCounters,
}

impl TemplateCache {
    /// An empty cache with a byte budget.
    pub fn new(budget: usize) -> TemplateCache {
        TemplateCache {
            budget,
            inner: Mutex::new(Inner::default()),
            counters: CacheCounters::default(),
        }
    }

    /// The lock, recovering from poisoning: the map is always consistent between operations,
    /// and a panic elsewhere (e.g. an injected test panic) must not disable the cache.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The template for `mc` if cached, marking it most recently used.
    pub fn get(&self, mc: f64) -> Option<Arc<NormTemplate>> {
        let key = mc.to_bits();
        let mut g = self.lock();
        let inner = &mut *g;
        inner.tick += 1;
        let tick = inner.tick;
        let found = inner.map.get_mut(&key);
        self.counters.lookup(found.is_some());
        let e = found?;
        inner.order.remove(&e.tick);
        e.tick = tick;
        inner.order.insert(tick, key);
        Some(Arc::clone(&e.template))
    }

    /// Inserts (or refreshes) a template, evicting least recently used entries until the
    /// budget holds. Returns whether it was stored.
    pub fn insert(&self, template: Arc<NormTemplate>) -> bool {
        if TEMPLATE_BYTES > self.budget {
            return false;
        }
        let key = template.mc.to_bits();
        let mut g = self.lock();
        let inner = &mut *g;
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(old) = inner.map.insert(key, Entry { template, tick }) {
            inner.order.remove(&old.tick);
        } else {
            inner.bytes += TEMPLATE_BYTES;
        }
        inner.order.insert(tick, key);
        while inner.bytes > self.budget {
            let Some((_, old_key)) = inner.order.pop_first() else {
                break;
            };
            if inner.map.remove(&old_key).is_some() {
                inner.bytes -= TEMPLATE_BYTES;
                self.counters.evicted();
            }
        }
        true
    }

    /// Number of cached templates.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the cache holds no template.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes accounted to cached templates (≤ the budget).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The byte budget.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Hits, misses and evictions so far ([`TemplateCache::contains`] is not a lookup).
    pub fn stats(&self) -> CacheStats {
        self.counters.stats()
    }

    /// Whether `mc` is cached (without touching its recency).
    pub fn contains(&self, mc: f64) -> bool {
        self.lock().map.contains_key(&mc.to_bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(mc: f64) -> Arc<NormTemplate> {
        Arc::new(NormTemplate {
            mc,
            band: Vec::new().into_boxed_slice().into(),
            inv_sigma_phys: 1.0,
        })
    }

    #[test]
    fn lru_eviction_respects_the_budget() {
        let c = TemplateCache::new(3 * TEMPLATE_BYTES + 10);
        for mc in [1.0, 2.0, 3.0] {
            assert!(c.insert(fake(mc)));
        }
        assert!(c.get(1.0).is_some()); // 2.0 is now the oldest
        c.insert(fake(4.0));
        assert_eq!(c.len(), 3);
        assert!(c.contains(1.0) && !c.contains(2.0) && c.contains(3.0) && c.contains(4.0));
        assert_eq!(c.bytes(), 3 * TEMPLATE_BYTES);
        // Re-inserting an existing key does not double count.
        c.insert(fake(4.0));
        assert_eq!(c.bytes(), 3 * TEMPLATE_BYTES);
        assert!(c.bytes() <= c.budget());
        // get(1.0) hit; 2.0 was evicted by 4.0.
        assert_eq!(
            c.stats(),
            CacheStats {
                hits: 1,
                misses: 0,
                evictions: 1
            }
        );
    }

    #[test]
    fn tiny_budget_caches_nothing() {
        let c = TemplateCache::new(TEMPLATE_BYTES - 1);
        assert!(!c.insert(fake(1.0)));
        assert!(c.is_empty() && c.get(1.0).is_none());
    }

    #[test]
    fn keys_are_exact_bit_patterns() {
        let c = TemplateCache::new(10 * TEMPLATE_BYTES);
        c.insert(fake(1.2));
        assert!(c.get(1.2000000000000004).is_none());
        assert!(c.get(1.2).is_some());
    }
}
