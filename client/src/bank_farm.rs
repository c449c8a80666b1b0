//! `chirpfarm bank --check` on the farm: the exact matches of the fitting-factor check run as
//! ordinary TaylorF2 data searches, so the check uses the same coordinator, workers and
//! protocol as any search (and scales with the farm instead of the client's cores).
//!
//! Why a data search computes a match: the data engine reports, per template and segment, the
//! loudest `|z_j| = (4Δf/σ_t) |Σ_k conj(h̃_k) d̃_k/S_k e^{2πijk/n}|`. If the segment holds a
//! noiseless TaylorF2 signal scaled to unit optimal SNR (σ_s = 1 with the same PSD and band),
//! that is the match of signal and template maximised over phase and over lags on the sample
//! grid — the in-process matcher's sum, on a different frequency grid and without its sub-sample
//! refinement of the peak.
//!
//! Layout: signals are sorted by chirp mass and grouped ([`GROUP`] a job), one segment per
//! signal (pad 0, so the whole circular SNR series counts; a cluster window of one segment, so
//! each (template, segment) gives its loudest sample as a trigger above a tiny threshold). The
//! job's bank is the union of the group's candidate templates; a signal's FF is the largest
//! trigger in its segment among its own candidates. The strain is built in the frequency
//! domain (coalescence at t = 0, wrapping around the segment as the circular filter sees it)
//! and turned into samples with an inverse FFT, so the engine's `Δt·rfft` gives back the
//! same frequency samples. Above f_high the PSD blob holds [`OUT_OF_BAND_PSD`], which takes
//! those bins out of every sum as the matcher's band does.

use crate::commands::submit_to;
use crate::data::{Blob, DataMeta, PreparedData};
use crate::data_output::DataSink;
use crate::error::CliError;
use crate::progress::Progress;
use crate::remote::{collect, Conn};
use crate::spec::Prepared;
use chirpfarm_bank::check::{Candidates, Injection};
use chirpfarm_bank::matcher::chirp_time;
use chirpfarm_bank::noise::Noise;
use chirpfarm_core::data::f64_to_bytes;
use chirpfarm_core::{Approximant, BankSpec, BlobRef, DataSpec, Rank, SearchSpec, TemplateParams};
use futures::StreamExt;
use num_complex::Complex64;
use std::collections::BTreeMap;

/// Signals per job: neighbours in chirp mass share most candidates, so a group's bank stays
/// near `nearest` templates while the jobs stay few.
pub const GROUP: usize = 8;

/// Jobs in flight at once (uploads and result streams overlap with the filtering).
const IN_FLIGHT: usize = 4;

/// Samples per second relative to the smallest power of two above 2·f_high: more samples put
/// the lag grid closer to the continuous peak (the farm's match is sample-discrete).
pub const OVERSAMPLE: f64 = 4.0;

/// PSD value (1/Hz) outside [f_low, f_high]: finite, so the spec is valid, and large enough
/// that 1/S is 0 to double precision against the band's values (~1e-46).
const OUT_OF_BAND_PSD: f64 = 1e200;

/// SNR threshold of the searches: positive as the spec requires, below any match.
const THRESHOLD: f64 = 1e-12;

/// The band and noise a check runs with.
#[derive(Debug, Clone)]
pub struct Band {
    /// The noise spectrum.
    pub noise: Noise,
    /// Lower frequency, Hz.
    pub f_low: f64,
    /// Upper frequency, Hz.
    pub f_high: f64,
}

/// Sample rate of the check's data.
fn sample_rate(f_high: f64) -> f64 {
    ((2.0 * f_high).ceil() as u64).next_power_of_two() as f64 * OVERSAMPLE
}

/// Segment length (samples) for a group: a period 4·2^i s of at least 4 s and 4× the largest
/// chirp-time difference of a signal and one of its candidates (the matcher's rule), and at
/// least the smallest segment a data search takes.
fn segment_samples(
    group: &[&Candidates],
    bank: &[TemplateParams],
    b: &Band,
    rate: f64,
) -> Result<u64, CliError> {
    let spread = group
        .iter()
        .flat_map(|c| {
            let ts = chirp_time(&c.signal, b.f_low);
            c.templates
                .iter()
                .map(move |&i| (ts - chirp_time(&bank[i], b.f_low)).abs())
        })
        .fold(0.0, f64::max);
    let need = (4.0 * spread).max(4.0);
    let mut n = (4.0 * rate) as u64;
    while (n as f64) < need * rate || n < chirpfarm_core::segments::MIN_SEGMENT_SAMPLES {
        n *= 2;
    }
    if n > chirpfarm_core::segments::MAX_SEGMENT_SAMPLES {
        return Err(CliError::Input(format!(
            "the signals and templates differ by {spread:.1} s in chirp time at {} Hz: a segment of {n} samples is more than a data search takes (use --in-process)",
            b.f_low
        )));
    }
    Ok(n)
}

/// One group's job: the spec with its blobs, and per signal (segment) its candidates as
/// indices into the job's bank.
struct Job {
    /// The search, ready to upload and submit.
    prepared: Prepared,
    /// Bank index of each of the job's templates.
    union: Vec<usize>,
    /// Per segment, the job-bank indices of that signal's candidates.
    own: Vec<Vec<u64>>,
}

/// Builds the data search for one group of signals.
fn build(group: &[&Candidates], bank: &[TemplateParams], b: &Band) -> Result<Job, CliError> {
    let rate = sample_rate(b.f_high);
    let n = segment_samples(group, bank, b, rate)? as usize;
    let delta_f = rate / n as f64;
    let (k_low, bins) = ((b.f_low / delta_f) as usize, n / 2 + 1);
    let k_high = ((b.f_high / delta_f).floor() as usize).min(bins - 1);
    let psd: Vec<f64> = (0..bins)
        .map(|k| {
            if (k_low..=k_high).contains(&k) {
                b.noise.psd(k as f64 * delta_f)
            } else {
                OUT_OF_BAND_PSD
            }
        })
        .collect();
    let fft = rustfft::FftPlanner::new().plan_fft_inverse(n);
    let mut strain = Vec::with_capacity(n * group.len());
    let mut spec_buf = vec![Complex64::new(0.0, 0.0); n];
    for c in group {
        spec_buf.fill(Complex64::new(0.0, 0.0));
        let band = &mut spec_buf[k_low..=k_high];
        chirpfarm_waveform::taylorf2_into(&c.signal, 1.0, b.f_low, None, delta_f, k_low, band);
        let sigmasq: f64 = 4.0
            * delta_f
            * band
                .iter()
                .zip(&psd[k_low..=k_high])
                .map(|(h, s)| h.norm_sqr() / s)
                .sum::<f64>();
        if !(sigmasq > 0.0 && sigmasq.is_finite()) {
            return Err(CliError::Input(format!(
                "signal ({}, {}) has no power in {}-{} Hz",
                c.signal.mass1, c.signal.mass2, b.f_low, b.f_high
            )));
        }
        // d = Δf·Σ_k D_k e^{2πijk/n} over the Hermitian spectrum, so that Δt·rfft(d) = D.
        let scale = delta_f / sigmasq.sqrt();
        for k in 1..n / 2 {
            let v = spec_buf[k] * scale;
            spec_buf[k] = v;
            spec_buf[n - k] = v.conj();
        }
        spec_buf[0] = Complex64::new(0.0, 0.0);
        spec_buf[n / 2] = Complex64::new(0.0, 0.0);
        fft.process(&mut spec_buf);
        strain.extend(spec_buf.iter().map(|v| v.re));
    }
    let mut union: Vec<usize> = group.iter().flat_map(|c| c.templates.clone()).collect();
    union.sort_unstable();
    union.dedup();
    let at: BTreeMap<usize, u64> = union
        .iter()
        .enumerate()
        .map(|(j, &i)| (i, j as u64))
        .collect();
    let own = group
        .iter()
        .map(|c| c.templates.iter().map(|i| at[i]).collect())
        .collect();
    let blob = |v: &[f64]| {
        let bytes = f64_to_bytes(v);
        Blob {
            blob: BlobRef::of(&bytes),
            bytes: std::sync::Arc::new(bytes),
        }
    };
    let (strain_blob, psd_blob) = (blob(&strain), blob(&psd));
    let data = DataSpec {
        strain: strain_blob.blob,
        sample_rate: rate,
        gps_start: 0.0,
        psd: psd_blob.blob,
        segment_samples: n as u64,
        pad_samples: 0,
        f_low: b.f_low,
        snr_threshold: THRESHOLD,
        cluster_samples: n as u64,
        chisq_bins: 0,
        rank: Rank::Snr,
        newsnr_threshold: 0.0,
    };
    data.validate()?;
    let params: Vec<TemplateParams> = union.iter().map(|&i| bank[i]).collect();
    let spec = SearchSpec {
        bank: BankSpec::Params(params.clone()),
        signals: Vec::new(),
        convention: Default::default(),
        data: Some(data.clone()),
        approximant: Approximant::TaylorF2,
        f_final: None,
    };
    spec.validate_waveform()?;
    Ok(Job {
        prepared: Prepared {
            spec,
            masses: params.iter().map(TemplateParams::chirp_mass).collect(),
            warnings: Vec::new(),
            data: Some(PreparedData {
                spec: data,
                blobs: vec![strain_blob, psd_blob],
                meta: DataMeta {
                    file: "(bank --check signals)".into(),
                    psd: b.noise.name().to_string(),
                    samples: strain.len() as u64,
                },
            }),
        },
        union,
        own,
    })
}

/// Runs one group's job on the farm and returns each signal's (FF, bank index of the best).
async fn run_job(conn: &Conn, job: Job) -> Result<Vec<(f64, usize)>, CliError> {
    let p = &job.prepared;
    let sub = submit_to(conn, p, None, true).await?;
    let data = p.spec.data.as_ref().expect("a data search");
    let mut sink = DataSink::for_spec(job.union.len() as u64, data);
    let collected = collect(conn, &sub.job_id, &mut sink, &Progress::new(0, true)).await?;
    crate::commands::check_succeeded(&sub.job_id, &collected.finished)?;
    let mut best = vec![(f64::NEG_INFINITY, 0usize); job.own.len()];
    for t in &sink.triggers {
        let s = t.segment as usize;
        if s < best.len() && job.own[s].contains(&t.template) && t.snr > best[s].0 {
            best[s] = (t.snr, job.union[t.template as usize]);
        }
    }
    if let Some(i) = best.iter().position(|b| !b.0.is_finite()) {
        return Err(CliError::Failed(format!(
            "{}: no trigger for signal {i} of the job",
            sub.job_id
        )));
    }
    Ok(best)
}

/// The fitting factor of each candidate set (in the given order), computed as data searches
/// through `conn`.
pub async fn fitting_factors(
    conn: &Conn,
    bank: &[TemplateParams],
    cands: &[Candidates],
    b: &Band,
) -> Result<Vec<Injection>, CliError> {
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&x, &y| {
        cands[x]
            .signal
            .chirp_mass()
            .total_cmp(&cands[y].signal.chirp_mass())
    });
    let groups: Vec<Vec<usize>> = order.chunks(GROUP).map(<[usize]>::to_vec).collect();
    let results: Vec<Result<Vec<(f64, usize)>, CliError>> =
        futures::stream::iter(groups.iter().map(|g| async move {
            let members: Vec<&Candidates> = g.iter().map(|&i| &cands[i]).collect();
            let job = build(&members, bank, b)?;
            run_job(conn, job).await
        }))
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut out: Vec<Option<Injection>> = vec![None; cands.len()];
    for (g, r) in groups.iter().zip(results) {
        for (&i, (ff, template)) in g.iter().zip(r?) {
            let c = &cands[i];
            out[i] = Some(Injection {
                mass1: c.signal.mass1,
                mass2: c.signal.mass2,
                fitting_factor: ff.min(1.0),
                template,
                metric_match: c.metric_match,
            });
        }
    }
    Ok(out
        .into_iter()
        .map(|o| o.expect("every signal is in a group"))
        .collect())
}
