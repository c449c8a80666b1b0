//! The CLI's errors as Python exceptions, messages unchanged: each row of the exit-code table
//! becomes the exception a Python user expects for it.

use chirpfarm::error::CliError;
use pyo3::exceptions::{
    PyConnectionError, PyKeyboardInterrupt, PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::PyErr;

/// `CliError` → exception: bad input `ValueError`, a refused token `PermissionError`, an
/// unreachable coordinator `ConnectionError`, Ctrl-C `KeyboardInterrupt`, anything else (a
/// failed or cancelled job, a server error) `RuntimeError`.
pub fn to_py(e: CliError) -> PyErr {
    match e {
        CliError::Input(m) => PyValueError::new_err(m),
        CliError::Denied(m) => PyPermissionError::new_err(m),
        CliError::Unreachable(m) => PyConnectionError::new_err(m),
        CliError::Interrupted(m) => PyKeyboardInterrupt::new_err(m),
        CliError::Failed(m) | CliError::Terminated(m) => PyRuntimeError::new_err(m),
    }
}

/// A `ValueError` with `msg`.
pub fn value(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}
