//! A data search's results: collected from the stream ([`DataSink`]) and written as a table,
//! JSON (schema version 2), CSV (one row per trigger) or an HDF5 trigger file.
//!
//! Triggers are reported in (segment, template, time) order and per-template peaks in bank order,
//! whatever the number of workers or the order tasks finished in: the output of a job is
//! bit-identical however it was computed.

use crate::data::DataMeta;
use crate::remote::Sink;
use chirpfarm_core::{DataSpec, TemplatePeak, Trigger};
use chirpfarm_proto::v1;
use serde_json::{json, Value};
use std::io::Write;

/// Collects a data search's blocks: per-template peaks merged over segment groups, and triggers.
#[derive(Debug, Clone)]
pub struct DataSink {
    templates: u64,
    /// Per template, the loudest sample so far (`None` before its first block).
    pub peaks: Vec<Option<TemplatePeak>>,
    /// Every trigger received.
    pub triggers: Vec<Trigger>,
}

impl DataSink {
    /// An empty sink for a bank of `templates`.
    pub fn new(templates: u64) -> DataSink {
        DataSink {
            templates,
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
        for (i, (&snr, &sample)) in d.peak_snr.iter().zip(&d.peak_sample).enumerate() {
            let p = TemplatePeak { snr, sample };
            let slot = &mut self.peaks[b.start as usize + i];
            *slot = Some(slot.map_or(p, |q| q.merge(p)));
        }
        let n = d.trigger_template.len();
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
}

impl DataReport {
    /// Builds the report from a complete sink (every template has a peak).
    pub fn new(
        masses: Vec<f64>,
        params: Option<Vec<chirpfarm_core::TemplateParams>>,
        spec: DataSpec,
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
            meta,
            peaks,
            triggers,
            segments,
            wall_seconds,
            workers,
            job_id,
        })
    }

    fn time(&self, sample: u64) -> f64 {
        self.spec.time_of(sample)
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
                    "index": i,
                    "mc": self.masses[i],
                    "max_snr": p.snr,
                    "max_time": self.time(p.sample),
                });
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
                json!({
                    "template_index": t.template,
                    "mc": self.masses[t.template as usize],
                    "segment": t.segment,
                    "time": self.time(t.sample),
                    "snr": t.snr,
                    "phase": t.phase,
                    "sigmasq": t.sigmasq,
                })
            })
            .collect();
        json!({
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
        })
    }

    /// Writes the JSON document and a newline.
    pub fn write_json(&self, out: &mut impl Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &self.to_json())?;
        writeln!(out)
    }

    /// Writes one CSV row per trigger, with a header.
    pub fn write_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "template_index,template_mc,segment,time,snr,phase,sigmasq"
        )?;
        for t in &self.triggers {
            writeln!(
                out,
                "{},{:?},{},{:?},{:?},{:?},{:?}",
                t.template,
                self.masses[t.template as usize],
                t.segment,
                self.time(t.sample),
                t.snr,
                t.phase,
                t.sigmasq
            )?;
        }
        Ok(())
    }

    /// Writes a table: the loudest triggers (at most 20, by SNR), the best template, a summary.
    pub fn write_table(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut loud: Vec<&Trigger> = self.triggers.iter().collect();
        loud.sort_by(|a, b| {
            b.snr
                .total_cmp(&a.snr)
                .then(a.order_key().cmp(&b.order_key()))
        });
        writeln!(
            out,
            "{:>20}  {:>8}  {:>12}  {:>10}  {:>8}",
            "GPS time", "template", "Mc", "SNR", "phase"
        )?;
        for t in loud.iter().take(20) {
            writeln!(
                out,
                "{:>20.6}  {:>8}  {:>12.6}  {:>10.4}  {:>8.4}",
                self.time(t.sample),
                t.template,
                self.masses[t.template as usize],
                t.snr,
                t.phase
            )?;
        }
        if let Some((i, p)) = self
            .peaks
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.snr.total_cmp(&b.1.snr).then(b.0.cmp(&a.0)))
        {
            writeln!(
                out,
                "loudest template: {i} (Mc {:?}), SNR {:.4} at GPS {:.6}",
                self.masses[i],
                p.snr,
                self.time(p.sample)
            )?;
        }
        writeln!(
            out,
            "{} templates × {} segment(s) of {} s, {} trigger(s) with SNR ≥ {}, {:.3} s on {} worker(s) [{}]",
            self.masses.len(),
            self.segments,
            self.spec.segment_samples as f64 / self.spec.sample_rate,
            self.triggers.len(),
            self.spec.snr_threshold,
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
        let template: Vec<u64> = t.iter().map(|t| t.template).collect();
        let mc: Vec<f64> = t.iter().map(|t| self.masses[t.template as usize]).collect();
        let segment: Vec<u64> = t.iter().map(|t| t.segment as u64).collect();
        let sample: Vec<u64> = t.iter().map(|t| t.sample).collect();
        let time: Vec<f64> = t.iter().map(|t| self.time(t.sample)).collect();
        let snr: Vec<f64> = t.iter().map(|t| t.snr).collect();
        let phase: Vec<f64> = t.iter().map(|t| t.phase).collect();
        let sigmasq: Vec<f64> = t.iter().map(|t| t.sigmasq).collect();
        let d = &self.spec;
        write_columns(
            path,
            &[
                ("template_index", Column::U64(&template)),
                ("mc", Column::F64(&mc)),
                ("segment", Column::U64(&segment)),
                ("sample", Column::U64(&sample)),
                ("time", Column::F64(&time)),
                ("snr", Column::F64(&snr)),
                ("phase", Column::F64(&phase)),
                ("sigmasq", Column::F64(&sigmasq)),
            ],
            &[
                ("sample_rate", d.sample_rate),
                ("gps_start", d.gps_start),
                ("f_low", d.f_low),
                ("snr_threshold", d.snr_threshold),
                ("segment_seconds", d.segment_samples as f64 / d.sample_rate),
            ],
        )
        .map_err(|e| format!("cannot write the trigger file: {e}"))
    }
}
