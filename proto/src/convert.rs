//! Conversions between generated `chirpfarm.v1` messages and `chirpfarm-core` domain types.

use crate::v1;
use chirpfarm_core::{
    Approximant, BankSpec, BlobRef, DataSpec, Rank, SearchSpec, SignalSpec, SnrConvention,
    SpecError, TemplateParams, TemplateResult,
};

/// A domain blob reference as its wire form.
pub fn blob_to_proto(b: &BlobRef) -> v1::BlobRef {
    v1::BlobRef {
        sha256: b.digest.to_vec(),
        len: b.len,
    }
}

/// A wire blob reference as a domain one; the digest must be 32 bytes.
pub fn blob_from_proto(b: Option<&v1::BlobRef>) -> Result<BlobRef, SpecError> {
    let b = b.ok_or_else(|| SpecError::BadData("a blob reference is missing".into()))?;
    let digest: [u8; 32] = b.sha256.as_slice().try_into().map_err(|_| {
        SpecError::BadData(format!(
            "a blob digest must be 32 bytes (SHA-256), got {}",
            b.sha256.len()
        ))
    })?;
    Ok(BlobRef { digest, len: b.len })
}

/// A domain data spec as its wire form.
pub fn data_to_proto(d: &DataSpec) -> v1::DataSpec {
    v1::DataSpec {
        strain: Some(blob_to_proto(&d.strain)),
        sample_rate: d.sample_rate,
        gps_start: d.gps_start,
        psd: Some(blob_to_proto(&d.psd)),
        segment_samples: d.segment_samples,
        pad_samples: d.pad_samples,
        f_low: d.f_low,
        snr_threshold: d.snr_threshold,
        cluster_samples: d.cluster_samples,
        chisq_bins: d.chisq_bins,
        rank: match d.rank {
            Rank::Snr => v1::TriggerRank::Snr,
            Rank::Newsnr => v1::TriggerRank::Newsnr,
        } as i32,
        newsnr_threshold: d.newsnr_threshold,
    }
}

/// A wire data spec as a domain one (structure only; [`DataSpec::validate`] checks numbers).
pub fn data_from_proto(d: &v1::DataSpec) -> Result<DataSpec, SpecError> {
    Ok(DataSpec {
        strain: blob_from_proto(d.strain.as_ref())?,
        sample_rate: d.sample_rate,
        gps_start: d.gps_start,
        psd: blob_from_proto(d.psd.as_ref())?,
        segment_samples: d.segment_samples,
        pad_samples: d.pad_samples,
        f_low: d.f_low,
        snr_threshold: d.snr_threshold,
        cluster_samples: d.cluster_samples,
        chisq_bins: d.chisq_bins,
        rank: match v1::TriggerRank::try_from(d.rank) {
            Ok(v1::TriggerRank::Snr) => Rank::Snr,
            Ok(v1::TriggerRank::Newsnr) => Rank::Newsnr,
            Err(_) => return Err(SpecError::BadData(format!("unknown rank {}", d.rank))),
        },
        newsnr_threshold: d.newsnr_threshold,
    })
}

/// A domain bank as its wire form.
pub fn bank_to_proto(bank: &BankSpec) -> v1::Bank {
    let kind = match bank {
        BankSpec::Range { start, stop, step } => v1::bank::Kind::Range(v1::RangeBank {
            start: *start,
            stop: *stop,
            step: *step,
        }),
        BankSpec::List(mc) => v1::bank::Kind::List(v1::ListBank { mc: mc.clone() }),
        BankSpec::Params(p) => v1::bank::Kind::Params(v1::ParamBank {
            mass1: p.iter().map(|t| t.mass1).collect(),
            mass2: p.iter().map(|t| t.mass2).collect(),
            spin1z: p.iter().map(|t| t.spin1z).collect(),
            spin2z: p.iter().map(|t| t.spin2z).collect(),
        }),
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
        Some(v1::bank::Kind::Params(p)) => {
            let n = p.mass1.len();
            let spin_ok = |s: &Vec<f64>| s.is_empty() || s.len() == n;
            if p.mass2.len() != n || !spin_ok(&p.spin1z) || !spin_ok(&p.spin2z) {
                return Err(SpecError::BadParams(format!(
                    "a parameter bank's columns differ in length: mass1 {n}, mass2 {}, spin1z {}, spin2z {}",
                    p.mass2.len(),
                    p.spin1z.len(),
                    p.spin2z.len()
                )));
            }
            let spin = |s: &Vec<f64>, i: usize| s.get(i).copied().unwrap_or(0.0);
            Ok(BankSpec::Params(
                (0..n)
                    .map(|i| TemplateParams {
                        mass1: p.mass1[i],
                        mass2: p.mass2[i],
                        spin1z: spin(&p.spin1z, i),
                        spin2z: spin(&p.spin2z, i),
                    })
                    .collect(),
            ))
        }
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

/// A domain approximant as its wire enum value.
pub fn approximant_to_proto(a: Approximant) -> i32 {
    match a {
        Approximant::Newtonian => v1::Approximant::Newtonian as i32,
        Approximant::TaylorF2 => v1::Approximant::Taylorf2 as i32,
    }
}

/// A wire enum value as a domain approximant; unknown values are rejected (a newer client's
/// waveform must not silently become Newtonian).
pub fn approximant_from_proto(v: i32) -> Result<Approximant, SpecError> {
    match v1::Approximant::try_from(v) {
        Ok(v1::Approximant::Newtonian) => Ok(Approximant::Newtonian),
        Ok(v1::Approximant::Taylorf2) => Ok(Approximant::TaylorF2),
        Err(_) => Err(SpecError::BadParams(format!(
            "unknown approximant {v} on the wire: expected 0 (newtonian) or 1 (taylorf2)"
        ))),
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
        data: spec.data.as_ref().map(data_to_proto),
        approximant: approximant_to_proto(spec.approximant),
        f_final: spec.f_final.unwrap_or(0.0),
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
        data: spec.data.as_ref().map(data_from_proto).transpose()?,
        approximant: approximant_from_proto(spec.approximant)?,
        // 0 = unset; anything else (incl. NaN or negative) is kept for validate() to reject.
        f_final: (spec.f_final != 0.0).then_some(spec.f_final),
    })
}

/// One signal's results for consecutive templates, as the wire's column block.
pub fn signal_block(results: &[TemplateResult]) -> v1::SignalBlock {
    v1::SignalBlock {
        snr: results.iter().map(|r| r.snr).collect(),
        lag_seconds: results.iter().map(|r| r.lag_seconds).collect(),
    }
}

/// A signal search's results for bank templates `[start, start + n)` as one result block:
/// `per_signal[s]` holds signal `s`'s `n` results (every signal the same `n`).
pub fn signal_result_block(start: u64, per_signal: &[Vec<TemplateResult>]) -> v1::ResultBlock {
    v1::ResultBlock {
        start,
        count: per_signal.first().map_or(0, |r| r.len() as u32),
        signals: per_signal.iter().map(|r| signal_block(r)).collect(),
        ..Default::default()
    }
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
            data: None,
            approximant: Approximant::Newtonian,
            f_final: None,
        };
        let back = spec_from_proto(Some(&spec_to_proto(&spec))).unwrap();
        assert_eq!(back, spec);
        let f2 = SearchSpec {
            approximant: Approximant::TaylorF2,
            f_final: Some(512.0),
            ..spec.clone()
        };
        assert_eq!(spec_from_proto(Some(&spec_to_proto(&f2))).unwrap(), f2);
        assert!(approximant_from_proto(9).is_err());
        let params = BankSpec::Params(vec![TemplateParams {
            mass1: 1.4,
            mass2: 1.3,
            spin1z: 0.1,
            spin2z: -0.2,
        }]);
        assert_eq!(
            bank_from_proto(Some(&bank_to_proto(&params))).unwrap(),
            params
        );
        let ragged = v1::Bank {
            kind: Some(v1::bank::Kind::Params(v1::ParamBank {
                mass1: vec![1.0, 2.0],
                mass2: vec![1.0],
                ..Default::default()
            })),
        };
        assert!(bank_from_proto(Some(&ragged)).is_err());
        assert!(convention_from_proto(7).is_err());
        assert!(bank_from_proto(Some(&v1::Bank { kind: None })).is_err());
    }
}
