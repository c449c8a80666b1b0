//! A data search's results: collected from the stream ([`DataSink`]) and written as a table,
//! JSON (schema version 2), CSV (one row per trigger) or an HDF5 trigger file.
//!
//! Triggers are reported in (segment, template, time) order and per-template peaks in bank order,
//! whatever the number of workers or the order tasks finished in: the output of a job is
//! bit-identical however it was computed.

use crate::data::DataMeta;
use crate::remote::Sink;
use chirpfarm_core::data::chisq_dof;
use chirpfarm_core::{Approximant, DataSpec, Rank, TemplatePeak, Trigger};
use chirpfarm_proto::v1;
use serde_json::{json, Value};
use std::io::Write;

/// Collects a data search's blocks: per-template peaks merged over segment groups, and triggers.
#[derive(Debug, Clone)]
pub struct DataSink {
    templates: u64,
    /// χ² bins of the search (0: the blocks carry no χ² columns).
    chisq_bins: u32,
    /// What picks a template's best when peaks of segment groups merge.
    rank: Rank,
    /// Per template, the loudest sample so far (`None` before its first block).
    pub peaks: Vec<Option<TemplatePeak>>,
    /// Every trigger received.
    pub triggers: Vec<Trigger>,
}

impl DataSink {
    /// An empty sink for a bank of `templates` searched with `spec`.
    pub fn for_spec(templates: u64, spec: &DataSpec) -> DataSink {
        DataSink {
            templates,
            chisq_bins: spec.chisq_bins,
            rank: spec.rank,
            peaks: vec![None; templates as usize],
            triggers: Vec::new(),
        }
    }
}

impl Sink for DataSink {
    fn block(&mut self, cursor: u64, b: &v1::ResultBlock) -> Result<(), String> {
        let bad = |m: &str| Err(format!("protocol error: data block at unit {cursor}: {m}"));
        let Some(d) = &b.data else {
            return bad("no data result");
        };
        if self.templates == 0 || b.start != cursor % self.templates {
            return bad("out of order");
        }
        let end = b.start + b.count as u64;
        if end > self.templates
            || d.peak_snr.len() != b.count as usize
            || d.peak_sample.len() != b.count as usize
        {
            return bad("wrong number of templates");
        }
        let n = d.trigger_template.len();
        let (with, (pc, tc)) = (self.chisq_bins > 0, (b.count as usize, n));
        let want = if with { [pc, pc, tc, tc] } else { [0; 4] };
        let lens = [
            d.peak_chisq.len(),
            d.peak_newsnr.len(),
            d.trigger_chisq.len(),
            d.trigger_newsnr.len(),
        ];
        if lens != want {
            return bad("χ² columns of the wrong length");
        }
        // Without χ²: χ² 0 and newSNR = SNR (what newsnr gives for a reduced χ² ≤ 1).
        let chisq = |v: &[f64], i: usize| if with { v[i] } else { 0.0 };
        let newsnr = |v: &[f64], i: usize, snr: f64| if with { v[i] } else { snr };
        for (i, (&snr, &sample)) in d.peak_snr.iter().zip(&d.peak_sample).enumerate() {
            let p = TemplatePeak {
                snr,
                sample,
                chisq: chisq(&d.peak_chisq, i),
                newsnr: newsnr(&d.peak_newsnr, i, snr),
            };
            let slot = &mut self.peaks[b.start as usize + i];
            *slot = Some(slot.map_or(p, |q| q.merge_by(p, self.rank)));
        }
        if [
            d.trigger_segment.len(),
            d.trigger_sample.len(),
            d.trigger_snr.len(),
            d.trigger_phase.len(),
            d.trigger_sigmasq.len(),
        ]
        .iter()
        .any(|&l| l != n)
        {
            return bad("trigger columns of different lengths");
        }
        for i in 0..n {
            if !(b.start..end).contains(&d.trigger_template[i]) {
                return bad("a trigger outside the block's templates");
            }
            self.triggers.push(Trigger {
                template: d.trigger_template[i],
                segment: d.trigger_segment[i],
                sample: d.trigger_sample[i],
                snr: d.trigger_snr[i],
                phase: d.trigger_phase[i],
                sigmasq: d.trigger_sigmasq[i],
                chisq: chisq(&d.trigger_chisq, i),
                chisq_dof: chisq_dof(self.chisq_bins),
                newsnr: newsnr(&d.trigger_newsnr, i, d.trigger_snr[i]),
            });
        }
        Ok(())
    }
}

/// Everything a finished data search reports.
#[derive(Debug, Clone)]
pub struct DataReport {
    /// The bank's chirp masses.
    pub masses: Vec<f64>,
    /// The templates' physical parameters, for a bank given by them.
    pub params: Option<Vec<chirpfarm_core::TemplateParams>>,
    /// The search's data parameters.
    pub spec: DataSpec,
    /// The templates' waveform and, for TaylorF2, its upper frequency (`None`: each ISCO).
    pub waveform: (Approximant, Option<f64>),
    /// File name, PSD method.
    pub meta: DataMeta,
    /// Per template, the loudest analysed sample.
    pub peaks: Vec<TemplatePeak>,
    /// Triggers in (segment, template, sample) order.
    pub triggers: Vec<Trigger>,
    /// Segments in the data.
    pub segments: usize,
    /// Seconds from submission to the last result.
    pub wall_seconds: f64,
    /// Workers that served the job.
    pub workers: u32,
    /// The job's id.
    pub job_id: String,
    /// Bank index of each of the report's templates, when it holds only some of the bank (a
    /// partial watch); `None`: all of it, in bank order. Triggers' `template` is the report's
    /// position; output always names bank indices ([`DataReport::bank_index`]).
    pub indices: Option<Vec<u64>>,
}

impl DataReport {
    /// Builds the report from a complete sink (every template has a peak).
    pub fn new(
        masses: Vec<f64>,
        params: Option<Vec<chirpfarm_core::TemplateParams>>,
        spec: DataSpec,
        waveform: (Approximant, Option<f64>),
        meta: DataMeta,
        sink: DataSink,
        (wall_seconds, workers, job_id): (f64, u32, String),
    ) -> Result<DataReport, String> {
        let peaks = sink
            .peaks
            .iter()
            .enumerate()
            .map(|(i, p)| p.ok_or_else(|| format!("no result arrived for template {i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut triggers = sink.triggers;
        triggers.sort_by_key(|t| t.order_key());
        let segments = spec.segments().map(|s| s.len()).unwrap_or(0);
        Ok(DataReport {
            masses,
            params,
            spec,
            waveform,
            meta,
            peaks,
            triggers,
            segments,
            wall_seconds,
            workers,
            job_id,
            indices: None,
        })
    }

    /// Like [`DataReport::new`], over the templates that have results (a job that ended
    /// early): the others are left out, and [`DataReport::indices`] maps the report's templates
    /// back to the bank. A peak over some of a template's segment groups is the loudest of
    /// those.
    pub fn partial(
        masses: Vec<f64>,
        params: Option<Vec<chirpfarm_core::TemplateParams>>,
        spec: DataSpec,
        waveform: (Approximant, Option<f64>),
        meta: DataMeta,
        sink: DataSink,
        job: (f64, u32, String),
    ) -> Result<DataReport, String> {
        let indices: Vec<u64> = (0..sink.peaks.len() as u64)
            .filter(|&i| sink.peaks[i as usize].is_some())
            .collect();
        // Report position of each bank index that has results.
        let mut position = vec![u64::MAX; sink.peaks.len()];
        for (at, &i) in indices.iter().enumerate() {
            position[i as usize] = at as u64;
        }
        let mut triggers = Vec::with_capacity(sink.triggers.len());
        for mut t in sink.triggers {
            let at = position
                .get(t.template as usize)
                .copied()
                .unwrap_or(u64::MAX);
            if at == u64::MAX {
                return Err(format!(
                    "protocol error: a trigger of template {} without its peak",
                    t.template
                ));
            }
            t.template = at;
            triggers.push(t);
        }
        let pick = |i: &u64| masses[*i as usize];
        let sub = DataSink {
            peaks: indices.iter().map(|&i| sink.peaks[i as usize]).collect(),
            triggers,
            ..sink
        };
        let sub_params = params.map(|p| indices.iter().map(|&i| p[i as usize]).collect());
        let sub_masses = indices.iter().map(pick).collect();
        let mut report = DataReport::new(sub_masses, sub_params, spec, waveform, meta, sub, job)?;
        report.indices = Some(indices);
        Ok(report)
    }

    /// The bank index of the report's template `i`.
    pub fn bank_index(&self, i: u64) -> u64 {
        match &self.indices {
            Some(v) => v[i as usize],
            None => i,
        }
    }

    fn time(&self, sample: u64) -> f64 {
        self.spec.time_of(sample)
    }

    /// Whether the search computed the χ² (its columns are written only then).
    fn with_chisq(&self) -> bool {
        self.spec.chisq_bins > 0
    }

    /// `snr` or `newsnr`, as `--rank` takes it.
    fn rank_name(&self) -> &'static str {
        match self.spec.rank {
            Rank::Snr => "snr",
            Rank::Newsnr => "newsnr",
        }
    }

    /// The JSON document (schema version 2).
    pub fn to_json(&self) -> Value {
        let d = &self.spec;
        let templates: Vec<Value> = self
            .peaks
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut t = json!({
                    "index": self.bank_index(i as u64),
                    "mc": self.masses[i],
                    "max_snr": p.snr,
                    "max_time": self.time(p.sample),
                });
                if self.with_chisq() {
                    t["chisq"] = json!(p.chisq);
                    t["newsnr"] = json!(p.newsnr);
                }
                if let Some(q) = self.params.as_ref().and_then(|v| v.get(i)) {
                    t["mass1"] = json!(q.mass1);
                    t["mass2"] = json!(q.mass2);
                    t["spin1z"] = json!(q.spin1z);
                    t["spin2z"] = json!(q.spin2z);
                }
                t
            })
            .collect();
        let triggers: Vec<Value> = self
            .triggers
            .iter()
            .map(|t| {
                let mut v = json!({
                    "template_index": self.bank_index(t.template),
                    "mc": self.masses[t.template as usize],
                    "segment": t.segment,
                    "time": self.time(t.sample),
                    "snr": t.snr,
                    "phase": t.phase,
                    "sigmasq": t.sigmasq,
                });
                if self.with_chisq() {
                    v["chisq"] = json!(t.chisq);
                    v["chisq_dof"] = json!(t.chisq_dof);
                    v["reduced_chisq"] = json!(t.reduced_chisq());
                    v["newsnr"] = json!(t.newsnr);
                }
                v
            })
            .collect();
        let mut out = json!({
            "version": 2,
            "search": "data",
            "data": {
                "file": self.meta.file,
                "sample_rate": d.sample_rate,
                "gps_start": d.gps_start,
                "duration": self.meta.samples as f64 / d.sample_rate,
                "psd": self.meta.psd,
                "f_low": d.f_low,
                "segment_seconds": d.segment_samples as f64 / d.sample_rate,
                "pad_seconds": d.pad_samples as f64 / d.sample_rate,
                "segments": self.segments,
                "snr_threshold": d.snr_threshold,
                "cluster_seconds": d.cluster_samples as f64 / d.sample_rate,
                "chisq_bins": d.chisq_bins,
                "rank": self.rank_name(),
                "newsnr_threshold": d.newsnr_threshold,
                "approximant": self.waveform.0.name(),
            },
            "bank": crate::output::bank_json(&self.masses, self.params.as_deref()),
            "templates": templates,
            "triggers": triggers,
            "stats": {
                "templates": self.masses.len(),
                "triggers": self.triggers.len(),
                "wall_seconds": self.wall_seconds,
                "workers": self.workers,
                "job_id": self.job_id,
            }
        });
        // Only a TaylorF2 search with --f-final has one (no `null` in the output).
        if let Some(f) = self.waveform.1 {
            out["data"]["f_final"] = json!(f);
        }
        out
    }

    /// Writes the JSON document and a newline.
    pub fn write_json(&self, out: &mut impl Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &self.to_json())?;
        writeln!(out)
    }

    /// Writes one CSV row per trigger, with a header.
    pub fn write_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        let chisq = self.with_chisq();
        write!(
            out,
            "template_index,template_mc,segment,time,snr,phase,sigmasq"
        )?;
        writeln!(
            out,
            "{}",
            if chisq { ",chisq,chisq_dof,newsnr" } else { "" }
        )?;
        for t in &self.triggers {
            write!(
                out,
                "{},{:?},{},{:?},{:?},{:?},{:?}",
                self.bank_index(t.template),
                self.masses[t.template as usize],
                t.segment,
                self.time(t.sample),
                t.snr,
                t.phase,
                t.sigmasq
            )?;
            if chisq {
                write!(out, ",{:?},{},{:?}", t.chisq, t.chisq_dof, t.newsnr)?;
            }
            writeln!(out)?;
        }
        Ok(())
    }

    /// Writes a table: the loudest triggers (at most 20, by the rank), the best template, a
    /// summary.
    pub fn write_table(&self, out: &mut impl Write) -> std::io::Result<()> {
        let rank = self.spec.rank;
        let stat = |snr: f64, newsnr: f64| rank.of(snr, newsnr);
        let mut loud: Vec<&Trigger> = self.triggers.iter().collect();
        loud.sort_by(|a, b| {
            stat(b.snr, b.newsnr)
                .total_cmp(&stat(a.snr, a.newsnr))
                .then(a.order_key().cmp(&b.order_key()))
        });
        let chisq = self.with_chisq();
        write!(
            out,
            "{:>20}  {:>8}  {:>12}  {:>10}  {:>8}",
            "GPS time", "template", "Mc", "SNR", "phase"
        )?;
        if chisq {
            write!(out, "  {:>10}  {:>10}", "χ²/dof", "newSNR")?;
        }
        writeln!(out)?;
        for t in loud.iter().take(20) {
            write!(
                out,
                "{:>20.6}  {:>8}  {:>12.6}  {:>10.4}  {:>8.4}",
                self.time(t.sample),
                self.bank_index(t.template),
                self.masses[t.template as usize],
                t.snr,
                t.phase
            )?;
            if chisq {
                write!(out, "  {:>10.4}  {:>10.4}", t.reduced_chisq(), t.newsnr)?;
            }
            writeln!(out)?;
        }
        if let Some((i, p)) = self.peaks.iter().enumerate().max_by(|a, b| {
            stat(a.1.snr, a.1.newsnr)
                .total_cmp(&stat(b.1.snr, b.1.newsnr))
                .then(b.0.cmp(&a.0))
        }) {
            write!(
                out,
                "loudest template: {} (Mc {:?}), SNR {:.4} at GPS {:.6}",
                self.bank_index(i as u64),
                self.masses[i],
                p.snr,
                self.time(p.sample)
            )?;
            if chisq {
                write!(out, ", newSNR {:.4}", p.newsnr)?;
            }
            writeln!(out)?;
        }
        writeln!(
            out,
            "{} templates × {} segment(s) of {} s, {} trigger(s) with SNR ≥ {}{}, {:.3} s on {} worker(s) [{}]",
            self.masses.len(),
            self.segments,
            self.spec.segment_samples as f64 / self.spec.sample_rate,
            self.triggers.len(),
            self.spec.snr_threshold,
            if chisq {
                format!(
                    ", χ² with {} bins, ranked by {}",
                    self.spec.chisq_bins,
                    self.rank_name()
                )
            } else {
                String::new()
            },
            self.wall_seconds,
            self.workers,
            self.job_id
        )
    }

    /// Writes the triggers to an HDF5 file: one 1-D dataset per column, search parameters as
    /// root attributes.
    pub fn write_hdf5(&self, path: &std::path::Path) -> Result<(), String> {
        use chirpfarm_strain::h5::{write_columns, Column};
        let t = &self.triggers;
        let template: Vec<u64> = t.iter().map(|t| self.bank_index(t.template)).collect();
        let mc: Vec<f64> = t.iter().map(|t| self.masses[t.template as usize]).collect();
        let segment: Vec<u64> = t.iter().map(|t| t.segment as u64).collect();
        let sample: Vec<u64> = t.iter().map(|t| t.sample).collect();
        let time: Vec<f64> = t.iter().map(|t| self.time(t.sample)).collect();
        let snr: Vec<f64> = t.iter().map(|t| t.snr).collect();
        let phase: Vec<f64> = t.iter().map(|t| t.phase).collect();
        let sigmasq: Vec<f64> = t.iter().map(|t| t.sigmasq).collect();
        let chisq: Vec<f64> = t.iter().map(|t| t.chisq).collect();
        let dof: Vec<u64> = t.iter().map(|t| t.chisq_dof as u64).collect();
        let newsnr: Vec<f64> = t.iter().map(|t| t.newsnr).collect();
        let d = &self.spec;
        let mut columns = vec![
            ("template_index", Column::U64(&template)),
            ("mc", Column::F64(&mc)),
            ("segment", Column::U64(&segment)),
            ("sample", Column::U64(&sample)),
            ("time", Column::F64(&time)),
            ("snr", Column::F64(&snr)),
            ("phase", Column::F64(&phase)),
            ("sigmasq", Column::F64(&sigmasq)),
        ];
        if self.with_chisq() {
            columns.push(("chisq", Column::F64(&chisq)));
            columns.push(("chisq_dof", Column::U64(&dof)));
            columns.push(("newsnr", Column::F64(&newsnr)));
        }
        write_columns(
            path,
            &columns,
            &[
                ("sample_rate", d.sample_rate),
                ("gps_start", d.gps_start),
                ("f_low", d.f_low),
                ("snr_threshold", d.snr_threshold),
                ("segment_seconds", d.segment_samples as f64 / d.sample_rate),
                ("chisq_bins", d.chisq_bins as f64),
                ("newsnr_threshold", d.newsnr_threshold),
            ],
        )
        .map_err(|e| format!("cannot write the trigger file: {e}"))
    }
}
