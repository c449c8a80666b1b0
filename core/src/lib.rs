//! # chirpfarm-core
//!
//! The vocabulary every other chirpfarm crate speaks, declared exactly once:
//!
//! * [`bank`]: template banks — numpy-`arange`-exact ranges and explicit lists of chirp masses.
//! * [`spec`]: what a search asks for ([`SearchSpec`]): a bank, signals described by parameters, an
//!   SNR convention, and the limits that keep a request sane.
//! * [`result`]: what a search produces: one [`TemplateResult`] per (signal, template), and the
//!   best template of a signal.
//! * [`error`]: [`SpecError`], the single place where "this input is invalid" is decided, so the
//!   CLI, the coordinator and the engine reject the same things with the same words.
//!
//! * [`exit`]: [`ExitKind`], the exit codes of all three binaries and their meaning.
//!
//! * [`data`], [`segments`]: searches over strain data — the [`DataSpec`] (content-addressed
//!   blobs, the segment grid, thresholds), how data is cut into segments, and what comes back
//!   ([`TemplatePeak`], [`Trigger`]).
//!
//! Nothing here does I/O or numerics beyond building a bank; the engine lives in `chirpfarm-worker`.

pub mod bank;
pub mod data;
pub mod error;
pub mod exit;
pub mod logging;
pub mod result;
pub mod segments;
pub mod spec;

pub use bank::{BankSpec, TemplateParams};
pub use data::{BlobRef, DataSpec, Rank, TemplatePeak, Trigger};
pub use error::SpecError;
pub use exit::ExitKind;
pub use result::{best_template, BestTemplate, TemplateResult};
pub use segments::Segment;
pub use spec::{
    random_signals, validate_mc, Approximant, Limits, SearchSpec, SignalSpec, SnrConvention,
};
