//! Output formats: a readable table (default), JSON (schema version 1) and CSV.
//!
//! JSON floats are written with the shortest representation that round-trips, so a result read
//! back is bit-identical to the one computed. JSON never holds `null`: a field that has no
//! meaningful value (no best template, no job id on the embedded cluster) is left out.

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
    /// The job's id on a coordinator; `None` on the embedded cluster, whose ids die with the
    /// process and mean nothing to the user.
    pub job_id: Option<String>,
}

impl Report {
    /// The JSON document (schema version 1).
    pub fn to_json(&self) -> Value {
        let signals: Vec<Value> = self
            .signals
            .iter()
            .zip(&self.results)
            .map(|(s, rs)| {
                let mut v = json!({
                    "mc": s.mc,
                    "delay_seconds": s.delay_seconds,
                    "snr": rs.iter().map(|r| r.snr).collect::<Vec<_>>(),
                    "lag_seconds": rs.iter().map(|r| r.lag_seconds).collect::<Vec<_>>(),
                });
                // No template with a number: no `best` (rather than `"best": null`).
                if let Some(b) = best_template(rs) {
                    v["best"] = json!({
                        "template_index": b.template_index,
                        "mc": self.masses[b.template_index],
                        "snr": b.result.snr,
                        "lag_seconds": b.result.lag_seconds,
                    });
                }
                v
            })
            .collect();
        let mut stats = json!({
            "templates": self.masses.len(),
            "signals": self.signals.len(),
            "workers": self.workers,
        });
        // The wall time comes from the coordinator: left out unless it is a number.
        if self.wall_seconds.is_finite() {
            stats["wall_seconds"] = json!(self.wall_seconds);
        }
        if let Some(id) = &self.job_id {
            stats["job_id"] = json!(id);
        }
        json!({
            "version": 1,
            "snr_convention": self.convention.name(),
            "bank": bank_json(&self.masses, self.params.as_deref()),
            "signals": signals,
            "stats": stats,
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
                None => writeln!(out, "{si:>6}  {:>10.6}  (no SNR)", s.mc)?,
            }
        }
        let job = match &self.job_id {
            Some(id) => format!(" [{id}]"),
            None => String::new(),
        };
        writeln!(
            out,
            "{} templates × {} signal(s), SNR convention {}, {:.3} s on {} worker(s){job}",
            self.masses.len(),
            self.signals.len(),
            self.convention.name(),
            self.wall_seconds,
            self.workers,
        )?;
        if self.convention == SnrConvention::Seed {
            writeln!(out, "\n{}", crate::args::SEED_CONVENTION_NOTE)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(snrs: &[f64]) -> Report {
        Report {
            convention: SnrConvention::Seed,
            masses: (0..snrs.len()).map(|i| 1.0 + i as f64 * 0.1).collect(),
            params: None,
            signals: vec![SignalSpec::chirp(1.2)],
            results: vec![snrs
                .iter()
                .map(|&snr| TemplateResult {
                    snr,
                    lag_seconds: 0.0,
                })
                .collect()],
            wall_seconds: f64::NAN,
            workers: 1,
            job_id: None,
        }
    }

    #[test]
    fn nan_is_not_best_and_json_has_no_null() {
        let r = report(&[f64::NAN, 2.0, 1.0]);
        let v = r.to_json();
        assert_eq!(v["signals"][0]["best"]["template_index"], 1);
        // No job id on the embedded cluster, no NaN wall time: both left out, not null.
        assert!(v["stats"].get("job_id").is_none());
        assert!(v["stats"].get("wall_seconds").is_none());
        let v = report(&[f64::NAN]).to_json();
        assert!(v["signals"][0].get("best").is_none(), "{v}");
        let mut table = Vec::new();
        report(&[f64::NAN, 2.0]).write_table(&mut table).unwrap();
        let table = String::from_utf8(table).unwrap();
        assert!(table.contains("1.1") && !table.contains("NaN  "), "{table}");
        assert!(table.contains("teaching note"), "{table}");
    }
}
