//! Checking what a worker sent before it is accepted: a result is data from the network, so its
//! shape and every number are verified against the task it claims to answer. A result that
//! fails is treated as a failed execution of the task (retried elsewhere), never stored.

use chirpfarm_core::data::chisq_dof;
use chirpfarm_core::{DataSpec, Segment};
use chirpfarm_proto::v1;

/// Checks a data-search task result: one peak per template of the task, triggers as columns of
/// equal length, each trigger inside the task's templates and segments and inside its segment's
/// analysed samples, in strictly increasing (segment, template, sample) order, with a finite SNR
/// at or above the threshold, a phase in [−π, π] and a positive σ²; with χ², a finite χ² ≥ 0
/// and the newSNR that PyCBC's formula gives for it (≤ the SNR, ≥ the newSNR threshold).
pub fn check_data_result(
    spec: &DataSpec,
    segments: &[Segment],
    (start, count): (u64, u32),
    (seg_start, seg_count): (u32, u32),
    d: &v1::DataResult,
) -> Result<(), String> {
    let bad = |m: String| Err(format!("malformed data result: {m}"));
    let count_us = count as usize;
    if d.peak_snr.len() != count_us || d.peak_sample.len() != count_us {
        return bad(format!(
            "{} peaks for {count} templates",
            d.peak_snr.len().max(d.peak_sample.len())
        ));
    }
    let task_segments = segments
        .get(seg_start as usize..(seg_start as usize).saturating_add(seg_count as usize))
        .ok_or_else(|| format!("task segments {seg_start}+{seg_count} out of range"))?;
    let n_samples = spec.n_samples();
    for (&snr, &sample) in d.peak_snr.iter().zip(&d.peak_sample) {
        if !(0.0..=chirpfarm_core::result::MAX_SNR).contains(&snr) || sample >= n_samples {
            return bad(format!("peak SNR {snr} at sample {sample}"));
        }
    }
    let n = d.trigger_template.len();
    let lens = [
        d.trigger_segment.len(),
        d.trigger_sample.len(),
        d.trigger_snr.len(),
        d.trigger_phase.len(),
        d.trigger_sigmasq.len(),
    ];
    if lens.iter().any(|&l| l != n) {
        return bad(format!(
            "trigger columns of different lengths ({n} and {lens:?})"
        ));
    }
    // At most one trigger per cluster window per (template, segment).
    let per_pair = (spec.segment_samples / spec.cluster_samples.max(1)) + 1;
    let most = per_pair
        .saturating_mul(count as u64)
        .saturating_mul(seg_count as u64);
    if n as u64 > most {
        return bad(format!("{n} triggers, more than {most} possible"));
    }
    check_chisq_columns(spec, count_us, d)?;
    let with_chisq = spec.chisq_bins > 0;
    let dof = chisq_dof(spec.chisq_bins);
    let mut last: Option<(u32, u64, u64)> = None;
    for i in 0..n {
        let (t, s, x) = (
            d.trigger_template[i],
            d.trigger_segment[i],
            d.trigger_sample[i],
        );
        let (snr, phase, sigmasq) = (d.trigger_snr[i], d.trigger_phase[i], d.trigger_sigmasq[i]);
        if t < start || t >= start + count as u64 {
            return bad(format!("trigger template {t} outside the task"));
        }
        let Some(seg) = s
            .checked_sub(seg_start)
            .and_then(|k| task_segments.get(k as usize))
        else {
            return bad(format!("trigger segment {s} outside the task"));
        };
        if !seg.analyzed_in_data().contains(&x) {
            return bad(format!(
                "trigger sample {x} outside segment {s}'s analysed samples"
            ));
        }
        let (chisq, newsnr) = if with_chisq {
            (d.trigger_chisq[i], d.trigger_newsnr[i])
        } else {
            (0.0, snr)
        };
        let trigger = chirpfarm_core::Trigger {
            template: t,
            segment: s,
            sample: x,
            snr,
            phase,
            sigmasq,
            chisq,
            chisq_dof: dof,
            newsnr,
        };
        if with_chisq
            && (!chisq_consistent(snr, chisq, newsnr, dof) || newsnr < spec.newsnr_threshold)
        {
            return bad(format!(
                "trigger SNR {snr}, chisq {chisq}, newsnr {newsnr} (dof {dof}, newsnr threshold {})",
                spec.newsnr_threshold
            ));
        }
        if !trigger.is_valid() || snr < spec.snr_threshold || snr > chirpfarm_core::result::MAX_SNR
        {
            return bad(format!(
                "trigger SNR {snr}, phase {phase}, sigmasq {sigmasq} (threshold {})",
                spec.snr_threshold
            ));
        }
        let key = trigger.order_key();
        if last.is_some_and(|l| l >= key) {
            return bad("triggers out of (segment, template, sample) order".into());
        }
        last = Some(key);
    }
    Ok(())
}

/// The χ² columns: empty without χ², else one value per peak and per trigger, each peak's
/// χ² finite and ≥ 0 with a consistent newSNR.
fn check_chisq_columns(spec: &DataSpec, count: usize, d: &v1::DataResult) -> Result<(), String> {
    let bad = |m: String| Err(format!("malformed data result: {m}"));
    let lens = [
        d.peak_chisq.len(),
        d.peak_newsnr.len(),
        d.trigger_chisq.len(),
        d.trigger_newsnr.len(),
    ];
    let n = d.trigger_template.len();
    let want = if spec.chisq_bins == 0 {
        [0; 4]
    } else {
        [count, count, n, n]
    };
    if lens != want {
        return bad(format!("χ² columns of lengths {lens:?}, expected {want:?}"));
    }
    let dof = chisq_dof(spec.chisq_bins);
    for i in 0..d.peak_chisq.len() {
        let (snr, chisq, newsnr) = (d.peak_snr[i], d.peak_chisq[i], d.peak_newsnr[i]);
        if !chisq_consistent(snr, chisq, newsnr, dof) {
            return bad(format!("peak SNR {snr}, chisq {chisq}, newsnr {newsnr}"));
        }
    }
    Ok(())
}

/// A finite χ² ≥ 0 whose newSNR is PyCBC's for it (to 1e-9: the worker computes the same
/// formula, so only a forged or corrupted value differs).
fn chisq_consistent(snr: f64, chisq: f64, newsnr: f64, dof: u32) -> bool {
    let want = chirpfarm_core::data::newsnr(snr, chisq / dof as f64);
    chisq.is_finite()
        && (0.0..=1e300).contains(&chisq)
        && newsnr.is_finite()
        && (newsnr - want).abs() <= 1e-9 * want.abs().max(1e-300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chirpfarm_core::BlobRef;

    fn spec() -> DataSpec {
        DataSpec {
            strain: BlobRef {
                digest: [0; 32],
                len: 8 * 8192,
            },
            sample_rate: 1024.0,
            gps_start: 0.0,
            psd: BlobRef {
                digest: [1; 32],
                len: 8 * 2049,
            },
            segment_samples: 4096,
            pad_samples: 512,
            f_low: 20.0,
            snr_threshold: 5.0,
            cluster_samples: 256,
            chisq_bins: 0,
            rank: chirpfarm_core::Rank::Snr,
            newsnr_threshold: 0.0,
        }
    }

    fn good() -> v1::DataResult {
        v1::DataResult {
            peak_snr: vec![6.0, 4.0],
            peak_sample: vec![1000, 2000],
            trigger_template: vec![10, 10, 11],
            trigger_segment: vec![0, 0, 0],
            trigger_sample: vec![600, 1000, 700],
            trigger_snr: vec![5.5, 6.0, 5.1],
            trigger_phase: vec![0.1, -3.0, 3.1],
            trigger_sigmasq: vec![2.0, 2.0, 3.0],
            ..Default::default()
        }
    }

    /// [`good`] with χ² (4 bins, 6 dof) and the newSNR PyCBC gives for it.
    fn good_chisq() -> v1::DataResult {
        let mut d = good();
        d.peak_chisq = vec![3.0, 60.0];
        d.trigger_chisq = vec![1.0, 3.0, 12.0];
        let ns = |s: &[f64], c: &[f64]| {
            s.iter()
                .zip(c)
                .map(|(&s, &c)| chirpfarm_core::data::newsnr(s, c / 6.0))
                .collect()
        };
        d.peak_newsnr = ns(&d.peak_snr, &d.peak_chisq);
        d.trigger_newsnr = ns(&d.trigger_snr, &d.trigger_chisq);
        d
    }

    #[test]
    fn chisq_columns_are_checked() {
        let mut spec = spec();
        spec.chisq_bins = 4;
        let segs = spec.validate().unwrap();
        let check = |d: &v1::DataResult| check_data_result(&spec, &segs, (10, 2), (0, 1), d);
        check(&good_chisq()).unwrap();
        assert!(check(&good()).is_err(), "χ² columns missing");
        type Mutation = Box<dyn Fn(&mut v1::DataResult)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("short", Box::new(|d| d.trigger_chisq.truncate(2))),
            ("NaN", Box::new(|d| d.trigger_chisq[0] = f64::NAN)),
            ("negative", Box::new(|d| d.peak_chisq[0] = -1.0)),
            ("1e308", Box::new(|d| d.trigger_chisq[1] = 1e308)),
            ("newsnr", Box::new(|d| d.trigger_newsnr[2] = 5.1)),
            (
                "peak newsnr",
                Box::new(|d| d.peak_newsnr[1] = f64::INFINITY),
            ),
        ];
        for (what, mutate) in cases {
            let mut d = good_chisq();
            mutate(&mut d);
            assert!(check(&d).is_err(), "{what} accepted");
        }
        let mut strict = spec.clone();
        strict.newsnr_threshold = 5.2;
        let e = check_data_result(&strict, &segs, (10, 2), (0, 1), &good_chisq()).unwrap_err();
        assert!(e.contains("newsnr threshold"), "{e}");
        spec.chisq_bins = 0;
        let e = check_data_result(&spec, &segs, (10, 2), (0, 1), &good_chisq()).unwrap_err();
        assert!(e.contains("χ² columns"), "{e}");
    }

    #[test]
    fn results_are_checked_field_by_field() {
        let spec = spec();
        let segs = spec.validate().unwrap();
        let check = |d: &v1::DataResult| check_data_result(&spec, &segs, (10, 2), (0, 1), d);
        check(&good()).unwrap();
        type Mutation = Box<dyn Fn(&mut v1::DataResult)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("peaks", Box::new(|d| d.peak_snr.pop().map(|_| ()).unwrap())),
            ("NaN peak", Box::new(|d| d.peak_snr[0] = f64::NAN)),
            ("huge sample", Box::new(|d| d.peak_sample[0] = 1 << 40)),
            ("columns", Box::new(|d| d.trigger_phase.truncate(1))),
            ("template", Box::new(|d| d.trigger_template[2] = 12)),
            ("segment", Box::new(|d| d.trigger_segment[0] = 1)),
            ("padding", Box::new(|d| d.trigger_sample[0] = 100)),
            ("below threshold", Box::new(|d| d.trigger_snr[0] = 4.9)),
            ("inf", Box::new(|d| d.trigger_snr[1] = f64::INFINITY)),
            (
                "1e308 sigmasq",
                Box::new(|d| d.trigger_sigmasq[1] = f64::INFINITY),
            ),
            ("phase", Box::new(|d| d.trigger_phase[0] = 7.0)),
            ("order", Box::new(|d| d.trigger_sample.swap(0, 1))),
        ];
        for (what, mutate) in cases {
            let mut d = good();
            mutate(&mut d);
            assert!(check(&d).is_err(), "{what} accepted");
        }
    }
}

/// Checks a signal-search task result: one block per signal of the job, one SNR and one lag per
/// template of the task, and every value plausible ([`chirpfarm_core::TemplateResult::is_plausible`]:
/// a finite SNR ≥ 0, a whole-sample lag within ±32 s) — NaN, ±inf or 1e308 from a worker are
/// refused, never reported as a result.
pub fn check_signal_result(
    signals: usize,
    count: u32,
    blocks: &[v1::SignalBlock],
) -> Result<(), String> {
    let count_us = count as usize;
    if blocks.len() != signals
        || blocks
            .iter()
            .any(|s| s.snr.len() != count_us || s.lag_seconds.len() != count_us)
    {
        return Err(format!(
            "malformed result: expected {signals} signals × {count} templates"
        ));
    }
    for (i, b) in blocks.iter().enumerate() {
        for (j, (&snr, &lag_seconds)) in b.snr.iter().zip(&b.lag_seconds).enumerate() {
            let r = chirpfarm_core::TemplateResult { snr, lag_seconds };
            if !r.is_plausible() {
                return Err(format!(
                    "implausible result: signal {i}, template {j} of the task has SNR {snr:e} at lag {lag_seconds:e} s (expected a finite SNR ≥ 0 and a whole-sample lag within ±{} s)",
                    chirpfarm_core::result::MAX_LAG_SECONDS
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod signal_tests {
    use super::*;

    fn block(snr: Vec<f64>, lag: Vec<f64>) -> v1::SignalBlock {
        v1::SignalBlock {
            snr,
            lag_seconds: lag,
        }
    }

    #[test]
    fn plausible_results_pass_and_forged_values_do_not() {
        let ok = [block(vec![1e-9, 3.5], vec![0.0, -31.5])];
        assert!(check_signal_result(1, 2, &ok).is_ok());
        assert!(check_signal_result(2, 2, &ok).is_err(), "missing signal");
        assert!(check_signal_result(1, 3, &ok).is_err(), "missing template");
        for (snr, lag) in [
            (f64::NAN, 0.0),
            (f64::INFINITY, 0.0),
            (1e308, 0.0),
            (-1.0, 0.0),
            (1.0, f64::NAN),
            (1.0, 40.0),
            (1.0, 0.1234),
        ] {
            let bad = [block(vec![1.0, snr], vec![0.0, lag])];
            let e = check_signal_result(1, 2, &bad).unwrap_err();
            assert!(e.contains("implausible"), "{snr} {lag}: {e}");
        }
    }
}
