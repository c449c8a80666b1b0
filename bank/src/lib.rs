//! # chirpfarm-bank
//!
//! Template banks for physical searches (issue 13, physics.md §5):
//!
//! * [`coords`]: chirp times (θ0, θ3) ↔ (M, η) ↔ (m1, m2) — the plane banks are laid in.
//! * [`noise`]: the PSD a bank is built for (analytic aLIGO or a file), at any frequency.
//! * [`metric`]: the match metric g_ij in (θ0, θ3) of the 3.5PN TaylorF2 phase, by quadrature.
//! * [`region`]: the (m1, m2) region to cover (unordered pairs, m1 ≥ m2 on output).
//! * [`place`]: hexagonal lattices with the local metric, strip by strip of chirp mass.
//! * [`matcher`]: exact matches (FFT over time lags, |z| over phase) of TaylorF2 waveforms.
//! * [`check`]: fitting factors of random signals against a bank.
//! * [`file`]: bank files in (CSV/text with named columns, PyCBC HDF5) and out.
//!
//! The waveform itself (phase, ISCO, frequency series) comes from `chirpfarm-waveform`; nothing
//! here knows about the network or the farm.

#![warn(missing_docs)]

pub mod check;
pub mod coords;
pub mod file;
pub mod matcher;
pub mod metric;
pub mod noise;
pub mod place;
pub mod region;

/// Why a bank could not be made, read, written or checked.
///
/// Two kinds because the CLI needs two exit codes: bad input (2) and a failed write (1); the
/// text names the file, flag or line at fault.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
    /// Bad flags, a bad or unreadable bank or PSD file.
    #[error("{0}")]
    Input(String),
    /// The bank could not be written.
    #[error("cannot write the bank: {0}")]
    Write(String),
}
