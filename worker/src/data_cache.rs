//! The worker's bounded cache of data: strain and PSD blobs (fetched once from the coordinator
//! and verified), and conditioned segments (each segment's FFT divided by the PSD, computed once
//! and shared by every template and every later task or job over the same data).
//!
//! Everything is keyed by content (blob digests), so two jobs over the same file share entries.
//! The cache holds at most its budget (`--data-cache-mb`); least recently used entries that no
//! running task holds any more go first (a running task keeps its entries alive through `Arc`s,
//! so an eviction never pulls data from under it — the memory is freed when it finishes).

use crate::engine::counters::{CacheCounters, CacheStats};
use crate::engine::data::ConditionedSegment;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a cache entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKey {
    /// A verified blob of f64 values (strain samples or a PSD), by SHA-256.
    Blob([u8; 32]),
    /// A conditioned segment: the data, the PSD, the grid (n, sample rate and f_low bits) and the
    /// segment's first sample.
    Segment {
        /// Strain blob digest.
        strain: [u8; 32],
        /// PSD blob digest.
        psd: [u8; 32],
        /// Segment length in samples.
        n: u64,
        /// Sample rate, as f64 bits.
        rate_bits: u64,
        /// Lower frequency cut-off, as f64 bits.
        f_low_bits: u64,
        /// First data sample of the segment.
        start: u64,
    },
}

/// A cached value.
#[derive(Clone)]
pub enum DataItem {
    /// f64 values of a blob.
    Values(Arc<Vec<f64>>),
    /// A conditioned segment.
    Segment(Arc<ConditionedSegment>),
}

impl DataItem {
    fn bytes(&self) -> usize {
        match self {
            DataItem::Values(v) => v.len() * 8,
            DataItem::Segment(s) => s.bytes(),
        }
    }
}

/// The cache's state behind its lock.
#[derive(Default)]
struct Inner {
    map: HashMap<DataKey, (DataItem, u64)>,
    bytes: usize,
    clock: u64,
}

/// A bounded LRU cache of data, shared by all tasks of a worker.
pub struct DataCache {
    budget: usize,
    inner: Mutex<Inner>,
    /// Hits, misses and evictions.
    counters: CacheCounters,
}

impl DataCache {
    /// A cache holding at most `budget` bytes.
    pub fn new(budget: usize) -> DataCache {
        DataCache {
            budget,
            inner: Mutex::new(Inner::default()),
            counters: CacheCounters::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `key`, marking it recently used.
    pub fn get(&self, key: &DataKey) -> Option<DataItem> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let found = inner.map.get_mut(key).map(|(item, used)| {
            *used = now;
            item.clone()
        });
        self.counters.lookup(found.is_some());
        found
    }

    /// Blob values, if cached.
    pub fn values(&self, digest: &[u8; 32]) -> Option<Arc<Vec<f64>>> {
        match self.get(&DataKey::Blob(*digest))? {
            DataItem::Values(v) => Some(v),
            DataItem::Segment(_) => None,
        }
    }

    /// A conditioned segment, if cached.
    pub fn segment(&self, key: &DataKey) -> Option<Arc<ConditionedSegment>> {
        match self.get(key)? {
            DataItem::Segment(s) => Some(s),
            DataItem::Values(_) => None,
        }
    }

    /// Inserts an entry (replacing one with the same key) and evicts least recently used
    /// entries until the cache fits its budget. An entry larger than the budget is not kept.
    pub fn insert(&self, key: DataKey, item: DataItem) {
        let size = item.bytes();
        if size > self.budget {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        if let Some((old, _)) = inner.map.insert(key, (item, now)) {
            inner.bytes -= old.bytes();
        }
        inner.bytes += size;
        while inner.bytes > self.budget {
            let Some(victim) = inner
                .map
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some((old, _)) = inner.map.remove(&victim) {
                inner.bytes -= old.bytes();
                self.counters.evicted();
            }
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Hits, misses and evictions so far.
    pub fn stats(&self) -> CacheStats {
        self.counters.stats()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_goes_first_and_budget_holds() {
        let c = DataCache::new(3 * 800);
        let blob = |i: u8| DataKey::Blob([i; 32]);
        let vals = || DataItem::Values(Arc::new(vec![0.0; 100]));
        c.insert(blob(1), vals());
        c.insert(blob(2), vals());
        c.insert(blob(3), vals());
        assert!(c.values(&[1; 32]).is_some()); // 1 is now the most recent
        c.insert(blob(4), vals());
        assert_eq!(c.len(), 3);
        assert!(c.values(&[2; 32]).is_none(), "2 was least recently used");
        assert!(c.values(&[1; 32]).is_some());
        assert!(c.bytes() <= 3 * 800);
        // Too big for the whole cache: not kept.
        c.insert(blob(5), DataItem::Values(Arc::new(vec![0.0; 1000])));
        assert!(c.values(&[5; 32]).is_none());
        // Hits: 1, 1 again; misses: 2, 5; one eviction (2).
        assert_eq!(
            c.stats(),
            CacheStats {
                hits: 2,
                misses: 2,
                evictions: 1
            }
        );
    }
}
