//! Preparing a data search on the machine that has the file: read and validate the strain,
//! estimate (or read) the noise PSD on the segment grid, and name both by content so they can be
//! uploaded once.
//!
//! The PSD is computed here, once per job, not on the workers: the client has the data anyway,
//! and every worker then filters with bit-identical PSD values whatever machine it runs on.

use crate::args::DataArgs;
use crate::error::CliError;
use crate::remote::Conn;
use chirpfarm_core::data::{f64_to_bytes, BLOB_CHUNK_BYTES};
use chirpfarm_core::{BlobRef, DataSpec};
use chirpfarm_proto::v1;
use chirpfarm_strain::psd;
use chirpfarm_strain::read::{read_strain, ReadOptions, Strain};
use std::sync::Arc;

/// A blob to upload: its name and bytes.
#[derive(Debug, Clone)]
pub struct Blob {
    /// SHA-256 and length.
    pub blob: BlobRef,
    /// The bytes.
    pub bytes: Arc<Vec<u8>>,
}

impl Blob {
    fn of_values(values: &[f64]) -> Blob {
        let bytes = f64_to_bytes(values);
        Blob {
            blob: BlobRef::of(&bytes),
            bytes: Arc::new(bytes),
        }
    }
}

/// What the output needs to know about the data, besides the spec.
#[derive(Debug, Clone)]
pub struct DataMeta {
    /// The file searched.
    pub file: String,
    /// How the PSD was obtained (`welch`, `aligo` or the file name).
    pub psd: String,
    /// Samples in the data.
    pub samples: u64,
}

impl DataMeta {
    /// What a watched job knows of its data: only what the coordinator kept (the blobs'
    /// hashes), not the file it came from.
    pub fn uploaded(data: &chirpfarm_core::DataSpec) -> DataMeta {
        DataMeta {
            file: format!(
                "(uploaded to the coordinator: sha256 {})",
                data.strain.hex()
            ),
            psd: format!("(uploaded: sha256 {})", data.psd.hex()),
            samples: data.n_samples(),
        }
    }
}

/// A prepared data search.
#[derive(Debug, Clone)]
pub struct PreparedData {
    /// The spec (its blobs named by content).
    pub spec: DataSpec,
    /// Strain and PSD bytes, to upload.
    pub blobs: Vec<Blob>,
    /// For the output.
    pub meta: DataMeta,
}

/// Seconds × sample rate as a whole number of samples, or an error naming the flag.
fn samples(seconds: f64, rate: f64, flag: &str) -> Result<u64, CliError> {
    let n = seconds * rate;
    if !(n.is_finite() && n >= 0.0 && (n - n.round()).abs() < 1e-9 && n <= (1u64 << 40) as f64) {
        return Err(CliError::Input(format!(
            "{flag} {seconds} s is not a whole number of samples at {rate} Hz"
        )));
    }
    Ok(n.round() as u64)
}

/// Strain to search, with what the output says about where it came from.
#[derive(Debug, Clone)]
pub struct StrainInput {
    /// The samples, rate and start time (validated as a file reader's would be).
    pub strain: Strain,
    /// Names the data in the output: the file, or e.g. `(numpy array)`.
    pub label: String,
    /// A PSD given as values on the segment's frequency grid (one-sided, 1/Hz; `n/2 + 1`
    /// of them), instead of `--psd`.
    pub psd_values: Option<Vec<f64>>,
}

impl StrainInput {
    /// Strain from memory (the Python package's `data=` array): the checks a file reader makes
    /// on what it read — at least one sample, all finite, a power-of-two rate, a finite start.
    pub fn from_samples(
        samples: Vec<f64>,
        sample_rate: f64,
        gps_start: f64,
        label: &str,
    ) -> Result<StrainInput, CliError> {
        if samples.is_empty() {
            return Err(CliError::Input(format!("{label} holds no samples")));
        }
        if let Some(i) = samples.iter().position(|x| !x.is_finite()) {
            return Err(CliError::Input(format!(
                "{label}: sample {i} is not a finite number ({})",
                samples[i]
            )));
        }
        let pow2 = sample_rate.is_finite()
            && sample_rate >= 1.0
            && sample_rate.fract() == 0.0
            && (sample_rate as u64).is_power_of_two();
        if !pow2 {
            return Err(CliError::Input(format!(
                "the sample rate must be a power of two in Hz, got {sample_rate}"
            )));
        }
        if !gps_start.is_finite() {
            return Err(CliError::Input(format!(
                "the GPS start time must be a finite number of seconds, got {gps_start}"
            )));
        }
        Ok(StrainInput {
            strain: Strain {
                samples,
                sample_rate,
                gps_start,
            },
            label: label.to_string(),
            psd_values: None,
        })
    }
}

/// Reads the data file `path` with `a`'s --sample-rate and --gps-start.
pub fn read_data(a: &DataArgs, path: &std::path::Path) -> Result<StrainInput, CliError> {
    let opts = ReadOptions {
        sample_rate: a.sample_rate,
        gps_start: a.gps_start,
        format: None,
    };
    let strain = read_strain(path, &opts).map_err(|e| CliError::Input(e.to_string()))?;
    Ok(StrainInput {
        strain,
        label: path.display().to_string(),
        psd_values: None,
    })
}

/// Reads the data file, builds the PSD and the spec.
pub fn prepare_data(a: &DataArgs) -> Result<PreparedData, CliError> {
    let path = a.data.as_ref().expect("called for data searches");
    prepare_strain(a, read_data(a, path)?)
}

/// Builds the PSD and the spec for strain already read.
pub fn prepare_strain(a: &DataArgs, input: StrainInput) -> Result<PreparedData, CliError> {
    let StrainInput {
        strain,
        label,
        psd_values,
    } = input;
    let psd_given = psd_values.is_some();
    let rate = strain.sample_rate;
    let n = samples(a.segment_length, rate, "--segment-length")?;
    if !n.is_power_of_two() {
        return Err(CliError::Input(format!(
            "--segment-length {} s is {n} samples at {rate} Hz: it must be a power of two",
            a.segment_length
        )));
    }
    let pad = match a.segment_pad {
        Some(p) => samples(p, rate, "--segment-pad")?,
        None => n / 8,
    };
    let cluster = samples(a.cluster_window, rate, "--cluster-window")?.max(1);
    let bins = (n / 2 + 1) as usize;
    let delta_f = rate / n as f64;
    // Check the segmentation before spending time on the PSD.
    chirpfarm_core::segments::segments(strain.samples.len() as u64, n, pad)?;
    if !(a.f_low.is_finite() && a.f_low > 0.0 && a.f_low < rate / 2.0) {
        return Err(CliError::Input(format!(
            "--f-low must be above 0 and below the Nyquist frequency {} Hz, got {}",
            rate / 2.0,
            a.f_low
        )));
    }
    let psd_err = |e: psd::PsdError| CliError::Input(e.to_string());
    let mut values = match (psd_values, a.psd.as_str()) {
        (Some(v), _) => {
            if v.len() != bins {
                return Err(CliError::Input(format!(
                    "the PSD has {} values; the segment's frequency grid has {bins} (n/2 + 1 for {n} samples, Δf = {delta_f} Hz)",
                    v.len()
                )));
            }
            v
        }
        (None, "welch") => {
            let seg = samples(a.psd_segment_length, rate, "--psd-segment-length")? as usize;
            let stride = samples(a.psd_segment_stride, rate, "--psd-segment-stride")? as usize;
            let w = psd::welch(&strain.samples, rate, seg, stride).map_err(psd_err)?;
            psd::interpolate(&w, rate / seg as f64, delta_f, bins)
        }
        (None, "aligo") => psd::aligo_series(bins, delta_f, a.f_low),
        (None, file) => {
            let (f, v) = psd::read_psd_file(std::path::Path::new(file)).map_err(psd_err)?;
            psd::psd_on_grid(&f, &v, bins, delta_f, a.f_low).map_err(psd_err)?
        }
    };
    if let Some(len) = a.psd_inverse_length {
        let taps = samples(len, rate, "--psd-inverse-length")? as usize;
        if taps == 0 || taps as u64 > n {
            return Err(CliError::Input(format!(
                "--psd-inverse-length must be between one sample and the segment ({} s), got {len} s",
                a.segment_length
            )));
        }
        values = psd::inverse_spectrum_truncation(&values, delta_f, taps, Some(a.f_low));
    }
    let k_low = (a.f_low / delta_f) as usize;
    psd::check_band(&values, delta_f, k_low, bins - 1).map_err(psd_err)?;
    let strain_blob = Blob::of_values(&strain.samples);
    let psd_blob = Blob::of_values(&values);
    let spec = DataSpec {
        strain: strain_blob.blob,
        sample_rate: rate,
        gps_start: strain.gps_start,
        psd: psd_blob.blob,
        segment_samples: n,
        pad_samples: pad,
        f_low: a.f_low,
        snr_threshold: a.snr_threshold,
        cluster_samples: cluster,
        chisq_bins: a.chisq_bins,
        rank: match a.rank {
            crate::args::RankArg::Snr => chirpfarm_core::Rank::Snr,
            crate::args::RankArg::Newsnr => chirpfarm_core::Rank::Newsnr,
        },
        newsnr_threshold: a.newsnr_threshold.unwrap_or(0.0),
    };
    spec.validate()?;
    Ok(PreparedData {
        spec,
        blobs: vec![strain_blob, psd_blob],
        meta: DataMeta {
            file: label,
            psd: if psd_given {
                "(array)".into()
            } else {
                a.psd.clone()
            },
            samples: strain.samples.len() as u64,
        },
    })
}

/// Uploads the blobs the coordinator does not have yet, in chunks of at most
/// [`BLOB_CHUNK_BYTES`].
pub async fn upload(conn: &Conn, blobs: &[Blob]) -> Result<(), CliError> {
    let query = v1::BlobQuery {
        blobs: blobs
            .iter()
            .map(|b| chirpfarm_proto::blob_to_proto(&b.blob))
            .collect(),
    };
    let present = conn
        .client()
        .has_blobs(conn.req(query))
        .await
        .map_err(|s| conn.status_error(s))?
        .into_inner()
        .present;
    for (b, here) in blobs
        .iter()
        .zip(present.iter().chain(std::iter::repeat(&false)))
    {
        if *here {
            continue;
        }
        let wire = chirpfarm_proto::blob_to_proto(&b.blob);
        let bytes = b.bytes.clone();
        let n = bytes.len().div_ceil(BLOB_CHUNK_BYTES).max(1);
        let chunks = futures::stream::iter((0..n).map(move |i| {
            let lo = i * BLOB_CHUNK_BYTES;
            let hi = (lo + BLOB_CHUNK_BYTES).min(bytes.len());
            v1::BlobChunk {
                blob: (i == 0).then(|| wire.clone()),
                offset: lo as u64,
                data: bytes[lo..hi].to_vec(),
            }
        }));
        conn.client()
            .upload_blob(conn.stream_req(chunks))
            .await
            .map_err(|s| conn.status_error(s))?;
    }
    Ok(())
}
