//! `chirpfarm bank`: place a bank with the metric, or check a bank's fitting factors.
//!
//! The library work is in `chirpfarm-bank`; this file turns flags into its inputs (with the
//! defaults a bank file records), times the work and prints a table or JSON.

use crate::error::CliError;
use chirpfarm_bank::check::{candidates, fitting_factors, summarize, CheckSpec, Injection};
use chirpfarm_bank::file::{read_bank_file, write_bank, BankMeta};
use chirpfarm_bank::matcher::Matcher;
use chirpfarm_bank::metric::MetricField;
use chirpfarm_bank::noise::Noise;
use chirpfarm_bank::place::{place, PlaceSpec};
use chirpfarm_bank::region::{MassRange, Region};
use chirpfarm_bank::BankError;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// Shown after `chirpfarm bank --help`.
const EXAMPLES: &str = "\
Examples:
  chirpfarm bank --mass1 1:3 --mass2 1:3 --min-match 0.97 --f-low 30 --psd aligo -o bank.csv
  chirpfarm bank --mass1 1:3 --mass2 1:3 --f-low 30 -o bank.hdf5      PyCBC's HDF5 layout
  chirpfarm bank --check bank.csv --injections 1000 --seed 1          defaults from the file
  chirpfarm search --data strain.hdf5 --bank-file bank.hdf5 --approximant taylorf2 --f-low 30";

/// `chirpfarm bank`: a hexagonal lattice in the chirp times (θ0, θ3) with the 3.5PN TaylorF2
/// match metric of the PSD, covering every (m1, m2) in the ranges at the minimal match; or, with
/// --check, the fitting factors of random signals against a bank.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct BankCmd {
    /// Range of one component mass, LO:HI in solar masses (a template (a, b) is the same as
    /// (b, a); the bank is written with mass1 ≥ mass2). --check: where signals are drawn
    /// (default: the range the bank file records, else the bank's own range).
    #[arg(long, value_name = "LO:HI")]
    pub mass1: Option<String>,
    /// Range of the other component mass, LO:HI in solar masses.
    #[arg(long, value_name = "LO:HI")]
    pub mass2: Option<String>,
    /// Minimal match: every signal in the region has a template with at least this match
    /// (default 0.97, or the bank file's with --check).
    #[arg(long, value_name = "MM")]
    pub min_match: Option<f64>,
    /// Lower frequency cut-off in Hz (default 30, or the bank file's with --check).
    #[arg(long, value_name = "HZ")]
    pub f_low: Option<f64>,
    /// Upper frequency in Hz; templates also end at their ISCO (default 1024, or the bank
    /// file's with --check).
    #[arg(long, value_name = "HZ")]
    pub f_high: Option<f64>,
    /// Noise PSD: `aligo` (the analytic aLIGO design fit, physics.md §3.3) or a FILE of two
    /// columns, frequency [Hz] and one-sided PSD [1/Hz], interpolated in log-log.
    #[arg(long, value_name = "aligo|FILE", default_value = "aligo")]
    pub psd: String,
    /// Write the bank here: PyCBC's HDF5 layout for .hdf5/.h5/.hdf, else CSV
    /// (mass1,mass2,spin1z,spin2z); `-` prints CSV.
    #[arg(short, long, value_name = "FILE", required_unless_present = "check")]
    pub output: Option<PathBuf>,
    /// Check this bank (CSV/text or PyCBC HDF5) instead of placing one: fitting factors of
    /// random TaylorF2 signals (exact matches against the nearest templates by metric distance).
    #[arg(long, value_name = "BANK", conflicts_with = "output")]
    pub check: Option<PathBuf>,
    /// --check: number of random signals.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub injections: usize,
    /// --check: random seed (the same signals on every machine).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// --check: templates nearest to each signal in metric distance that get an exact match.
    #[arg(long, value_name = "K", default_value_t = 20)]
    pub nearest: usize,
    /// Print JSON instead of a table (with --check: every signal's fitting factor too).
    #[arg(long)]
    pub json: bool,
    /// --check: compute the matches in this process with rayon instead of as data searches on
    /// the farm (the embedded cluster, or --coordinator).
    #[arg(long)]
    pub in_process: bool,
    /// Compute threads (default: all cores): rayon's with --in-process, else the embedded
    /// worker's.
    #[arg(long)]
    pub threads: Option<usize>,
    /// --check on a networked farm (default: an embedded in-process cluster).
    #[command(flatten)]
    pub remote: crate::args::Remote,
}

impl From<BankError> for CliError {
    fn from(e: BankError) -> Self {
        match e {
            BankError::Input(m) => CliError::Input(m),
            BankError::Write(_) => CliError::Failed(e.to_string()),
        }
    }
}

/// Runs `chirpfarm bank`.
pub fn run(c: BankCmd) -> Result<(), CliError> {
    if let Some(n) = c.threads {
        if n == 0 {
            return Err(CliError::Input("--threads must be at least 1".into()));
        }
        if c.in_process || c.check.is_none() {
            // Fails only if a pool exists already, which is then used as it is.
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global();
        }
    }
    match c.check.clone() {
        Some(bank) => check(&c, bank),
        None => make(&c),
    }
}

/// The mass region from the flags (both or neither).
fn region_flags(c: &BankCmd) -> Result<Option<Region>, CliError> {
    match (&c.mass1, &c.mass2) {
        (Some(a), Some(b)) => Ok(Some(Region {
            mass1: MassRange::parse("--mass1", a)?,
            mass2: MassRange::parse("--mass2", b)?,
        })),
        (None, None) => Ok(None),
        _ => Err(CliError::Input(
            "give both --mass1 and --mass2 (LO:HI each)".into(),
        )),
    }
}

/// Checks the minimal match and the band.
fn check_numbers(mm: f64, f_low: f64, f_high: f64) -> Result<(), CliError> {
    if !(mm > 0.5 && mm < 1.0) {
        return Err(CliError::Input(format!(
            "--min-match {mm}: must be between 0.5 and 1 (e.g. 0.97)"
        )));
    }
    if !(f_low.is_finite() && f_low >= 1.0) {
        return Err(CliError::Input(format!(
            "--f-low {f_low}: must be a frequency of at least 1 Hz"
        )));
    }
    if !(f_high.is_finite() && f_high > f_low && f_high <= 16384.0) {
        return Err(CliError::Input(format!(
            "--f-high {f_high}: must be above --f-low ({f_low} Hz) and at most 16384 Hz"
        )));
    }
    Ok(())
}

/// Places a bank and writes it.
fn make(c: &BankCmd) -> Result<(), CliError> {
    let region = region_flags(c)?.ok_or_else(|| {
        CliError::Input("placing a bank needs --mass1 LO:HI and --mass2 LO:HI".into())
    })?;
    let output = c.output.clone().expect("clap requires -o without --check");
    let (mm, f_low, f_high) = (
        c.min_match.unwrap_or(0.97),
        c.f_low.unwrap_or(30.0),
        c.f_high.unwrap_or(1024.0),
    );
    check_numbers(mm, f_low, f_high)?;
    let noise = Noise::parse(&c.psd)?;
    noise.check_band(f_low, f_high)?;
    let start = Instant::now();
    let field = MetricField::new(&noise, f_low, f_high);
    let placed = place(
        &PlaceSpec {
            region,
            min_match: mm,
        },
        &field,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let meta = BankMeta {
        region,
        min_match: mm,
        f_low,
        f_high,
    };
    write_bank(&output, &placed.templates, &meta, noise.name())?;
    let to_stdout = output.as_os_str() == "-";
    if c.json {
        let j = serde_json::json!({
            "version": 1, "command": "bank", "output": output.display().to_string(),
            "templates": placed.templates.len(), "strips": placed.strips,
            "clamped_to_equal_mass": placed.clamped, "placement_seconds": seconds,
            "region": region, "min_match": mm, "f_low": f_low, "f_high": f_high, "psd": noise.name(),
        });
        if to_stdout {
            eprintln!("{j}");
        } else {
            crate::stdout::line(&j.to_string())?;
        }
    } else {
        let line = format!(
            "{} templates for {} at minimal match {mm}, {f_low}-{f_high} Hz, PSD {}: {} strips of chirp mass, placed in {seconds:.2} s -> {}",
            placed.templates.len(),
            region.describe(),
            noise.name(),
            placed.strips,
            output.display()
        );
        if to_stdout {
            eprintln!("{line}");
        } else {
            crate::stdout::line(&line)?;
        }
    }
    Ok(())
}

/// Checks a bank's fitting factors.
fn check(c: &BankCmd, path: PathBuf) -> Result<(), CliError> {
    let file = read_bank_file(&path)?;
    let Some(bank) = file.spec.params().map(<[_]>::to_vec) else {
        return Err(CliError::Input(format!(
            "{}: --check needs templates with mass1 and mass2, not chirp masses alone",
            path.display()
        )));
    };
    if bank.is_empty() {
        return Err(CliError::Input(format!(
            "{}: the bank has no template",
            path.display()
        )));
    }
    let meta = file.meta;
    let region = match (region_flags(c)?, meta) {
        (Some(r), _) => r,
        (None, Some(m)) => m.region,
        (None, None) => {
            let range = |f: fn(&chirpfarm_core::TemplateParams) -> f64| MassRange {
                lo: bank.iter().map(f).fold(f64::INFINITY, f64::min),
                hi: bank.iter().map(f).fold(f64::NEG_INFINITY, f64::max),
            };
            eprintln!("note: {} records no region; drawing signals in the bank's own mass ranges (give --mass1/--mass2 to choose)", path.display());
            Region {
                mass1: range(|p| p.mass1),
                mass2: range(|p| p.mass2),
            }
        }
    };
    let mm = c.min_match.or(meta.map(|m| m.min_match)).unwrap_or(0.97);
    let f_low = c.f_low.or(meta.map(|m| m.f_low)).unwrap_or(30.0);
    let f_high = c.f_high.or(meta.map(|m| m.f_high)).unwrap_or(1024.0);
    check_numbers(mm, f_low, f_high)?;
    if c.injections == 0 || c.nearest == 0 {
        return Err(CliError::Input(
            "--injections and --nearest must be at least 1".into(),
        ));
    }
    let noise = Noise::parse(&c.psd)?;
    noise.check_band(f_low, f_high)?;
    let psd = noise.name().to_string();
    let start = Instant::now();
    let field = MetricField::new(&noise, f_low, f_high);
    let spec = CheckSpec {
        region,
        injections: c.injections,
        seed: c.seed,
        nearest: c.nearest,
        min_match: mm,
    };
    let inj = if c.in_process {
        let matcher = Matcher::new(noise, f_low, f_high);
        fitting_factors(&bank, &spec, &field, &matcher)
    } else {
        let cands = candidates(&bank, &spec, &field);
        let band = crate::bank_farm::Band {
            noise,
            f_low,
            f_high,
        };
        on_farm(c, &bank, &cands, &band)?
    };
    let where_ = if c.in_process {
        "in-process"
    } else if c.remote.coordinator.is_some() {
        "farm"
    } else {
        "embedded farm"
    };
    let seconds = start.elapsed().as_secs_f64();
    let ff: Vec<f64> = inj.iter().map(|i| i.fitting_factor).collect();
    let summary = summarize(&ff, mm);
    if c.json {
        let j = serde_json::json!({
            "version": 1, "command": "bank --check", "bank": path.display().to_string(),
            "templates": bank.len(), "region": region, "f_low": f_low, "f_high": f_high,
            "psd": psd, "seed": c.seed, "nearest": c.nearest, "seconds": seconds, "computed": where_,
            "summary": summary, "injections": inj,
        });
        return crate::stdout::line(&j.to_string());
    }
    // One write at the end: a closed stdout (`| head`) ends quietly (crate::stdout).
    let mut text = String::new();
    let _ = writeln!(
        text,
        "fitting factors of {} TaylorF2 signals ({}, seed {}) against {} ({} templates; exact matches with the {} nearest by metric distance), PSD {psd}, {f_low}-{f_high} Hz",
        inj.len(),
        region.describe(),
        c.seed,
        path.display(),
        bank.len(),
        c.nearest
    );
    let _ = writeln!(
        text,
        "FF >= {mm}: {:.1} %   minimum {:.4}   mean {:.4}",
        100.0 * summary.fraction_above,
        summary.min,
        summary.mean
    );
    let _ = writeln!(
        text,
        "percentile  {}",
        summary
            .percentiles
            .iter()
            .map(|(p, _)| format!("{:>7}", format!("{p}%")))
            .collect::<String>()
    );
    let _ = writeln!(
        text,
        "FF          {}",
        summary
            .percentiles
            .iter()
            .map(|(_, v)| format!("{v:>7.4}"))
            .collect::<String>()
    );
    let mut worst: Vec<&Injection> = inj.iter().collect();
    worst.sort_by(|a, b| a.fitting_factor.total_cmp(&b.fitting_factor));
    let _ = writeln!(
        text,
        "lowest:     mass1    mass2       FF   metric prediction"
    );
    for w in worst.iter().take(5) {
        let _ = writeln!(
            text,
            "         {:>8.4} {:>8.4} {:>8.4} {:>8.4}",
            w.mass1, w.mass2, w.fitting_factor, w.metric_match
        );
    }
    let _ = writeln!(text, "{seconds:.2} s ({where_})");
    crate::stdout::write(|out| out.write_all(text.as_bytes()))
}

/// The check's matches as data searches: on --coordinator, or on an embedded cluster started
/// for it.
fn on_farm(
    c: &BankCmd,
    bank: &[chirpfarm_core::TemplateParams],
    cands: &[chirpfarm_bank::check::Candidates],
    band: &crate::bank_farm::Band,
) -> Result<Vec<Injection>, CliError> {
    use crate::embedded::{Embedded, Options};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        if c.remote.coordinator.is_some() {
            let conn = crate::commands::connect(&c.remote).await?;
            return crate::bank_farm::fitting_factors(&conn, bank, cands, band).await;
        }
        let threads = c.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        let e = Embedded::start(Options::search(threads, None)).await?;
        let conn = e.connect().await;
        let r = match conn {
            Ok(conn) => crate::bank_farm::fitting_factors(&conn, bank, cands, band).await,
            Err(e) => Err(e),
        };
        e.stop().await;
        r
    })
}
