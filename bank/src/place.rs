//! Hexagonal-lattice placement in (θ0, θ3) with the local metric (physics.md §5.3).
//!
//! A hexagonal lattice of side a = √(3(1 − MM)) in coordinates where the metric is the identity
//! leaves every point within metric distance r = √(1 − MM) of a template, i.e. at a match of at
//! least MM (Cokelaer 2007). The metric is not constant: g33 grows by half from (1, 1) to (2, 2).
//! So the plane is cut into **strips of θ0** (θ0 depends on the chirp mass alone) narrow enough
//! that the metric changes by a few per cent across one, and each strip gets its own lattice
//! with a metric that dominates the true one everywhere in the strip: the metric g_c at a
//! sample near the strip's middle, scaled by the largest generalized eigenvalue of g against
//! g_c over a grid of samples of the strip. A strip keeps every lattice point whose disc of
//! radius r meets the part of the region inside the strip — so each strip is covered by itself
//! and seams need no stitching (they cost a few templates each) — and the region's boundary
//! gets a margin of up to r. Points past the equal-mass line (η > 1/4, no masses) move to
//! η = 1/4 at the same chirp mass, which is close to the metric projection (the soft direction
//! is ≈ η at fixed chirp mass) and, the sheet being locally convex there, only brings them
//! closer to every point they covered.

use crate::coords::{Chirp, Theta};
use crate::metric::{dist2, eigen, max_ratio, Metric2, MetricField};
use crate::region::Region;
use crate::BankError;
use chirpfarm_core::TemplateParams;
use rayon::prelude::*;

/// Widest strip, as a ratio of θ0 (≈ 5 % in chirp mass): the metric changes by ~3 % across it.
const STRIP_RATIO: f64 = 1.08;

/// What to place: the region, the minimal match and the band (the metric field holds the PSD).
#[derive(Debug, Clone, Copy)]
pub struct PlaceSpec {
    /// The (m1, m2) region to cover.
    pub region: Region,
    /// Minimal match, in (0, 1).
    pub min_match: f64,
}

/// A placed bank and how it was made.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Templates, m1 ≥ m2, non-spinning, strip by strip (increasing θ0, i.e. decreasing chirp
    /// mass).
    pub templates: Vec<TemplateParams>,
    /// Strips of θ0, each with its own lattice.
    pub strips: usize,
    /// Templates moved onto the equal-mass line.
    pub clamped: usize,
}

/// One strip: its θ0 band and the lattice metric that dominates g inside it.
struct Strip {
    /// θ0 band, closed.
    lo: f64,
    /// Upper end of the band.
    hi: f64,
    /// Scaled metric of the lattice.
    g: Metric2,
    /// θ3 extent of the region inside the band (from samples of the region and its boundary).
    t3: (f64, f64),
}

/// Lattice points a strip may test: beyond this the region is far too large for one bank
/// (millions of templates) and placement refuses rather than run for hours.
const MAX_CANDIDATES: f64 = 2e7;

/// Places the bank. Deterministic: the same inputs give the same templates in the same order.
/// Refuses a region whose lattice would be unreasonably large.
pub fn place(spec: &PlaceSpec, field: &MetricField) -> Result<Placement, BankError> {
    let chirp = field.chirp;
    let (mc_lo, mc_hi) = spec.region.mc_range();
    let (t0_lo, t0_hi) = (chirp.theta0_of_mc(mc_hi), chirp.theta0_of_mc(mc_lo));
    let n = ((t0_hi / t0_lo).ln() / STRIP_RATIO.ln()).ceil().max(1.0) as usize;
    let bands: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let at = |j: usize| t0_lo * (t0_hi / t0_lo).powf(j as f64 / n as f64);
            (at(i), if i + 1 == n { t0_hi } else { at(i + 1) })
        })
        .collect();
    let corners: Vec<Theta> = spec
        .region
        .corners()
        .iter()
        .map(|&(a, b)| chirp.theta_of_masses(a, b))
        .collect();
    let r = (1.0 - spec.min_match).sqrt();
    let per_strip: Vec<(Vec<TemplateParams>, usize)> = bands
        .par_iter()
        .map(|&(lo, hi)| {
            let strip = strip_metric(spec, field, lo, hi, &corners);
            lattice(spec, &chirp, &strip, r, &corners)
        })
        .collect::<Result<_, _>>()?;
    let clamped = per_strip.iter().map(|(_, c)| c).sum();
    Ok(Placement {
        templates: per_strip.into_iter().flat_map(|(t, _)| t).collect(),
        strips: n,
        clamped,
    })
}

/// Samples of the region inside the θ0 band [lo, hi]: `rows` values of θ0 (chirp mass) × `cols`
/// values of η in [η_min, 1/4], the ones in the region, plus the region's corners in the band.
fn samples(
    spec: &PlaceSpec,
    chirp: &Chirp,
    (lo, hi): (f64, f64),
    (rows, cols): (usize, usize),
    corners: &[Theta],
) -> Vec<Theta> {
    let eta_min = spec.region.eta_min();
    let mut out = Vec::new();
    for i in 0..rows {
        let t0 = lo + (hi - lo) * i as f64 / (rows - 1).max(1) as f64;
        let mc = chirp.mc_of_theta0(t0);
        for j in 0..cols {
            let eta = eta_min + (0.25 - eta_min) * j as f64 / (cols - 1).max(1) as f64;
            let m = mc / eta.powf(0.6);
            if spec.region.contains_m_eta(m, eta) {
                out.push(chirp.theta(m, eta));
            }
        }
    }
    let slack = 1e-9 * hi;
    out.extend(
        corners
            .iter()
            .filter(|c| c[0] >= lo - slack && c[0] <= hi + slack),
    );
    out
}

/// The strip's lattice metric: g at a middle sample, scaled to dominate g at every sample.
fn strip_metric(
    spec: &PlaceSpec,
    field: &MetricField,
    lo: f64,
    hi: f64,
    corners: &[Theta],
) -> Strip {
    let chirp = field.chirp;
    let mut pts = samples(spec, &chirp, (lo, hi), (3, 7), corners);
    if pts.is_empty() {
        // A region thinner than the sample grid: its corner nearest the band stands in.
        let mid = 0.5 * (lo + hi);
        let c = corners
            .iter()
            .min_by(|a, b| (a[0] - mid).abs().total_cmp(&(b[0] - mid).abs()))
            .copied()
            .expect("a region has corners");
        pts.push(c);
    }
    let centre = pts[pts.len() / 2];
    let gc = field.at(centre);
    let scale = pts
        .iter()
        .map(|&p| max_ratio(&field.at(p), &gc))
        .fold(1.0, f64::max);
    let g = [
        [scale * gc[0][0], scale * gc[0][1]],
        [scale * gc[1][0], scale * gc[1][1]],
    ];
    // θ3 extent from a denser sample (no metric needed: cheap).
    let dense = samples(spec, &chirp, (lo, hi), (9, 257), corners);
    let t3 = dense
        .iter()
        .chain(pts.iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p[1]), b.max(p[1]))
        });
    Strip { lo, hi, g, t3 }
}

/// The strip's lattice points whose disc of radius r meets the region inside the strip, as
/// templates (and how many were moved onto the equal-mass line).
fn lattice(
    spec: &PlaceSpec,
    chirp: &Chirp,
    s: &Strip,
    r: f64,
    corners: &[Theta],
) -> Result<(Vec<TemplateParams>, usize), BankError> {
    let (lam, v) = eigen(&s.g);
    let (s0, s1) = (lam[0].sqrt(), lam[1].sqrt());
    let to_u = |t: Theta| {
        [
            s0 * (v[0][0] * t[0] + v[1][0] * t[1]),
            s1 * (v[0][1] * t[0] + v[1][1] * t[1]),
        ]
    };
    let to_t = |u: [f64; 2]| {
        let (a, b) = (u[0] / s0, u[1] / s1);
        [v[0][0] * a + v[0][1] * b, v[1][0] * a + v[1][1] * b]
    };
    // The θ-extent of a metric disc of radius r: r·sqrt((g⁻¹)_ii).
    let det = s.g[0][0] * s.g[1][1] - s.g[0][1] * s.g[0][1];
    let e0 = 2.0 * r * (s.g[1][1] / det).sqrt();
    let e3 = 2.0 * r * (s.g[0][0] / det).sqrt();
    let (b0, b1) = (s.lo - e0, s.hi + e0);
    let (c0, c1) = (s.t3.0 - e3, s.t3.1 + e3);
    let box_u: Vec<[f64; 2]> = [[b0, c0], [b0, c1], [b1, c0], [b1, c1]]
        .iter()
        .map(|&t| to_u(t))
        .collect();
    let umin = |k: usize| box_u.iter().map(|u| u[k]).fold(f64::INFINITY, f64::min);
    let umax = |k: usize| box_u.iter().map(|u| u[k]).fold(f64::NEG_INFINITY, f64::max);
    let a = (3.0f64).sqrt() * r;
    let row = 0.5 * (3.0f64).sqrt() * a;
    let slack = 1e-9 * s.hi;
    let in_strip = |t: Theta| {
        t[0] >= s.lo - slack
            && t[0] <= s.hi + slack
            && chirp
                .mass_eta(t)
                .is_some_and(|(m, eta)| spec.region.contains_m_eta(m, eta))
    };
    let mut strip_corners: Vec<[f64; 2]> = corners
        .iter()
        .filter(|c| c[0] >= s.lo - slack && c[0] <= s.hi + slack)
        .map(|&c| to_u(c))
        .collect();
    // The region's edges inside the band, every r/4: a disc that meets a thin sliver of the
    // region (near a corner) between the test points below still holds one of these.
    strip_corners.extend(edge_points(spec, chirp, s, &to_u, 0.25 * r));
    strip_corners.sort_by(|a, b| a[0].total_cmp(&b[0]));
    // Test points of a disc: the centre, 12 at r/2, 24 on the rim.
    let ring: Vec<[f64; 2]> = std::iter::once([0.0, 0.0])
        .chain((0..12).map(|k| polar(0.5 * r, k as f64 / 12.0)))
        .chain((0..24).map(|k| polar(r, (k as f64 + 0.5) / 24.0)))
        .collect();
    let (j0, j1) = (
        (umin(1) / row).floor() as i64,
        (umax(1) / row).ceil() as i64,
    );
    let candidates = (j1 - j0 + 1) as f64 * ((umax(0) - umin(0)) / a + 2.0);
    if candidates.is_nan() || candidates > MAX_CANDIDATES {
        return Err(BankError::Input(format!(
            "{} at minimal match {} needs more than {MAX_CANDIDATES:e} lattice points in one strip of chirp mass: split the region or lower --min-match",
            spec.region.describe(),
            spec.min_match
        )));
    }
    let mut kept: Vec<Theta> = Vec::new();
    for j in j0..=j1 {
        let shift = if j.rem_euclid(2) == 1 { 0.5 * a } else { 0.0 };
        let i0 = ((umin(0) - shift) / a).floor() as i64;
        let i1 = ((umax(0) - shift) / a).ceil() as i64;
        for i in i0..=i1 {
            let p = [i as f64 * a + shift, j as f64 * row];
            let t = to_t(p);
            if t[0] < b0 || t[0] > b1 || t[1] < c0 || t[1] > c1 {
                continue;
            }
            let near = |c: &[f64; 2]| (c[0] - p[0]).powi(2) + (c[1] - p[1]).powi(2) <= r * r;
            let from = strip_corners.partition_point(|c| c[0] < p[0] - r);
            let hit = ring
                .iter()
                .any(|d| in_strip(to_t([p[0] + d[0], p[1] + d[1]])))
                || strip_corners[from..]
                    .iter()
                    .take_while(|c| c[0] <= p[0] + r)
                    .any(near);
            if hit {
                kept.push(t);
            }
        }
    }
    // Onto the physical sheet by metric projection; only exact duplicates are dropped (a point
    // moved even r/10 away from the one it duplicates would open a hole of 1.1 r).
    let mut out: Vec<Theta> = Vec::with_capacity(kept.len());
    let mut clamped = 0;
    for t in kept {
        let t = match chirp.mass_eta(t) {
            Some((_, eta)) if eta <= 0.25 => t,
            _ => {
                clamped += 1;
                let c = project_equal_mass(chirp, &s.g, t);
                if out.iter().any(|&o| dist2(&s.g, o, c) < 1e-12 * r * r) {
                    continue;
                }
                c
            }
        };
        out.push(t);
    }
    let templates = out
        .iter()
        .filter_map(|&t| chirp.masses(t))
        .map(|(m1, m2)| TemplateParams {
            mass1: m1,
            mass2: m2,
            spin1z: 0.0,
            spin2z: 0.0,
        })
        .collect();
    Ok((templates, clamped))
}

/// Points of the region's boundary (the mass box's edges, folded to m1 ≥ m2, and the equal-mass
/// line) whose θ0 lies in the strip's band, at most `step` apart in the strip's coordinates `u`.
fn edge_points(
    spec: &PlaceSpec,
    chirp: &Chirp,
    s: &Strip,
    to_u: &dyn Fn(Theta) -> [f64; 2],
    step: f64,
) -> Vec<[f64; 2]> {
    let (a, b) = (spec.region.mass1, spec.region.mass2);
    let (lo, hi) = (a.lo.max(b.lo), a.hi.min(b.hi));
    let mut edges = vec![
        ((a.lo, b.lo), (a.hi, b.lo)),
        ((a.lo, b.hi), (a.hi, b.hi)),
        ((a.lo, b.lo), (a.lo, b.hi)),
        ((a.hi, b.lo), (a.hi, b.hi)),
    ];
    if lo <= hi {
        edges.push(((lo, lo), (hi, hi)));
    }
    let mut out = Vec::new();
    for ((x0, y0), (x1, y1)) in edges {
        let at = |t: f64| chirp.theta_of_masses(x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        // θ0 falls monotonically along every edge (the chirp mass grows): bisect for the band.
        let find = |target: f64| {
            let (mut l, mut h) = (0.0f64, 1.0f64);
            for _ in 0..60 {
                let m = 0.5 * (l + h);
                if at(m)[0] > target {
                    l = m;
                } else {
                    h = m;
                }
            }
            l
        };
        let (t0, t1) = ((find(s.hi) - 1e-6).max(0.0), (find(s.lo) + 1e-6).min(1.0));
        let coarse: Vec<[f64; 2]> = (0..=64)
            .map(|i| to_u(at(t0 + (t1 - t0) * i as f64 / 64.0)))
            .collect();
        let len: f64 = coarse
            .windows(2)
            .map(|w| ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt())
            .sum();
        let n = ((len / step).ceil() as usize).clamp(1, 1_000_000);
        out.extend((0..=n).filter_map(|i| {
            let t = at(t0 + (t1 - t0) * i as f64 / n as f64);
            (t[0] >= s.lo && t[0] <= s.hi).then(|| to_u(t))
        }));
    }
    out
}

/// The point of the equal-mass line nearest to `t` in the metric `g` (golden-section search in
/// ln M around the point of the same chirp mass). For a region bounded by a nearly straight
/// line, the projection brings a template no farther from any point inside than it was, so it
/// keeps covering what it covered.
fn project_equal_mass(chirp: &Chirp, g: &Metric2, t: Theta) -> Theta {
    let guess = chirp.clamp_equal_mass(t);
    let m0 = chirp.mass_eta(guess).map_or(1.0, |(m, _)| m).ln();
    let on_line = |x: f64| chirp.theta(x.exp(), 0.25);
    let cost = |x: f64| dist2(g, t, on_line(x));
    let (mut a, mut b) = (m0 - 0.3, m0 + 0.3);
    let phi = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..80 {
        let (c, d) = (b - phi * (b - a), a + phi * (b - a));
        if cost(c) < cost(d) {
            b = d;
        } else {
            a = c;
        }
    }
    on_line(0.5 * (a + b))
}

/// A point at radius `rad` and angle `turns` × 2π.
fn polar(rad: f64, turns: f64) -> [f64; 2] {
    let phi = std::f64::consts::TAU * turns;
    [rad * phi.cos(), rad * phi.sin()]
}
