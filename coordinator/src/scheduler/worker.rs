//! What the scheduler knows about a worker: credits, leases and recently computed bank blocks.

use super::JobId;
use std::collections::{BTreeSet, HashSet, VecDeque};

/// Affinity granularity: templates are remembered per block of this many bank entries.
pub(super) const BLOCK: u64 = 8;

/// Most tasks a worker may hold at once, leased or promised by credits: a worker that grants
/// 2^32-1 credits must not starve every other worker nor make the coordinator queue millions of
/// leases for it.
pub const MAX_OUTSTANDING: u32 = 256;

/// A bank block: (bank key, block index).
pub(super) type Block = (u64, u64);

/// A live worker.
#[derive(Debug, Clone)]
pub(super) struct Worker {
    pub credits: u32,
    pub leases: HashSet<(JobId, u32, u64)>,
    /// Leases this identity held when its last session ended: the only ones it may re-attach
    /// when it comes back (never a lease issued to someone else). Bounded by [`MAX_OUTSTANDING`].
    pub lost: HashSet<(JobId, u32, u64)>,
    pub known_jobs: HashSet<JobId>,
    pub last_seen_ms: u64,
    pub tasks_done: u64,
    /// Bank blocks this worker computed recently, oldest first, bounded by its cache capacity.
    recent: VecDeque<(u64, u64)>,
    held: BTreeSet<(u64, u64)>,
    capacity_blocks: usize,
}

impl Worker {
    /// A worker with no credit; `cache_capacity` in templates.
    pub fn new(cache_capacity: u64, now_ms: u64) -> Worker {
        Worker {
            credits: 0,
            leases: HashSet::new(),
            lost: HashSet::new(),
            known_jobs: HashSet::new(),
            last_seen_ms: now_ms,
            tasks_done: 0,
            recent: VecDeque::new(),
            held: BTreeSet::new(),
            capacity_blocks: (cache_capacity / BLOCK) as usize,
        }
    }

    /// Takes over the affinity memory of this worker's previous incarnation.
    pub fn inherit_affinity(&mut self, old: Worker) {
        self.recent = old.recent;
        self.held = old.held;
    }

    /// Adds credits, capped so leases plus credits never exceed [`MAX_OUTSTANDING`]; returns
    /// how many were refused.
    pub fn grant(&mut self, credits: u32) -> u32 {
        let room = MAX_OUTSTANDING
            .saturating_sub(self.leases.len() as u32)
            .saturating_sub(self.credits);
        let granted = credits.min(room);
        self.credits += granted;
        credits - granted
    }

    /// Records that the worker computed templates `[start, start+count)` of a bank; returns the
    /// blocks newly held and the blocks forgotten to stay within capacity.
    pub fn remember(&mut self, bank_key: u64, start: u64, count: u32) -> (Vec<Block>, Vec<Block>) {
        let (mut added, mut evicted) = (Vec::new(), Vec::new());
        if self.capacity_blocks == 0 {
            return (added, evicted);
        }
        let end = start + count as u64;
        for b in start.div_ceil(BLOCK)..end / BLOCK {
            if self.held.insert((bank_key, b)) {
                self.recent.push_back((bank_key, b));
                added.push((bank_key, b));
            }
        }
        while self.recent.len() > self.capacity_blocks {
            if let Some(old) = self.recent.pop_front() {
                self.held.remove(&old);
                evicted.push(old);
            }
        }
        (added, evicted)
    }

    /// Blocks of a bank this worker holds, in bank order.
    pub fn held_blocks(&self, bank_key: u64) -> impl Iterator<Item = u64> + '_ {
        self.held
            .range((bank_key, 0)..=(bank_key, u64::MAX))
            .map(|&(_, b)| b)
    }
}
