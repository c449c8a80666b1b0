//! Results as numpy arrays: each column is built once in Rust and handed to numpy without a
//! copy (`PyArray::from_vec` takes the vector's buffer).

use chirpfarm::data_output::DataReport;
use chirpfarm_core::{best_template, TemplateResult};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A `rows × cols` float64 array from a row-major vector.
fn matrix<'py>(
    py: Python<'py>,
    v: Vec<f64>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, v).reshape([rows, cols])?.into_any())
}

/// `snr` and `lag` (signals × templates) of `results[signal][template]`, `cols` templates each.
pub fn snr_lag<'py>(
    py: Python<'py>,
    results: &[Vec<TemplateResult>],
    cols: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let rows = results.len();
    let snr: Vec<f64> = results.iter().flatten().map(|r| r.snr).collect();
    let lag: Vec<f64> = results.iter().flatten().map(|r| r.lag_seconds).collect();
    d.set_item("snr", matrix(py, snr, rows, cols)?)?;
    d.set_item("lag", matrix(py, lag, rows, cols)?)?;
    Ok(d)
}

/// A signal search's arrays: `snr`, `lag` (signals × templates, bank order) and per signal the
/// best template as the CLI picks it (`best_index`, -1 where no template has a number).
pub fn signal_results<'py>(
    py: Python<'py>,
    results: &[Vec<TemplateResult>],
    templates: usize,
) -> PyResult<Bound<'py, PyDict>> {
    if results.iter().any(|r| r.len() != templates) {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "results of the wrong length (a template is missing)",
        ));
    }
    let d = snr_lag(py, results, templates)?;
    let best: Vec<i64> = results
        .iter()
        .map(|r| best_template(r).map_or(-1, |b| b.template_index as i64))
        .collect();
    d.set_item("best_index", PyArray1::from_vec(py, best))?;
    Ok(d)
}

/// A data search's columns: `triggers` and `templates` (per-template peaks), each a dict of
/// equal-length arrays, with the same names and values as the CLI's JSON (schema 2).
pub fn data_results<'py>(py: Python<'py>, r: &DataReport) -> PyResult<Bound<'py, PyDict>> {
    let t = &r.triggers;
    let trig = PyDict::new(py);
    let col = |f: &dyn Fn(&chirpfarm_core::Trigger) -> f64| t.iter().map(f).collect::<Vec<f64>>();
    trig.set_item(
        "template_index",
        PyArray1::from_vec(py, t.iter().map(|x| x.template as i64).collect()),
    )?;
    trig.set_item(
        "mc",
        PyArray1::from_vec(py, col(&|x| r.masses[x.template as usize])),
    )?;
    trig.set_item(
        "segment",
        PyArray1::from_vec(py, t.iter().map(|x| x.segment as i64).collect()),
    )?;
    trig.set_item(
        "time",
        PyArray1::from_vec(py, col(&|x| r.spec.time_of(x.sample))),
    )?;
    trig.set_item("snr", PyArray1::from_vec(py, col(&|x| x.snr)))?;
    trig.set_item("phase", PyArray1::from_vec(py, col(&|x| x.phase)))?;
    trig.set_item("sigmasq", PyArray1::from_vec(py, col(&|x| x.sigmasq)))?;
    trig.set_item("chisq", PyArray1::from_vec(py, col(&|x| x.chisq)))?;
    trig.set_item(
        "chisq_dof",
        PyArray1::from_vec(py, t.iter().map(|x| x.chisq_dof as i64).collect()),
    )?;
    trig.set_item(
        "reduced_chisq",
        PyArray1::from_vec(py, col(&|x| x.reduced_chisq())),
    )?;
    trig.set_item("newsnr", PyArray1::from_vec(py, col(&|x| x.newsnr)))?;
    let p = &r.peaks;
    let peaks = PyDict::new(py);
    peaks.set_item("mc", PyArray1::from_slice(py, &r.masses))?;
    peaks.set_item(
        "max_snr",
        PyArray1::from_vec(py, p.iter().map(|x| x.snr).collect()),
    )?;
    peaks.set_item(
        "max_time",
        PyArray1::from_vec(py, p.iter().map(|x| r.spec.time_of(x.sample)).collect()),
    )?;
    peaks.set_item(
        "chisq",
        PyArray1::from_vec(py, p.iter().map(|x| x.chisq).collect()),
    )?;
    peaks.set_item(
        "newsnr",
        PyArray1::from_vec(py, p.iter().map(|x| x.newsnr).collect()),
    )?;
    let d = PyDict::new(py);
    d.set_item("triggers", trig)?;
    d.set_item("templates", peaks)?;
    d.set_item("segments", r.segments)?;
    d.set_item("wall_seconds", r.wall_seconds)?;
    d.set_item("workers", r.workers)?;
    d.set_item("job_id", &r.job_id)?;
    d.set_item("with_chisq", r.spec.chisq_bins > 0)?;
    d.set_item("json", r.to_json().to_string())?;
    Ok(d)
}
