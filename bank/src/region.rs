//! The (m1, m2) region a bank must cover.
//!
//! `--mass1 1:3 --mass2 1:3` names a box, but a template (a, b) is the same binary as (b, a), so
//! the region is the set of *unordered* pairs with one mass in each range; points are reported
//! with m1 ≥ m2 (PyCBC's convention). Membership is exact; the corners are kept because the
//! lattice's coverage test samples discs and must not miss a corner of the region.

use crate::coords::{chirp_mass, masses_of};
use crate::BankError;

/// A closed range of one component mass, M☉.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MassRange {
    /// Lower end.
    pub lo: f64,
    /// Upper end (≥ lo).
    pub hi: f64,
}

impl MassRange {
    /// Parses `LO:HI` (or one number for a single value) for the flag named `flag`.
    pub fn parse(flag: &str, text: &str) -> Result<MassRange, BankError> {
        let bad = |why: &str| {
            BankError::Input(format!(
                "{flag} {text:?}: {why} (expected LO:HI in solar masses, e.g. 1:3)"
            ))
        };
        let (lo, hi) = match text.split_once(':') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (text.trim(), text.trim()),
        };
        let lo: f64 = lo.parse().map_err(|_| bad("not a number"))?;
        let hi: f64 = hi.parse().map_err(|_| bad("not a number"))?;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0) {
            return Err(bad("masses must be positive and finite"));
        }
        if hi < lo {
            return Err(bad("the upper end is below the lower end"));
        }
        if hi > 1000.0 {
            return Err(bad("masses above 1000 M☉ are outside any inspiral bank"));
        }
        Ok(MassRange { lo, hi })
    }

    /// Whether `m` lies in the range (a relative 1e-9 slack absorbs round trips through θ).
    fn has(&self, m: f64) -> bool {
        let eps = 1e-9 * self.hi;
        m >= self.lo - eps && m <= self.hi + eps
    }
}

/// Unordered pairs {a, b} with a in `mass1` and b in `mass2`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Region {
    /// Range of the first mass.
    pub mass1: MassRange,
    /// Range of the second mass.
    pub mass2: MassRange,
}

impl Region {
    /// Whether the binary (a, b), in either order, is in the region.
    pub fn contains(&self, a: f64, b: f64) -> bool {
        (self.mass1.has(a) && self.mass2.has(b)) || (self.mass1.has(b) && self.mass2.has(a))
    }

    /// Whether the binary of total mass `m` and ratio `eta` is in the region (false off the
    /// physical sheet).
    pub fn contains_m_eta(&self, m: f64, eta: f64) -> bool {
        masses_of(m, eta).is_some_and(|(a, b)| self.contains(a, b))
    }

    /// Corners of the region as (m1 ≥ m2): the box's corners and where the equal-mass line
    /// leaves it.
    pub fn corners(&self) -> Vec<(f64, f64)> {
        let (a, b) = (self.mass1, self.mass2);
        let mut v: Vec<(f64, f64)> = [(a.lo, b.lo), (a.lo, b.hi), (a.hi, b.lo), (a.hi, b.hi)]
            .iter()
            .map(|&(x, y)| (x.max(y), x.min(y)))
            .collect();
        let (lo, hi) = (a.lo.max(b.lo), a.hi.min(b.hi));
        if lo <= hi {
            v.push((lo, lo));
            v.push((hi, hi));
        }
        v
    }

    /// The smallest and largest chirp mass in the region (Mc grows with each mass).
    pub fn mc_range(&self) -> (f64, f64) {
        (
            chirp_mass(self.mass1.lo, self.mass2.lo),
            chirp_mass(self.mass1.hi, self.mass2.hi),
        )
    }

    /// The smallest symmetric mass ratio in the region (at a corner: η falls as the masses part).
    pub fn eta_min(&self) -> f64 {
        self.corners()
            .iter()
            .map(|&(x, y)| x * y / ((x + y) * (x + y)))
            .fold(0.25, f64::min)
    }

    /// `1:3 × 1:3`-style text for messages and file headers.
    pub fn describe(&self) -> String {
        format!(
            "mass1 {}:{}, mass2 {}:{}",
            self.mass1.lo, self.mass1.hi, self.mass2.lo, self.mass2.hi
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unordered_membership_and_parsing() {
        let r = Region {
            mass1: MassRange::parse("--mass1", "2:3").unwrap(),
            mass2: MassRange::parse("--mass2", "1:1.5").unwrap(),
        };
        assert!(r.contains(2.5, 1.2) && r.contains(1.2, 2.5));
        assert!(!r.contains(1.7, 1.2));
        assert_eq!(r.corners().len(), 4);
        assert!((r.eta_min() - 3.0 / 16.0).abs() < 1e-15);
        assert!(MassRange::parse("--mass1", "3:1").is_err());
        assert!(MassRange::parse("--mass1", "0:1").is_err());
        assert!(MassRange::parse("--mass1", "a:1")
            .unwrap_err()
            .to_string()
            .contains("--mass1"));
        assert_eq!(MassRange::parse("--mass1", "1.4").unwrap().hi, 1.4);
    }
}
