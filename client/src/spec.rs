//! Turns command-line search arguments into a validated [`SearchSpec`], using the one set of
//! validation rules in `chirpfarm-core`.

use crate::args::{ConventionArg, SearchArgs};
use crate::error::CliError;
use chirpfarm_core::bank::SEED_BANK;
use chirpfarm_core::{
    random_signals, Approximant, BankSpec, Limits, SearchSpec, SignalSpec, SnrConvention,
};

/// A search ready to run: the spec and its bank's chirp masses.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// What to send.
    pub spec: SearchSpec,
    /// The bank's chirp masses, for labelling results.
    pub masses: Vec<f64>,
    /// A data search's blobs and file details.
    pub data: Option<crate::data::PreparedData>,
}

/// Builds and validates the search described by `a`.
pub fn prepare(a: &SearchArgs) -> Result<Prepared, CliError> {
    let bank = match (&a.bank, &a.bank_file) {
        (Some(r), _) => BankSpec::parse_range(r)?,
        // Text/CSV or PyCBC HDF5 (by signature), `-` for stdin; errors name file and line.
        (None, Some(path)) => chirpfarm_bank::file::read_bank_file(path)?.spec,
        (None, None) => SEED_BANK,
    };
    let limits = Limits {
        max_templates: a.max_templates,
        ..Limits::default()
    };
    let approximant = Approximant::parse(&a.approximant)?;
    if approximant == Approximant::TaylorF2 && a.data.data.is_none() {
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
    if a.data.data.is_some() {
        let data = crate::data::prepare_data(&a.data)?;
        let spec = SearchSpec {
            bank,
            signals: Vec::new(),
            convention: SnrConvention::Physical,
            data: Some(data.spec.clone()),
            approximant,
            f_final: a.f_final,
        };
        let masses = spec.validate(&limits)?;
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
    if a.chunk_size == Some(0) {
        return Err(CliError::Input("--chunk-size must be at least 1".into()));
    }
    Ok(Prepared {
        spec,
        masses,
        data: None,
    })
}
