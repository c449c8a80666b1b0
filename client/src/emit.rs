//! Printing a finished search: the report in the format the flags ask for (table, CSV, or JSON
//! that never holds `null`), the `--plot` file, and a submitted job's id.

use crate::args::OutputArgs;
use crate::error::CliError;
use crate::output::Formats;
use crate::plot::Plot;

/// The path of the first `null` in a JSON document (serde_json writes NaN and infinities as
/// `null`), if any.
fn find_null(v: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::Null => Some(if path.is_empty() {
            "/".into()
        } else {
            path.into()
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_null(x, &format!("{path}/{i}"))),
        Value::Object(o) => o
            .iter()
            .find_map(|(k, x)| find_null(x, &format!("{path}/{k}"))),
        _ => None,
    }
}

/// The report as JSON, refused when a number in it is not finite: a script reading `null`
/// where a number belongs would misread it, so the outputs omit the fields they cannot fill
/// and anything left is an error.
pub(crate) fn json_bytes(report: &impl Formats) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    report
        .write_json(&mut buf)
        .map_err(|e| CliError::Failed(format!("cannot write output: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&buf)
        .map_err(|e| CliError::Failed(format!("the JSON output does not parse: {e}")))?;
    if let Some(path) = find_null(&v, "") {
        return Err(CliError::Failed(format!(
            "the results hold a number that is not finite (NaN or infinity) at {path}: refusing to print it as null"
        )));
    }
    Ok(buf)
}

/// Writes a report to stdout in the format the flags ask for, flushing, with one error message
/// for all formats; then draws it to the `--plot` file, if any. A closed stdout (`| head`) ends
/// it quietly (see [`crate::stdout`]).
pub(crate) fn emit(report: &(impl Formats + Plot), output: &OutputArgs) -> Result<(), CliError> {
    let json = if output.json {
        Some(json_bytes(report)?)
    } else {
        None
    };
    crate::stdout::write(|out| {
        if let Some(bytes) = &json {
            out.write_all(bytes)
        } else if output.csv {
            report.write_csv(out)
        } else {
            report.write_table(out)
        }
    })?;
    match &output.plot {
        Some(target) => crate::plot::write(report, target),
        None => Ok(()),
    }
}

/// Prints a submitted job's id: `job-N`, or `{"job":"job-N"}` with `--json`.
pub(crate) fn print_job_id(job_id: &str, json: bool) -> Result<(), CliError> {
    if json {
        crate::stdout::line(&serde_json::json!({ "job": job_id }).to_string())
    } else {
        crate::stdout::line(job_id)
    }
}
