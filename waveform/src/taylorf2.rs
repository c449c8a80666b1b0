//! TaylorF2: the stationary-phase inspiral to 3.5PN in phase with aligned spins, exactly as
//! LALSimulation assembles it (`LALSimInspiralTaylorF2.c`, `LALSimInspiralPNCoefficients.c`).
//!
//! With the default LAL dictionary (what `SimInspiralChooseFDWaveform` uses when given `None`):
//!
//! * phase order −1 → all terms `v⁰…v⁷`, incl. the 2.5PN and 3PN `ln v` terms;
//! * spin order −1 (all) → 1.5PN spin–orbit, 2PN spin–spin / quadrupole–monopole / self-spin,
//!   2.5PN, 3PN and 3.5PN spin–orbit, 3PN spin–spin, with the quadrupole–monopole parameter
//!   `1 + dQuadMon = 1` (black holes; dQuadMon is only derived from tidal λ when λ > 0);
//! * tidal λ = 0 → the tidal terms (v¹⁰…v¹⁵) vanish, and the contact frequency never cuts;
//! * amplitude order −1 → Newtonian amplitude `amp0·sqrt(−dE/F)·v` with
//!   `amp0 = −4 m1 m2 / r · MRSUN·MTSUN·sqrt(π/12)` (note the minus sign);
//! * `h̃+(f) = amp·e^{−i(Ψ(f) − π/4)}` for `f_k = kΔf`, `k ∈ [ceil(f_low/Δf), ⌊f_max/Δf + 1⌋)`
//!   with `f_max = f_ISCO = 6^(−3/2)/(πM)` by default; zero elsewhere. `ChooseFDWaveform`
//!   multiplies h̃+ by `(1 + cos²ι)/2`, 1 at ι = 0.
//! * LAL also adds `2π·t_C·f` with `t_C = −1/Δf`: on the grid `f = kΔf` that is `−2πk`, a whole
//!   number of turns, so we leave it out (it only adds LAL's rounding of a ~1e6 rad argument).
//!   `φ_ref = 0` and `f_ref = 0` (reference at coalescence) leave no other term.

use crate::constants::{GAMMA, MRSUN_SI, MTSUN_SI, PC_SI};
use chirpfarm_core::{SpecError, TemplateParams};
use num_complex::Complex64;
use std::f64::consts::{FRAC_PI_4, PI};

/// The PN phase and amplitude coefficients of one binary, computed once so that evaluating a
/// frequency costs only powers of `v` (LAL's `PNPhasingSeries` plus the amplitude factors).
#[derive(Debug, Clone, PartialEq)]
pub struct TaylorF2 {
    /// Total mass in seconds, `(m1 + m2)·MTSUN_SI`.
    m_sec: f64,
    /// `π·M` in seconds: `v = (π M f)^(1/3)`.
    pi_m: f64,
    /// `m1·m2` in solar masses², for the amplitude prefactor.
    m1m2: f64,
    /// `η` as `TaylorF2Core` computes it (`m1 m2/(m·m)`), for the amplitude's energy and flux.
    eta_amp: f64,
    /// Phase coefficients of `v^j`, `j = 0..=7`, already multiplied by `3/(128 η)`.
    pfa: [f64; 8],
    /// Coefficient of `v⁵ ln v` (2.5PN log term), times `3/(128 η)`.
    pfl5: f64,
    /// Coefficient of `v⁶ ln v` (3PN log term), times `3/(128 η)`.
    pfl6: f64,
}

/// Non-spinning coefficients (arXiv:0907.0700 Eq. 3.18), written as LAL writes them so the
/// constants round the same way: `[v², v³, v⁴, v⁵, v⁵ln v, v⁶, v⁶ ln v, v⁷]`.
fn nonspinning(eta: f64) -> [f64; 8] {
    let l6 = -684.8 / 2.1;
    [
        5. * (74.3 / 8.4 + 11. * eta) / 9.,
        -16. * PI,
        5. * (3058.673 / 7.056 + 5429. / 7. * eta + 617. * eta * eta) / 72.,
        5. / 9. * (772.9 / 8.4 - 13. * eta) * PI,
        5. / 3. * (772.9 / 8.4 - 13. * eta) * PI,
        11583.231236531 / 4.694215680 - 640. / 3. * PI * PI - 684.8 / 2.1 * GAMMA
            + eta * (-15737.765635 / 3.048192 + 225.5 / 1.2 * PI * PI)
            + eta * eta * 76.055 / 1.728
            - eta * eta * eta * 127.825 / 1.296
            + l6 * 4f64.ln(),
        l6,
        PI * (770.96675 / 2.54016 + 378.515 / 1.512 * eta - 740.45 / 7.56 * eta * eta),
    ]
}

/// 1.5PN spin–orbit coefficient of one body (`mbym = m_i/M`).
fn so3(x: f64) -> f64 {
    x * (25. + 38. / 3. * x)
}

/// 2.5PN spin–orbit coefficient of one body.
fn so5(x: f64) -> f64 {
    -x * (1391.5 / 8.4 - x * (1. - x) * 10. / 3. + x * (1276. / 8.1 + x * (1. - x) * 170. / 9.))
}

/// 3PN spin–orbit coefficient of one body.
fn so6(x: f64) -> f64 {
    PI * x * (1490. / 3. + x * 260.)
}

/// 3.5PN spin–orbit coefficient of one body.
fn so7(x: f64) -> f64 {
    let eta = x * (1. - x);
    x * (-17097.8035 / 4.8384
        + eta * 28764.25 / 6.72
        + eta * eta * 47.35 / 1.44
        + x * (-7189.233785 / 1.524096 + eta * 458.555 / 3.024 - eta * eta * 534.5 / 7.2))
}

/// 2PN spin-squared terms of one body (quadrupole–monopole with parameter 1, plus self-spin):
/// the coefficient of `χ_L²` and of `|χ|²` (equal for aligned spins, kept apart as LAL does).
fn ss4(x: f64) -> (f64, f64) {
    let qm2so = -720. / 9.6 * x * x;
    let self2so = 1. / 9.6 * x * x;
    let qm2s = 240. / 9.6 * x * x;
    let self2s = -7. / 9.6 * x * x;
    (qm2so * 1. + self2so, qm2s * 1. + self2s)
}

/// 3PN spin-squared term of one body (quadrupole–monopole parameter 1 plus self-spin).
fn ss6(x: f64) -> f64 {
    let self2s = (-4108.25 / 6.72 - 108.5 / 1.2 * x + 125.5 / 3.6 * x * x) * x * x;
    let qm2s = (4703.5 / 8.4 + 2935. / 6. * x - 120. * x * x) * x * x;
    qm2s * 1. + self2s
}

impl TaylorF2 {
    /// The coefficients for `p` (masses in M☉, aligned dimensionless spins); rejects
    /// non-positive or non-finite masses and spins outside [−1, 1].
    pub fn new(p: &TemplateParams) -> Result<TaylorF2, SpecError> {
        p.validate()?;
        let (m1, m2) = (p.mass1, p.mass2);
        let mtot = m1 + m2;
        let eta = m1 * m2 / mtot / mtot;
        let (x1, x2) = (m1 / mtot, m2 / mtot);
        let (c1, c2) = (p.spin1z, p.spin2z);
        let [a2, a3, a4, a5, l5, a6, l6, a7] = nonspinning(eta);
        let mut v = [1., 0., a2, a3, a4, a5, a6, a7];
        let mut vlog5 = l5;
        v[7] += so7(x1) * c1 + so7(x2) * c2;
        v[6] += so6(x1) * c1
            + so6(x2) * c2
            + (326.75 / 1.12 + 557.5 / 1.8 * eta) * eta * c1 * c2
            + ss6(x1) * (c1 * c1)
            + ss6(x2) * (c2 * c2);
        v[5] += so5(x1) * c1 + so5(x2) * c2;
        vlog5 += 3. * (so5(x1) * c1 + so5(x2) * c2);
        let ((l1, s1), (l2, s2)) = (ss4(x1), ss4(x2));
        v[4] += 247. / 4.8 * eta * (c1 * c2)
            + -721. / 4.8 * eta * c1 * c2
            + l1 * c1 * c1
            + l2 * c2 * c2
            + s1 * (c1 * c1)
            + s2 * (c2 * c2);
        v[3] += so3(x1) * c1 + so3(x2) * c2;
        Ok(Self::assemble(
            mtot,
            m1 * m2,
            eta,
            m1 * m2 / (mtot * mtot),
            v,
            vlog5,
            l6,
        ))
    }

    /// Non-spinning coefficients from the total mass (M☉) and `η`. `η` may exceed 1/4 slightly
    /// (finite differences of a bank metric step across the equal-mass line); the amplitude then
    /// uses `m1 m2 = η M²`.
    pub fn from_mass_eta(total_mass: f64, eta: f64) -> TaylorF2 {
        let [a2, a3, a4, a5, l5, a6, l6, a7] = nonspinning(eta);
        let m1m2 = eta * total_mass * total_mass;
        Self::assemble(
            total_mass,
            m1m2,
            eta,
            eta,
            [1., 0., a2, a3, a4, a5, a6, a7],
            l5,
            l6,
        )
    }

    /// Multiplies the series by `3/(128 η)` (as LAL does, last) and stores the mass scales.
    fn assemble(
        mtot: f64,
        m1m2: f64,
        eta: f64,
        eta_amp: f64,
        v: [f64; 8],
        vlog5: f64,
        vlog6: f64,
    ) -> TaylorF2 {
        let pfa_n = 3. / (128. * eta);
        let m_sec = mtot * MTSUN_SI;
        TaylorF2 {
            m_sec,
            pi_m: PI * m_sec,
            m1m2,
            eta_amp,
            pfa: v.map(|c| c * pfa_n),
            pfl5: vlog5 * pfa_n,
            pfl6: vlog6 * pfa_n,
        }
    }

    /// Total mass in seconds.
    pub fn total_mass_seconds(&self) -> f64 {
        self.m_sec
    }

    /// The Schwarzschild ISCO frequency `6^(−3/2)/(π M)` in Hz, where LAL ends the waveform.
    pub fn f_isco(&self) -> f64 {
        let v_isco = 1. / 6f64.sqrt();
        v_isco * v_isco * v_isco / self.pi_m
    }

    /// `Ψ_PN(f)` in LAL's convention (`t_c = φ_c = 0`, without the `−π/4`): the waveform is
    /// `A(f)·e^{−i(Ψ_PN(f) − π/4)}`. Evaluated as LAL does (`v = cbrt(πMf)`, Horner-free sum of
    /// `pfa_j v^j` divided by `v⁵`).
    pub fn phase(&self, f: f64) -> f64 {
        let v = (self.pi_m * f).cbrt();
        let logv = v.ln();
        let v2 = v * v;
        let v3 = v * v2;
        let v4 = v * v3;
        let v5 = v * v4;
        let v6 = v * v5;
        let v7 = v * v6;
        let p = &self.pfa;
        let mut phasing = p[7] * v7;
        phasing += (p[6] + self.pfl6 * logv) * v6;
        phasing += (p[5] + self.pfl5 * logv) * v5;
        phasing += p[4] * v4;
        phasing += p[3] * v3;
        phasing += p[2] * v2;
        phasing += p[1] * v;
        phasing += p[0];
        phasing / v5
    }

    /// LAL's `amp0` for a source at `distance_m` metres (negative: LAL's sign convention).
    fn amp0(&self, distance_m: f64) -> f64 {
        -4. * self.m1m2 / distance_m * MRSUN_SI * MTSUN_SI * (PI / 12.).sqrt()
    }

    /// `sqrt(−dETaN/FTaN)`: the Newtonian energy-over-flux factor of the SPA amplitude.
    fn energy_flux(&self) -> f64 {
        let eta = self.eta_amp;
        let d_e = 2. * (-eta / 2.0);
        let flux = 32.0 * eta * eta / 5.0;
        (-d_e / flux).sqrt()
    }

    /// One bin of h̃+ at `f` for `amp0 = self.amp0(r)`, in LAL's order of operations.
    fn bin(&self, amp0: f64, f: f64) -> Complex64 {
        let v = (self.pi_m * f).cbrt();
        let mut v10 = v;
        for _ in 1..10 {
            v10 *= v;
        }
        let eta = self.eta_amp;
        let flux = 32.0 * eta * eta / 5.0 * v10;
        let d_energy = 2. * (-eta / 2.0) * v;
        let amp = amp0 * (-d_energy / flux).sqrt() * v;
        let (s, c) = (self.phase(f) - FRAC_PI_4).sin_cos();
        Complex64::new(amp * c, -(amp * s))
    }

    /// The bins `[first, end)` that are non-zero on a grid of spacing `delta_f`: LAL's
    /// `ceil(f_low/Δf)` to `⌊f_max/Δf + 1⌋` (exclusive), `f_max = f_final` or `f_ISCO`.
    pub fn band(&self, f_low: f64, f_final: Option<f64>, delta_f: f64) -> (usize, usize) {
        let f_max = f_final.unwrap_or_else(|| self.f_isco());
        let first = (f_low / delta_f).ceil();
        let end = (f_max / delta_f + 1.).floor();
        let clamp = |x: f64| {
            if x.is_finite() && x > 0. {
                x.min(1e15) as usize
            } else {
                0
            }
        };
        (clamp(first), clamp(end))
    }

    /// [`taylorf2_into`] for these coefficients: the direct, per-bin evaluation in LAL's order
    /// of operations (one `cbrt`, `ln` and `sin_cos` per bin). A non-positive or non-finite
    /// `delta_f` or distance leaves `out` zero.
    pub fn fill_direct(
        &self,
        distance_mpc: f64,
        f_low: f64,
        f_final: Option<f64>,
        delta_f: f64,
        k_start: usize,
        out: &mut [Complex64],
    ) {
        out.fill(Complex64::new(0.0, 0.0));
        if !(delta_f.is_finite() && delta_f > 0. && distance_mpc.is_finite() && distance_mpc > 0.) {
            return;
        }
        let (first, end) = self.band(f_low, f_final, delta_f);
        let amp0 = self.amp0(distance_mpc * 1e6 * PC_SI);
        let lo = first.max(k_start);
        let hi = end.min(k_start + out.len());
        for k in lo..hi {
            out[k - k_start] = self.bin(amp0, k as f64 * delta_f);
        }
    }

    /// Per-template scalars of the tabulated evaluation (see [`crate::FreqTables`]):
    /// `Ψ − π/4 = A5 w⁵ + A3 w³ + A2 w² + A1 w + A0 + L0 ln u + (B1 + L1 ln u) u + B2 u²` with
    /// `u = f^(1/3)`, `w = 1/u`, and `|amp| = K·f^(−7/6)`.
    pub(crate) fn tabulated(&self, distance_mpc: f64) -> Tabulated {
        let a = self.pi_m.cbrt();
        let ln_a = a.ln();
        let ia = 1. / a;
        let p = &self.pfa;
        Tabulated {
            a5: p[0] * ia.powi(5),
            a4: p[1] * ia.powi(4),
            a3: p[2] * ia.powi(3),
            a2: p[3] * ia * ia,
            a1: p[4] * ia,
            a0: p[5] + self.pfl5 * ln_a - FRAC_PI_4,
            l0: self.pfl5,
            b1: (p[6] + self.pfl6 * ln_a) * a,
            l1: self.pfl6 * a,
            b2: p[7] * a * a,
            amp: self.amp0(distance_mpc * 1e6 * PC_SI) * self.energy_flux() * a.powf(-3.5),
        }
    }
}

/// The per-template constants of the tabulated (fast) evaluation; see [`TaylorF2::tabulated`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tabulated {
    /// Coefficient of `w⁵` (Newtonian).
    pub(crate) a5: f64,
    /// Coefficient of `w⁴` (0.5PN; zero in GR).
    pub(crate) a4: f64,
    /// Coefficient of `w³` (1PN).
    pub(crate) a3: f64,
    /// Coefficient of `w²` (1.5PN).
    pub(crate) a2: f64,
    /// Coefficient of `w` (2PN).
    pub(crate) a1: f64,
    /// Constant (2.5PN and its `ln a` part, minus π/4).
    pub(crate) a0: f64,
    /// Coefficient of `ln u` (2.5PN log).
    pub(crate) l0: f64,
    /// Coefficient of `u` (3PN and its `ln a` part).
    pub(crate) b1: f64,
    /// Coefficient of `u ln u` (3PN log).
    pub(crate) l1: f64,
    /// Coefficient of `u²` (3.5PN).
    pub(crate) b2: f64,
    /// Signed amplitude factor: `h` magnitude is `|amp|·f^(−7/6)`.
    pub(crate) amp: f64,
}

/// h̃+(kΔf) for `k ∈ [k_start, k_start + out.len())` of an optimally oriented source (ι = 0) at
/// `distance_mpc`, zero below `f_low` and above `f_final` (default `f_ISCO`): equal to LAL's
/// `SimInspiralChooseFDWaveform(TaylorF2)` h̃+ on the same grid (default dictionary, φ_ref = 0,
/// f_ref = 0). This is the direct, per-bin reference evaluation; [`crate::FreqTables`] gives
/// the fast one for many templates on one grid.
///
/// Invalid parameters (non-positive masses, |χ| > 1, non-finite numbers, `delta_f ≤ 0`) leave
/// `out` all zero; call [`TaylorF2::new`] first to get the reason.
pub fn taylorf2_into(
    p: &TemplateParams,
    distance_mpc: f64,
    f_low: f64,
    f_final: Option<f64>,
    delta_f: f64,
    k_start: usize,
    out: &mut [Complex64],
) {
    match TaylorF2::new(p) {
        Ok(t) => t.fill_direct(distance_mpc, f_low, f_final, delta_f, k_start, out),
        Err(_) => out.fill(Complex64::new(0.0, 0.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// physics.md §6: coefficients at η = 1/4 (non-spinning, before the 3/(128η) factor).
    #[test]
    fn coefficients_at_equal_mass() {
        let c = nonspinning(0.25);
        let want = [
            6.44179894179894,
            -50.2654824574367,
            46.2458860859158,
            154.918748843687,
            464.756246531061,
            -1104.1231610824,
            -326.095238095238,
            1130.89420203827,
        ];
        for (got, want) in c.iter().zip(want) {
            assert!(((got - want) / want).abs() < 1e-13, "{got} vs {want}");
        }
    }

    #[test]
    fn isco_and_band() {
        let t = TaylorF2::new(&TemplateParams {
            mass1: 10.,
            mass2: 10.,
            spin1z: 0.,
            spin2z: 0.,
        })
        .unwrap();
        // LAL: 219.85873803184015 Hz for 20 M☉ (lal.MTSUN_SI).
        assert!((t.f_isco() - 219.85873803184015).abs() < 1e-10);
        // Δf = 1/64, f_low 20: bins 1280 ..= 14070 (LAL's hptilde has length 14071).
        assert_eq!(t.band(20., None, 1. / 64.), (1280, 14071));
        assert_eq!(t.band(20.01, Some(100.), 1. / 64.), (1281, 6401));
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let bad = TemplateParams {
            mass1: -1.,
            mass2: 1.,
            spin1z: 0.,
            spin2z: 0.,
        };
        assert!(TaylorF2::new(&bad).is_err());
        let mut out = vec![Complex64::new(1., 1.); 10];
        taylorf2_into(&bad, 1., 20., None, 0.25, 80, &mut out);
        assert!(out.iter().all(|c| c.norm() == 0.));
    }
}
