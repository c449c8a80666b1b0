//! Threshold and cluster, PyCBC's way, in one pass over the analysed slice.
//!
//! PyCBC's CPU `ThresholdCluster.threshold_and_cluster(threshold, window)`
//! (`events/simd_threshold_ccode.cpp`, `_parallel_thresh_cluster`) does:
//!
//! 1. split the slice into windows of `window` samples aligned to the slice's **start**; the
//!    last window is whatever is left (possibly shorter);
//! 2. in each window take the maximum of `|z|²`, starting from `0` with a strict `>`: the
//!    **earliest** sample wins ties (an all-zero window reports its first sample);
//! 3. keep window `i` when its maximum is `> threshold²` (strict) and it is a local maximum
//!    among the window maxima: `> previous` and `≥ next` for inner windows; the first window
//!    needs `> next` (strict), the last `> previous`; a single window needs only the threshold.
//!
//! Here step 2 works on the raw transform (`|z|² = scale²·|raw|²`), so the threshold is
//! compared as `|raw|² > (threshold/scale)²` and the square root is taken only for the peak
//! and the kept samples. The window maxima also give the slice's peak (earliest on ties).

use num_complex::Complex64;
use std::ops::Range;

/// The maximum of `|raw|²` in one window and where it is (absolute index into the series).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowMax {
    /// `max |raw|²` over the window (0 if every value is 0).
    pub norm: f64,
    /// Its index (the earliest on ties; the window's first index if all are 0).
    pub loc: usize,
}

/// Fills `wins` with the maxima of the windows of `raw[analyze]` (step 2 above).
pub fn window_maxima(
    raw: &[Complex64],
    analyze: Range<usize>,
    window: usize,
    wins: &mut Vec<WindowMax>,
) {
    assert!(
        analyze.end <= raw.len(),
        "analysed slice outside the series"
    );
    window_maxima_by(|j| raw[j], analyze, window, wins);
}

/// [`window_maxima`] over any series given by its sample accessor (`at(j)` for `j` in
/// `analyze`).
#[inline]
pub(crate) fn window_maxima_by(
    at: impl Fn(usize) -> Complex64,
    analyze: Range<usize>,
    window: usize,
    wins: &mut Vec<WindowMax>,
) {
    assert!(
        window >= 1,
        "the clustering window must hold at least one sample"
    );
    wins.clear();
    let mut start = analyze.start;
    while start < analyze.end {
        let end = (start + window).min(analyze.end);
        let mut norm = 0.0f64;
        let mut loc = start;
        for j in start..end {
            let z = at(j);
            let v = z.re * z.re + z.im * z.im;
            if v > norm {
                norm = v;
                loc = j;
            }
        }
        wins.push(WindowMax { norm, loc });
        start = end;
    }
}

/// The peak among window maxima: the largest, the earliest on ties (windows are in order).
pub fn peak(wins: &[WindowMax]) -> Option<WindowMax> {
    let mut it = wins.iter();
    let mut best = *it.next()?;
    for w in it {
        if w.norm > best.norm {
            best = *w;
        }
    }
    Some(best)
}

/// Calls `keep` with each kept window maximum, in order (step 3 above; `thr2` is the
/// squared threshold on the same scale as the norms).
pub fn clustered(wins: &[WindowMax], thr2: f64, mut keep: impl FnMut(WindowMax)) {
    let n = wins.len();
    match n {
        0 => {}
        1 => {
            if wins[0].norm > thr2 {
                keep(wins[0]);
            }
        }
        _ => {
            if wins[0].norm > wins[1].norm && wins[0].norm > thr2 {
                keep(wins[0]);
            }
            for i in 1..n - 1 {
                let v = wins[i].norm;
                if v > thr2 && v > wins[i - 1].norm && v >= wins[i + 1].norm {
                    keep(wins[i]);
                }
            }
            if wins[n - 1].norm > wins[n - 2].norm && wins[n - 1].norm > thr2 {
                keep(wins[n - 1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(v: &[f64]) -> Vec<Complex64> {
        v.iter().map(|&x| Complex64::new(x, 0.0)).collect()
    }

    fn run(v: &[f64], analyze: Range<usize>, window: usize, thr: f64) -> Vec<usize> {
        let mut wins = Vec::new();
        window_maxima(&series(v), analyze, window, &mut wins);
        let mut out = Vec::new();
        clustered(&wins, thr * thr, |w| out.push(w.loc));
        out
    }

    #[test]
    fn windows_align_to_the_slice_start_and_keep_the_partial_tail() {
        // Slice [1, 8), window 3: windows [1,4) [4,7) [7,8).
        let v = [9.0, 1.0, 2.0, 1.0, 5.0, 1.0, 1.0, 6.0];
        assert_eq!(run(&v, 1..8, 3, 0.5), vec![7]);
        let v = [9.0, 1.0, 2.0, 1.0, 5.0, 1.0, 1.0, 4.0];
        assert_eq!(run(&v, 1..8, 3, 0.5), vec![4]);
    }

    #[test]
    fn threshold_is_strict_and_ties_pick_the_earliest() {
        let v = [0.0, 3.0, 3.0, 0.0];
        assert_eq!(run(&v, 0..4, 4, 3.0), Vec::<usize>::new());
        assert_eq!(run(&v, 0..4, 4, 2.9), vec![1]);
    }

    #[test]
    fn neighbour_rules_follow_pycbc() {
        // Equal first two windows: the first needs a strict '>', the second '>' previous: none.
        assert_eq!(run(&[5.0, 5.0], 0..2, 1, 1.0), Vec::<usize>::new());
        // Inner plateau: '>' previous and '>=' next keeps the earlier of two equal windows.
        assert_eq!(run(&[1.0, 5.0, 5.0, 1.0], 0..4, 1, 1.0), vec![1]);
        // Last window only needs '>' previous.
        assert_eq!(run(&[1.0, 2.0, 3.0], 0..3, 1, 1.0), vec![2]);
        // All-zero windows never pass a positive threshold; their location is the start.
        let mut wins = Vec::new();
        window_maxima(&series(&[0.0; 5]), 1..5, 2, &mut wins);
        assert_eq!(wins.iter().map(|w| w.loc).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(peak(&wins).map(|w| w.loc), Some(1));
    }
}
