//! What happens to a PSD between its source and the filter: PyCBC's `interpolate` and
//! `inverse_spectrum_truncation`, the analytic aLIGO curve, and the band check.

use num_complex::Complex;
use realfft::RealFftPlanner;

use super::{numpy_hanning, numpy_interp, PsdError};

/// PyCBC `pycbc.psd.interpolate(series, delta_f)` to `new_len` bins (new_len = segment_samples/2+1).
///
/// Linear interpolation (`numpy.interp`) of `psd`, sampled at k·`delta_f`, onto
/// i·`new_delta_f` for i < `new_len`; bins past the input's last frequency take its last value,
/// as numpy does. The Welch estimate has a 4 s resolution but the filter works on much longer
/// segments, so the PSD must be resampled onto the segment grid before it weights anything.
///
/// # Panics
/// If `psd` is empty.
pub fn interpolate(psd: &[f64], delta_f: f64, new_delta_f: f64, new_len: usize) -> Vec<f64> {
    assert!(!psd.is_empty(), "interpolate: empty PSD");
    let xp: Vec<f64> = (0..psd.len()).map(|k| k as f64 * delta_f).collect();
    (0..new_len)
        .map(|i| numpy_interp(i as f64 * new_delta_f, &xp, psd))
        .collect()
}

/// PyCBC `inverse_spectrum_truncation(psd, max_filter_len, low_frequency_cutoff, trunc_method='hann')`.
///
/// Limits the whitening filter 1/√S to `max_filter_len` samples in the time domain, so that
/// filtering corrupts only that many samples at each segment edge instead of wrapping sharp
/// spectral lines around the whole segment. PyCBC's steps, reproduced:
/// the inverse ASD 1/√S on bins [k_min, N/2) with k_min = ⌊cutoff/Δf⌋ (1 when the cutoff is
/// `None` or 0), zero elsewhere (so DC and Nyquist are zero); an inverse real FFT scaled by Δf;
/// the first and last ⌊max_filter_len/2⌋ samples tapered by the two halves of
/// `numpy.hanning(max_filter_len)` and everything between zeroed; a forward FFT scaled by
/// Δt = 1/(N·Δf); the output is 1/|·|² in every bin (including those below the cutoff, which now
/// hold the smoothed leakage — callers exclude them with their band).
///
/// # Panics
/// Where PyCBC raises: `max_filter_len` 0 or longer than the N = 2(len−1) samples of the
/// segment, a cutoff outside [0, (len−1)·Δf], or a PSD with fewer than 2 bins.
pub fn inverse_spectrum_truncation(
    psd: &[f64],
    delta_f: f64,
    max_filter_len: usize,
    low_frequency_cutoff: Option<f64>,
) -> Vec<f64> {
    assert!(
        psd.len() >= 2,
        "inverse_spectrum_truncation: PSD needs at least 2 bins"
    );
    assert!(
        max_filter_len > 0,
        "max_filter_len must be a positive integer"
    );
    let n = (psd.len() - 1) * 2;
    let f_last = (psd.len() - 1) as f64 * delta_f;
    let mut kmin = 1;
    if let Some(cut) = low_frequency_cutoff {
        assert!(
            (0.0..=f_last).contains(&cut),
            "low_frequency_cutoff {cut} Hz must be within the bandwidth of the PSD (0..{f_last} Hz)"
        );
        if cut != 0.0 {
            kmin = (cut / delta_f) as usize;
        }
    }
    let trunc_start = max_filter_len / 2;
    assert!(
        trunc_start <= n - trunc_start,
        "max_filter_len {max_filter_len} is longer than the {n}-sample segment"
    );
    let trunc_end = n - trunc_start;

    let mut planner = RealFftPlanner::<f64>::new();
    let c2r = planner.plan_fft_inverse(n);
    let r2c = planner.plan_fft_forward(n);
    let mut spectrum = c2r.make_input_vec();
    for k in kmin..n / 2 {
        spectrum[k] = Complex::new((1.0 / psd[k]).sqrt(), 0.0);
    }
    let mut q = c2r.make_output_vec();
    c2r.process(&mut spectrum, &mut q)
        .expect("DC and Nyquist are real");
    for v in q.iter_mut() {
        *v *= delta_f;
    }
    let window = numpy_hanning(max_filter_len);
    for j in 0..trunc_start {
        q[j] *= window[max_filter_len - trunc_start + j];
        q[trunc_end + j] *= window[j];
    }
    q[trunc_start..trunc_end].fill(0.0);
    r2c.process(&mut q, &mut spectrum)
        .expect("buffers come from the plan");
    let delta_t = 1.0 / (delta_f * n as f64);
    spectrum
        .iter()
        .map(|c| {
            let (re, im) = (c.re * delta_t, c.im * delta_t);
            1.0 / (re * re + im * im)
        })
        .collect()
}

/// The analytic aLIGO curve of physics.md §3.3 (Ajith 2011 fit), Hz^-1.
///
/// S(f) = 1e-48·[0.0152x⁻⁴ + 0.2935x^(9/4) + 2.7951x^(3/2) − 6.5080x^(3/4) + 17.7622],
/// x = f/245.4 Hz. A stand-in for a measured spectrum when there is no data to estimate one
/// from (simulated searches, sensitivity estimates); meaningless below ~10 Hz.
pub fn aligo(f: f64) -> f64 {
    let x = f / 245.4;
    1e-48
        * (0.0152 * x.powi(-4) + 0.2935 * x.powf(2.25) + 2.7951 * x.powf(1.5)
            - 6.5080 * x.powf(0.75)
            + 17.7622)
}

/// That curve on a grid of `len` bins spaced delta_f; 0 below f_low (and at DC), as PyCBC's
/// analytical PSDs do below their low cutoff.
///
/// PyCBC's rule (`pycbc.psd.analytical.from_string`): bins k < ⌊f_low/Δf⌋ are zero, so the bin
/// at ⌊f_low/Δf⌋·Δf keeps its value even when f_low falls between bins; DC is always zero here
/// because the curve diverges there.
pub fn aligo_series(len: usize, delta_f: f64, f_low: f64) -> Vec<f64> {
    let kmin = ((f_low / delta_f).max(0.0) as usize).max(1);
    (0..len)
        .map(|k| {
            if k < kmin {
                0.0
            } else {
                aligo(k as f64 * delta_f)
            }
        })
        .collect()
}

/// Every value in bins [k_low, k_high) must be finite and > 0; the error names the first bad frequency.
///
/// The filter divides by S in exactly these bins, so a zero, negative, NaN or infinite value
/// there would turn every SNR into garbage without any other symptom; this is the last place to
/// say which frequency is at fault.
pub fn check_band(psd: &[f64], delta_f: f64, k_low: usize, k_high: usize) -> Result<(), PsdError> {
    if k_low > k_high || k_high > psd.len() {
        return Err(PsdError::BandOutOfRange {
            k_low,
            k_high,
            len: psd.len(),
        });
    }
    match (k_low..k_high).find(|&k| !(psd[k].is_finite() && psd[k] > 0.0)) {
        Some(bin) => Err(PsdError::BadBand {
            freq: bin as f64 * delta_f,
            bin,
            value: psd[bin],
        }),
        None => Ok(()),
    }
}
