//! Criterion benchmarks of the engine (`cargo bench -p chirpfarm-worker --bench filter`):
//!
//! * `single_template/{seed,physical}`: one template, multiply → c2r → max, one thread.
//! * `normtemplate`: generating one normalised template (what a cache miss costs).
//! * `seed_bank_94/cold`: the seed's 94-template bank against one signal on the global rayon
//!   pool, cache empty (a new `Engine` per iteration), i.e. including template generation.
//!   `cold_no_cache` does the same with caching disabled (no fresh cache memory to fault in).
//! * `seed_bank_94/warm`: the same with every template cached.

use chirpfarm_core::bank::SEED_BANK;
use chirpfarm_core::{SignalSpec, SnrConvention};
use chirpfarm_worker::engine::{
    normtemplate, template, Engine, NormTemplate, SingleFilter, TEMPLATE_BYTES,
};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;

fn single_template(c: &mut Criterion) {
    let signal = template(1.2);
    let tmpl = normtemplate(1.25);
    let mut f = SingleFilter::new();
    let mut g = c.benchmark_group("single_template");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("seed", |b| {
        b.iter(|| f.run(black_box(&signal), black_box(&tmpl), SnrConvention::Seed))
    });
    g.bench_function("physical", |b| {
        b.iter(|| {
            f.run(
                black_box(&signal),
                black_box(&tmpl),
                SnrConvention::Physical,
            )
        })
    });
    g.finish();
}

fn generation(c: &mut Criterion) {
    let mut g = c.benchmark_group("generation");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("normtemplate", |b| {
        b.iter(|| NormTemplate::new(black_box(1.2345)))
    });
    g.finish();
}

fn seed_bank(c: &mut Criterion) {
    let masses = SEED_BANK.masses(1000).unwrap();
    let signals = [SignalSpec::chirp(1.2)];
    let mut g = c.benchmark_group("seed_bank_94");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    // The engine (and its 94 MB of cached templates) is dropped outside the timed section.
    g.bench_function("cold", |b| {
        b.iter_with_large_drop(|| {
            let e = Engine::new(200 * TEMPLATE_BYTES);
            let r = e.filter_block(black_box(&masses), &signals, SnrConvention::Seed);
            (e, r)
        })
    });
    g.bench_function("cold_no_cache", |b| {
        b.iter(|| Engine::new(0).filter_block(black_box(&masses), &signals, SnrConvention::Seed))
    });
    let warm = Engine::new(200 * TEMPLATE_BYTES);
    warm.filter_block(&masses, &signals, SnrConvention::Seed);
    g.bench_function("warm", |b| {
        b.iter(|| warm.filter_block(black_box(&masses), &signals, SnrConvention::Seed))
    });
    assert_eq!(
        warm.templates_generated(),
        94,
        "the warm engine must not regenerate"
    );
    g.finish();
}

criterion_group!(benches, single_template, generation, seed_bank);
criterion_main!(benches);
