//! `chirpfarm watch --partial` of a data search: the triggers and per-template peaks of the
//! blocks that arrived from a job that was cancelled or failed, printed so that nobody can take
//! them for a complete search (the JSON says `"complete": false` and lists the missing result
//! units; the table and CSV say so too).
//!
//! A data search's result unit is one template over one group of segments, so a template may
//! have some of its segment groups and not others: its peak is then the loudest of those that
//! arrived, and a template with none is left out of the report.

use crate::args::OutputArgs;
use crate::data::DataMeta;
use crate::data_output::{DataReport, DataSink};
use crate::error::CliError;
use crate::injections::WithInjections;
use crate::output::Formats;
use crate::partial::{ranges_text, Ranges};
use crate::progress::Progress;
use crate::remote::{Conn, Sink};
use chirpfarm_core::SearchSpec;
use chirpfarm_proto::v1;
use chirpfarm_strain::simulate::InjectionRow;
use serde_json::json;
use std::io::Write;

/// Collects a data search's blocks that may skip over missing ones, remembering which result
/// units arrived.
#[derive(Debug)]
pub struct PartialDataSink {
    /// Peaks and triggers of what arrived.
    pub data: DataSink,
    /// Templates in the bank.
    templates: u64,
    /// The result units that arrived.
    pub present: Ranges,
}

impl PartialDataSink {
    /// An empty sink for a bank of `templates` searched with `spec`.
    pub fn for_spec(templates: u64, spec: &chirpfarm_core::DataSpec) -> PartialDataSink {
        PartialDataSink {
            data: DataSink::for_spec(templates, spec),
            templates,
            present: Ranges::default(),
        }
    }
}

impl Sink for PartialDataSink {
    fn block(&mut self, cursor: u64, b: &v1::ResultBlock) -> Result<(), String> {
        if b.unit < cursor || self.templates == 0 || b.unit % self.templates != b.start {
            return Err(format!(
                "protocol error: data block of unit {} (template {}) after unit {cursor}",
                b.unit, b.start
            ));
        }
        self.data.block(b.unit, b)?;
        self.present.add(b.unit, b.unit + b.count as u64);
        Ok(())
    }
}

/// A data search's report over what arrived, and what is missing.
#[derive(Debug)]
pub struct PartialDataReport {
    /// The report over the templates that have results (bank indices in its `indices`).
    pub report: DataReport,
    /// Result units `[start, end)` that did not arrive.
    pub missing: Vec<(u64, u64)>,
    /// Result units of the whole job (templates × segment groups).
    pub units_total: u64,
    /// Templates in the bank.
    pub templates_total: u64,
    /// How the job ended (`cancelled`, `failed`, `succeeded`).
    pub state: &'static str,
    /// `--injections`: the list and the window, matched against what arrived.
    pub injections: Option<(Vec<InjectionRow>, f64)>,
}

impl PartialDataReport {
    /// Complete: the job succeeded and nothing is missing.
    pub fn complete(&self) -> bool {
        self.state == "succeeded" && self.missing.is_empty()
    }

    /// Result units that did not arrive.
    pub fn missing_count(&self) -> u64 {
        self.missing.iter().map(|(a, b)| b - a).sum()
    }

    /// The one line that says the output is partial (empty when complete).
    pub fn notice(&self) -> String {
        if self.complete() {
            return String::new();
        }
        format!(
            "{} was {}: the output is partial, {} of {} result units (template × segment group) are missing (units {}; {} of {} templates have results)",
            self.report.job_id,
            self.state,
            self.missing_count(),
            self.units_total,
            ranges_text(&self.missing),
            self.report.masses.len(),
            self.templates_total
        )
    }

    /// The report's formats, with the injections matched when asked for.
    fn with<R>(&self, f: impl FnOnce(&dyn Formats) -> R) -> R {
        match &self.injections {
            Some((rows, window)) => f(&WithInjections::new(&self.report, rows, *window)),
            None => f(&self.report),
        }
    }
}

impl Formats for PartialDataReport {
    fn write_json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut buf = Vec::new();
        self.with(|r| r.write_json(&mut buf))?;
        let mut v: serde_json::Value = serde_json::from_slice(&buf)?;
        v["complete"] = json!(self.complete());
        v["state"] = json!(self.state);
        v["missing_units"] = json!(self.missing.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>());
        v["stats"]["units_total"] = json!(self.units_total);
        v["stats"]["units_missing"] = json!(self.missing_count());
        v["stats"]["templates_total"] = json!(self.templates_total);
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)
    }

    fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.with(|r| r.write_csv(out))?;
        if !self.complete() {
            writeln!(out, "# {}", self.notice())?;
        }
        Ok(())
    }

    fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.with(|r| r.write_table(out))?;
        if !self.complete() {
            writeln!(out, "PARTIAL: {}", self.notice())?;
        }
        Ok(())
    }
}

/// `chirpfarm watch --partial` of a data search: whatever arrived, marked incomplete unless the
/// job succeeded with every unit; exit 1 when incomplete.
pub async fn watch_partial_data(
    conn: &Conn,
    job_id: &str,
    spec: &SearchSpec,
    masses: Vec<f64>,
    output: OutputArgs,
    injections: Option<(Vec<InjectionRow>, f64)>,
) -> Result<(), CliError> {
    let data = spec.data.clone().expect("a data search");
    let templates = masses.len() as u64;
    let mut sink = PartialDataSink::for_spec(templates, &data);
    let progress = Progress::new(templates, output.quiet);
    let collected = crate::remote::collect_partial(conn, job_id, &mut sink, &progress).await;
    progress.finish();
    let collected = collected?;
    // Without a progress report the job's size is what arrived (a job with no result at all).
    let units_total = collected.units_total.unwrap_or(sink.present.end());
    let meta = DataMeta::uploaded(&data);
    let report = DataReport::partial(
        masses,
        spec.bank.params().map(|p| p.to_vec()),
        data,
        (spec.approximant, spec.f_final),
        meta,
        sink.data,
        (
            collected.finished.wall_seconds,
            collected.workers,
            job_id.to_string(),
        ),
    )
    .map_err(CliError::Failed)?;
    let report = PartialDataReport {
        report,
        missing: sink.present.missing(units_total),
        units_total,
        templates_total: templates,
        state: crate::listings::state_name(collected.finished.state),
        injections,
    };
    crate::emit::emit(&report, &output)?;
    crate::partial::outcome(report.complete(), report.notice(), &collected.finished)
}
