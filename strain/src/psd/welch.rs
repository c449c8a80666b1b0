//! `pycbc.psd.welch(timeseries, seg_len, seg_stride, window='hann', avg_method='median')`.
//!
//! What PyCBC 2.11 does, and therefore what this does:
//!
//! 1. Segment count: `n // seg_stride`, minus one if the last segment would run past the data
//!    (PyCBC subtracts at most once). Where that count still does not fit (only when
//!    `seg_len > 2·seg_stride`) PyCBC raises; here the count falls back to the largest that fits,
//!    `(n − seg_len) / seg_stride + 1`, which is what PyCBC computes when given that
//!    `num_segments` explicitly.
//! 2. Leftover samples: the data is trimmed to `(count − 1)·stride + seg_len` samples,
//!    *centred*: `diff // 2` dropped from the end and `diff // 2 + diff % 2` from the start.
//! 3. Each segment is multiplied by `numpy.hanning(seg_len)` (symmetric Hann), real-FFT'd and
//!    scaled by Δt, and |X|² taken; the DC and last bins are halved ("TO10095").
//! 4. Per bin, the median over segments (mean of the two middle values for an even count),
//!    divided by `median_bias(count)` — the same for odd and even counts.
//! 5. Everything times `2·Δf·seg_len / Σw²`.

use realfft::RealFftPlanner;

use super::{numpy_hanning, PsdError};

/// Median of `n` independent χ²₂ variables divided by their mean, as PyCBC's `median_bias`
/// (arXiv:gr-qc/0509116 appendix B): 1 + Σ_{i=1}^{(n−1)/2} (1/(2i+1) − 1/(2i)), or ln 2 from
/// n = 1000 on.
///
/// Public because anything that re-derives a median PSD (or checks one) needs the same number.
pub fn median_bias(n: usize) -> f64 {
    if n >= 1000 {
        return std::f64::consts::LN_2;
    }
    let mut ans = 1.0;
    for i in 1..=(n.saturating_sub(1)) / 2 {
        ans += 1.0 / (2 * i + 1) as f64 - 1.0 / (2 * i) as f64;
    }
    ans
}

/// PyCBC `pycbc.psd.welch(timeseries, seg_len, seg_stride, window='hann', avg_method='median')`;
/// returns seg_len/2+1 one-sided values at k·sample_rate/seg_len Hz.
///
/// The data is the detector strain at `sample_rate` Hz. Errors: a non-positive sample rate,
/// zero `seg_len` or `seg_stride`, data shorter than one segment (both lengths named), a
/// non-finite sample, fewer than two segments (a median of one periodogram is no average).
pub fn welch(
    samples: &[f64],
    sample_rate: f64,
    seg_len: usize,
    seg_stride: usize,
) -> Result<Vec<f64>, PsdError> {
    if !(sample_rate.is_finite() && sample_rate > 0.0) {
        return Err(PsdError::BadSampleRate(sample_rate));
    }
    if seg_len == 0 {
        return Err(PsdError::ZeroSegLen);
    }
    if seg_stride == 0 {
        return Err(PsdError::ZeroStride);
    }
    let n = samples.len();
    if seg_len > n {
        return Err(PsdError::DataTooShort {
            samples: n,
            seg_len,
        });
    }
    if let Some(index) = samples.iter().position(|v| !v.is_finite()) {
        return Err(PsdError::NonFiniteSample {
            index,
            value: samples[index],
        });
    }
    let count = segment_count(n, seg_len, seg_stride);
    if count < 2 {
        return Err(PsdError::TooFewSegments {
            samples: n,
            seg_len,
            seg_stride,
            segments: count,
        });
    }
    let data_len = (count - 1) * seg_stride + seg_len;
    let diff = n - data_len;
    let start = diff / 2 + diff % 2;
    let data = &samples[start..start + data_len];

    let delta_t = 1.0 / sample_rate;
    let delta_f = 1.0 / delta_t / seg_len as f64;
    let window = numpy_hanning(seg_len);
    let bins = seg_len / 2 + 1;

    // periodograms, bin-major: pers[k * count + i] is segment i's power in bin k, so the
    // median of a bin reads one contiguous run
    let mut pers = vec![0.0f64; bins * count];
    let r2c = RealFftPlanner::<f64>::new().plan_fft_forward(seg_len);
    let mut input = r2c.make_input_vec();
    let mut spectrum = r2c.make_output_vec();
    let mut scratch = r2c.make_scratch_vec();
    for i in 0..count {
        let segment = &data[i * seg_stride..i * seg_stride + seg_len];
        for ((x, s), w) in input.iter_mut().zip(segment).zip(&window) {
            *x = s * w;
        }
        r2c.process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .expect("buffers come from the plan");
        for (k, c) in spectrum.iter().enumerate() {
            // PyCBC: segment_tilde = rfft(segment * w) * delta_t; |tilde * conj(tilde)|
            let (re, im) = (c.re * delta_t, c.im * delta_t);
            pers[k * count + i] = re * re + im * im;
        }
        pers[i] /= 2.0;
        pers[(bins - 1) * count + i] /= 2.0;
    }

    let bias = median_bias(count);
    let sum_w2 = numpy_sum(&window.iter().map(|w| w * w).collect::<Vec<_>>());
    let scale = 2.0 * delta_f * seg_len as f64 / sum_w2;
    Ok(pers
        .chunks_exact_mut(count)
        .map(|run| median(run) / bias * scale)
        .collect())
}

/// PyCBC's segment count (point 1 of the module doc), with the largest fitting count where
/// PyCBC's own rule would not fit. Requires `seg_len <= n`.
fn segment_count(n: usize, seg_len: usize, seg_stride: usize) -> usize {
    let fits = |c: usize| c >= 1 && (c - 1) * seg_stride + seg_len <= n;
    let mut count = n / seg_stride;
    if count >= 1 && !fits(count) {
        count -= 1;
    }
    if fits(count) {
        count
    } else {
        (n - seg_len) / seg_stride + 1
    }
}

/// `numpy.median` of a non-empty run (reordered in place): the middle value, or for an even
/// length the mean `(a + b) / 2` of the two middle values, as numpy computes it.
fn median(run: &mut [f64]) -> f64 {
    let odd = run.len() % 2 == 1;
    let mid = run.len() / 2;
    let (left, m, _) = run.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if odd {
        m
    } else {
        let below = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + m) / 2.0
    }
}

/// `numpy.sum` of a contiguous float64 array: numpy's pairwise summation (blocks of 128,
/// eight accumulators), so Σw² is the same double PyCBC divides by.
fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(-0.0, |acc, v| acc + v)
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &a[i..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_values() {
        assert_eq!(median_bias(1), 1.0);
        assert_eq!(median_bias(2), 1.0);
        assert!((median_bias(3) - (1.0 + 1.0 / 3.0 - 0.5)).abs() < 1e-16);
        assert_eq!(median_bias(1000), std::f64::consts::LN_2);
    }

    #[test]
    fn pycbc_segment_count() {
        // 64 s at 2048 Hz, 4 s / 2 s: 32 strides, the 32nd segment does not fit
        assert_eq!(segment_count(131072, 8192, 4096), 31);
        // stride > seg_len: PyCBC keeps n // stride when the last one fits
        assert_eq!(segment_count(10, 2, 4), 2);
        // seg_len > 2 stride: PyCBC's rule fails, the largest fitting count is used
        assert_eq!(segment_count(131072, 8192, 2048), 61);
    }

    #[test]
    fn median_even_and_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn pairwise_sum_small_and_large() {
        let v: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(numpy_sum(&v), 499500.0);
        assert_eq!(numpy_sum(&[1.0, 2.0]), 3.0);
    }
}
