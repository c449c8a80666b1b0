//! The three passes of the fused c2r (pass 1, step 2's first stage, pass 3), each written once
//! over the `Simd` trait.
//!
//! Separate from `mod.rs` because these are the hot loops and nothing else: generic,
//! `#[inline(always)]` bodies with no knowledge of which instruction set they will be compiled
//! for. `mod.rs` instantiates them per [`crate::engine::dispatch::Isa`] inside
//! `#[target_feature]` functions, so that each instantiation is vectorised for its ISA. The
//! algorithm and the buffer layout are described in `mod.rs`.

use super::plan::{plan, Twiddles};
use super::simd::{dft8, Cv, Simd};
use super::{Best, H, M, PAD, SUB, SUB_STRIDE};
use num_complex::Complex64;

/// The product of signal bins `a` and template bins `b`: `conj(a)·b` (seed) or `conj(b)·a`
/// (physical), numpy's operation order.
#[inline(always)]
fn product<V: Simd, const PHYS: bool>(a: (V, V), b: (V, V)) -> Cv<V> {
    let ((ar, ai), (br, bi)) = if PHYS { (b, a) } else { (a, b) };
    Cv {
        re: ar.mul(br).add(ai.mul(bi)),
        im: ar.mul(bi).sub(ai.mul(br)),
    }
}

/// Position of bin `k = 8c + r` in a pass-1 buffer: row `r`, column `c`, i.e. sub-row
/// `8r + c / SUB`, column `c mod SUB` (written as `r·8·SUB_STRIDE + c + (c / SUB)·PAD`, which
/// compiles to fewer instructions: pass 1 computes it for every bin).
#[inline(always)]
pub(super) fn slot(k: usize) -> usize {
    let c = k / 8;
    (k % 8) * (8 * SUB_STRIDE) + c + (c / SUB) * PAD
}

/// Pass 1 on bins `k0..k0+LANES` and their partners `H−k0−LANES+1..=H−k0`
/// (`LANES ≤ k0`, `k0 + LANES ≤ H/2`, the block inside one column). `ZERO_A`: the bins
/// `k0..k0+LANES` are below `start` (zero).
#[inline(always)]
fn pass1_block<V: Simd, const PHYS: bool, const ZERO_A: bool>(
    tws: &Twiddles,
    s: &[Complex64],
    t: &[Complex64],
    start: usize,
    k0: usize,
    out1: &mut [Complex64],
    out2: &mut [Complex64],
) {
    let l = V::LANES;
    let hi = H - k0 - start;
    let (bs, bt) = (&s[hi + 1 - l..=hi], &t[hi + 1 - l..=hi]);
    let b = product::<V, PHYS>(V::load_c_rev(bs), V::load_c_rev(bt));
    // E = A + conj(B), D = A − conj(B)
    let (e, d) = if ZERO_A {
        (
            b.conj(),
            Cv {
                re: b.re.neg(),
                im: b.im,
            },
        )
    } else {
        let lo = k0 - start;
        let a = product::<V, PHYS>(V::load_c(&s[lo..lo + l]), V::load_c(&t[lo..lo + l]));
        (
            Cv {
                re: a.re.add(b.re),
                im: a.im.sub(b.im),
            },
            Cv {
                re: a.re.sub(b.re),
                im: a.im.add(b.im),
            },
        )
    };
    // w_k = u_{k/8}·ρ_{k mod 8}
    let (c, r0) = (k0 / 8, k0 % 8);
    let u = Cv {
        re: V::splat(tws.u.0[c]),
        im: V::splat(tws.u.1[c]),
    };
    let rho = Cv {
        re: V::load(&tws.rho.0[r0..r0 + l]),
        im: V::load(&tws.rho.1[r0..r0 + l]),
    };
    let w = u.mul(rho);
    // Z_k = E + i·w·D, Z_{H−k} = conj(E − i·w·D)
    let q = d.mul(w).times_i();
    scatter(e.add(q), e.sub(q).conj(), k0, out1);
    if PHYS {
        // Second transform (of −i·X): E' = −i·D, i·w·D' = w·E.
        let e2 = d.times_neg_i();
        let q2 = e.mul(w);
        scatter(e2.add(q2), e2.sub(q2).conj(), k0, out2);
    }
}

/// Writes `z` (bins `k0 + i`) and `zm` (bins `H − k0 − i`) to their buffer slots.
#[inline(always)]
fn scatter<V: Simd>(z: Cv<V>, zm: Cv<V>, k0: usize, out: &mut [Complex64]) {
    let mut a = [Complex64::new(0.0, 0.0); 8];
    let mut b = [Complex64::new(0.0, 0.0); 8];
    let l = V::LANES;
    V::store_c(&mut a[..l], z.re, z.im);
    V::store_c(&mut b[..l], zm.re, zm.im);
    for i in 0..l {
        out[slot(k0 + i)] = a[i];
        out[slot(H - k0 - i)] = b[i];
    }
}

/// Pass 1 on the special bins `0` (paired with the Nyquist bin `H`, which has no slot) and
/// `H/2` (its own partner), with the DC and Nyquist rules: imaginary parts dropped (seed), or
/// zero (physical).
fn pass1_special<const PHYS: bool>(
    tws: &Twiddles,
    s: &[Complex64],
    t: &[Complex64],
    start: usize,
    out1: &mut [Complex64],
    out2: &mut [Complex64],
) {
    let x = |k: usize| -> Cv<f64> {
        if k < start || (PHYS && k == H) {
            return Cv::zero();
        }
        let i = k - start;
        let z = product::<f64, PHYS>((s[i].re, s[i].im), (t[i].re, t[i].im));
        if k == 0 || k == H {
            Cv { re: z.re, im: 0.0 }
        } else {
            z
        }
    };
    for k in [0, H / 2] {
        let (a, b) = (x(k), x(H - k));
        let e = Cv {
            re: a.re + b.re,
            im: a.im - b.im,
        };
        let d = Cv {
            re: a.re - b.re,
            im: a.im + b.im,
        };
        let w = Cv {
            re: tws.u.0[k / 8],
            im: tws.u.1[k / 8],
        }
        .mul(Cv {
            re: tws.rho.0[0],
            im: tws.rho.1[0],
        });
        let q = d.mul(w).times_i();
        let z = e.add(q);
        out1[slot(k)] = Complex64::new(z.re, z.im);
        if PHYS {
            let z = d.times_neg_i().add(e.mul(w));
            out2[slot(k)] = Complex64::new(z.re, z.im);
        }
    }
}

/// Pass 1 with vector type `V`: bins `1..H/2` in blocks of 8 (the first and the one holding
/// `start` one bin at a time), then the special bins.
#[inline(always)]
pub(super) fn pass1_impl<V: Simd, const PHYS: bool>(
    s: &[Complex64],
    t: &[Complex64],
    start: usize,
    out1: &mut [Complex64],
    out2: &mut [Complex64],
) {
    let tws = &plan().tw;
    let l = V::LANES;
    for k in 1..8 {
        if k < start {
            pass1_block::<f64, PHYS, true>(tws, s, t, start, k, out1, out2);
        } else {
            pass1_block::<f64, PHYS, false>(tws, s, t, start, k, out1, out2);
        }
    }
    for k0 in (8..H / 2).step_by(8) {
        if k0 + 8 <= start {
            for k in (k0..k0 + 8).step_by(l) {
                pass1_block::<V, PHYS, true>(tws, s, t, start, k, out1, out2);
            }
        } else if k0 >= start {
            for k in (k0..k0 + 8).step_by(l) {
                pass1_block::<V, PHYS, false>(tws, s, t, start, k, out1, out2);
            }
        } else {
            for k in k0..k0 + 8 {
                if k < start {
                    pass1_block::<f64, PHYS, true>(tws, s, t, start, k, out1, out2);
                } else {
                    pass1_block::<f64, PHYS, false>(tws, s, t, start, k, out1, out2);
                }
            }
        }
    }
    pass1_special::<PHYS>(tws, s, t, start, out1, out2);
}

/// The eight twiddles `w^0..w^7` for lanes with `w`, `w²` read from the tables `t1`, `t2` at
/// index `ti` (`w³..w⁷` are products of them).
#[inline(always)]
fn powers<V: Simd>(
    t1: &(Box<[f64]>, Box<[f64]>),
    t2: &(Box<[f64]>, Box<[f64]>),
    ti: usize,
) -> [Cv<V>; 8] {
    let l = V::LANES;
    let w1 = Cv {
        re: V::load(&t1.0[ti..ti + l]),
        im: V::load(&t1.1[ti..ti + l]),
    };
    let w2 = Cv {
        re: V::load(&t2.0[ti..ti + l]),
        im: V::load(&t2.1[ti..ti + l]),
    };
    let w3 = w2.mul(w1);
    let w4 = w2.mul(w2);
    let one = Cv {
        re: V::splat(1.0),
        im: V::splat(0.0),
    };
    [one, w1, w2, w3, w4, w4.mul(w1), w4.mul(w2), w4.mul(w3)]
}

/// Loads `buf[at[r]..at[r] + LANES]` for `r = 0..8`.
#[inline(always)]
fn load8<V: Simd>(buf: &[Complex64], at: &[usize; 8]) -> [Cv<V>; 8] {
    let l = V::LANES;
    let mut f = [Cv::<V>::zero(); 8];
    for (fr, &o) in f.iter_mut().zip(at) {
        let (re, im) = V::load_c(&buf[o..o + l]);
        *fr = Cv { re, im };
    }
    f
}

/// Step 2's first stage for row `r` (decimation in frequency of the length-`M` transform
/// `F_r` of row `r`, whose column `c = d + SUB·s` sits in sub-row `8r + s`, column `d`):
/// `W_v(d) = e^{2πivd/M}·Σ_s e^{2πivs/8}·Y(d + SUB·s)`, written back to sub-row `8r + v` (in
/// place: each block reads its eight sub-rows before writing them). The length-`SUB` transform
/// of sub-row `8r + v` then holds `F_r(8u + v)` at column `u`.
#[inline(always)]
pub(super) fn pass2_impl<V: Simd, const PHYS: bool>(buf: &mut [Complex64], r: usize) {
    let tws = &plan().tw;
    let l = V::LANES;
    for d0 in (0..SUB).step_by(l) {
        let mut at = [0; 8];
        for (s, a) in at.iter_mut().enumerate() {
            *a = (8 * r + s) * SUB_STRIDE + d0;
        }
        let y = dft8(&load8::<V>(buf, &at));
        let w = powers::<V>(&tws.c1, &tws.c2, d0);
        for v in 0..8 {
            let z = if v == 0 { y[0] } else { y[v].mul(w[v]) };
            V::store_c(&mut buf[at[v]..at[v] + l], z.re, z.im);
        }
    }
}

/// Pass 3 on `q = 8u + v`, `u = u0..u0+LANES`: the outputs `z_{q+Mp}` =
/// `Σ_r e^{2πipr/8}·ω^{qr}·F_r(q)`, `F_r(q)` being in sub-row `8r + v`, column `u`.
#[inline(always)]
pub(super) fn pass3_block<V: Simd>(
    tws: &Twiddles,
    buf: &[Complex64],
    v: usize,
    u0: usize,
) -> [Cv<V>; 8] {
    let mut at = [0; 8];
    for (r, a) in at.iter_mut().enumerate() {
        *a = (8 * r + v) * SUB_STRIDE + u0;
    }
    let f = load8::<V>(buf, &at);
    let w = powers::<V>(&tws.om1, &tws.om2, v * SUB + u0);
    let mut x = f;
    for r in 1..8 {
        x[r] = f[r].mul(w[r]);
    }
    dft8(&x)
}

/// The values the maximum is taken over for output `z_{q+Mp}`: its real and imaginary parts
/// (seed), or `|z|²` at both of its samples (physical: `a` holds `Re z`, `b` holds `Im z`).
#[inline(always)]
pub(super) fn values<V: Simd, const PHYS: bool>(a: Cv<V>, b: Cv<V>) -> (V, V) {
    if PHYS {
        (
            a.re.mul(a.re).add(b.re.mul(b.re)),
            a.im.mul(a.im).add(b.im.mul(b.im)),
        )
    } else {
        (a.re, a.im)
    }
}

/// Folds the values of one pass-3 block (`vals[p] = (value at 2P, value at 2P+1)` for
/// `P = 8·(u0 + lane) + v + M·p`) into `best`, lane by lane. Only called for the few blocks
/// whose maximum reaches the running one.
#[inline(always)]
fn fold_block<V: Simd>(vals: &[(V, V); 8], v: usize, u0: usize, best: &mut Best) {
    let l = V::LANES;
    let mut re = [0.0; 8];
    let mut im = [0.0; 8];
    for (p, (vr, vi)) in vals.iter().enumerate() {
        vr.store(&mut re[..l]);
        vi.store(&mut im[..l]);
        for i in 0..l {
            let j = 2 * (8 * (u0 + i) + v + M * p);
            best.fold(re[i], j);
            best.fold(im[i], j + 1);
        }
    }
}

/// Pass 3 with vector type `V`: the maximum over all outputs and its first index.
#[inline(always)]
pub(super) fn pass3_impl<V: Simd, const PHYS: bool>(a: &[Complex64], b: &[Complex64]) -> Best {
    let tws = &plan().tw;
    let l = V::LANES;
    let mut best = Best::NONE;
    for v in 0..8 {
        for u0 in (0..SUB).step_by(l) {
            let ya = pass3_block::<V>(tws, a, v, u0);
            let yb = if PHYS {
                pass3_block::<V>(tws, b, v, u0)
            } else {
                ya
            };
            let mut vals = [(V::splat(0.0), V::splat(0.0)); 8];
            let mut m = V::splat(f64::NEG_INFINITY);
            for p in 0..8 {
                let (vr, vi) = values::<V, PHYS>(ya[p], yb[p]);
                vals[p] = (vr, vi);
                m = vr.max(m);
                m = vi.max(m);
            }
            if m.any_ge(best.value) {
                fold_block(&vals, v, u0, &mut best);
            }
        }
    }
    best
}
