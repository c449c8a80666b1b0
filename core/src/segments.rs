//! How a stretch of strain is cut into overlapping analysis segments.
//!
//! A segment is `len` samples long (a power of two, so its FFT is fast). The first and last `pad`
//! samples of each segment are filtered but their SNR is discarded (the matched filter is
//! circular: near the edges the template wraps around into data that is not adjacent in time).
//! Segments overlap by `2·pad` so that their analysed parts tile the data without a gap or an
//! overlap: together they cover exactly the samples `[pad, n_data − pad)`. The last segment is
//! moved back to end at the end of the data (as PyCBC's `StrainSegments` does) and analyses only
//! what the previous one left. With `pad = 0` and `len = n_data` there is one segment whose whole
//! circular SNR series counts, as PyCBC's `matched_filter` returns it.

use crate::error::SpecError;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Smallest analysis segment accepted, in samples.
pub const MIN_SEGMENT_SAMPLES: u64 = 1 << 12;
/// Largest analysis segment accepted, in samples.
pub const MAX_SEGMENT_SAMPLES: u64 = 1 << 22;

/// One analysis segment of a data search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Index of the segment's first sample in the data.
    pub start: u64,
    /// Offsets inside the segment (`0..len`) whose SNR samples count.
    pub analyze: Range<u64>,
}

impl Segment {
    /// The analysed samples as data indices.
    pub fn analyzed_in_data(&self) -> Range<u64> {
        self.start + self.analyze.start..self.start + self.analyze.end
    }
}

/// Cuts `n_data` samples into segments of `len` samples with `pad` samples discarded at each end.
///
/// Errors (naming the numbers) when `len` is not a power of two within
/// [`MIN_SEGMENT_SAMPLES`]`..=`[`MAX_SEGMENT_SAMPLES`], when `2·pad ≥ len`, or when the data is
/// shorter than one segment.
pub fn segments(n_data: u64, len: u64, pad: u64) -> Result<Vec<Segment>, SpecError> {
    if !len.is_power_of_two() || !(MIN_SEGMENT_SAMPLES..=MAX_SEGMENT_SAMPLES).contains(&len) {
        return Err(SpecError::BadSegment(format!(
            "a segment must be a power of two between 2^12 and 2^22 samples, got {len}"
        )));
    }
    if pad.saturating_mul(2) >= len {
        return Err(SpecError::BadSegment(format!(
            "the padding ({pad} samples at each end) must be less than half the segment ({len} samples)"
        )));
    }
    if n_data < len {
        return Err(SpecError::BadSegment(format!(
            "the data ({n_data} samples) is shorter than one segment ({len} samples)"
        )));
    }
    let stride = len - 2 * pad;
    let mut out = Vec::new();
    let mut start = 0u64;
    loop {
        out.push(Segment {
            start,
            analyze: pad..len - pad,
        });
        let covered = start + len - pad;
        if covered >= n_data - pad {
            break;
        }
        if start + stride + len <= n_data {
            start += stride;
        } else {
            // The last segment ends at the end of the data and analyses what is left.
            let last = n_data - len;
            out.push(Segment {
                start: last,
                analyze: covered - last..len - pad,
            });
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_tiling(n: u64, len: u64, pad: u64) {
        let segs = segments(n, len, pad).unwrap();
        let mut next = pad;
        for s in &segs {
            assert!(s.start + len <= n);
            assert!(s.analyze.start >= pad && s.analyze.end <= len - pad);
            let r = s.analyzed_in_data();
            assert_eq!(r.start, next, "{n} {len} {pad}: {segs:?}");
            assert!(r.end > r.start);
            next = r.end;
        }
        assert_eq!(next, n - pad, "{n} {len} {pad}: {segs:?}");
    }

    #[test]
    fn segments_tile_the_data() {
        check_tiling(4096, 4096, 0);
        check_tiling(4096 * 4, 4096, 0);
        check_tiling(4096 * 4 + 17, 4096, 0);
        check_tiling(4096 * 4, 4096, 512);
        check_tiling(4096 * 4 + 1000, 4096, 512);
        check_tiling(4096 * 15 + 3, 8192, 1024);
        check_tiling(4097, 4096, 1);
        for n in 4096..4200 {
            check_tiling(n, 4096, 100);
        }
    }

    #[test]
    fn one_segment_with_no_pad_is_the_whole_circular_series() {
        let s = segments(8192, 8192, 0).unwrap();
        assert_eq!(
            s,
            vec![Segment {
                start: 0,
                analyze: 0..8192
            }]
        );
    }

    #[test]
    fn bad_segmentations_are_named() {
        assert!(segments(10000, 5000, 0)
            .unwrap_err()
            .to_string()
            .contains("power of two"));
        assert!(segments(1 << 30, 1 << 23, 0).is_err());
        assert!(segments(8192, 4096, 2048)
            .unwrap_err()
            .to_string()
            .contains("half"));
        assert!(segments(4000, 4096, 0)
            .unwrap_err()
            .to_string()
            .contains("shorter"));
    }
}
