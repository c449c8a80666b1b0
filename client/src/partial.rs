//! `chirpfarm watch --partial`: the results a cancelled or failed signal search has, in bank
//! order with holes, printed so that nobody can take them for a complete search (the JSON says
//! `"complete": false` and lists the missing templates; the table and CSV say so too).

use crate::args::OutputArgs;
use crate::error::CliError;
use crate::output::{Formats, Report};
use crate::progress::Progress;
use crate::remote::{Conn, SignalSink, Sink};
use chirpfarm_core::SearchSpec;
use chirpfarm_proto::v1;
use serde_json::json;
use std::io::Write;

/// Ranges `[start, end)` of bank indices or result units that arrived, in order, merged when
/// adjacent: what a partial watch has, and (the complement) what it is missing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ranges(pub Vec<(u64, u64)>);

impl Ranges {
    /// Records `[start, end)`, which must not begin before the last range ends.
    pub fn add(&mut self, start: u64, end: u64) {
        match self.0.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => self.0.push((start, end)),
        }
    }

    /// Where the last range ends (0 when empty).
    pub fn end(&self) -> u64 {
        self.0.last().map_or(0, |r| r.1)
    }

    /// The ranges of `[0, total)` not recorded.
    pub fn missing(&self, total: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut at = 0;
        for &(a, b) in &self.0 {
            if a > at {
                out.push((at, a));
            }
            at = b;
        }
        if at < total {
            out.push((at, total));
        }
        out
    }
}

/// Ranges as `a..b` text, the first five only (`and N more ranges` after).
pub fn ranges_text(ranges: &[(u64, u64)]) -> String {
    let mut parts: Vec<String> = ranges
        .iter()
        .take(5)
        .map(|(a, b)| format!("{a}..{b}"))
        .collect();
    if ranges.len() > 5 {
        parts.push(format!("and {} more ranges", ranges.len() - 5));
    }
    parts.join(", ")
}

/// Collects a signal search's blocks that may skip over missing ones, remembering which bank
/// ranges arrived.
#[derive(Debug)]
pub struct PartialSink {
    /// Results of the templates that arrived, in bank order.
    pub signals: SignalSink,
    /// The bank ranges that arrived.
    pub present: Ranges,
    templates: u64,
}

impl PartialSink {
    /// An empty sink for `signals` signals over a bank of `templates`.
    pub fn new(signals: usize, templates: u64) -> PartialSink {
        PartialSink {
            signals: SignalSink::new(signals, templates),
            present: Ranges::default(),
            templates,
        }
    }

    /// The bank ranges `[start, end)` that did not arrive.
    pub fn missing(&self) -> Vec<(u64, u64)> {
        self.present.missing(self.templates)
    }

    /// The bank indices that arrived, in order.
    pub fn indices(&self) -> Vec<u64> {
        self.present.0.iter().flat_map(|&(a, b)| a..b).collect()
    }
}

impl Sink for PartialSink {
    fn block(&mut self, cursor: u64, b: &v1::ResultBlock) -> Result<(), String> {
        let end = b.start.saturating_add(b.count as u64);
        if b.start < cursor || end > self.templates {
            return Err(format!(
                "protocol error: block of templates {}..{end} after {cursor} in a bank of {}",
                b.start, self.templates
            ));
        }
        self.signals.block(b.start, b)?;
        self.present.add(b.start, end);
        Ok(())
    }
}

/// A signal search's report over the templates that arrived, and what is missing.
#[derive(Debug)]
pub struct PartialReport {
    /// The report over the templates that arrived (`masses` and results hold only those).
    pub report: Report,
    /// Bank index of each of the report's templates.
    pub indices: Vec<u64>,
    /// Bank ranges `[start, end)` that did not arrive.
    pub missing: Vec<(u64, u64)>,
    /// Templates in the whole bank.
    pub templates_total: u64,
    /// How the job ended (`cancelled`, `failed`, `succeeded`).
    pub state: &'static str,
}

impl PartialReport {
    /// Templates that did not arrive.
    pub fn missing_count(&self) -> u64 {
        self.missing.iter().map(|(a, b)| b - a).sum()
    }

    /// Complete: the job succeeded and nothing is missing.
    pub fn complete(&self) -> bool {
        self.state == "succeeded" && self.missing.is_empty()
    }

    /// The one line that says the output is partial (empty when complete).
    pub fn notice(&self) -> String {
        if self.complete() {
            return String::new();
        }
        format!(
            "{} was {}: the output is partial, {} of {} templates are missing (bank indices {})",
            self.report.job_id.as_deref().unwrap_or("the job"),
            self.state,
            self.missing_count(),
            self.templates_total,
            ranges_text(&self.missing)
        )
    }
}

impl Formats for PartialReport {
    fn write_json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut v = self.report.to_json();
        // The report's template indices count the templates present: make them bank indices.
        if let Some(signals) = v["signals"].as_array_mut() {
            for s in signals {
                if let Some(i) = s["best"]["template_index"].as_u64() {
                    s["best"]["template_index"] = json!(self.indices[i as usize]);
                }
            }
        }
        v["bank"]["template_index"] = json!(self.indices);
        v["complete"] = json!(self.complete());
        v["state"] = json!(self.state);
        v["missing_templates"] =
            json!(self.missing.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>());
        v["stats"]["templates_total"] = json!(self.templates_total);
        v["stats"]["templates_missing"] = json!(self.missing_count());
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)
    }

    fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "signal_index,signal_mc,template_index,template_mc,snr,lag_seconds"
        )?;
        let r = &self.report;
        for (si, (s, rs)) in r.signals.iter().zip(&r.results).enumerate() {
            for ((ti, mc), res) in self.indices.iter().zip(&r.masses).zip(rs) {
                writeln!(
                    out,
                    "{si},{:?},{ti},{:?},{:?},{:?}",
                    s.mc, mc, res.snr, res.lag_seconds
                )?;
            }
        }
        if !self.complete() {
            writeln!(out, "# {}", self.notice())?;
        }
        Ok(())
    }

    fn write_table(&self, mut out: &mut dyn Write) -> std::io::Result<()> {
        self.report.write_table(&mut out)?;
        if !self.complete() {
            writeln!(out, "PARTIAL: {}", self.notice())?;
        }
        Ok(())
    }
}

/// `chirpfarm watch --partial` of a signal search: whatever arrived, marked incomplete unless
/// the job succeeded with every template; exit 1 when incomplete.
pub async fn watch_partial(
    conn: &Conn,
    job_id: &str,
    spec: &SearchSpec,
    masses: Vec<f64>,
    output: OutputArgs,
) -> Result<(), CliError> {
    let total = masses.len() as u64;
    let mut sink = PartialSink::new(spec.signals.len(), total);
    let progress = Progress::new(total, output.quiet);
    let collected = crate::remote::collect_partial(conn, job_id, &mut sink, &progress).await;
    progress.finish();
    let collected = collected?;
    let indices = sink.indices();
    let report = PartialReport {
        report: Report {
            convention: spec.convention,
            params: spec
                .bank
                .params()
                .map(|p| indices.iter().map(|&i| p[i as usize]).collect()),
            masses: indices.iter().map(|&i| masses[i as usize]).collect(),
            signals: spec.signals.clone(),
            results: sink.signals.results.clone(),
            wall_seconds: collected.finished.wall_seconds,
            workers: collected.workers,
            job_id: Some(job_id.to_string()),
        },
        missing: sink.missing(),
        indices,
        templates_total: total,
        state: crate::listings::state_name(collected.finished.state),
    };
    crate::emit::emit(&report, &output)?;
    outcome(report.complete(), report.notice(), &collected.finished)
}

/// How a partial watch ends once its output is printed: success when complete, else a failure
/// (exit 1) with the `notice` and the job's error, if any.
pub fn outcome(complete: bool, notice: String, finished: &v1::JobFinished) -> Result<(), CliError> {
    if complete {
        return Ok(());
    }
    let why = match finished.error.as_str() {
        "" => String::new(),
        e => format!(" ({})", chirpfarm_core::logging::escape(e, 2000)),
    };
    Err(CliError::Failed(format!("{notice}{why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn holes_are_listed_and_blocks_must_move_forward() {
        let mut s = PartialSink::new(1, 30);
        s.block(0, &block(0, 5)).unwrap();
        s.block(5, &block(5, 5)).unwrap();
        s.block(10, &block(20, 5)).unwrap();
        assert_eq!(s.present, Ranges(vec![(0, 10), (20, 25)]));
        assert_eq!(s.missing(), vec![(10, 20), (25, 30)]);
        assert_eq!(s.indices().len(), 15);
        assert_eq!(s.signals.results[0][12].snr, 22.0);
        assert!(s.block(25, &block(22, 2)).is_err(), "backwards");
        assert!(s.block(25, &block(28, 5)).is_err(), "past the bank");
    }
}
