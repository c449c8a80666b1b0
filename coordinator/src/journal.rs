//! The journal writer: one thread that appends accepted results to their jobs' `results.log`
//! with **group commit**, off the async runtime and outside the coordinator's lock.
//!
//! Why a thread: an `fsync` takes milliseconds (far longer on a busy disk). Done inline, every
//! accepted result held the global lock for one — leases, heartbeats and watchers all waited,
//! and the farm could not go faster than one fsync per task. Here the shell only queues the
//! block ([`Journal::append`], a channel send); the thread takes *every* request that arrived
//! while it was busy, writes each job's records with one `write` and one `fsync` per file, and
//! reports the whole batch back through one callback (one lock acquisition), where the shell
//! releases the stored blocks and tells the scheduler ([`crate::scheduler::Event::TaskStored`])
//! or, on an error, takes the tasks back ([`crate::scheduler::Event::StoreFailed`]).
//!
//! A failed write leaves no partial record behind: the file is cut back to its last good
//! length before the next append (and the loader would cut a torn tail anyway).

use crate::scheduler::JobId;
use crate::store::{self, Store};
use chirpfarm_proto::v1;
use prometheus_client::metrics::histogram::Histogram;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

/// Most requests taken into one batch (bounds memory and the time to the first completion).
const MAX_BATCH: usize = 4096;
/// Most bytes written by a probe of a paused job.
const MAX_PROBE: u64 = 64 << 20;

/// What the shell asks of the journal thread.
#[derive(Debug)]
enum Request {
    /// Append an accepted result.
    Append {
        job: JobId,
        task: u32,
        block: Box<v1::ResultBlock>,
    },
    /// Replace a job's `job.pb` (its final state).
    PutJob(Box<v1::StoredJob>),
    /// Delete a job's files (retention).
    Remove(JobId),
    /// Check whether a paused job's directory takes writes again.
    Probe(JobId),
}

/// What the journal thread reports back, a batch at a time.
#[derive(Debug)]
pub enum Completion {
    /// The block is on disk: release it.
    Stored {
        /// Its job.
        job: JobId,
        /// Its task.
        task: u32,
        /// The block, handed back to be released.
        block: Box<v1::ResultBlock>,
    },
    /// The block could not be written; it is dropped and its task must run again.
    Failed {
        /// Its job.
        job: JobId,
        /// Its task.
        task: u32,
        /// The I/O error, naming the file.
        error: String,
    },
    /// A probe of a paused job: `Ok` when a write of the failed batch's size worked.
    Probed {
        /// The job.
        job: JobId,
        /// The outcome.
        result: Result<(), String>,
    },
}

/// The handle the shell keeps: cheap sends, and a count of requests not yet done.
#[derive(Debug)]
pub struct Journal {
    tx: Sender<Request>,
    in_flight: Arc<AtomicUsize>,
}

impl Journal {
    /// Starts the writer thread over `store`; `on_done` receives each batch's completions.
    /// `max_batch` 1 writes and syncs every record on its own (for comparison benchmarks).
    /// `write_seconds` observes how long each write (with its fsync) takes.
    pub fn start(
        store: Store,
        max_batch: usize,
        on_done: impl Fn(Vec<Completion>) + Send + 'static,
        write_seconds: Histogram,
    ) -> io::Result<Journal> {
        let (tx, rx) = mpsc::channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counter = in_flight.clone();
        std::thread::Builder::new()
            .name("chirpfarm-journal".into())
            .spawn(move || {
                Writer {
                    store,
                    known_len: HashMap::new(),
                    failed_bytes: HashMap::new(),
                    write_seconds,
                }
                .run(rx, max_batch.clamp(1, MAX_BATCH), counter, on_done)
            })?;
        Ok(Journal { tx, in_flight })
    }

    fn send(&self, r: Request) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(r).is_err() {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            tracing::error!("the journal thread has stopped; results cannot be stored");
        }
    }

    /// Queues an accepted result for writing.
    pub fn append(&self, job: JobId, task: u32, block: v1::ResultBlock) {
        self.send(Request::Append {
            job,
            task,
            block: Box::new(block),
        });
    }

    /// Queues a job's final state (written after every result queued before it).
    pub fn put_job(&self, meta: v1::StoredJob) {
        self.send(Request::PutJob(Box::new(meta)));
    }

    /// Queues the removal of a job's files.
    pub fn remove(&self, job: JobId) {
        self.send(Request::Remove(job));
    }

    /// Queues a probe of a paused job's directory.
    pub fn probe(&self, job: JobId) {
        self.send(Request::Probe(job));
    }

    /// Requests queued or being written.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// The thread's state.
struct Writer {
    store: Store,
    /// Length of each log after its last successful write: a failed write is cut back to it.
    known_len: HashMap<JobId, u64>,
    /// Bytes of each job's last failed batch: the size its probe must manage to write.
    failed_bytes: HashMap<JobId, u64>,
    /// Observes each append's duration (`chirpfarm_journal_write_seconds`).
    write_seconds: Histogram,
}

impl Writer {
    fn run(
        mut self,
        rx: Receiver<Request>,
        max_batch: usize,
        in_flight: Arc<AtomicUsize>,
        on_done: impl Fn(Vec<Completion>),
    ) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let n = batch.len();
            let done = self.process(batch);
            if !done.is_empty() {
                on_done(done);
            }
            in_flight.fetch_sub(n, Ordering::SeqCst);
        }
    }

    /// Writes one batch: appends grouped by job (one write and one fsync per file), other
    /// requests in their order after the appends queued before them.
    fn process(&mut self, batch: Vec<Request>) -> Vec<Completion> {
        let mut out = Vec::new();
        let mut appends: BTreeMap<JobId, Vec<(u32, Box<v1::ResultBlock>)>> = BTreeMap::new();
        for r in batch {
            match r {
                Request::Append { job, task, block } => {
                    appends.entry(job).or_default().push((task, block))
                }
                // Keep the order: the appends queued before a job-level request go first.
                Request::PutJob(meta) => {
                    self.flush(&mut appends, &mut out);
                    self.put_job(&meta);
                }
                Request::Remove(job) => {
                    self.flush(&mut appends, &mut out);
                    self.remove(job);
                }
                Request::Probe(job) => {
                    self.flush(&mut appends, &mut out);
                    out.push(self.probe(job));
                }
            }
        }
        self.flush(&mut appends, &mut out);
        out
    }

    fn flush(
        &mut self,
        appends: &mut BTreeMap<JobId, Vec<(u32, Box<v1::ResultBlock>)>>,
        out: &mut Vec<Completion>,
    ) {
        for (job, records) in std::mem::take(appends) {
            let mut bytes = Vec::new();
            let mut kept = Vec::with_capacity(records.len());
            for (task, block) in records {
                let block = store::encode_block(task, *block, &mut bytes);
                kept.push((task, Box::new(block)));
            }
            let began = std::time::Instant::now();
            let written = self.append(job, &bytes);
            self.write_seconds.observe(began.elapsed().as_secs_f64());
            match written {
                Ok(()) => {
                    self.failed_bytes.remove(&job);
                    out.extend(kept.into_iter().map(|(task, block)| Completion::Stored {
                        job,
                        task,
                        block,
                    }));
                }
                Err(e) => {
                    let path = self.store.log_path(&job.to_string());
                    let error = format!("cannot write {}: {e}", path.display());
                    tracing::error!(%job, records = kept.len(), %error, "journal write failed: the job pauses");
                    self.failed_bytes.insert(job, bytes.len() as u64);
                    out.extend(kept.into_iter().map(|(task, _)| Completion::Failed {
                        job,
                        task,
                        error: error.clone(),
                    }));
                }
            }
        }
    }

    /// Appends `bytes` to a job's log with one write and one fsync; on failure the file is cut
    /// back to its last good length.
    fn append(&mut self, job: JobId, bytes: &[u8]) -> io::Result<()> {
        let path = self.store.log_path(&job.to_string());
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        let mut len = f.metadata()?.len();
        if let Some(&good) = self.known_len.get(&job) {
            if len > good {
                f.set_len(good)?; // the remains of an earlier failed write
                len = good;
            }
        }
        let header: &[u8] = if len == 0 {
            crate::record::LOG_MAGIC
        } else {
            &[]
        };
        f.seek(SeekFrom::Start(len))?;
        let written = f
            .write_all(header)
            .and_then(|()| f.write_all(bytes))
            .and_then(|()| f.sync_data())
            .and_then(|()| {
                if len == 0 {
                    // A new file: its directory entry must be durable too.
                    File::open(self.store.job_dir(&job.to_string()))?.sync_all()
                } else {
                    Ok(())
                }
            });
        match written {
            Ok(()) => {
                let new_len = len + (header.len() + bytes.len()) as u64;
                self.known_len.insert(job, new_len);
                Ok(())
            }
            Err(e) => {
                self.known_len.insert(job, len);
                let _ = f.set_len(len).and_then(|()| f.sync_data());
                Err(e)
            }
        }
    }

    fn put_job(&mut self, meta: &v1::StoredJob) {
        if let Err(e) = self.store.put_job(meta) {
            tracing::error!(job = %meta.job_id, error = %e, "cannot write a job's final state to the data dir (it is recomputed from its results on restart)");
        }
    }

    fn remove(&mut self, job: JobId) {
        self.known_len.remove(&job);
        self.failed_bytes.remove(&job);
        if let Err(e) = self.store.remove_job(&job.to_string()) {
            tracing::warn!(%job, error = %e, "cannot remove job files");
        }
    }

    /// Tries a write of the size that last failed for `job` in its directory.
    fn probe(&mut self, job: JobId) -> Completion {
        let size = self.failed_bytes.get(&job).copied().unwrap_or(4096);
        let result =
            probe(&self.store.job_dir(&job.to_string()), size.min(MAX_PROBE)).map_err(|e| {
                format!(
                    "cannot write {}: {e}",
                    self.store.log_path(&job.to_string()).display()
                )
            });
        Completion::Probed { job, result }
    }
}

/// Writes, syncs and deletes a file of `size` bytes in `dir`.
fn probe(dir: &std::path::Path, size: u64) -> io::Result<()> {
    let path = dir.join("probe.tmp");
    let result = (|| {
        let mut f = File::create(&path)?;
        let zeros = vec![0u8; size.min(1 << 20) as usize];
        let mut left = size;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        f.sync_data()
    })();
    let _ = std::fs::remove_file(&path);
    result
}
