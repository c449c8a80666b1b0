//! Simulated detector data: coloured Gaussian noise made in the frequency domain, plus signals
//! injected at a target optimal SNR or at a distance.
//!
//! A search needs data whose answer is known: noise of a known spectrum (so the SNR statistics
//! can be checked against Gaussian theory) and signals of known parameters, times and optimal
//! SNRs (so found/missed and the recovered SNR can be checked). This module is the math; the
//! `chirpfarm simulate` command (client) chooses the waveforms and writes the files.
//!
//! * Noise ([`gaussian_noise_fd`]): PyCBC's `pycbc.noise.gaussian.frequency_noise_from_psd`
//!   (physics.md §3.4): in every band bin `k ∈ [k_low, n/2)` independently
//!   `Re ñ_k, Im ñ_k ~ N(0, S_k/(4Δf))`, zero elsewhere (DC, Nyquist, below `f_low`), so
//!   `E|ñ_k|² = S_k/(2Δf)` and `Var⟨ñ|h⟩ = ⟨h|h⟩` exactly.
//! * Normals ([`StableNormal`]): ChaCha8 (value-stable across `rand_chacha` versions and
//!   platforms) and Marsaglia's polar method with a logarithm written here in `+ − × ÷` only
//!   ([`stable_ln`]) and IEEE `sqrt`: the same seed gives bit-identical draws on every machine,
//!   whatever its libm.
//! * Time domain ([`to_time_domain`]): `x_j = Δf · Σ_k X_k e^{2πijk/n}` over the Hermitian
//!   spectrum (numpy: `f_s·irfft`), with rustfft's *scalar* planner, so no CPU-dependent SIMD
//!   path changes the rounding either.
//! * Injections ([`add_injection`]): `d_k += a · h_k · e^{iφ_c} · e^{−2πi f_k t_0}` on the band
//!   bins (physics.md §3.5), where `a = ρ/σ_h` for a target optimal SNR ρ ([`sigmasq`] with the
//!   same PSD and band) or `1/D` for a waveform given at 1 Mpc.
//!
//! Frequency-domain data is periodic over the whole duration: a chirp that starts before the
//! data would wrap onto its end, so [`chirp_time_bound`] (LALSimulation's
//! `XLALSimInspiralChirpTimeBound`) lets the caller refuse such injection times.

mod injection;

pub use injection::{
    parse_inject_spec, read_injection_file, write_injection_file, Injected, InjectionRow,
    INJECTION_COLUMNS, MAX_INJECTIONS,
};

use num_complex::Complex64;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustfft::FftPlannerScalar;

/// Why simulated data could not be made. Every message names the parameter or the row at fault.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A parameter (duration, rate, band, PSD) is out of range.
    #[error("{0}")]
    Param(String),
    /// An injection (inline or a file row) is malformed or does not fit the data.
    #[error("{0}")]
    Injection(String),
    /// An injection file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// A standard normal sampler whose output depends only on the seed.
///
/// Why not `rand_distr::Normal`: its ziggurat tables and algorithm may change between crate
/// versions, and `f64::ln` comes from the platform's libm; either would make "the same seed gives
/// the same data" false somewhere. ChaCha8's stream is value-stable, the uniform draw uses the
/// top 53 bits of each `u64`, and the polar method needs only [`stable_ln`] and `sqrt` (correctly
/// rounded by IEEE 754).
#[derive(Debug, Clone)]
pub struct StableNormal {
    rng: ChaCha8Rng,
}

impl StableNormal {
    /// A sampler for `seed`: ChaCha8 keyed with the seed's 8 little-endian bytes followed by 24
    /// zero bytes (explicit, so no seed-expansion routine of `rand_core` is involved).
    pub fn new(seed: u64) -> StableNormal {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        StableNormal {
            rng: ChaCha8Rng::from_seed(key),
        }
    }

    /// A uniform number in [−1, 1) on a grid of 2⁻⁵².
    fn symmetric_uniform(&mut self) -> f64 {
        let u = (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        2.0 * u - 1.0
    }

    /// Two independent standard normals (Marsaglia's polar method).
    pub fn pair(&mut self) -> (f64, f64) {
        loop {
            let (u, v) = (self.symmetric_uniform(), self.symmetric_uniform());
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * stable_ln(s) / s).sqrt();
                return (u * f, v * f);
            }
        }
    }
}

/// ln(x) for a positive normal `x`, using only `+ − × ÷` (no libm), accurate to a few ulp.
///
/// `x = m·2^e` with `m ∈ [√½, √2)`; `ln m = 2 atanh(s)`, `s = (m−1)/(m+1)`, `|s| ≤ 0.172`, summed
/// to `s²⁵` (the next term is below 1e-19 of the result); `e·ln 2` in two parts (Cody–Waite).
/// Why: [`StableNormal`] must not depend on the platform's `ln`.
pub fn stable_ln(x: f64) -> f64 {
    debug_assert!(x.is_normal() && x > 0.0);
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // 0x3fe62e42fee00000: exact times small e
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // Horner over 1/(2j+1), j = 12..0.
    let mut poly = 0.0;
    for j in (0..=12).rev() {
        poly = poly * s2 + 1.0 / (2 * j + 1) as f64;
    }
    let e = e as f64;
    e * LN2_HI + (e * LN2_LO + 2.0 * s * poly)
}

/// The frequency grid of one simulated stretch: `n` samples at `sample_rate`, band from `f_low`.
///
/// Why a type: noise, σ, injections and the inverse transform must all agree on `n`, `Δf` and
/// the band `[k_low, n/2)`; one value carries them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimGrid {
    /// Samples in the stretch (even).
    pub n: usize,
    /// Samples per second.
    pub sample_rate: f64,
    /// Lower edge of the band, Hz: bin `⌊f_low/Δf⌋` is the first noisy one (PyCBC's rule).
    pub f_low: f64,
}

impl SimGrid {
    /// A grid, checked: `n` even and ≥ 4, a finite positive rate, `f_low` leaving a band.
    pub fn new(n: usize, sample_rate: f64, f_low: f64) -> Result<SimGrid, SimError> {
        let g = SimGrid {
            n,
            sample_rate,
            f_low,
        };
        if n < 4 || !n.is_multiple_of(2) {
            return Err(SimError::Param(format!(
                "the data must be an even number of at least 4 samples, got {n}"
            )));
        }
        if !(sample_rate.is_finite() && sample_rate > 0.0) {
            return Err(SimError::Param(format!(
                "sample rate {sample_rate} Hz is not a positive number"
            )));
        }
        if !(f_low.is_finite() && f_low > 0.0 && g.k_low() >= 1 && g.k_low() < n / 2) {
            return Err(SimError::Param(format!(
                "--f-low {f_low} Hz must lie between one frequency bin ({} Hz) and the Nyquist frequency ({} Hz)",
                g.delta_f(),
                sample_rate / 2.0
            )));
        }
        Ok(g)
    }

    /// Bin spacing, 1/duration.
    pub fn delta_f(&self) -> f64 {
        self.sample_rate / self.n as f64
    }

    /// Frequency bins 0..=n/2.
    pub fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    /// First band bin, `⌊f_low/Δf⌋` (the bin at exactly `f_low` is in the band).
    pub fn k_low(&self) -> usize {
        (self.f_low / self.delta_f()) as usize
    }

    /// One past the last band bin: Nyquist is excluded (its value must be real).
    pub fn k_high(&self) -> usize {
        self.n / 2
    }

    /// Duration in seconds.
    pub fn duration(&self) -> f64 {
        self.n as f64 / self.sample_rate
    }
}

/// Checks that `psd` has `grid.bins()` values, finite and > 0 on the band.
fn check_psd(psd: &[f64], grid: &SimGrid) -> Result<(), SimError> {
    if psd.len() != grid.bins() {
        return Err(SimError::Param(format!(
            "the PSD has {} values, the grid {} bins",
            psd.len(),
            grid.bins()
        )));
    }
    crate::psd::check_band(psd, grid.delta_f(), grid.k_low(), grid.k_high())
        .map_err(|e| SimError::Param(e.to_string()))
}

/// Gaussian noise with one-sided PSD `psd` (`grid.bins()` values), as continuous-FT samples
/// `ñ_k` (units of strain·s) on every bin of the grid (zero outside the band).
///
/// Draw order (part of the reproducibility contract): one [`StableNormal::pair`] per band bin,
/// in increasing `k`, the first to the real part.
pub fn gaussian_noise_fd(
    psd: &[f64],
    grid: &SimGrid,
    seed: u64,
) -> Result<Vec<Complex64>, SimError> {
    check_psd(psd, grid)?;
    let mut normal = StableNormal::new(seed);
    let mut out = vec![Complex64::new(0.0, 0.0); grid.bins()];
    let scale = 1.0 / (4.0 * grid.delta_f());
    for (k, bin) in out
        .iter_mut()
        .enumerate()
        .take(grid.k_high())
        .skip(grid.k_low())
    {
        let sigma = (psd[k] * scale).sqrt();
        let (re, im) = normal.pair();
        *bin = Complex64::new(re * sigma, im * sigma);
    }
    Ok(out)
}

/// `σ² = 4Δf Σ_{k ∈ [k_low, n/2)} |h_k|²/S_k` (PyCBC's `sigmasq`): the optimal SNR² of `h`.
pub fn sigmasq(h: &[Complex64], psd: &[f64], grid: &SimGrid) -> f64 {
    let band = grid.k_low()..grid.k_high();
    4.0 * grid.delta_f()
        * h[band.clone()]
            .iter()
            .zip(&psd[band])
            .map(|(h, s)| h.norm_sqr() / s)
            .sum::<f64>()
}

/// Adds `amplitude · h · e^{iφ_c} · e^{−2πi f_k t0}` to `data` on the band bins: the signal `h`
/// (coalescing at t = 0 on the grid) moved to coalesce `t0` seconds after the first sample.
///
/// The phase `2π f_k t0 = 2π k t0/T` is reduced modulo 2π before `sin_cos`, so late bins of a
/// long stretch keep ~1e-10 rad accuracy.
pub fn add_injection(
    data: &mut [Complex64],
    h: &[Complex64],
    amplitude: f64,
    coa_phase: f64,
    t0: f64,
    grid: &SimGrid,
) {
    let cycles_per_bin = t0 / grid.duration();
    let rot = Complex64::from_polar(amplitude, coa_phase);
    for k in grid.k_low()..grid.k_high() {
        let x = k as f64 * cycles_per_bin;
        let (s, c) = (-2.0 * std::f64::consts::PI * (x - x.round())).sin_cos();
        data[k] += h[k] * rot * Complex64::new(c, s);
    }
}

/// The time series `x_j = Δf · Σ_{k=−n/2}^{n/2} X_k e^{2πijk/n}` of a one-sided spectrum `X`
/// (`n/2 + 1` continuous-FT samples; the imaginary parts of DC and Nyquist are ignored, as
/// numpy's `irfft` does).
///
/// A complex inverse FFT of length `n` from rustfft's scalar planner over the Hermitian
/// extension: twice the work of a real transform, but the same code path (and the same
/// rounding) on every CPU, which [`StableNormal`]'s promise needs.
pub fn to_time_domain(spectrum: &[Complex64], grid: &SimGrid) -> Vec<f64> {
    let n = grid.n;
    assert_eq!(
        spectrum.len(),
        grid.bins(),
        "spectrum must have n/2 + 1 bins"
    );
    let mut buf = vec![Complex64::new(0.0, 0.0); n];
    buf[0] = Complex64::new(spectrum[0].re, 0.0);
    buf[n / 2] = Complex64::new(spectrum[n / 2].re, 0.0);
    for k in 1..n / 2 {
        buf[k] = spectrum[k];
        buf[n - k] = spectrum[k].conj();
    }
    let fft = FftPlannerScalar::new().plan_fft_inverse(n);
    fft.process(&mut buf);
    let df = grid.delta_f();
    buf.iter().map(|z| z.re * df).collect()
}

/// An upper bound on the time a signal spends between `f_start` and coalescence, seconds:
/// LALSimulation's `XLALSimInspiralChirpTimeBound` (2PN TaylorT2 with an over-estimated spin
/// term), with the seed's solar mass in seconds.
///
/// Why: an injection whose chirp starts before the data would wrap onto the end of the
/// (periodic) simulated stretch; callers compare this bound with the injection time.
pub fn chirp_time_bound(f_start: f64, m1: f64, m2: f64, s1: f64, s2: f64) -> f64 {
    const MSUN: f64 = 4.9257e-6;
    let m = (m1 + m2) * MSUN;
    let eta = m1 * m2 / ((m1 + m2) * (m1 + m2));
    let chi = if s1.abs() > s2.abs() { s1 } else { s2 }.abs();
    let c0 = 5.0 * m / (256.0 * eta);
    let c2 = 743.0 / 252.0 + 11.0 / 3.0 * eta;
    let c3 = 226.0 / 15.0 * chi;
    let c4 = 3_058_673.0 / 508_032.0 + 5429.0 / 504.0 * eta + 617.0 / 72.0 * eta * eta;
    let v = (std::f64::consts::PI * m * f_start).cbrt();
    c0 * v.powi(-8) * (1.0 + (c2 + (c3 + c4 * v) * v) * v * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ln_matches_libm() {
        let mut worst: f64 = 0.0;
        let mut x = 1e-30;
        while x < 1.0 {
            let r = (stable_ln(x) - x.ln()).abs() / x.ln().abs().max(1e-300);
            worst = worst.max(r);
            x *= 1.000_731;
        }
        for x in [0.5, 0.999_999_999, 1.0 - 1e-12, 0.707, 0.708, 1.414, 1.415] {
            let d = (stable_ln(x) - x.ln()).abs();
            assert!(
                d <= 4.0 * f64::EPSILON * x.ln().abs().max(1e-300) + 1e-300,
                "{x}: {d}"
            );
        }
        assert!(worst < 4e-16, "worst relative error {worst}");
        assert_eq!(stable_ln(1.0), 0.0);
    }

    #[test]
    fn chirp_time_bound_is_above_newtonian() {
        // τ0 = (5/256)(π f)^(−8/3) Mc^(−5/3): 25.51 s for Mc 1.2 at 40 Hz (physics.md §1).
        let (m1, m2) = (1.3784, 1.3784); // Mc ≈ 1.2
        let b = chirp_time_bound(40.0, m1, m2, 0.0, 0.0);
        assert!(b > 25.5 && b < 30.0, "{b}");
    }
}
