//! Conversions between generated `chirpfarm.v1` messages and `chirpfarm-core` domain types.

use crate::v1;
use chirpfarm_core::{BankSpec, SearchSpec, SignalSpec, SnrConvention, SpecError};

/// A domain bank as its wire form.
pub fn bank_to_proto(bank: &BankSpec) -> v1::Bank {
    let kind = match bank {
        BankSpec::Range { start, stop, step } => v1::bank::Kind::Range(v1::RangeBank {
            start: *start,
            stop: *stop,
            step: *step,
        }),
        BankSpec::List(mc) => v1::bank::Kind::List(v1::ListBank { mc: mc.clone() }),
    };
    v1::Bank { kind: Some(kind) }
}

/// A wire bank as a domain bank; a bank with neither form is empty.
pub fn bank_from_proto(bank: Option<&v1::Bank>) -> Result<BankSpec, SpecError> {
    match bank.and_then(|b| b.kind.as_ref()) {
        Some(v1::bank::Kind::Range(r)) => Ok(BankSpec::Range {
            start: r.start,
            stop: r.stop,
            step: r.step,
        }),
        Some(v1::bank::Kind::List(l)) => Ok(BankSpec::List(l.mc.clone())),
        None => Err(SpecError::EmptyBank("the request has no bank".into())),
    }
}

/// A domain convention as its wire enum value.
pub fn convention_to_proto(c: SnrConvention) -> i32 {
    match c {
        SnrConvention::Seed => v1::SnrConvention::Seed as i32,
        SnrConvention::Physical => v1::SnrConvention::Physical as i32,
    }
}

/// A wire enum value as a domain convention; unknown values are rejected.
pub fn convention_from_proto(v: i32) -> Result<SnrConvention, SpecError> {
    match v1::SnrConvention::try_from(v) {
        Ok(v1::SnrConvention::Seed) => Ok(SnrConvention::Seed),
        Ok(v1::SnrConvention::Physical) => Ok(SnrConvention::Physical),
        Err(_) => Err(SpecError::BadConvention(v.to_string())),
    }
}

/// A domain search spec as its wire form.
pub fn spec_to_proto(spec: &SearchSpec) -> v1::SearchSpec {
    v1::SearchSpec {
        bank: Some(bank_to_proto(&spec.bank)),
        signals: spec
            .signals
            .iter()
            .map(|s| v1::Signal {
                mc: s.mc,
                delay_seconds: s.delay_seconds,
            })
            .collect(),
        convention: convention_to_proto(spec.convention),
    }
}

/// A wire search spec as a domain spec (structure only; call [`SearchSpec::validate`] for limits).
pub fn spec_from_proto(spec: Option<&v1::SearchSpec>) -> Result<SearchSpec, SpecError> {
    let spec = spec.ok_or(SpecError::NoSignals)?;
    Ok(SearchSpec {
        bank: bank_from_proto(spec.bank.as_ref())?,
        signals: spec
            .signals
            .iter()
            .map(|s| SignalSpec {
                mc: s.mc,
                delay_seconds: s.delay_seconds,
            })
            .collect(),
        convention: convention_from_proto(spec.convention)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips() {
        let spec = SearchSpec {
            bank: BankSpec::List(vec![1.0, 1.25]),
            signals: vec![SignalSpec {
                mc: 1.2,
                delay_seconds: 3.0,
            }],
            convention: SnrConvention::Physical,
        };
        let back = spec_from_proto(Some(&spec_to_proto(&spec))).unwrap();
        assert_eq!(back, spec);
        assert!(convention_from_proto(7).is_err());
        assert!(bank_from_proto(Some(&v1::Bank { kind: None })).is_err());
    }
}
