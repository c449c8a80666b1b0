//! Searches over strain data: what a data search asks for ([`DataSpec`]) and what it produces
//! ([`TemplatePeak`], [`Trigger`]).
//!
//! The samples and the noise spectrum do not travel inside the spec: they are uploaded once as
//! content-addressed blobs ([`BlobRef`]: a SHA-256 digest and a length) and every worker fetches
//! and verifies them before filtering. The spec stays a few hundred bytes whatever the data size.

use crate::error::SpecError;
use crate::segments::{segments, Segment};
use serde::{Deserialize, Serialize};

/// Size of one chunk when a blob travels (upload to the coordinator, fetch by a worker): no
/// message is larger than this plus a few bytes of framing.
pub const BLOB_CHUNK_BYTES: usize = 1 << 20;

/// Most power χ² bins a data search accepts (PyCBC's searches use 16–26).
pub const MAX_CHISQ_BINS: u32 = 256;

/// Most samples a data search accepts (2^30, 8 GiB of f64: 3 days at 4096 Hz).
pub const MAX_DATA_SAMPLES: u64 = 1 << 30;

/// A blob of bytes named by its content: SHA-256 of the bytes, and their length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlobRef {
    /// SHA-256 of the contents.
    pub digest: [u8; 32],
    /// Length in bytes.
    pub len: u64,
}

impl BlobRef {
    /// The reference of `bytes`: their SHA-256 and length.
    pub fn of(bytes: &[u8]) -> BlobRef {
        use sha2::Digest;
        BlobRef {
            digest: sha2::Sha256::digest(bytes).into(),
            len: bytes.len() as u64,
        }
    }

    /// Whether `bytes` are exactly this blob (length and SHA-256).
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.len && BlobRef::of(bytes).digest == self.digest
    }

    /// The digest as 64 lowercase hex digits (file names, logs, messages).
    pub fn hex(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Everything a worker needs to filter a job's templates against its data, besides the bank.
///
/// Samples are f64 little-endian (the strain blob); the PSD is the one-sided noise power spectral
/// density on the segment's frequency grid, `len/2 + 1` f64 little-endian values at
/// `k · sample_rate / len` Hz, of which only the filter band `[k_low, len/2)` is used
/// (`k_low = floor(f_low / Δf)`, as PyCBC's `get_cutoff_indices`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// The strain samples.
    pub strain: BlobRef,
    /// Samples per second (a power of two).
    pub sample_rate: f64,
    /// GPS time of the first sample.
    pub gps_start: f64,
    /// The PSD on the segment grid.
    pub psd: BlobRef,
    /// Samples per analysis segment (a power of two, 2^12..2^22).
    pub segment_samples: u64,
    /// Samples discarded at each end of a segment.
    pub pad_samples: u64,
    /// Lower frequency cut-off of the filter, Hz.
    pub f_low: f64,
    /// Triggers are samples with |SNR| ≥ this.
    pub snr_threshold: f64,
    /// Clustering window in samples: the loudest sample of each window of this many analysed
    /// samples is a trigger (PyCBC's `threshold_and_cluster`).
    pub cluster_samples: u64,
    /// Power χ² bins per trigger (PyCBC's `power_chisq`); 0: no χ² (specs from before χ²).
    #[serde(default)]
    pub chisq_bins: u32,
    /// What orders the output and picks each template's best: SNR, or newSNR (needs χ²).
    #[serde(default)]
    pub rank: Rank,
    /// Triggers whose newSNR is below this are dropped after the χ² (pycbc_inspiral's
    /// `--newsnr-threshold`); 0 keeps every trigger above the SNR threshold.
    #[serde(default)]
    pub newsnr_threshold: f64,
}

/// PyCBC's `newsnr(snr, reduced_x2)` with its defaults `q = 6, n = 2`: the SNR reweighted by
/// the reduced χ², `ρ · ((1 + χ_r³)/2)^(−1/6)` when `χ_r > 1`, else `ρ` (arXiv:1208.3491).
pub fn newsnr(snr: f64, reduced_chisq: f64) -> f64 {
    if reduced_chisq > 1.0 {
        snr * (0.5 * (1.0 + reduced_chisq.powf(3.0))).powf(-1.0 / 6.0)
    } else {
        snr
    }
}

/// Degrees of freedom of the power χ² with `bins` bins, `2P − 2` (0 for no χ²).
pub fn chisq_dof(bins: u32) -> u32 {
    (2 * bins).saturating_sub(2)
}

/// The ranking statistic of a data search. PyCBC thresholds and clusters on SNR, then ranks
/// by newSNR; so does chirpfarm: the rank only changes the order of the output and which
/// sample is a template's best, never which samples are triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Rank {
    /// |z|, the matched-filter SNR.
    #[default]
    Snr,
    /// PyCBC's reweighted SNR (`newsnr`, q = 6, n = 2), from the power χ².
    Newsnr,
}

impl Rank {
    /// The statistic of a peak or trigger under this rank.
    pub fn of(self, snr: f64, newsnr: f64) -> f64 {
        match self {
            Rank::Snr => snr,
            Rank::Newsnr => newsnr,
        }
    }
}

impl DataSpec {
    /// Number of strain samples (the strain blob's length / 8).
    pub fn n_samples(&self) -> u64 {
        self.strain.len / 8
    }

    /// Frequency resolution of a segment, Hz.
    pub fn delta_f(&self) -> f64 {
        self.sample_rate / self.segment_samples as f64
    }

    /// First bin of the filter band.
    pub fn k_low(&self) -> usize {
        (self.f_low / self.delta_f()) as usize
    }

    /// The segments of the search.
    pub fn segments(&self) -> Result<Vec<Segment>, SpecError> {
        segments(self.n_samples(), self.segment_samples, self.pad_samples)
    }

    /// GPS time of data sample `sample`.
    pub fn time_of(&self, sample: u64) -> f64 {
        self.gps_start + sample as f64 / self.sample_rate
    }

    /// Checks every number and returns the segments.
    pub fn validate(&self) -> Result<Vec<Segment>, SpecError> {
        let bad = |m: String| Err(SpecError::BadData(m));
        if !self.strain.len.is_multiple_of(8) || self.strain.len == 0 {
            return bad(format!(
                "the strain blob has {} bytes, not a whole number of f64 samples",
                self.strain.len
            ));
        }
        if self.n_samples() > MAX_DATA_SAMPLES {
            return bad(format!(
                "{} samples is more than the limit of {MAX_DATA_SAMPLES}",
                self.n_samples()
            ));
        }
        validate_sample_rate(self.sample_rate)?;
        if !self.gps_start.is_finite() {
            return bad(format!("GPS start must be finite, got {}", self.gps_start));
        }
        let segs = self.segments()?;
        let bins = self.segment_samples / 2 + 1;
        if self.psd.len != bins * 8 {
            return bad(format!(
                "the PSD has {} bytes, expected {} values ({} bytes) for {}-sample segments",
                self.psd.len,
                bins,
                bins * 8,
                self.segment_samples
            ));
        }
        let nyquist = self.sample_rate / 2.0;
        if !(self.f_low.is_finite() && self.f_low > 0.0 && self.f_low < nyquist) {
            return bad(format!(
                "--f-low must be above 0 Hz and below the Nyquist frequency {nyquist} Hz, got {}",
                self.f_low
            ));
        }
        if self.k_low() < 1 {
            return bad(format!(
                "--f-low {} Hz is below one frequency bin ({} Hz) of the segment",
                self.f_low,
                self.delta_f()
            ));
        }
        if !(self.snr_threshold.is_finite() && self.snr_threshold > 0.0) {
            return bad(format!(
                "--snr-threshold must be a positive number, got {}",
                self.snr_threshold
            ));
        }
        if self.cluster_samples == 0 || self.cluster_samples > self.segment_samples {
            return bad(format!(
                "the clustering window must be between 1 sample and one segment ({} samples), got {} samples",
                self.segment_samples, self.cluster_samples
            ));
        }
        if self.chisq_bins == 1 || self.chisq_bins > MAX_CHISQ_BINS {
            return bad(format!(
                "--chisq-bins must be 0 (off) or between 2 and {MAX_CHISQ_BINS}, got {}",
                self.chisq_bins
            ));
        }
        if self.chisq_bins as u64 > self.segment_samples / 2 {
            return bad(format!(
                "--chisq-bins {} is more than the segment's {} frequency bins",
                self.chisq_bins,
                self.segment_samples / 2
            ));
        }
        if self.rank == Rank::Newsnr && self.chisq_bins == 0 {
            return bad("--rank newsnr needs the χ² (--chisq-bins 2 or more)".into());
        }
        if !(self.newsnr_threshold.is_finite() && self.newsnr_threshold >= 0.0)
            || (self.newsnr_threshold > 0.0 && self.chisq_bins == 0)
        {
            return bad(format!(
                "--newsnr-threshold must be a number ≥ 0 and needs --chisq-bins, got {}",
                self.newsnr_threshold
            ));
        }
        Ok(segs)
    }
}

/// f64 values as the little-endian bytes of a blob.
pub fn f64_to_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A blob's little-endian bytes as f64 values (a trailing partial value is an error).
pub fn f64_from_bytes(bytes: &[u8]) -> Result<Vec<f64>, SpecError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(SpecError::BadData(format!(
            "{} bytes is not a whole number of f64 values",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// Checks that a sample rate is a positive power of two (in Hz).
pub fn validate_sample_rate(rate: f64) -> Result<(), SpecError> {
    let ok = rate.is_finite()
        && rate >= 1.0
        && rate <= (1u64 << 20) as f64
        && rate.fract() == 0.0
        && (rate as u64).is_power_of_two();
    if ok {
        Ok(())
    } else {
        Err(SpecError::BadData(format!(
            "the sample rate must be a power of two in Hz (e.g. 2048 or 4096), got {rate}"
        )))
    }
}

/// The loudest analysed sample of one template over a set of segments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct TemplatePeak {
    /// max |z| over the analysed samples.
    pub snr: f64,
    /// Its data sample index (the earliest on ties).
    pub sample: u64,
    /// Power χ² at that sample (0 without χ²).
    #[serde(default)]
    pub chisq: f64,
    /// newSNR at that sample (= `snr` without χ²).
    #[serde(default)]
    pub newsnr: f64,
}

impl TemplatePeak {
    /// Keeps the louder of two peaks; the earlier sample wins ties, so the result does not
    /// depend on the order peaks are merged in.
    pub fn merge(self, other: TemplatePeak) -> TemplatePeak {
        self.merge_by(other, Rank::Snr)
    }

    /// [`TemplatePeak::merge`] by the statistic of `rank` (with `--rank newsnr` a template's
    /// best is its sample of highest newSNR).
    pub fn merge_by(self, other: TemplatePeak, rank: Rank) -> TemplatePeak {
        let (a, b) = (
            rank.of(self.snr, self.newsnr),
            rank.of(other.snr, other.newsnr),
        );
        if b > a || (b == a && other.sample < self.sample) {
            other
        } else {
            self
        }
    }
}

/// One trigger: a clustered SNR maximum above threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Template index in the bank.
    pub template: u64,
    /// Analysis segment it was found in.
    pub segment: u32,
    /// Data sample index of the peak (time = GPS start + sample / sample rate).
    pub sample: u64,
    /// |z| at the peak.
    pub snr: f64,
    /// arg z at the peak, radians in (−π, π]: the coalescence phase.
    pub phase: f64,
    /// The template's σ² = 4Δf Σ|h̃|²/S over the band.
    pub sigmasq: f64,
    /// Power χ² at the peak (PyCBC's `power_chisq`); 0 without χ².
    #[serde(default)]
    pub chisq: f64,
    /// Its degrees of freedom, 2P − 2 (0: no χ²). PyCBC's trigger files store P instead.
    #[serde(default)]
    pub chisq_dof: u32,
    /// PyCBC's `newsnr(snr, chisq / chisq_dof)`; = `snr` without χ².
    #[serde(default)]
    pub newsnr: f64,
}

impl Trigger {
    /// The canonical order of triggers in a search's output: by segment, template, then sample.
    pub fn order_key(&self) -> (u32, u64, u64) {
        (self.segment, self.template, self.sample)
    }

    /// Checks the numbers a worker sent: finite, non-negative SNR, phase in range.
    pub fn is_valid(&self) -> bool {
        self.snr.is_finite()
            && self.snr >= 0.0
            && self.phase.is_finite()
            && self.phase.abs() <= std::f64::consts::PI + 1e-12
            && self.sigmasq.is_finite()
            && self.sigmasq > 0.0
            && self.chisq.is_finite()
            && self.chisq >= 0.0
            && self.newsnr.is_finite()
            && self.newsnr >= 0.0
            && self.newsnr <= self.snr * (1.0 + 1e-12)
    }

    /// The reduced χ², χ²/(2P − 2) (0 without χ²).
    pub fn reduced_chisq(&self) -> f64 {
        if self.chisq_dof == 0 {
            0.0
        } else {
            self.chisq / self.chisq_dof as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_named_by_content() {
        let v = [1.5, -2.0, 1e-21];
        let bytes = f64_to_bytes(&v);
        assert_eq!(f64_from_bytes(&bytes).unwrap(), v);
        let r = BlobRef::of(&bytes);
        assert!(r.matches(&bytes));
        let mut other = bytes.clone();
        other[3] ^= 1;
        assert!(!r.matches(&other));
        assert_eq!(
            BlobRef::of(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(f64_from_bytes(&[0; 7]).is_err());
    }

    #[test]
    fn sample_rates() {
        for ok in [1.0, 1024.0, 2048.0, 16384.0] {
            assert!(validate_sample_rate(ok).is_ok(), "{ok}");
        }
        for bad in [0.0, -4096.0, 1000.0, 2048.5, f64::NAN, f64::INFINITY] {
            assert!(validate_sample_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn peaks_merge_independently_of_order() {
        let p = |snr, sample| TemplatePeak {
            snr,
            sample,
            chisq: 0.0,
            newsnr: snr,
        };
        let (a, b, c) = (p(5.0, 10), p(5.0, 3), p(4.0, 1));
        assert_eq!(a.merge(b), b);
        assert_eq!(b.merge(a), b);
        assert_eq!(a.merge(c).merge(b), c.merge(b).merge(a));
        // By newSNR, a quieter peak with a better χ² wins over a louder, glitchy one.
        let glitchy = TemplatePeak {
            chisq: 40.0,
            newsnr: 3.0,
            ..p(5.0, 10)
        };
        let d = p(4.5, 20);
        assert_eq!(glitchy.merge_by(d, Rank::Newsnr), d);
        assert_eq!(d.merge_by(glitchy, Rank::Newsnr), d);
        assert_eq!(glitchy.merge_by(d, Rank::Snr), glitchy);
    }
}
