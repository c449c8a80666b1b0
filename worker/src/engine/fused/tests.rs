//! Tests of the fused c2r's pieces: the 8-point DFT, bit-identical results across instruction
//! sets, pass 3's first-index rule and pass 1's buffer layout. (Agreement with `realfft` is
//! tested end to end in `engine::filter`.) Kept apart from `mod.rs` only for its length.

use super::passes::{pass3_block, slot, values};
use super::plan::expi;
use super::simd::{dft8, Cv};
use super::*;

#[test]
fn dft8_is_the_inverse_dft() {
    let x: [Cv<f64>; 8] = std::array::from_fn(|r| Cv {
        re: (r as f64 * 0.7).sin(),
        im: (r as f64 * 1.3).cos(),
    });
    let y = dft8(&x);
    for (p, yp) in y.iter().enumerate() {
        let mut want = Complex64::new(0.0, 0.0);
        for (r, xr) in x.iter().enumerate() {
            let (c, s) = expi(p * r, 8);
            want += Complex64::new(xr.re, xr.im) * Complex64::new(c, s);
        }
        assert!((Complex64::new(yp.re, yp.im) - want).norm() < 1e-14);
    }
}

/// Pseudo-random bins (a logistic map: deterministic, no RNG dependency).
fn noise(n: usize, seed: f64) -> Vec<Complex64> {
    let mut x = seed;
    let mut next = || {
        x = 3.99 * x * (1.0 - x);
        x - 0.5
    };
    (0..n).map(|_| Complex64::new(next(), next())).collect()
}

fn buffers() -> (Vec<Complex64>, Vec<Complex64>) {
    let z = Complex64::new(0.0, 0.0);
    (vec![z; BUF_LEN], vec![z; BUF_LEN])
}

fn available() -> Vec<Isa> {
    [Isa::Baseline, Isa::Avx2, Isa::Avx512]
        .into_iter()
        .filter(|i| i.available())
        .collect()
}

/// Every instruction set gives bit-identical buffers after pass 1 and step 2 and identical
/// pass-3 results, for both modes, band arrays and full arrays (complex DC and Nyquist bins
/// included).
#[test]
fn instruction_sets_are_bit_identical() {
    let full_s = noise(NF, 0.123);
    let full_t = noise(NF, 0.377);
    let k0 = crate::engine::K0;
    let cases: [(Mode, &[Complex64], &[Complex64], usize); 4] = [
        (Mode::Seed, &full_s, &full_t, 0),
        (Mode::Seed, &full_s[k0..], &full_t[k0..], k0),
        (Mode::Seed, &full_s[5..], &full_t[5..], 5),
        (Mode::Physical, &full_s[k0..], &full_t[k0..], k0),
    ];
    for (mode, s, t, start) in cases {
        let (mut a0, mut b0) = buffers();
        pass1_with(Isa::Baseline, mode, s, t, start, &mut a0, &mut b0);
        let mut scratch = vec![Complex64::new(0.0, 0.0); plan().scratch_len()];
        let (mut ra, mut rb) = (a0.clone(), b0.clone());
        row_ffts_with(Isa::Baseline, &mut ra, &mut scratch);
        row_ffts_with(Isa::Baseline, &mut rb, &mut scratch);
        let want = pass3_max_with(Isa::Baseline, mode, &ra, &rb);
        for isa in available() {
            let (mut a, mut b) = buffers();
            pass1_with(isa, mode, s, t, start, &mut a, &mut b);
            assert!(
                a == a0 && b == b0,
                "{isa:?} {mode:?} start {start}: pass 1 differs"
            );
            row_ffts_with(isa, &mut a, &mut scratch);
            row_ffts_with(isa, &mut b, &mut scratch);
            assert!(
                a == ra && b == rb,
                "{isa:?} {mode:?} start {start}: step 2 differs"
            );
            let got = pass3_max_with(isa, mode, &ra, &rb);
            assert_eq!(
                (got.value.to_bits(), got.index),
                (want.value.to_bits(), want.index),
                "{isa:?} {mode:?} start {start}: pass 3 differs"
            );
        }
    }
}

/// Pass 3 against a brute-force scan of every output (first index of the maximum),
/// including exact ties spread over several blocks and rows.
#[test]
fn pass3_finds_the_first_maximum() {
    let tws = &plan().tw;
    let brute = |a: &[Complex64], b: &[Complex64], phys: bool| {
        let mut best = Best::NONE;
        for q in 0..M {
            let ya = pass3_block::<f64>(tws, a, q % 8, q / 8);
            let yb = pass3_block::<f64>(tws, b, q % 8, q / 8);
            for p in 0..8 {
                let (vr, vi) = if phys {
                    values::<f64, true>(ya[p], yb[p])
                } else {
                    values::<f64, false>(ya[p], yb[p])
                };
                let j = 2 * (q + M * p);
                for (v, j) in [(vr, j), (vi, j + 1)] {
                    if v > best.value {
                        best = Best { value: v, index: j };
                    }
                }
            }
        }
        best
    };
    // Random rows.
    let mut a = noise(BUF_LEN, 0.31);
    let b = noise(BUF_LEN, 0.72);
    for (mode, phys) in [(Mode::Seed, false), (Mode::Physical, true)] {
        let want = brute(&a, &b, phys);
        for isa in available() {
            let got = pass3_max_with(isa, mode, &a, &b);
            assert_eq!((got.value, got.index), (want.value, want.index), "{isa:?}");
        }
    }
    // A unit spike in row 0 at column q makes all eight outputs z_{q+Mp} exactly 1: with
    // spikes at q = 4100, 37 and 8000 the maximum 1 is tied 24 times (three blocks, eight
    // rows) and its first index is j = 2·37.
    let z = Complex64::new(0.0, 0.0);
    a.iter_mut().for_each(|x| *x = z);
    // F_r(q) lives in sub-row 8r + q mod 8, column q / 8.
    let at = |r: usize, q: usize| (8 * r + q % 8) * SUB_STRIDE + q / 8;
    for q in [4100, 37, 8000] {
        a[at(0, q)] = Complex64::new(1.0, 0.0);
    }
    let zeros = vec![z; BUF_LEN];
    for isa in available() {
        let got = pass3_max_with(isa, Mode::Seed, &a, &zeros);
        assert_eq!((got.value, got.index), (1.0, 74), "{isa:?}");
        // Physical (b = 0): |z|² = 1 at the even samples of the spike outputs.
        let got = pass3_max_with(isa, Mode::Physical, &a, &zeros);
        assert_eq!((got.value, got.index), (1.0, 74), "{isa:?}");
    }
    // A spike of i: only the imaginary parts (odd samples) reach the maximum.
    a[at(0, 37)] = z;
    a[at(0, 4100)] = Complex64::new(0.0, 1.0);
    a[at(0, 8000)] = z;
    for isa in available() {
        let got = pass3_max_with(isa, Mode::Seed, &a, &zeros);
        assert_eq!((got.value, got.index), (1.0, 2 * 4100 + 1), "{isa:?}");
    }
    // All NaN: no maximum, index 0 (as the previous scan).
    a.iter_mut()
        .for_each(|x| *x = Complex64::new(f64::NAN, f64::NAN));
    let got = pass3_max_with(isa(), Mode::Seed, &a, &zeros);
    assert!(got.value == f64::NEG_INFINITY && got.index == 0);
}

#[test]
fn fold_keeps_the_first_index_in_any_order() {
    let vals = [
        (3.0, 40),
        (5.0, 90),
        (f64::NAN, 1),
        (5.0, 12),
        (5.0, 70),
        (-1.0, 0),
    ];
    for rot in 0..vals.len() {
        let mut best = Best::NONE;
        for i in 0..vals.len() {
            let (v, j) = vals[(i + rot) % vals.len()];
            best.fold(v, j);
        }
        assert_eq!((best.value, best.index), (5.0, 12));
    }
}

#[test]
fn slots_cover_every_bin_once() {
    let mut seen = vec![false; BUF_LEN];
    for k in 0..H {
        let i = slot(k);
        assert!(!seen[i] && i % SUB_STRIDE < SUB);
        seen[i] = true;
    }
}
