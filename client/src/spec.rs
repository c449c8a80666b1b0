//! Turns command-line search arguments into a validated [`SearchSpec`], using the one set of
//! validation rules in `chirpfarm-core`.

use crate::args::{ConventionArg, SearchArgs};
use crate::error::CliError;
use chirpfarm_core::bank::SEED_BANK;
use chirpfarm_core::spec::{wraps_seed_segment, McRange};
use chirpfarm_core::{
    random_signals, Approximant, BankSpec, Limits, SearchSpec, SignalSpec, SnrConvention,
};

/// The most templates the client builds for a remote search, whatever --max-templates says: no
/// search can use more, since templates × signals (or segments) is capped at the coordinator's
/// default `max_results` (10^8), and it bounds the client's bank at 800 MB.
pub const CLIENT_MAX_TEMPLATES: u64 = 100_000_000;

/// Where the search will run, which decides the largest bank worth building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The embedded cluster: its coordinator has the default limits (10^6 templates).
    Embedded,
    /// A coordinator with its own --max-templates: only the client-side cap applies here.
    Remote,
}

/// A search ready to run: the spec and its bank's chirp masses.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// What to send.
    pub spec: SearchSpec,
    /// The bank's chirp masses, for labelling results.
    pub masses: Vec<f64>,
    /// A data search's blobs and file details.
    pub data: Option<crate::data::PreparedData>,
    /// Things worth saying on stderr before the search starts (chirps that wrap the segment).
    pub warnings: Vec<String>,
}

/// The command line's defaults for every search argument (`chirpfarm search` with no flags),
/// for front ends that set the fields they take themselves (the Python package): one set of
/// defaults, the CLI's.
pub fn default_search_args() -> SearchArgs {
    /// `SearchArgs` alone on a command line.
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        search: SearchArgs,
    }
    <Only as clap::Parser>::try_parse_from(["chirpfarm"])
        .map(|o| o.search)
        .expect("the search arguments all have defaults")
}

/// The bank limit for `target`: --max-templates, bounded by what the target can run, refused
/// (exit 2) when above the client's own cap so no flag makes the client allocate without bound.
fn template_limit(requested: u64, target: Target) -> Result<u64, CliError> {
    if requested > CLIENT_MAX_TEMPLATES {
        return Err(CliError::Input(format!(
            "--max-templates {requested} is more than the client's limit of {CLIENT_MAX_TEMPLATES} templates (a search may return at most 10^8 results)"
        )));
    }
    Ok(match target {
        Target::Embedded => requested.min(Limits::default().max_templates),
        Target::Remote => requested,
    })
}

/// Checks every signal's and template's chirp mass against `range`, and lists the masses whose
/// seed-grid chirp is longer than the 64 s segment (one warning naming them).
fn check_masses(
    range: &McRange,
    signals: &[SignalSpec],
    masses: &[f64],
) -> Result<Vec<String>, CliError> {
    for (i, s) in signals.iter().enumerate() {
        range.check(&format!("signal {i}"), s.mc)?;
    }
    for (i, &mc) in masses.iter().enumerate() {
        range.check(&format!("template {i}"), mc)?;
    }
    let mut wrapping: Vec<f64> = signals
        .iter()
        .map(|s| s.mc)
        .chain(masses.iter().copied())
        .filter(|&mc| wraps_seed_segment(mc))
        .collect();
    if wrapping.is_empty() {
        return Ok(Vec::new());
    }
    wrapping.sort_by(f64::total_cmp);
    wrapping.dedup();
    let shown: Vec<String> = wrapping.iter().take(5).map(|m| format!("{m}")).collect();
    let more = if wrapping.len() > 5 {
        format!(" and {} more", wrapping.len() - 5)
    } else {
        String::new()
    };
    Ok(vec![format!(
        "warning: chirp mass {}{more} M☉: the Newtonian chirp from 40 Hz is longer than the 64 s segment (Mc below about 0.69), so it wraps around onto itself",
        shown.join(", ")
    )])
}

/// Builds and validates the search described by `a`, to run on `target`.
pub fn prepare(a: &SearchArgs, target: Target) -> Result<Prepared, CliError> {
    let bank = bank_of(a)?;
    let strain = match &a.data.data {
        Some(path) => Some(crate::data::read_data(&a.data, path)?),
        None => None,
    };
    prepare_with(a, bank, strain, target)
}

/// The bank `a` names: --bank, --bank-file, or the seed's.
pub fn bank_of(a: &SearchArgs) -> Result<BankSpec, CliError> {
    Ok(match (&a.bank, &a.bank_file) {
        (Some(r), _) => BankSpec::parse_range(r)?,
        // Text/CSV or PyCBC HDF5 (by signature), `-` for stdin; errors name file and line.
        (None, Some(path)) => chirpfarm_bank::file::read_bank_file(path)?.spec,
        (None, None) => SEED_BANK,
    })
}

/// [`prepare`] with the bank (and, for a data search, the strain) already in hand: what the
/// Python package calls with a bank and data that came as arrays instead of files. `a` supplies
/// everything else (signals, convention, limits, the data search's parameters); its
/// `bank`/`bank_file`/`data.data` fields are not read.
pub fn prepare_with(
    a: &SearchArgs,
    bank: BankSpec,
    strain: Option<crate::data::StrainInput>,
    target: Target,
) -> Result<Prepared, CliError> {
    let mc_range = McRange::parse(&a.mc_range)?;
    let limits = Limits {
        max_templates: template_limit(a.max_templates, target)?,
        ..Limits::default()
    };
    let approximant = Approximant::parse(&a.approximant)?;
    if approximant == Approximant::TaylorF2 && strain.is_none() {
        return Err(CliError::Input(
            "--approximant taylorf2 needs --data: TaylorF2 templates are for data searches; \
             signal searches (--signal-mc, --random-signals) use the seed's newtonian chirp"
                .into(),
        ));
    }
    if a.f_final.is_some() && approximant != Approximant::TaylorF2 {
        return Err(CliError::Input(
            "--f-final applies to --approximant taylorf2 (newtonian templates run to Nyquist)"
                .into(),
        ));
    }
    // Validate the bank first so --random-signals can use its range.
    let masses = bank.masses(limits.max_templates)?;
    approximant.check_bank(&bank)?; // before reading any data
    if let Some(strain) = strain {
        let data = crate::data::prepare_strain(&a.data, strain)?;
        let spec = SearchSpec {
            bank,
            signals: Vec::new(),
            convention: SnrConvention::Physical,
            data: Some(data.spec.clone()),
            approximant,
            f_final: a.f_final,
        };
        let masses = spec.validate(&limits)?;
        check_masses(&mc_range, &[], &masses)?;
        if spec.approximant == Approximant::TaylorF2 {
            // Every template's band, checked here as the workers will (exit 2 before uploading).
            chirpfarm_worker::engine::data::BankTemplate::list(&spec, limits.max_templates)?;
        }
        if a.chunk_size == Some(0) {
            return Err(CliError::Input("--chunk-size must be at least 1".into()));
        }
        return Ok(Prepared {
            spec,
            masses,
            data: Some(data),
            warnings: Vec::new(),
        });
    }
    let mut signals = Vec::new();
    for text in &a.signal_mc {
        let mc: f64 = text
            .trim()
            .parse()
            .map_err(|_| CliError::Input(format!("--signal-mc {text:?} is not a number")))?;
        signals.push(SignalSpec {
            mc,
            delay_seconds: a.signal_delay,
        });
    }
    if let Some(n) = a.random_signals {
        // Before drawing: `--random-signals 10000000000` must not try to allocate them.
        limits.check_signals((n as u64).saturating_add(signals.len() as u64))?;
        let lo = masses.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = masses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // The seed draws in [0.8, 1.74): the bank's start to its stop.
        let hi = match bank {
            BankSpec::Range { stop, .. } => stop,
            BankSpec::List(_) | BankSpec::Params(_) => hi,
        };
        for mut s in random_signals(n, a.seed, lo, hi) {
            s.delay_seconds = a.signal_delay;
            signals.push(s);
        }
    }
    let spec = SearchSpec {
        bank,
        signals,
        convention: match a.snr_convention {
            ConventionArg::Seed => SnrConvention::Seed,
            ConventionArg::Physical => SnrConvention::Physical,
        },
        data: None,
        approximant: Default::default(),
        f_final: None,
    };
    let masses = spec.validate(&limits)?;
    let warnings = check_masses(&mc_range, &spec.signals, &masses)?;
    if a.chunk_size == Some(0) {
        return Err(CliError::Input("--chunk-size must be at least 1".into()));
    }
    Ok(Prepared {
        spec,
        masses,
        data: None,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_grid_constants_agree_with_the_engine() {
        use chirpfarm_worker::engine::grid;
        assert_eq!(chirpfarm_core::spec::SEED_F_LOW_HZ, grid::FMIN);
        assert_eq!(chirpfarm_core::spec::MSUN_SECONDS, grid::MSUN);
    }

    #[test]
    fn defaults_are_the_seed_search() {
        let a = default_search_args();
        assert!(a.bank.is_none() && a.signal_mc.is_empty() && a.data.data.is_none());
        assert_eq!(a.snr_convention, ConventionArg::Seed);
        assert_eq!((a.max_templates, a.data.f_low), (1_000_000, 20.0));
    }

    #[test]
    fn template_limits_depend_on_the_target() {
        assert_eq!(
            template_limit(5_000_000, Target::Embedded).unwrap(),
            1_000_000
        );
        assert_eq!(
            template_limit(5_000_000, Target::Remote).unwrap(),
            5_000_000
        );
        assert!(template_limit(u64::MAX, Target::Remote).is_err());
    }
}
