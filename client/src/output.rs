//! Output formats: a readable table (default), JSON (schema version 1) and CSV.
//!
//! JSON floats are written with the shortest representation that round-trips, so a result read
//! back is bit-identical to the one computed.

use chirpfarm_core::{best_template, SignalSpec, SnrConvention, TemplateResult};
use serde_json::{json, Value};
use std::io::Write;

/// The three ways a finished search can be printed (`--json`, `--csv`, the default table).
pub trait Formats {
    /// The JSON document and a newline.
    fn write_json(&self, out: &mut dyn Write) -> std::io::Result<()>;
    /// CSV with a header.
    fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()>;
    /// A readable table.
    fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()>;
}

impl Formats for Report {
    fn write_json(&self, mut out: &mut dyn Write) -> std::io::Result<()> {
        Report::write_json(self, &mut out)
    }
    fn write_csv(&self, mut out: &mut dyn Write) -> std::io::Result<()> {
        Report::write_csv(self, &mut out)
    }
    fn write_table(&self, mut out: &mut dyn Write) -> std::io::Result<()> {
        Report::write_table(self, &mut out)
    }
}

impl Formats for crate::data_output::DataReport {
    fn write_json(&self, mut out: &mut dyn Write) -> std::io::Result<()> {
        crate::data_output::DataReport::write_json(self, &mut out)
    }
    fn write_csv(&self, mut out: &mut dyn Write) -> std::io::Result<()> {
        crate::data_output::DataReport::write_csv(self, &mut out)
    }
    fn write_table(&self, mut out: &mut dyn Write) -> std::io::Result<()> {
        crate::data_output::DataReport::write_table(self, &mut out)
    }
}

/// The `bank` object of the JSON output: the chirp masses, and the templates' physical
/// parameters (as parallel arrays) when the bank was given by them.
pub fn bank_json(masses: &[f64], params: Option<&[chirpfarm_core::TemplateParams]>) -> Value {
    let mut b = json!({ "mc": masses });
    if let Some(p) = params {
        b["mass1"] = json!(p.iter().map(|t| t.mass1).collect::<Vec<_>>());
        b["mass2"] = json!(p.iter().map(|t| t.mass2).collect::<Vec<_>>());
        b["spin1z"] = json!(p.iter().map(|t| t.spin1z).collect::<Vec<_>>());
        b["spin2z"] = json!(p.iter().map(|t| t.spin2z).collect::<Vec<_>>());
    }
    b
}

/// Everything a finished search reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// The SNR convention used.
    pub convention: SnrConvention,
    /// The bank's chirp masses, in bank order.
    pub masses: Vec<f64>,
    /// The templates' physical parameters, for a bank given by them.
    pub params: Option<Vec<chirpfarm_core::TemplateParams>>,
    /// The signals, in the order given.
    pub signals: Vec<SignalSpec>,
    /// `results[signal][template]`.
    pub results: Vec<Vec<TemplateResult>>,
    /// Seconds from submission to the last result.
    pub wall_seconds: f64,
    /// Workers that served the job.
    pub workers: u32,
    /// The job's id.
    pub job_id: String,
}

impl Report {
    /// The JSON document (schema version 1).
    pub fn to_json(&self) -> Value {
        let signals: Vec<Value> = self
            .signals
            .iter()
            .zip(&self.results)
            .map(|(s, rs)| {
                let best = best_template(rs).map(|b| {
                    json!({
                        "template_index": b.template_index,
                        "mc": self.masses[b.template_index],
                        "snr": b.result.snr,
                        "lag_seconds": b.result.lag_seconds,
                    })
                });
                json!({
                    "mc": s.mc,
                    "delay_seconds": s.delay_seconds,
                    "best": best,
                    "snr": rs.iter().map(|r| r.snr).collect::<Vec<_>>(),
                    "lag_seconds": rs.iter().map(|r| r.lag_seconds).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "version": 1,
            "snr_convention": self.convention.name(),
            "bank": bank_json(&self.masses, self.params.as_deref()),
            "signals": signals,
            "stats": {
                "templates": self.masses.len(),
                "signals": self.signals.len(),
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

    /// Writes one CSV row per signal × template, with a header.
    pub fn write_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "signal_index,signal_mc,template_index,template_mc,snr,lag_seconds"
        )?;
        for (si, (s, rs)) in self.signals.iter().zip(&self.results).enumerate() {
            for (ti, (mc, r)) in self.masses.iter().zip(rs).enumerate() {
                writeln!(
                    out,
                    "{si},{:?},{ti},{:?},{:?},{:?}",
                    s.mc, mc, r.snr, r.lag_seconds
                )?;
            }
        }
        Ok(())
    }

    /// Writes a table: per signal, true Mc, best Mc, best SNR, lag; then a summary line.
    pub fn write_table(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{:>6}  {:>10}  {:>20}  {:>24}  {:>10}",
            "signal", "true Mc", "best Mc", "best SNR", "lag [s]"
        )?;
        for (si, (s, rs)) in self.signals.iter().zip(&self.results).enumerate() {
            match best_template(rs) {
                Some(b) => writeln!(
                    out,
                    "{:>6}  {:>10.6}  {:>20}  {:>24}  {:>10}",
                    si,
                    s.mc,
                    format!("{:?}", self.masses[b.template_index]),
                    format!("{:?}", b.result.snr),
                    format!("{:?}", b.result.lag_seconds)
                )?,
                None => writeln!(out, "{si:>6}  {:>10.6}  (no templates)", s.mc)?,
            }
        }
        writeln!(
            out,
            "{} templates × {} signal(s), SNR convention {}, {:.3} s on {} worker(s) [{}]",
            self.masses.len(),
            self.signals.len(),
            self.convention.name(),
            self.wall_seconds,
            self.workers,
            self.job_id
        )
    }
}
