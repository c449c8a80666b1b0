//! Keyword arguments from Python → a validated search, through the CLI's own rules
//! ([`chirpfarm::spec::prepare_with`] with the CLI's defaults): the same checks, limits and
//! messages as `chirpfarm search`.

use crate::errors::{to_py, value};
use chirpfarm::args::{ConventionArg, RankArg};
use chirpfarm::data::StrainInput;
use chirpfarm::spec::{self, Target};
use chirpfarm_core::BankSpec;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// A validated search, ready to run in-process or to submit: the spec, the bank's chirp
/// masses and, for a data search, the strain and PSD to upload.
#[pyclass(module = "chirpfarm._native", frozen)]
pub struct Prepared {
    /// The client library's prepared search.
    pub inner: spec::Prepared,
}

#[pymethods]
impl Prepared {
    /// The bank's chirp masses in bank order (M☉).
    #[getter]
    fn bank_mc<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.masses)
    }

    /// The signals' chirp masses (M☉), in the order given.
    #[getter]
    fn signal_mc<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let v: Vec<f64> = self.inner.spec.signals.iter().map(|s| s.mc).collect();
        PyArray1::from_vec(py, v)
    }

    /// The signals' delays (s), in the order given.
    #[getter]
    fn signal_delay<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let v: Vec<f64> = self
            .inner
            .spec
            .signals
            .iter()
            .map(|s| s.delay_seconds)
            .collect();
        PyArray1::from_vec(py, v)
    }

    /// `"seed"` or `"physical"`.
    #[getter]
    fn convention(&self) -> &'static str {
        self.inner.spec.convention.name()
    }

    /// Whether this is a data search.
    #[getter]
    fn is_data(&self) -> bool {
        self.inner.spec.data.is_some()
    }

    /// Warnings worth showing before the search (chirps that wrap the 64 s segment).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }
}

/// Reads an optional keyword of `opts`, refusing a value of the wrong type by name.
fn opt<'py, T>(opts: Option<&Bound<'py, PyDict>>, key: &str) -> PyResult<Option<T>>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr>,
{
    let Some(d) = opts else { return Ok(None) };
    match d.get_item(key)? {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v
            .extract::<T>()
            .map(Some)
            .map_err(|e| value(format!("{key}: {e}"))),
    }
}

/// The keywords of a search besides bank, signals and data (`None` keeps the CLI's default).
const OPTIONS: &[&str] = &[
    "max_templates",
    "mc_range",
    "chunk_size",
    "name",
    "approximant",
    "f_final",
    "f_low",
    "segment_length",
    "segment_pad",
    "snr_threshold",
    "cluster_window",
    "chisq_bins",
    "rank",
    "newsnr_threshold",
    "psd_segment_length",
    "psd_segment_stride",
    "psd_inverse_length",
];

/// Validates a search. Exactly one of `bank_range` (`"START:STOP:STEP"`), `bank_file` and
/// `bank_mc` (an array of chirp masses) may be given; none is the seed's bank. A data search
/// has `data` (float64 strain) and `sample_rate`; `psd` is `welch`, `aligo` or a file, unless
/// `psd_values` gives the PSD on the segment's grid. `remote` lifts the embedded cluster's
/// template limit (a coordinator has its own).
#[pyfunction]
#[pyo3(signature = (*, bank_range=None, bank_file=None, bank_mc=None, signal_mc=Vec::new(),
    signal_delay=0.0, random_signals=None, seed=0, convention="seed", data=None,
    sample_rate=None, gps_start=0.0, psd="welch", psd_values=None, options=None, remote=false))]
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    bank_range: Option<String>,
    bank_file: Option<PathBuf>,
    bank_mc: Option<PyReadonlyArray1<'_, f64>>,
    signal_mc: Vec<f64>,
    signal_delay: f64,
    random_signals: Option<usize>,
    seed: u64,
    convention: &str,
    data: Option<PyReadonlyArray1<'_, f64>>,
    sample_rate: Option<f64>,
    gps_start: f64,
    psd: &str,
    psd_values: Option<PyReadonlyArray1<'_, f64>>,
    options: Option<&Bound<'_, PyDict>>,
    remote: bool,
) -> PyResult<Prepared> {
    if let Some(d) = options {
        for k in d.keys() {
            let k: String = k.extract()?;
            if !OPTIONS.contains(&k.as_str()) {
                return Err(value(format!("unknown search option {k:?}")));
            }
        }
    }
    let mut a = spec::default_search_args();
    // Shortest round-trip text: parsed back to the very same f64.
    a.signal_mc = signal_mc.iter().map(|m| format!("{m}")).collect();
    a.signal_delay = signal_delay;
    a.random_signals = random_signals;
    a.seed = seed;
    a.snr_convention = match convention {
        "seed" => ConventionArg::Seed,
        "physical" => ConventionArg::Physical,
        other => {
            return Err(value(format!(
                "convention must be \"seed\" or \"physical\", got {other:?}"
            )))
        }
    };
    if let Some(v) = opt(options, "max_templates")? {
        a.max_templates = v;
    }
    if let Some(v) = opt(options, "mc_range")? {
        a.mc_range = v;
    }
    a.chunk_size = opt(options, "chunk_size")?;
    a.name = opt::<String>(options, "name")?
        .map(|n| chirpfarm::args::job_name(&n).map_err(value))
        .transpose()?;
    if let Some(v) = opt(options, "approximant")? {
        a.approximant = v;
    }
    a.f_final = opt(options, "f_final")?;
    let d = &mut a.data;
    d.psd = psd.to_string();
    macro_rules! set {
        ($($field:ident),*) => {$(
            if let Some(v) = opt(options, stringify!($field))? { d.$field = v; }
        )*};
    }
    set!(
        f_low,
        segment_length,
        snr_threshold,
        cluster_window,
        chisq_bins,
        psd_segment_length,
        psd_segment_stride
    );
    d.segment_pad = opt(options, "segment_pad")?;
    d.newsnr_threshold = opt(options, "newsnr_threshold")?;
    d.psd_inverse_length = opt(options, "psd_inverse_length")?;
    d.rank = match opt::<String>(options, "rank")?.as_deref() {
        None | Some("snr") => RankArg::Snr,
        Some("newsnr") => RankArg::Newsnr,
        Some(other) => {
            return Err(value(format!(
                "rank must be \"snr\" or \"newsnr\", got {other:?}"
            )))
        }
    };
    let given = [bank_range.is_some(), bank_file.is_some(), bank_mc.is_some()];
    if given.iter().filter(|&&g| g).count() > 1 {
        return Err(value(
            "give the bank one way: a \"START:STOP:STEP\" range, a file, or an array of chirp masses",
        ));
    }
    a.bank = bank_range;
    a.bank_file = bank_file;
    let bank = match bank_mc {
        Some(m) => BankSpec::List(m.as_array().to_vec()),
        None => spec::bank_of(&a).map_err(to_py)?,
    };
    let strain = match data {
        Some(samples) => {
            let rate = sample_rate
                .ok_or_else(|| value("a data search needs sample_rate (Hz) with data"))?;
            let samples = samples.as_array().to_vec();
            let mut s = StrainInput::from_samples(samples, rate, gps_start, "(numpy array)")
                .map_err(to_py)?;
            s.psd_values = psd_values.map(|p| p.as_array().to_vec());
            Some(s)
        }
        None if psd_values.is_some() || sample_rate.is_some() => {
            return Err(value(
                "sample_rate and a PSD array belong to a data search: pass data= too",
            ))
        }
        None => None,
    };
    let target = if remote {
        Target::Remote
    } else {
        Target::Embedded
    };
    let inner = spec::prepare_with(&a, bank, strain, target).map_err(to_py)?;
    Ok(Prepared { inner })
}
