//! Chirp-time coordinates (θ0, θ3) and their inverse (physics.md §5.3).
//!
//! The bank is laid out in (θ0, θ3) because the 0PN and 1.5PN phase terms are linear in them,
//! so the metric varies slowly there (Owen & Sathyaprakash 1999); masses are only the way in
//! and out. Masses are in solar masses; `MTSUN_SI` (LAL's value, the waveform crate's) turns
//! them into seconds, so θ's here agree with the phase the metric differentiates.

use chirpfarm_waveform::constants::MTSUN_SI;
use std::f64::consts::PI;

/// A point of the (θ0, θ3) plane for a given lower frequency.
///
/// Why a pair of plain numbers and not a struct per coordinate system: the lattice does linear
/// algebra on them (`[θ0, θ3]`), and the lower frequency travels once in [`Chirp`].
pub type Theta = [f64; 2];

/// The conversions at one lower frequency `f_low` (Hz): every θ depends on it.
#[derive(Debug, Clone, Copy)]
pub struct Chirp {
    /// The lower frequency cut-off of the bank, Hz.
    pub f_low: f64,
}

impl Chirp {
    /// (θ0, θ3) of total mass `m` (M☉) and symmetric mass ratio `eta` (any η > 0: the metric's
    /// finite differences step slightly past 1/4).
    pub fn theta(&self, m: f64, eta: f64) -> Theta {
        let x = PI * m * MTSUN_SI * self.f_low;
        [
            5.0 / (128.0 * eta) * x.powf(-5.0 / 3.0),
            PI / (4.0 * eta) * x.powf(-2.0 / 3.0),
        ]
    }

    /// (total mass M☉, η) of a point; `None` when θ0 or θ3 is not positive and finite.
    pub fn mass_eta(&self, t: Theta) -> Option<(f64, f64)> {
        if !(t[0].is_finite() && t[1].is_finite() && t[0] > 0.0 && t[1] > 0.0) {
            return None;
        }
        let m_sec = 5.0 * t[1] / (32.0 * PI * PI * self.f_low * t[0]);
        let eta = PI / (4.0 * t[1]) * (PI * m_sec * self.f_low).powf(-2.0 / 3.0);
        Some((m_sec / MTSUN_SI, eta))
    }

    /// Component masses (m1 ≥ m2, M☉) of a point; `None` off the physical sheet (η > 1/4).
    pub fn masses(&self, t: Theta) -> Option<(f64, f64)> {
        let (m, eta) = self.mass_eta(t)?;
        masses_of(m, eta)
    }

    /// (θ0, θ3) of component masses.
    pub fn theta_of_masses(&self, m1: f64, m2: f64) -> Theta {
        let m = m1 + m2;
        self.theta(m, m1 * m2 / (m * m))
    }

    /// θ0 of a chirp mass: θ0 depends on Mc alone, so strips of θ0 are strips of chirp mass.
    pub fn theta0_of_mc(&self, mc: f64) -> f64 {
        5.0 / 128.0 * (PI * mc * MTSUN_SI * self.f_low).powf(-5.0 / 3.0)
    }

    /// The chirp mass (M☉) of a θ0: the inverse of [`Chirp::theta0_of_mc`].
    pub fn mc_of_theta0(&self, theta0: f64) -> f64 {
        (128.0 * theta0 / 5.0).powf(-3.0 / 5.0) / (PI * self.f_low * MTSUN_SI)
    }

    /// The point with the same θ0 (chirp mass) as `t` but η = 1/4: where a lattice point past
    /// the equal-mass line goes (the soft metric direction is ≈ η at fixed chirp mass, so this
    /// is close to the metric projection onto the physical sheet).
    pub fn clamp_equal_mass(&self, t: Theta) -> Theta {
        let m = self.mc_of_theta0(t[0]) / 0.25f64.powf(0.6);
        self.theta(m, 0.25)
    }
}

/// (m1 ≥ m2) of (M, η), `None` for η outside (0, 1/4] or M not positive (η a hair above 1/4 from
/// rounding counts as 1/4).
pub fn masses_of(m: f64, eta: f64) -> Option<(f64, f64)> {
    if !(m.is_finite() && m > 0.0 && eta > 0.0 && eta <= 0.25 * (1.0 + 1e-12)) {
        return None;
    }
    let d = (1.0 - 4.0 * eta).max(0.0).sqrt();
    Some((0.5 * m * (1.0 + d), 0.5 * m * (1.0 - d)))
}

/// Chirp mass of two component masses.
pub fn chirp_mass(m1: f64, m2: f64) -> f64 {
    (m1 * m2).powf(0.6) / (m1 + m2).powf(0.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theta_round_trips_and_matches_physics_md() {
        let c = Chirp { f_low: 40.0 };
        let t = c.theta_of_masses(1.4, 1.4);
        // physics.md §5.3 (MSUN = 4.9257e-6): θ0 = 6248.28, θ3 = 217.734; LAL's MTSUN differs by
        // 4e-5 relative, which moves θ0 by (5/3)·4e-5.
        assert!((t[0] / 6248.28 - 1.0).abs() < 1.5e-4, "{t:?}");
        assert!((t[1] / 217.734 - 1.0).abs() < 1.0e-4, "{t:?}");
        let (m1, m2) = c.masses(c.theta_of_masses(2.5, 1.1)).unwrap();
        assert!(
            (m1 - 2.5).abs() < 1e-9 && (m2 - 1.1).abs() < 1e-9,
            "{m1} {m2}"
        );
        assert!((c.theta0_of_mc(chirp_mass(1.4, 1.4)) - t[0]).abs() < 1e-9 * t[0]);
        let clamped = c.clamp_equal_mass(c.theta(2.8, 0.26));
        let (m1, m2) = c.masses(clamped).unwrap();
        assert!((m1 - m2).abs() < 1e-6 && (clamped[0] - c.theta(2.8, 0.26)[0]).abs() < 1e-8);
        assert!(c.masses(c.theta(2.8, 0.3)).is_none());
        assert!(c.mass_eta([-1.0, 2.0]).is_none());
    }
}
