//! Running a data-search lease on a worker: fetching the job's strain and PSD blobs once
//! (verified against their SHA-256, kept in the [`DataCache`] across jobs), conditioning each
//! segment once, filtering a block of templates against a block of segments with the
//! [`DataEngine`], and packing what was found in the wire's column layout.

use crate::data_cache::{DataCache, DataItem, DataKey};
use crate::engine::data::{
    condition_segment, BankTemplate, DataEngine, DataGrid, SegmentRef, TriggerOptions,
};
use chirpfarm_core::data::f64_from_bytes;
use chirpfarm_core::{BlobRef, DataSpec, Segment, Trigger};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::worker_session_client::WorkerSessionClient;
use std::sync::Arc;

/// A data search the worker was told about: its spec, segments and grid, and its data once
/// fetched.
pub struct DataJob {
    /// The spec as received.
    pub spec: DataSpec,
    /// Its analysis segments.
    pub segments: Vec<Segment>,
    /// The segment's frequency grid.
    pub grid: DataGrid,
    /// The strain and PSD once fetched (a failed fetch leaves `None`: the next lease retries).
    loaded: tokio::sync::Mutex<Option<Loaded>>,
}

/// A job's data, verified and decoded.
#[derive(Clone)]
pub struct Loaded {
    /// Strain samples.
    pub strain: Arc<Vec<f64>>,
    /// PSD on the segment grid.
    pub psd: Arc<Vec<f64>>,
}

impl DataJob {
    /// Checks a received spec (the same rules the coordinator applied).
    pub fn new(spec: DataSpec) -> Result<DataJob, String> {
        let segments = spec.validate().map_err(|e| e.to_string())?;
        let grid = DataGrid::new(spec.segment_samples as usize, spec.sample_rate, spec.f_low);
        Ok(DataJob {
            spec,
            segments,
            grid,
            loaded: tokio::sync::Mutex::new(None),
        })
    }

    /// The job's data: from this job, from the worker's cache, or fetched from the coordinator.
    pub async fn load(
        &self,
        cache: &DataCache,
        channel: Option<tonic::transport::Channel>,
        token: Option<&str>,
    ) -> Result<Loaded, String> {
        let mut slot = self.loaded.lock().await;
        if let Some(l) = slot.as_ref() {
            return Ok(l.clone());
        }
        let strain = load_blob(cache, &channel, token, &self.spec.strain).await?;
        let psd = load_blob(cache, &channel, token, &self.spec.psd).await?;
        let loaded = Loaded { strain, psd };
        *slot = Some(loaded.clone());
        Ok(loaded)
    }
}

/// A blob's values from the cache, or fetched, verified and cached.
async fn load_blob(
    cache: &DataCache,
    channel: &Option<tonic::transport::Channel>,
    token: Option<&str>,
    blob: &BlobRef,
) -> Result<Arc<Vec<f64>>, String> {
    if let Some(v) = cache.values(&blob.digest) {
        return Ok(v);
    }
    let channel = channel
        .clone()
        .ok_or("not connected to the coordinator: cannot fetch data")?;
    let bytes = fetch_blob(channel, token, blob).await?;
    let values = Arc::new(f64_from_bytes(&bytes).map_err(|e| e.to_string())?);
    cache.insert(DataKey::Blob(blob.digest), DataItem::Values(values.clone()));
    Ok(values)
}

/// Fetches a blob from the coordinator in chunks and verifies it (length and SHA-256): a worker
/// never filters data whose digest it has not checked.
pub async fn fetch_blob(
    channel: tonic::transport::Channel,
    token: Option<&str>,
    blob: &BlobRef,
) -> Result<Vec<u8>, String> {
    let mut client = WorkerSessionClient::new(channel);
    let mut req = tonic::Request::new(v1::BlobRequest {
        blob: Some(chirpfarm_proto::blob_to_proto(blob)),
    });
    chirpfarm_proto::auth::attach_token(&mut req, token);
    let what = format!("blob {}", blob.hex());
    let mut stream = client
        .fetch_blob(req)
        .await
        .map_err(|s| format!("cannot fetch {what}: {}", s.message()))?
        .into_inner();
    let cap = usize::try_from(blob.len).map_err(|_| format!("{what} is too large"))?;
    let mut bytes = Vec::with_capacity(cap);
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|s| format!("fetching {what}: {}", s.message()))?
    {
        if chunk.offset != bytes.len() as u64
            || chunk.data.len() > chirpfarm_core::data::BLOB_CHUNK_BYTES
            || bytes.len() + chunk.data.len() > cap
        {
            return Err(format!(
                "fetching {what}: malformed chunk at offset {}",
                chunk.offset
            ));
        }
        bytes.extend_from_slice(&chunk.data);
    }
    if !blob.matches(&bytes) {
        return Err(format!(
            "{what}: the {} bytes received do not match its SHA-256",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// Filters bank templates `templates` (starting at bank index `first`) against segments
/// `[seg_start, seg_start + seg_count)` and returns the task's result.
pub fn run_data_lease(
    engine: &DataEngine,
    cache: &DataCache,
    job: &DataJob,
    data: &Loaded,
    first: u64,
    templates: &[BankTemplate],
    (seg_start, seg_count): (u32, u32),
) -> Result<v1::DataResult, String> {
    let segs = job
        .segments
        .get(seg_start as usize..(seg_start as usize).saturating_add(seg_count as usize))
        .ok_or_else(|| format!("lease segments {seg_start}+{seg_count} are outside the data"))?;
    let n = job.spec.segment_samples;
    let conditioned: Vec<_> = segs
        .iter()
        .map(|s| {
            let key = DataKey::Segment {
                strain: job.spec.strain.digest,
                psd: job.spec.psd.digest,
                n,
                rate_bits: job.spec.sample_rate.to_bits(),
                f_low_bits: job.spec.f_low.to_bits(),
                start: s.start,
            };
            if let Some(c) = cache.segment(&key) {
                return c;
            }
            let samples = &data.strain[s.start as usize..(s.start + n) as usize];
            let c = Arc::new(condition_segment(samples, &data.psd, &job.grid));
            cache.insert(key, DataItem::Segment(c.clone()));
            c
        })
        .collect();
    let refs: Vec<SegmentRef<'_>> = segs
        .iter()
        .zip(&conditioned)
        .enumerate()
        .map(|(i, (s, c))| SegmentRef {
            index: seg_start + i as u32,
            start: s.start,
            analyze: s.analyze.start as usize..s.analyze.end as usize,
            data: c,
        })
        .collect();
    let spec = &job.spec;
    let opts = TriggerOptions {
        threshold: spec.snr_threshold,
        cluster_window: spec.cluster_samples as usize,
        chisq_bins: spec.chisq_bins,
        rank: spec.rank,
        newsnr_threshold: spec.newsnr_threshold,
    };
    let outcomes = engine.filter_templates(first, templates, &job.grid, &data.psd, &refs, &opts);
    let mut triggers: Vec<Trigger> = outcomes
        .iter()
        .flat_map(|o| o.triggers.iter().copied())
        .collect();
    triggers.sort_by_key(|t| t.order_key());
    Ok(v1::DataResult {
        peak_snr: outcomes.iter().map(|o| o.peak.snr).collect(),
        peak_sample: outcomes.iter().map(|o| o.peak.sample).collect(),
        trigger_template: triggers.iter().map(|t| t.template).collect(),
        trigger_segment: triggers.iter().map(|t| t.segment).collect(),
        trigger_sample: triggers.iter().map(|t| t.sample).collect(),
        trigger_snr: triggers.iter().map(|t| t.snr).collect(),
        trigger_phase: triggers.iter().map(|t| t.phase).collect(),
        trigger_sigmasq: triggers.iter().map(|t| t.sigmasq).collect(),
        peak_chisq: chisq_column(spec, outcomes.iter().map(|o| o.peak.chisq)),
        peak_newsnr: chisq_column(spec, outcomes.iter().map(|o| o.peak.newsnr)),
        trigger_chisq: chisq_column(spec, triggers.iter().map(|t| t.chisq)),
        trigger_newsnr: chisq_column(spec, triggers.iter().map(|t| t.newsnr)),
    })
}

/// A χ² column of the wire result: the values with χ², empty without (older peers and
/// `--chisq-bins 0` send none).
fn chisq_column(spec: &DataSpec, values: impl Iterator<Item = f64>) -> Vec<f64> {
    if spec.chisq_bins == 0 {
        Vec::new()
    } else {
        values.collect()
    }
}
