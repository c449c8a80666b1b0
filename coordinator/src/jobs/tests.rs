//! Job record tests: release order, cursors, partial reads, data grids.

use super::*;
use chirpfarm_core::{BankSpec, SignalSpec, SnrConvention};

/// One signal's block whose SNR is each template's bank index.
fn block(start: u64, count: u32) -> v1::ResultBlock {
    let snr = |i: u64| chirpfarm_core::TemplateResult {
        snr: i as f64,
        lag_seconds: 0.0,
    };
    let ramp = (start..start + count as u64).map(snr).collect();
    chirpfarm_proto::signal_result_block(start, &[ramp])
}

#[test]
fn releases_in_order_from_a_cursor() {
    let spec = SearchSpec {
        bank: BankSpec::List(vec![1.0; 25]),
        signals: vec![SignalSpec::chirp(1.0)],
        convention: SnrConvention::Seed,
        data: None,
        approximant: Default::default(),
        f_final: None,
    };
    let mut j = JobRecord::new(spec, 25, 10, SegmentGrid::NONE);
    j.store(1, block(10, 10));
    assert!(
        j.blocks_from(0, usize::MAX).is_empty(),
        "task 0 missing: nothing released"
    );
    j.store(0, block(0, 10));
    j.store(2, block(20, 5));
    assert_eq!(j.released(), 25);
    let from7 = j.blocks_from(7, usize::MAX);
    assert_eq!(from7[0].start, 7);
    assert_eq!(from7[0].signals[0].snr[0], 7.0);
    let all: Vec<f64> = from7
        .iter()
        .flat_map(|b| b.signals[0].snr.clone())
        .collect();
    assert_eq!(all, (7..25).map(|i| i as f64).collect::<Vec<_>>());
}

#[test]
fn a_partial_read_skips_the_holes_in_order() {
    let spec = SearchSpec::signals(
        BankSpec::List(vec![1.0; 40]),
        vec![SignalSpec::chirp(1.0)],
        SnrConvention::Seed,
    );
    let mut j = JobRecord::new(spec, 40, 10, SegmentGrid::NONE);
    assert_eq!(j.stored_end(), 0);
    j.store(0, block(0, 10));
    j.store(2, block(20, 10));
    assert_eq!(j.released(), 10, "in-order release stops at the hole");
    assert_eq!(j.stored_end(), 30);
    let got: Vec<(u64, u32)> = j
        .stored_from(5, usize::MAX)
        .iter()
        .map(|b| (b.start, b.count))
        .collect();
    assert_eq!(got, vec![(5, 5), (20, 10)]);
    assert!(j.stored_from(30, usize::MAX).is_empty());
}

fn data_block(start: u64, count: u32, segs: (u32, u32)) -> v1::ResultBlock {
    let t: Vec<u64> = (start..start + count as u64).collect();
    v1::ResultBlock {
        start,
        count,
        segment_start: segs.0,
        segment_count: segs.1,
        data: Some(v1::DataResult {
            peak_snr: t.iter().map(|&i| i as f64).collect(),
            peak_sample: t.clone(),
            trigger_segment: vec![segs.0; t.len()],
            trigger_sample: t.clone(),
            trigger_snr: vec![6.0; t.len()],
            trigger_phase: vec![0.0; t.len()],
            trigger_sigmasq: vec![1.0; t.len()],
            trigger_template: t,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn data_blocks_release_by_segment_group_then_template() {
    let spec = SearchSpec::signals(BankSpec::List(vec![1.0; 25]), vec![], SnrConvention::Seed);
    // 25 templates in chunks of 10 × 2 segment groups: units 0..50, tasks 0..6.
    let grid = SegmentGrid {
        segments: 4,
        per_task: 2,
    };
    let mut j = JobRecord::new(spec, 25, 10, grid);
    assert_eq!(j.units_total(), 50);
    for (task, start, count, segs) in [
        (3, 0, 10, (2, 2)),
        (0, 0, 10, (0, 2)),
        (1, 10, 10, (0, 2)),
        (2, 20, 5, (0, 2)),
    ] {
        j.store(task, data_block(start, count, segs));
    }
    assert_eq!(j.released(), 35, "group 0 and the first range of group 1");
    // From unit 32: group 1, template 7 onwards; the block is sliced at template 7.
    let b = j.blocks_from(32, usize::MAX);
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].start, b[0].count, b[0].segment_start), (7, 3, 2));
    let d = b[0].data.as_ref().unwrap();
    assert_eq!(d.peak_sample, vec![7, 8, 9]);
    assert_eq!(d.trigger_template, vec![7, 8, 9]);
    assert_eq!(j.cursor_after(&b[0]), 35);
    assert_eq!(b[0].unit, 32, "a sliced block names the unit it starts at");
    // From unit 12: the rest of group 0, then group 1's first range; each names its unit
    // (group × 25 + template), the cursor after it being unit + count.
    let b = j.blocks_from(12, usize::MAX);
    assert_eq!(
        b.iter()
            .map(|b| (b.start, b.count, b.unit))
            .collect::<Vec<_>>(),
        vec![(12, 8, 12), (20, 5, 20), (0, 10, 25)]
    );
    // A partial read past the hole (units 35..50 of group 1 are missing in between).
    j.store(5, data_block(20, 5, (2, 2)));
    let b = j.stored_from(35, usize::MAX);
    assert_eq!(
        b.iter().map(|b| (b.start, b.unit)).collect::<Vec<_>>(),
        vec![(20, 45)]
    );
}
