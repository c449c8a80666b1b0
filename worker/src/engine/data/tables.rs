//! Mc-independent power tables for the data-grid template generator, built once per grid and
//! shared by every template on it.
//!
//! The Newtonian chirp's two powers factor into a per-template scalar times a per-bin table:
//! `(p·f_k)^E53 = p^E53 · f_k^E53` and `amp0·f_k^(−7/6)`. [`GridTables`] holds the per-bin
//! factors over `k ∈ [k_first, n/2]` (the band plus Nyquist): `f_k^E53` in double-double (so the
//! generator can round the product once, see `template.rs`) and `f_k.powf(E76)`, the exact
//! operand of the direct formula's amplitude.
//!
//! Tables are looked up by [`grid_tables`] in a small process-wide map keyed by
//! `(n, sample_rate bits, k_first)` (two grids whose `f_low` fall in the same bin share one),
//! holding at most [`MAX_GRIDS`] grids; the least recently used is evicted. A search uses one
//! grid (rarely two), so the bound only matters for tests and odd callers: at n = 2^22 one grid
//! holds 48 MiB of tables.

use super::grid::DataGrid;
use crate::engine::grid::{pow_e53_dd, E76};
use std::sync::{Arc, Mutex, OnceLock};

/// Grids whose tables are kept at once (least recently used evicted first).
pub(crate) const MAX_GRIDS: usize = 4;

/// Smallest and largest frequency (Hz) the double-double power is accurate for; a grid with a
/// bin outside `[F_MIN_OK, F_MAX_OK]` gets no tables and its templates take the direct formula.
const F_MIN_OK: f64 = 1e-30;
/// See [`F_MIN_OK`].
const F_MAX_OK: f64 = 1e30;

/// Per-bin factors of one grid over `k = first..=n/2` (index `i = k − first`), struct-of-arrays
/// so the generator's loop vectorises.
#[derive(Debug)]
pub(crate) struct GridTables {
    /// First bin the tables cover (`max(k_low, 1)`).
    pub(crate) first: usize,
    /// Leading part of the double-double `f_k^E53` (numpy's `−5/3` rounded to double).
    pub(crate) g_hi: Vec<f64>,
    /// Trailing part of the double-double `f_k^E53` (`|g_lo| ≤ ulp(g_hi)/2`).
    pub(crate) g_lo: Vec<f64>,
    /// `f_k.powf(E76)`, bit-identical to the direct formula's amplitude factor.
    pub(crate) f76: Vec<f64>,
}

impl GridTables {
    /// Computes the tables for bins `first..=n/2` of `grid`, or `None` when a frequency lies
    /// outside the range the double-double power is accurate for.
    fn build(grid: &DataGrid, first: usize) -> Option<GridTables> {
        let df = grid.delta_f();
        let last = grid.n / 2;
        let (f_first, f_last) = (first as f64 * df, last as f64 * df);
        if !(first >= 1 && f_first >= F_MIN_OK && f_last <= F_MAX_OK) {
            return None;
        }
        let len = last + 1 - first;
        let mut t = GridTables {
            first,
            g_hi: Vec::with_capacity(len),
            g_lo: Vec::with_capacity(len),
            f76: Vec::with_capacity(len),
        };
        for k in first..=last {
            let f = k as f64 * df;
            let g = pow_e53_dd(f);
            t.g_hi.push(g.hi);
            t.g_lo.push(g.lo);
            t.f76.push(f.powf(E76));
        }
        Some(t)
    }

    /// Number of bins covered (`n/2 + 1 − first`).
    pub(crate) fn len(&self) -> usize {
        self.f76.len()
    }
}

/// Map key: segment length, sample-rate bits, first bin.
type Key = (usize, u64, usize);

/// One map entry: built at most once, outside the map's lock.
type Slot<T> = Arc<OnceLock<Option<Arc<T>>>>;

/// The entries, most recently used last.
type Entries<T> = Mutex<Vec<(Key, Slot<T>)>>;

/// Per-grid tables of one kind, shared by every thread of the process: at most [`MAX_GRIDS`]
/// grids, the least recently used evicted. One mechanism for every generator's tables (the
/// Newtonian chirp's here, TaylorF2's in `taylorf2.rs`), so they evict and lock alike.
///
/// The map lock is held only to find or insert the entry; the build runs under the entry's own
/// `OnceLock`, so threads wanting the same grid wait for one build and other grids are not
/// blocked. Builds must be single-threaded: a rayon job inside one could steal a template job
/// that asks for the same entry and deadlock.
pub(crate) struct GridMemo<T> {
    map: OnceLock<Entries<T>>,
}

impl<T> GridMemo<T> {
    /// An empty memo (for a `static`).
    pub(crate) const fn new() -> GridMemo<T> {
        GridMemo {
            map: OnceLock::new(),
        }
    }

    /// The tables of `grid` from its band's first bin `max(k_low, 1)`: cached, or made by
    /// `build(first)` (`None`: the grid is outside the tables' range, remembered as such).
    pub(crate) fn get(
        &self,
        grid: &DataGrid,
        build: impl FnOnce(usize) -> Option<T>,
    ) -> Option<Arc<T>> {
        let first = grid.k_low().max(1);
        let key = (grid.n, grid.sample_rate.to_bits(), first);
        let slot = {
            let mut m = self
                .map
                .get_or_init(|| Mutex::new(Vec::new()))
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // Most recently used last.
            let slot = match m.iter().position(|(k, _)| *k == key) {
                Some(i) => m.remove(i).1,
                None => Slot::default(),
            };
            m.push((key, Arc::clone(&slot)));
            if m.len() > MAX_GRIDS {
                m.remove(0);
            }
            slot
        };
        slot.get_or_init(|| build(first).map(Arc::new)).clone()
    }
}

/// The shared tables for `grid` (bins `max(k_low, 1)..=n/2`), built on first use (~80 ns per
/// bin, ~20 ms at n = 2^19); `None` when the grid is outside the fast path's range.
pub(crate) fn grid_tables(grid: &DataGrid) -> Option<Arc<GridTables>> {
    static MEMO: GridMemo<GridTables> = GridMemo::new();
    MEMO.get(grid, |first| GridTables::build(grid, first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::grid::E53;

    #[test]
    fn tables_cover_band_and_nyquist_and_are_shared() {
        let grid = DataGrid::new(4096, 1024.0, 20.0);
        let t = grid_tables(&grid).unwrap();
        assert_eq!(t.first, grid.k_low());
        assert_eq!(t.len(), grid.n / 2 + 1 - grid.k_low());
        let f = 100.0 * grid.delta_f();
        let i = 100 - t.first;
        assert_eq!(t.f76[i], f.powf(E76));
        assert!(((t.g_hi[i] - f.powf(E53)) / t.g_hi[i]).abs() <= 2.0 * f64::EPSILON);
        assert!(t.g_lo[i].abs() <= t.g_hi[i] * f64::EPSILON);
        // Same bin, different f_low: the same tables.
        let other = DataGrid::new(4096, 1024.0, 20.1);
        assert_eq!(other.k_low(), grid.k_low());
        assert!(Arc::ptr_eq(&t, &grid_tables(&other).unwrap()));
    }

    #[test]
    fn the_map_is_bounded() {
        let grids: Vec<DataGrid> = (0..MAX_GRIDS + 2)
            .map(|i| DataGrid::new(1024, 512.0, 10.0 + i as f64))
            .collect();
        let first = grid_tables(&grids[0]).unwrap();
        for g in &grids[1..] {
            grid_tables(g).unwrap();
        }
        // The first grid was evicted (other tests may add grids too, which only evicts more).
        assert!(!Arc::ptr_eq(&first, &grid_tables(&grids[0]).unwrap()));
    }
}
