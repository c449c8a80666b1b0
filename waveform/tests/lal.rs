//! TaylorF2 against LALSuite 7.26: `SimInspiralChooseFDWaveform(TaylorF2)` h̃+ from the committed
//! fixtures (`tests/fixtures/taylorf2/gen_taylorf2_fixtures.py`), for the direct evaluation
//! ([`taylorf2_into`]) and the tabulated one ([`TaylorF2::fill_tabulated`]); and the phase test
//! vectors of `shared/physics.md` §6.

use chirpfarm_waveform::constants::MTSUN_SI;
use chirpfarm_waveform::{taylorf2_into, FreqTables, TaylorF2, TemplateParams};
use num_complex::Complex64;
use serde::Deserialize;

/// One LAL waveform, subsampled.
#[derive(Deserialize)]
struct Case {
    mass1: f64,
    mass2: f64,
    spin1z: f64,
    spin2z: f64,
    f_low: f64,
    delta_f: f64,
    f_final: Option<f64>,
    /// Length of LAL's h̃+ (bins `0..length`, the last one non-zero).
    length: usize,
    /// First non-zero bin.
    first: usize,
    bins: Vec<usize>,
    re: Vec<f64>,
    im: Vec<f64>,
}

#[derive(Deserialize)]
struct Fixture {
    #[serde(rename = "MTSUN_SI")]
    mtsun_si: f64,
    cases: Vec<Case>,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/taylorf2/taylorf2_lal.json"
    );
    let text = std::fs::read_to_string(path).expect("read the TaylorF2 fixture");
    serde_json::from_str(&text).expect("parse the TaylorF2 fixture")
}

impl Case {
    fn params(&self) -> TemplateParams {
        TemplateParams {
            mass1: self.mass1,
            mass2: self.mass2,
            spin1z: self.spin1z,
            spin2z: self.spin2z,
        }
    }

    /// Max phase difference (rad) and relative amplitude difference over the fixture's bins,
    /// after checking that `ours` (bins `0..length + 2`) is zero exactly where LAL's is.
    fn compare(&self, ours: &[Complex64]) -> (f64, f64) {
        assert_eq!(ours.len(), self.length + 2);
        assert!(ours[..self.first].iter().all(|c| c.norm() == 0.0));
        assert!(ours[self.first].norm() > 0.0 && ours[self.length - 1].norm() > 0.0);
        assert!(ours[self.length..].iter().all(|c| c.norm() == 0.0));
        let (mut dphi, mut damp) = (0.0f64, 0.0f64);
        for ((&k, &re), &im) in self.bins.iter().zip(&self.re).zip(&self.im) {
            let lal = Complex64::new(re, im);
            dphi = dphi.max((ours[k] * lal.conj()).arg().abs());
            damp = damp.max((ours[k].norm() / lal.norm() - 1.0).abs());
        }
        (dphi, damp)
    }
}

#[test]
fn fixture_uses_lals_constant() {
    assert_eq!(fixture().mtsun_si, MTSUN_SI);
}

#[test]
fn direct_evaluation_equals_lal() {
    for c in fixture().cases {
        let mut ours = vec![Complex64::new(0.0, 0.0); c.length + 2];
        taylorf2_into(
            &c.params(),
            1.0,
            c.f_low,
            c.f_final,
            c.delta_f,
            0,
            &mut ours,
        );
        let (dphi, damp) = c.compare(&ours);
        eprintln!(
            "direct  {:?} f_low {} Δf {}: phase {dphi:.2e} rad, amplitude {damp:.2e}",
            c.params(),
            c.f_low,
            c.delta_f
        );
        assert!(
            dphi <= 1e-9 && damp <= 1e-9,
            "{:?}: {dphi:e} {damp:e}",
            c.params()
        );
    }
}

#[test]
fn tabulated_evaluation_equals_lal() {
    for c in fixture().cases {
        let t = TaylorF2::new(&c.params()).unwrap();
        // Tables from bin 1 (any grid's), the output window offset from 0.
        let tables = FreqTables::new(c.delta_f, 1, c.length + 10).unwrap();
        let mut ours = vec![Complex64::new(7.0, 7.0); c.length + 2];
        t.fill_tabulated(&tables, 1.0, c.f_low, c.f_final, 0, &mut ours, f64::sin_cos);
        let (dphi, damp) = c.compare(&ours);
        eprintln!(
            "tabled  {:?} f_low {} Δf {}: phase {dphi:.2e} rad, amplitude {damp:.2e}",
            c.params(),
            c.f_low,
            c.delta_f
        );
        assert!(
            dphi <= 1e-9 && damp <= 1e-9,
            "{:?}: {dphi:e} {damp:e}",
            c.params()
        );
    }
}

#[test]
fn window_offsets_do_not_change_bins() {
    let c = &fixture().cases[1];
    let mut full = vec![Complex64::new(0.0, 0.0); c.length + 2];
    taylorf2_into(
        &c.params(),
        1.0,
        c.f_low,
        c.f_final,
        c.delta_f,
        0,
        &mut full,
    );
    let k0 = c.first + 1000;
    let mut part = vec![Complex64::new(0.0, 0.0); 5000];
    taylorf2_into(
        &c.params(),
        1.0,
        c.f_low,
        c.f_final,
        c.delta_f,
        k0,
        &mut part,
    );
    assert_eq!(&full[k0..k0 + 5000], &part[..]);
    // Distance scales the amplitude as 1/D.
    taylorf2_into(
        &c.params(),
        2.0,
        c.f_low,
        c.f_final,
        c.delta_f,
        k0,
        &mut part,
    );
    assert!((part[10] * 2.0 - full[k0 + 10]).norm() <= 1e-15 * full[k0 + 10].norm());
}

/// physics.md §6, "TaylorF2 Ψ_PN(f)": non-spinning, with the seed's MSUN = 4.9257e-6 s (the
/// masses are scaled by MSUN/MTSUN_SI, which keeps η and gives M·MSUN seconds).
#[test]
fn physics_md_phase_vectors() {
    let msun = 4.9257e-6;
    let cases = [
        (1.4, 1.4, 40.0, 3725.97436690489),
        (1.4, 1.4, 100.0, 733.245104692826),
        (1.0, 2.0, 40.0, 3713.44482459568),
        (1.0, 2.0, 100.0, 720.303316151754),
        (10.0, 10.0, 40.0, 63.7995040826149),
        (10.0, 10.0, 100.0, -30.6339216670333),
    ];
    for (m1, m2, f, want) in cases {
        let s = msun / MTSUN_SI;
        let p = TemplateParams {
            mass1: m1 * s,
            mass2: m2 * s,
            spin1z: 0.0,
            spin2z: 0.0,
        };
        let got = TaylorF2::new(&p).unwrap().phase(f);
        let eta = m1 * m2 / ((m1 + m2) * (m1 + m2));
        let alt = TaylorF2::from_mass_eta((m1 + m2) * s, eta).phase(f);
        for v in [got, alt] {
            assert!(
                ((v - want) / want).abs() < 1e-12,
                "({m1}, {m2}) at {f} Hz: {v} vs {want}"
            );
        }
    }
    // η slightly above 1/4 (bank metric finite differences) is accepted.
    assert!(TaylorF2::from_mass_eta(2.8, 0.2500001)
        .phase(40.0)
        .is_finite());
}
