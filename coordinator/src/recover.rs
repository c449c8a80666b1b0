//! Opening a coordinator over `--data-dir`: lock it, read every job back, and resume what was
//! not finished — trusting only what checks out.
//!
//! Why a file of its own: restoring is where damage shows up (torn tails, rotten records,
//! blocks that do not fit their task, descriptions that disagree with their spec), and every
//! such case has one answer — drop what cannot be trusted and compute it again — which is
//! easier to keep in one place than spread over the state and the store.

use crate::blobs::BlobStore;
use crate::datadir::{self, DataDirError};
use crate::jobs::JobRecord;
use crate::journal::Journal;
use crate::scheduler::{Event, JobId, Scheduler};
use crate::state::{Coordinator, CoordinatorConfig};
use crate::store::Store;

impl Coordinator {
    /// A coordinator over `config.data_dir` (if any): the directory is locked for this process,
    /// jobs found there are restored, finished ones as they were and unfinished ones resumed
    /// without recomputing the results that check out. Every error names the path.
    pub fn open(config: CoordinatorConfig) -> Result<Coordinator, DataDirError> {
        let Some(dir) = config.data_dir.clone() else {
            return Ok(Coordinator::new(config));
        };
        let lock = datadir::acquire(&dir)?;
        let io_err = |what: &'static str, path: std::path::PathBuf| {
            move |source| DataDirError::Io { path, what, source }
        };
        let blobs = BlobStore::new(Some(dir.join("blobs")), config.max_blob_bytes)
            .map_err(io_err("cannot open the blob store", dir.join("blobs")))?;
        let batch = config.journal_batch;
        let coord = Coordinator::with_blobs(config, blobs);
        let store = Store::open(&dir).map_err(io_err("cannot create", dir.join("jobs")))?;
        let recovered = store
            .load()
            .map_err(io_err("cannot read", dir.join("jobs")))?;
        let write_seconds = coord.lock().metrics.journal_write.clone();
        let journal = Journal::start(
            store.clone(),
            batch,
            coord.journal_callback(),
            write_seconds,
        )
        .map_err(io_err("cannot start the journal thread for", dir.clone()))?;
        let mut inner = coord.lock();
        inner.sched = Scheduler::new(coord.config.scheduler).with_store_acks();
        inner.id_tag = 0;
        // Before any job is resumed: a recovered job whose results are all stored finishes at
        // once, and its final state goes through the journal.
        inner.journal = Some(journal);
        let mut last = store.last_job_number();
        // Attempt ids after a restart start above any issued before it.
        let attempt_base = crate::jobs::unix_ms(std::time::SystemTime::now()).saturating_mul(1000);
        let (mut resumed, mut kept) = (0, 0);
        for r in recovered {
            let Some(id) = JobId::parse(&r.meta.job_id).filter(|id| id.tag() == 0) else {
                tracing::warn!(job = %r.meta.job_id, "skipping a job with an id this coordinator does not issue");
                continue;
            };
            last = last.max(id.number());
            let (rec, done, outcome) = match JobRecord::restore(&r.meta, r.blocks) {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "cannot restore job; skipping it");
                    continue;
                }
            };
            let bank_key = rec
                .spec
                .bank
                .masses(u64::MAX)
                .map(|m| crate::submit::bank_key(&rec.spec, &m))
                .unwrap_or(0);
            let (templates, chunk, segments) = (rec.templates, rec.chunk, rec.grid);
            inner.jobs.insert(id, rec);
            if let Some(outcome) = outcome {
                coord.apply(&mut inner, Event::JobEnded { job: id, outcome }, None);
                kept += 1;
                continue;
            }
            resumed += 1;
            coord.apply(
                &mut inner,
                Event::JobRecovered {
                    job: id,
                    templates,
                    chunk,
                    bank_key,
                    segments,
                    done,
                    attempt_base,
                },
                None,
            );
        }
        inner.next_job = last + 1;
        tracing::info!(data_dir = %dir.display(), resumed, finished = kept, next_job = %JobId::new(0, last + 1), "store opened");
        inner.store = Some(store);
        inner.lock = Some(lock);
        drop(inner);
        Ok(coord)
    }
}
