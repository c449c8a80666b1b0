//! The one error type for invalid input, shared by CLI, coordinator and engine.

/// Why a bank, a signal or a whole search request was rejected.
///
/// Every message names the offending value so a user can fix it without reading code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// A chirp mass that is zero, negative, NaN or infinite.
    #[error("chirp mass must be a positive finite number of solar masses, got {0}")]
    BadMc(f64),
    /// A range bank whose step is zero, negative or not finite.
    #[error("bank step must be a positive finite number, got {0}")]
    BadStep(f64),
    /// A range bank whose start or stop is not finite.
    #[error("bank bounds must be finite numbers, got start {start}, stop {stop}")]
    BadBounds {
        /// The range start as given.
        start: f64,
        /// The range stop as given.
        stop: f64,
    },
    /// A bank that would contain no template at all.
    #[error("the bank is empty: {0}")]
    EmptyBank(String),
    /// A bank with more templates than the configured limit.
    #[error("the bank has {len} templates, more than the limit of {limit} (raise it with --max-templates)")]
    BankTooLarge {
        /// Number of templates the bank would have.
        len: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A `START:STOP:STEP` string that does not parse.
    #[error("cannot parse bank range {0:?}: expected START:STOP:STEP, e.g. 0.8:1.74:0.01")]
    BadRange(String),
    /// A line of a bank file that is not a number.
    #[error("bank file line {line}: {text:?} is not a number")]
    BadBankLine {
        /// 1-based line number.
        line: usize,
        /// The offending text, trimmed.
        text: String,
    },
    /// Template parameters (masses, spins) or a bank-file header that make no sense.
    #[error("{0}")]
    BadParams(String),
    /// A search with no signal.
    #[error("no signal given: pass --signal-mc or --random-signals")]
    NoSignals,
    /// A search with more signals than the configured limit.
    #[error("{len} signals is more than the limit of {limit}")]
    TooManySignals {
        /// Number of signals requested.
        len: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A search whose templates × signals exceed the configured limit.
    #[error("{templates} templates × {signals} signals is more than the limit of {limit} results: split the search")]
    TooManyResults {
        /// Templates in the bank.
        templates: u64,
        /// Signals in the search.
        signals: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A signal delay that is not finite or outside half a segment.
    #[error("signal delay must be finite and within ±32 s (half the 64 s segment), got {0}")]
    BadDelay(f64),
    /// A segmentation of the data that cannot work (length, padding, data too short).
    #[error("{0}")]
    BadSegment(String),
    /// A data search parameter that is out of range (sample rate, PSD size, threshold, ...).
    #[error("{0}")]
    BadData(String),
    /// An SNR convention name that is not known.
    #[error("unknown SNR convention {0:?}: expected \"seed\" or \"physical\"")]
    BadConvention(String),
}
