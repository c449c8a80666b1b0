//! Exact matches: <ŝ|t̂> maximised over coalescence time (FFT over lags) and phase (|z|).
//!
//! The metric only predicts matches; a bank is judged by real ones. For two TaylorF2 waveforms
//! s, t on a uniform grid Δf over [f_low, f_high] (each ending at its own ISCO),
//! z(τ) = Σ_k conj(t_k) s_k / S_k e^{2πi f_k τ} is computed for all lags τ = jT/n by one inverse
//! FFT, and match = max_j |z_j| / sqrt(σ_s² σ_t²) (physics.md §3.1–3.2, §5.1).
//!
//! Why the grid can be coarse: only the *product* conj(t)·s is summed, and its phase
//! Ψ_s − Ψ_t varies as slowly as the two chirps' arrival times at each frequency differ
//! (milliseconds to a tenth of a second for neighbours) — not as the chirps themselves (a
//! minute at 30 Hz). A period T = 1/Δf of at least 4 s and at least 4× the difference of the
//! chirp times τ0 − τ3 at f_low keeps z free of wrap-around. The bins are shifted down to start
//! at f_low before the FFT (|z| does not change) and zero-padded 4×, so lags are T/(4·bins)
//! apart; the peak is refined by a parabola through |z| and the sum evaluated directly at the
//! refined lag, and the larger of that and the grid maximum is the match (a lower bound on the
//! continuous maximum, tight to ~1e-6).

use crate::noise::Noise;
use chirpfarm_core::TemplateParams;
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::sync::{Arc, OnceLock};

/// Periods tried: 4 s · 2^i, i < GRIDS (up to 512 s).
const GRIDS: usize = 8;

/// One frequency grid: bins, 1/S on them, and the FFT plan for its lags.
struct Grid {
    /// Bin spacing, Hz.
    delta_f: f64,
    /// Index of the first bin, ⌊f_low/Δf⌋ (the bin at f_low is in the band, as in PyCBC).
    k_low: usize,
    /// 1/S for bins k_low.. (up to f_high).
    inv_psd: Vec<f64>,
    /// Inverse FFT over lags, length a power of two ≥ 4 × bins.
    fft: Arc<dyn Fft<f64>>,
}

/// Computes exact matches for one noise spectrum and band; shared by all threads.
pub struct Matcher {
    /// The band's lower end, Hz.
    f_low: f64,
    /// The band's upper end, Hz.
    f_high: f64,
    /// The noise spectrum.
    noise: Noise,
    /// Grids, made on first use.
    grids: [OnceLock<Grid>; GRIDS],
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("f_low", &self.f_low)
            .field("f_high", &self.f_high)
            .finish()
    }
}

impl Matcher {
    /// A matcher for a band (the noise must be finite and positive in it: `Noise::check_band`).
    pub fn new(noise: Noise, f_low: f64, f_high: f64) -> Matcher {
        Matcher {
            f_low,
            f_high,
            noise,
            grids: Default::default(),
        }
    }

    /// The grid of period 4·2^i s.
    fn grid(&self, i: usize) -> &Grid {
        self.grids[i].get_or_init(|| {
            let delta_f = 1.0 / (4.0 * (1u64 << i) as f64);
            let k_low = (self.f_low / delta_f).floor() as usize;
            let k_high = (self.f_high / delta_f).floor() as usize;
            let inv_psd = (k_low..=k_high)
                .map(|k| 1.0 / self.noise.psd(k as f64 * delta_f))
                .collect::<Vec<_>>();
            let n = (4 * inv_psd.len()).next_power_of_two();
            Grid {
                delta_f,
                k_low,
                inv_psd,
                fft: FftPlanner::new().plan_fft_inverse(n),
            }
        })
    }

    /// The match of `signal` and `template`, maximised over time and phase, in [0, 1].
    pub fn matches(&self, signal: &TemplateParams, template: &TemplateParams) -> f64 {
        let spread = chirp_time(signal, self.f_low) - chirp_time(template, self.f_low);
        let need = (4.0 * spread.abs()).max(4.0);
        let i = (0..GRIDS)
            .find(|&i| 4.0 * (1u64 << i) as f64 >= need)
            .unwrap_or(GRIDS - 1);
        let g = self.grid(i);
        let bins = g.inv_psd.len();
        let mut s = vec![Complex64::new(0.0, 0.0); bins];
        let mut t = vec![Complex64::new(0.0, 0.0); bins];
        waveform(signal, self.f_low, g, &mut s);
        waveform(template, self.f_low, g, &mut t);
        let (mut ss, mut tt) = (0.0, 0.0);
        let n = g.fft.len();
        let mut z = vec![Complex64::new(0.0, 0.0); n];
        for k in 0..bins {
            let w = g.inv_psd[k];
            ss += s[k].norm_sqr() * w;
            tt += t[k].norm_sqr() * w;
            z[k] = t[k].conj() * s[k] * w;
        }
        if !(ss > 0.0 && tt > 0.0) {
            return 0.0;
        }
        let x: Vec<Complex64> = z[..bins].to_vec();
        g.fft.process(&mut z);
        let (j, peak) = z
            .iter()
            .enumerate()
            .map(|(j, v)| (j, v.norm()))
            .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
        let (ym, yp) = (z[(j + n - 1) % n].norm(), z[(j + 1) % n].norm());
        let curv = ym - 2.0 * peak + yp;
        let delta = if curv < 0.0 {
            (0.5 * (ym - yp) / curv).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        let refined = direct(&x, (j as f64 + delta) / n as f64);
        (peak.max(refined) / (ss * tt).sqrt()).min(1.0)
    }
}

/// |Σ_k x_k e^{2πi k u}| for a lag u in periods (a phasor recurrence: one complex multiply per
/// bin).
fn direct(x: &[Complex64], u: f64) -> f64 {
    let rot = Complex64::from_polar(1.0, std::f64::consts::TAU * u);
    let mut ph = Complex64::new(1.0, 0.0);
    let mut acc = Complex64::new(0.0, 0.0);
    for (k, v) in x.iter().enumerate() {
        if k % 1024 == 0 {
            ph = Complex64::from_polar(1.0, std::f64::consts::TAU * u * k as f64);
        }
        acc += v * ph;
        ph *= rot;
    }
    acc.norm()
}

/// The TaylorF2 waveform of `p` on the grid's bins (zero outside [f_low, f_ISCO]).
fn waveform(p: &TemplateParams, f_low: f64, g: &Grid, out: &mut [Complex64]) {
    chirpfarm_waveform::taylorf2_into(p, 1.0, f_low, None, g.delta_f, g.k_low, out);
}

/// Newtonian + 1.5PN time to coalescence from `f_low`, τ0 − τ3 (s): what sets how far apart
/// two chirps can be in time, hence the period the lags need.
pub fn chirp_time(p: &TemplateParams, f_low: f64) -> f64 {
    let t = crate::coords::Chirp { f_low }.theta_of_masses(p.mass1, p.mass2);
    (t[0] - t[1]) / (std::f64::consts::TAU * f_low)
}
