//! The metric against physics.md §5.3's numbers, exact matches against the metric, and a small
//! bank's coverage measured with exact matches.

use chirpfarm_bank::check::{fitting_factors, summarize, CheckSpec};
use chirpfarm_bank::coords::Chirp;
use chirpfarm_bank::matcher::Matcher;
use chirpfarm_bank::metric::{dist2, eigen, MetricField};
use chirpfarm_bank::noise::Noise;
use chirpfarm_bank::place::{place, PlaceSpec};
use chirpfarm_bank::region::{MassRange, Region};
use chirpfarm_core::TemplateParams;

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got / want - 1.0).abs() <= rel
}

fn params(m: (f64, f64)) -> TemplateParams {
    TemplateParams {
        mass1: m.0,
        mass2: m.1,
        spin1z: 0.0,
        spin2z: 0.0,
    }
}

#[test]
fn metric_matches_physics_md_within_one_percent() {
    let field = MetricField::new(&Noise::Aligo, 40.0, 1024.0);
    let c = Chirp { f_low: 40.0 };
    let g = field.at(c.theta_of_masses(1.4, 1.4));
    assert!(close(g[0][0], 8.7146e-3, 0.01), "g00 {g:?}");
    assert!(close(g[0][1], -9.8170e-3, 0.01), "g03 {g:?}");
    assert!(close(g[1][1], 1.1942e-2, 0.01), "g33 {g:?}");
    let (lam, _) = eigen(&g);
    assert!(
        close(lam[0], 3.797e-4, 0.01) && close(lam[1], 2.028e-2, 0.01),
        "{lam:?}"
    );
    let g11 = field.at(c.theta_of_masses(1.0, 1.0));
    let g22 = field.at(c.theta_of_masses(2.0, 2.0));
    assert!(close(g11[1][1], 9.787e-3, 0.01), "{g11:?}");
    assert!(close(g22[1][1], 1.459e-2, 0.01), "{g22:?}");
}

#[test]
fn exact_matches_follow_the_metric_along_its_eigenvectors() {
    // physics.md §5.3: steps to a predicted match of 0.97 give exact matches 0.9709 and 0.9707.
    let field = MetricField::new(&Noise::Aligo, 40.0, 1024.0);
    let matcher = Matcher::new(Noise::Aligo, 40.0, 1024.0);
    let c = Chirp { f_low: 40.0 };
    let t = c.theta_of_masses(1.4, 1.4);
    let g = field.at(t);
    let (lam, v) = eigen(&g);
    let here = params((1.4, 1.4));
    assert!(matcher.matches(&here, &here) > 1.0 - 1e-9);
    for i in 0..2 {
        // Step towards smaller η (down from the equal-mass line): physical on both sides.
        let step = 0.03f64.sqrt() / lam[i].sqrt();
        let cands = [1.0, -1.0].map(|s| [t[0] + s * step * v[0][i], t[1] + s * step * v[1][i]]);
        let other = cands
            .iter()
            .find_map(|&p| c.masses(p))
            .expect("one side is physical");
        let m = matcher.matches(&here, &params(other));
        assert!(
            (0.968..0.974).contains(&m),
            "eigenvector {i}: exact match {m}"
        );
    }
}

#[test]
fn a_small_bank_covers_its_region_at_the_minimal_match() {
    let region = Region {
        mass1: MassRange { lo: 1.3, hi: 1.6 },
        mass2: MassRange { lo: 1.2, hi: 1.5 },
    };
    let (f_low, f_high, mm) = (40.0, 1024.0, 0.97);
    let field = MetricField::new(&Noise::Aligo, f_low, f_high);
    let placed = place(
        &PlaceSpec {
            region,
            min_match: mm,
        },
        &field,
    )
    .unwrap();
    let bank = &placed.templates;
    assert!(
        bank.len() > 10 && bank.len() < 2000,
        "{} templates",
        bank.len()
    );
    assert!(bank.iter().all(|p| p.mass1 >= p.mass2 && p.mass2 > 0.0));
    // Neighbours sit one lattice side apart: match ≈ 1 − 3(1 − MM) by the metric.
    let c = field.chirp;
    let matcher = Matcher::new(Noise::Aligo, f_low, f_high);
    let t0 = c.theta_of_masses(bank[bank.len() / 2].mass1, bank[bank.len() / 2].mass2);
    let g = field.at(t0);
    let (d, j) = bank
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != bank.len() / 2)
        .map(|(j, p)| (dist2(&g, t0, c.theta_of_masses(p.mass1, p.mass2)), j))
        .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a });
    let m = matcher.matches(&bank[bank.len() / 2], &bank[j]);
    assert!(
        d <= 3.0 * (1.0 - mm) * 1.01,
        "nearest neighbour at metric distance² {d}"
    );
    assert!(
        m >= 1.0 - 3.0 * (1.0 - mm) - 0.01,
        "neighbour match {m} (metric {})",
        1.0 - d
    );
    // Random signals: every fitting factor ≥ MM − 0.005, and almost all ≥ MM.
    let spec = CheckSpec {
        region,
        injections: 60,
        seed: 3,
        nearest: 20,
        min_match: mm,
    };
    let inj = fitting_factors(bank, &spec, &field, &matcher);
    let ff: Vec<f64> = inj.iter().map(|i| i.fitting_factor).collect();
    let s = summarize(&ff, mm);
    assert!(s.min >= mm - 0.005, "{s:?}");
    assert!(s.fraction_above >= 0.95, "{s:?}");
}
