//! TaylorF2 template generation vs filtering on the data benchmark's grid (`bench/data_search.sh`:
//! 256 s segments at 2048 Hz, n = 2^19, f_low 30 Hz), one thread. Prints one JSON line:
//! per-template generation time of the engine's tabulated TaylorF2 (`fill_band_taylorf2`), of the
//! direct per-bin reference (`taylorf2_into`) and of the Newtonian chirp, the first call's grid
//! table build, and one template × one segment through the filter (template cached), with the
//! ratio generation / filtering. Used by `bench/python/taylorf2_gen.py` (bench/run.sh).
//!
//!     cargo run --release -p chirpfarm-worker --example taylorf2_gen [-- --templates N]

use chirpfarm_core::TemplateParams;
use chirpfarm_waveform::{taylorf2_into, TaylorF2};
use chirpfarm_worker::engine::data::taylorf2::fill_band_taylorf2;
use chirpfarm_worker::engine::data::template::fill_band;
use chirpfarm_worker::engine::data::{
    condition_segment, BankTemplate, DataEngine, DataGrid, SegmentRef, TriggerOptions,
};
use num_complex::Complex64;
use std::hint::black_box;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let templates: usize = args
        .iter()
        .position(|a| a == "--templates")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let grid = DataGrid::new(1 << 19, 2048.0, 30.0);
    let bank: Vec<TemplateParams> = (0..templates)
        .map(|i| TemplateParams {
            mass1: 1.2 + 0.8 * i as f64 / templates as f64,
            mass2: 1.1 + 0.3 * ((i * 7) % templates) as f64 / templates as f64,
            spin1z: 0.05 * ((i % 5) as f64 - 2.0),
            spin2z: -0.03 * ((i % 3) as f64 - 1.0),
        })
        .collect();
    let mut out = vec![Complex64::new(0.0, 0.0); grid.band_len()];
    let t = Instant::now();
    fill_band_taylorf2(&TaylorF2::new(&bank[0]).unwrap(), None, &grid, &mut out);
    let first_call = t.elapsed().as_secs_f64();
    let (mut fast, mut direct, mut newt) = (Vec::new(), Vec::new(), Vec::new());
    for (i, p) in bank.iter().enumerate() {
        let t = Instant::now();
        let f2 = TaylorF2::new(p).unwrap();
        fill_band_taylorf2(&f2, None, &grid, &mut out);
        black_box(&out);
        fast.push(t.elapsed().as_secs_f64());
        if i % 4 == 0 {
            let t = Instant::now();
            taylorf2_into(
                p,
                1.0,
                grid.f_low,
                None,
                grid.delta_f(),
                grid.k_low(),
                &mut out,
            );
            black_box(&out);
            direct.push(t.elapsed().as_secs_f64());
        }
        let t = Instant::now();
        fill_band(p.chirp_mass(), &grid, &mut out);
        black_box(&out);
        newt.push(t.elapsed().as_secs_f64());
    }
    // One template against one segment through the engine, template already cached.
    let data: Vec<f64> = (0..grid.n)
        .map(|j| ((j as f64 * 0.618_033_988_75).fract() - 0.5) * 1e-21)
        .collect();
    let psd = vec![1e-46; grid.bins()];
    let seg = condition_segment(&data, &psd, &grid);
    let segs = [SegmentRef {
        index: 0,
        start: 0,
        analyze: grid.n / 4..3 * grid.n / 4,
        data: &seg,
    }];
    let engine = DataEngine::new(1 << 30);
    let tmpl = [BankTemplate::TaylorF2 {
        params: bank[0],
        f_final: None,
    }];
    let mut filt = Vec::new();
    for _ in 0..(templates / 2).max(5) {
        let t = Instant::now();
        black_box(engine.filter_templates(
            0,
            &tmpl,
            &grid,
            &psd,
            &segs,
            &TriggerOptions::snr_only(1e9, 2048),
        ));
        filt.push(t.elapsed().as_secs_f64());
    }
    filt.remove(0); // the first call generated the template
    let (fast, direct, newt, filt) = (median(fast), median(direct), median(newt), median(filt));
    println!(
        "{{\"grid\": {{\"n\": {}, \"sample_rate\": {}, \"f_low\": {}, \"band_bins\": {}}}, \
         \"templates\": {templates}, \"taylorf2_ms\": {:.4}, \"taylorf2_direct_ms\": {:.4}, \
         \"newtonian_ms\": {:.4}, \"first_call_ms\": {:.4}, \"filter_template_segment_ms\": {:.4}, \
         \"generation_over_filter\": {:.4}}}",
        grid.n,
        grid.sample_rate,
        grid.f_low,
        grid.band_len(),
        fast * 1e3,
        direct * 1e3,
        newt * 1e3,
        first_call * 1e3,
        filt * 1e3,
        fast / filt
    );
}
