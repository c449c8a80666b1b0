//! Run-time CPU-feature dispatch for the whole crate: the one place that asks the CPU which
//! instruction sets it has, and the one decision of which level the hot loops run at.
//!
//! The hot loops ([`super::fused`]'s passes, [`super::template`]'s generator, the test-only
//! reference scan) are compiled several times with `#[target_feature]` and one variant is
//! chosen at run time. Keeping the detection here, rather than in each of those modules, means
//! every module runs at the same level (no module silently on AVX2 while another uses
//! AVX-512), the CPU is asked once per process, and there is one list of levels to extend when
//! a new instruction set is added. The modules still own their `#[target_feature]` wrappers
//! (the `unsafe` calls): each wrapper is sound exactly when [`Isa::available`] says so for the
//! level it is compiled for.
//!
//! All variants give bit-identical results (each module's tests check this), so the level only
//! changes speed.

use std::sync::OnceLock;

/// The instruction-set levels the crate's hot loops are compiled for, from the least to the
/// most capable. Levels are nested (a CPU with a level has every lower one), so a variant
/// compiled for a level may run whenever the detected level is at least that one.
///
/// Why levels rather than single features: the kernels need features in fixed bundles (the
/// template generator needs FMA next to AVX2; every AVX-512F CPU has AVX2 and FMA), and one
/// ordered value is simpler to pass around, compare and test than a set of flags.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Isa {
    /// The compile target's baseline (scalar or SSE2 code): any CPU.
    Baseline,
    /// AVX2 and FMA: 4-lane vectors (every x86-64 CPU with AVX2 also has FMA).
    Avx2,
    /// AVX-512F on top of [`Isa::Avx2`]: 8-lane vectors.
    Avx512,
}

impl Isa {
    /// Every level, from the least capable (for tests that compare all variants).
    #[cfg(test)]
    pub(crate) const ALL: [Isa; 3] = [Isa::Baseline, Isa::Avx2, Isa::Avx512];

    /// Whether this CPU supports this level, i.e. whether code compiled for it may run here.
    pub(crate) fn available(self) -> bool {
        self <= isa()
    }
}

/// The best [`Isa`] this CPU supports: detected on first use, then cached for the process
/// (the hot loops ask on every call, so this must be a plain load once warm).
pub(crate) fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(detect)
}

/// Asks the CPU (the only `is_x86_feature_detected!` calls in the crate).
fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            return if has!("avx512f") {
                Isa::Avx512
            } else {
                Isa::Avx2
            };
        }
    }
    Isa::Baseline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_nested_and_the_baseline_always_runs() {
        assert!(Isa::Baseline.available());
        assert!(isa().available());
        for (i, a) in Isa::ALL.iter().enumerate() {
            for b in &Isa::ALL[..i] {
                // A level implies every lower one.
                assert!(!a.available() || b.available(), "{a:?} without {b:?}");
            }
        }
    }
}
