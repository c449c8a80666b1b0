//! `chirpfarm watch --partial`: the results a cancelled or failed signal search has, in bank
//! order with holes, printed so that nobody can take them for a complete search (the JSON says
//! `"complete": false` and lists the missing templates; the table and CSV say so too).

use crate::output::{Formats, Report};
use crate::remote::{SignalSink, Sink};
use chirpfarm_proto::v1;
use serde_json::json;
use std::io::Write;

/// Collects a signal search's blocks that may skip over missing ones, remembering which bank
/// ranges arrived.
#[derive(Debug)]
pub struct PartialSink {
    /// Results of the templates that arrived, in bank order.
    pub signals: SignalSink,
    /// The bank ranges `[start, end)` that arrived, in order, merged when adjacent.
    pub present: Vec<(u64, u64)>,
    templates: u64,
}

impl PartialSink {
    /// An empty sink for `signals` signals over a bank of `templates`.
    pub fn new(signals: usize, templates: u64) -> PartialSink {
        PartialSink {
            signals: SignalSink::new(signals, templates),
            present: Vec::new(),
            templates,
        }
    }

    /// The bank ranges `[start, end)` that did not arrive.
    pub fn missing(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut at = 0;
        for &(a, b) in &self.present {
            if a > at {
                out.push((at, a));
            }
            at = b;
        }
        if at < self.templates {
            out.push((at, self.templates));
        }
        out
    }

    /// The bank indices that arrived, in order.
    pub fn indices(&self) -> Vec<u64> {
        self.present.iter().flat_map(|&(a, b)| a..b).collect()
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
        match self.present.last_mut() {
            Some(last) if last.1 == b.start => last.1 = end,
            _ => self.present.push((b.start, end)),
        }
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

    /// The missing ranges as `a..b` text, the first few only.
    fn missing_text(&self) -> String {
        let mut parts: Vec<String> = self
            .missing
            .iter()
            .take(5)
            .map(|(a, b)| format!("{a}..{b}"))
            .collect();
        if self.missing.len() > 5 {
            parts.push(format!("and {} more ranges", self.missing.len() - 5));
        }
        parts.join(", ")
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
            self.missing_text()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn block(start: u64, count: u32) -> v1::ResultBlock {
        v1::ResultBlock {
            start,
            count,
            signals: vec![v1::SignalBlock {
                snr: (0..count).map(|i| (start + i as u64) as f64).collect(),
                lag_seconds: vec![0.0; count as usize],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn holes_are_listed_and_blocks_must_move_forward() {
        let mut s = PartialSink::new(1, 30);
        s.block(0, &block(0, 5)).unwrap();
        s.block(5, &block(5, 5)).unwrap();
        s.block(10, &block(20, 5)).unwrap();
        assert_eq!(s.present, vec![(0, 10), (20, 25)]);
        assert_eq!(s.missing(), vec![(10, 20), (25, 30)]);
        assert_eq!(s.indices().len(), 15);
        assert_eq!(s.signals.results[0][12].snr, 22.0);
        assert!(s.block(25, &block(22, 2)).is_err(), "backwards");
        assert!(s.block(25, &block(28, 5)).is_err(), "past the bank");
    }
}
