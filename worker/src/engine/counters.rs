//! Hit, miss and eviction counts of the worker's caches (templates, band templates, data), read
//! by the worker's `/metrics` endpoint. One type for all three caches, so every cache counts the
//! same way: a lookup is a hit or a miss, an entry pushed out to respect the budget an eviction.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one cache, updated where its lookups and evictions happen (relaxed
/// atomics: they are statistics, read without stopping the cache).
#[derive(Debug, Default)]
pub struct CacheCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

/// A snapshot of [`CacheCounters`], for reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found their entry.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries removed to keep the cache within its budget.
    pub evictions: u64,
}

impl CacheCounters {
    /// Counts one lookup: a hit when `found`, a miss otherwise.
    pub fn lookup(&self, found: bool) {
        let counter = if found { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one eviction.
    pub fn evicted(&self) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hits_misses_and_evictions() {
        let c = CacheCounters::default();
        c.lookup(true);
        c.lookup(false);
        c.lookup(false);
        c.evicted();
        assert_eq!(
            c.stats(),
            CacheStats {
                hits: 1,
                misses: 2,
                evictions: 1
            }
        );
    }
}
