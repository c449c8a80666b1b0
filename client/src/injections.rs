//! `search --data ... --injections FILE`: which injections the search found, and how well.
//!
//! An injection is **found** when a trigger of any template lies within `--injection-window`
//! seconds of its coalescence time; the loudest such trigger is its recovery (SNR, template,
//! time offset in samples). An injection whose coalescence sample is not analysed by any
//! segment (in the discarded pads at the ends of the data, or outside it) is **not analysed**
//! rather than missed, so the efficiency counts only what the search could see.

use crate::data_output::DataReport;
use crate::output::Formats;
use chirpfarm_core::Trigger;
use chirpfarm_strain::simulate::InjectionRow;
use serde_json::{json, Value};
use std::io::Write;

/// What became of one injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A trigger within the window.
    Found,
    /// Analysed, but no trigger within the window.
    Missed,
    /// Its coalescence sample lies outside every segment's analysed part.
    NotAnalysed,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Found => "found",
            Status::Missed => "missed",
            Status::NotAnalysed => "not_analysed",
        }
    }
}

/// One injection and its recovery.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The injection as listed.
    pub row: InjectionRow,
    /// Found, missed or not analysed.
    pub status: Status,
    /// The data sample nearest its coalescence time (may be outside the data).
    pub sample: i64,
    /// The loudest trigger within the window, if found.
    pub trigger: Option<Trigger>,
}

impl Outcome {
    /// Trigger sample − injection sample.
    fn offset_samples(&self) -> Option<i64> {
        self.trigger.map(|t| t.sample as i64 - self.sample)
    }

    /// Recovered SNR / the listed optimal SNR.
    fn snr_ratio(&self) -> Option<f64> {
        Some(self.trigger?.snr / self.row.snr?)
    }
}

/// A data search's report with its injections matched: printed by [`Formats`].
#[derive(Debug)]
pub struct WithInjections<'a> {
    /// The search's report.
    pub report: &'a DataReport,
    /// Per injection, in the file's order.
    pub outcomes: Vec<Outcome>,
    /// The matching window, seconds.
    pub window: f64,
}

impl<'a> WithInjections<'a> {
    /// Matches `rows` against the report's triggers within ±`window` seconds.
    pub fn new(report: &'a DataReport, rows: &[InjectionRow], window: f64) -> WithInjections<'a> {
        let spec = &report.spec;
        let analysed: Vec<std::ops::Range<u64>> = spec
            .segments()
            .map(|s| s.iter().map(|s| s.analyzed_in_data()).collect())
            .unwrap_or_default();
        // Triggers by sample, so each injection looks only at its window (10^4 injections
        // against 10^6 triggers stay fast).
        let mut by_sample: Vec<&Trigger> = report.triggers.iter().collect();
        by_sample.sort_by_key(|t| t.sample);
        let outcomes = rows
            .iter()
            .map(|row| {
                let sample = ((row.time - spec.gps_start) * spec.sample_rate).round() as i64;
                let seen = sample >= 0 && analysed.iter().any(|r| r.contains(&(sample as u64)));
                // Candidates by sample index (one sample of slack), then the exact time test.
                let reach = (window * spec.sample_rate).ceil().min(1e15) as i64 + 1;
                let lo =
                    by_sample.partition_point(|t| (t.sample as i64) < sample.saturating_sub(reach));
                let hi = by_sample
                    .partition_point(|t| (t.sample as i64) <= sample.saturating_add(reach));
                let trigger = by_sample[lo..hi.max(lo)]
                    .iter()
                    .copied()
                    .filter(|t| (spec.time_of(t.sample) - row.time).abs() <= window)
                    .max_by(|a, b| {
                        a.snr
                            .total_cmp(&b.snr)
                            .then(b.order_key().cmp(&a.order_key()))
                    })
                    .copied();
                let status = match (trigger, seen) {
                    (Some(_), _) => Status::Found,
                    (None, true) => Status::Missed,
                    (None, false) => Status::NotAnalysed,
                };
                Outcome {
                    row: row.clone(),
                    status,
                    sample,
                    trigger,
                }
            })
            .collect();
        WithInjections {
            report,
            outcomes,
            window,
        }
    }

    fn count(&self, s: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == s).count()
    }

    /// "found 19/20 injections (±0.1 s; 1 missed, 0 not analysed)".
    pub fn summary(&self) -> String {
        let found = self.count(Status::Found);
        let missed = self.count(Status::Missed);
        let outside = self.count(Status::NotAnalysed);
        let ratios: Vec<f64> = self
            .outcomes
            .iter()
            .filter_map(Outcome::snr_ratio)
            .collect();
        let mean = if ratios.is_empty() {
            String::new()
        } else {
            format!(
                ", mean recovered/optimal SNR {:.3}",
                ratios.iter().sum::<f64>() / ratios.len() as f64
            )
        };
        format!(
            "found {found}/{} injections (window ±{} s; {missed} missed, {outside} not analysed{mean})",
            found + missed,
            self.window
        )
    }

    /// One injection as JSON.
    fn outcome_json(&self, o: &Outcome) -> Value {
        let p = &o.row.params;
        let mut v = json!({
            "time": o.row.time,
            "mass1": p.mass1, "mass2": p.mass2, "spin1z": p.spin1z, "spin2z": p.spin2z,
            "mchirp": p.chirp_mass(),
            "optimal_snr": o.row.snr,
            "distance": o.row.distance,
            "status": o.status.name(),
            "sample": o.sample,
        });
        if let Some(t) = o.trigger {
            let r = self.report;
            v["snr"] = json!(t.snr);
            v["snr_ratio"] = json!(o.snr_ratio());
            v["trigger_time"] = json!(r.spec.time_of(t.sample));
            v["offset_samples"] = json!(o.offset_samples());
            v["template_index"] = json!(r.bank_index(t.template));
            v["template_mc"] = json!(r.masses[t.template as usize]);
            if let Some(q) = r.params.as_ref().and_then(|q| q.get(t.template as usize)) {
                v["template_mass1"] = json!(q.mass1);
                v["template_mass2"] = json!(q.mass2);
                v["template_spin1z"] = json!(q.spin1z);
                v["template_spin2z"] = json!(q.spin2z);
            }
        }
        v
    }
}

impl Formats for WithInjections<'_> {
    fn write_json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut doc = self.report.to_json();
        doc["injections"] =
            Value::Array(self.outcomes.iter().map(|o| self.outcome_json(o)).collect());
        doc["injection_summary"] = json!({
            "found": self.count(Status::Found),
            "missed": self.count(Status::Missed),
            "not_analysed": self.count(Status::NotAnalysed),
            "window_seconds": self.window,
            "text": self.summary(),
        });
        serde_json::to_writer(&mut *out, &doc)?;
        writeln!(out)
    }

    /// The triggers' CSV on stdout; the summary line on stderr (CSV readers see only triggers).
    fn write_csv(&self, mut out: &mut dyn Write) -> std::io::Result<()> {
        self.report.write_csv(&mut out)?;
        eprintln!("{}", self.summary());
        Ok(())
    }

    fn write_table(&self, mut out: &mut dyn Write) -> std::io::Result<()> {
        self.report.write_table(&mut out)?;
        writeln!(out)?;
        writeln!(
            out,
            "{:>18}  {:>7}  {:>7}  {:>8}  {:>12}  {:>8}  {:>6}  {:>6}  {:>8}  {:>10}",
            "injection GPS",
            "mass1",
            "mass2",
            "opt SNR",
            "status",
            "SNR",
            "ratio",
            "Δ smp",
            "template",
            "Mc"
        )?;
        let dash = || "-".to_string();
        for o in &self.outcomes {
            let t = o.trigger;
            writeln!(
                out,
                "{:>18.4}  {:>7.3}  {:>7.3}  {:>8}  {:>12}  {:>8}  {:>6}  {:>6}  {:>8}  {:>10}",
                o.row.time,
                o.row.params.mass1,
                o.row.params.mass2,
                o.row.snr.map_or_else(dash, |s| format!("{s:.2}")),
                o.status.name(),
                t.map_or_else(dash, |t| format!("{:.2}", t.snr)),
                o.snr_ratio().map_or_else(dash, |r| format!("{r:.3}")),
                o.offset_samples().map_or_else(dash, |d| d.to_string()),
                t.map_or_else(dash, |t| self.report.bank_index(t.template).to_string()),
                t.map_or_else(dash, |t| format!(
                    "{:.6}",
                    self.report.masses[t.template as usize]
                )),
            )?;
        }
        writeln!(out, "{}", self.summary())
    }
}
