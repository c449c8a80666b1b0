//! The durable store: every submitted job and every accepted task result, on disk in
//! `--data-dir`, written (and fsynced) before it is released to anyone.
//!
//! Layout:
//! ```text
//! DATA_DIR/lock                      held (flock) by the running coordinator: pid and host inside
//! DATA_DIR/job-ids                   the highest job number ever issued (ids are never reused)
//! DATA_DIR/jobs/job-7/job.pb         StoredJob: spec, chunking, and the final state once ended
//! DATA_DIR/jobs/job-7/results.log    StoredBlock records, appended in acceptance order
//! ```
//! Both job files are framed and checksummed ([`crate::record`]). `job.pb` is replaced
//! atomically (write a temporary file, fsync, rename, fsync the directory); `results.log` is
//! appended by the journal thread ([`crate::journal`]).
//!
//! Loading trusts nothing it cannot check: a torn tail (a write cut short) is truncated to the
//! last whole record so appends continue cleanly; a damaged record in the middle is dropped and
//! the log rewritten without it; a log from before checksums is moved aside. Whatever is
//! dropped is simply computed again: a damaged file costs time, never a wrong result.
//! No external server, no schema migrations: the records are the wire contract's own messages.

use crate::record::{self, JOB_MAGIC, LOG_MAGIC};
use chirpfarm_proto::v1;
use prost::Message;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A job read back from disk.
#[derive(Debug)]
pub struct Recovered {
    /// Its parameters and state.
    pub meta: v1::StoredJob,
    /// Intact results: (task, block), in acceptance order (not yet checked against the job).
    pub blocks: Vec<(u32, v1::ResultBlock)>,
}

/// A data directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    jobs: PathBuf,
    /// The job number last written to `job-ids`: submissions write it concurrently (outside
    /// the coordinator's lock), and the mark must only ever go up.
    last_written: Arc<Mutex<u64>>,
}

impl Store {
    /// Opens (creating if needed) the store under `dir`.
    pub fn open(dir: &Path) -> io::Result<Store> {
        let jobs = dir.join("jobs");
        fs::create_dir_all(&jobs)?;
        Ok(Store {
            root: dir.to_path_buf(),
            jobs,
            last_written: Arc::new(Mutex::new(0)),
        })
    }

    /// The directory of a job's files.
    pub fn job_dir(&self, job_id: &str) -> PathBuf {
        self.jobs.join(job_id)
    }

    /// A job's result log.
    pub fn log_path(&self, job_id: &str) -> PathBuf {
        self.job_dir(job_id).join("results.log")
    }

    /// Writes a job's description (on submission, and again with its final state).
    pub fn put_job(&self, meta: &v1::StoredJob) -> io::Result<()> {
        let dir = self.job_dir(&meta.job_id);
        fs::create_dir_all(&dir)?;
        let mut bytes = JOB_MAGIC.to_vec();
        record::frame(&meta.encode_to_vec(), &mut bytes);
        replace(&dir, "job.pb", &bytes)
    }

    /// The highest job number ever issued from this directory (0 if none).
    pub fn last_job_number(&self) -> u64 {
        let path = self.root.join("job-ids");
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().unwrap_or_else(|_| {
                tracing::warn!(path = %path.display(), "unreadable job id high-water mark; using the job directories");
                0
            }),
            Err(_) => 0,
        }
    }

    /// Records (fsynced) that job numbers up to `n` have been issued; a lower `n` than one
    /// already recorded changes nothing.
    pub fn put_last_job_number(&self, n: u64) -> io::Result<()> {
        let mut last = self.last_written.lock().unwrap_or_else(|p| p.into_inner());
        if n <= *last {
            return Ok(());
        }
        replace(&self.root, "job-ids", format!("{n}\n").as_bytes())?;
        *last = n;
        Ok(())
    }

    /// Deletes a job's files (retention).
    pub fn remove_job(&self, job_id: &str) -> io::Result<()> {
        match fs::remove_dir_all(self.job_dir(job_id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Reads every job back, repairing what can be repaired (see the module docs). Directories
    /// without a readable `job.pb` are skipped with a warning; only an unreadable directory
    /// listing is an error.
    pub fn load(&self) -> io::Result<Vec<Recovered>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.jobs)? {
            let dir = entry?.path();
            if !dir.is_dir() {
                continue;
            }
            let Some(meta) = read_job(&dir.join("job.pb")) else {
                continue;
            };
            let blocks = match load_log(&dir.join("results.log")) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(path = %dir.join("results.log").display(), error = %e, "cannot read a result log; the job's tasks run again");
                    Vec::new()
                }
            };
            out.push(Recovered { meta, blocks });
        }
        Ok(out)
    }
}

/// The bytes of one `StoredBlock` record, framed for appending to a `results.log`.
pub fn encode_block(task: u32, block: v1::ResultBlock, out: &mut Vec<u8>) -> v1::ResultBlock {
    let rec = v1::StoredBlock {
        task,
        block: Some(block),
    };
    record::frame(&rec.encode_to_vec(), out);
    rec.block.expect("just set")
}

/// Writes `bytes` to `dir/name` atomically and durably.
fn replace(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// Reads a `job.pb`, or says (once, as a warning) why it cannot be used.
fn read_job(path: &Path) -> Option<v1::StoredJob> {
    let warn = |why: &str| {
        tracing::warn!(path = %path.display(), "skipping a job directory: job.pb {why}");
        None
    };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => return warn(&format!("cannot be read ({e})")),
    };
    let Some(body) = bytes.strip_prefix(JOB_MAGIC) else {
        // Written before checksums: usable, but nothing vouches for it.
        return match v1::StoredJob::decode(bytes.as_slice()) {
            Ok(m) => {
                tracing::warn!(path = %path.display(), "job.pb is in the old format without a checksum; reading it unchecked");
                Some(m)
            }
            Err(_) => warn("is neither the checksummed format nor an old-format job"),
        };
    };
    let scan = record::scan(body);
    match (scan.records.as_slice(), scan.damaged, scan.torn_bytes) {
        ([one], 0, 0) => match v1::StoredJob::decode(*one) {
            Ok(m) => Some(m),
            Err(_) => warn("has a valid checksum but does not decode"),
        },
        _ => warn("is damaged (checksum mismatch or cut short)"),
    }
}

/// Reads a `results.log`, truncating a torn tail, rewriting it without damaged records, and
/// moving an old-format log aside.
fn load_log(path: &Path) -> io::Result<Vec<(u32, v1::ResultBlock)>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let Some(body) = bytes.strip_prefix(LOG_MAGIC) else {
        if LOG_MAGIC.starts_with(&bytes) {
            // Cut short while its header was written: nothing in it yet.
            OpenOptions::new().write(true).open(path)?.set_len(0)?;
            return Ok(Vec::new());
        }
        let aside = path.with_extension("log.v0");
        tracing::warn!(path = %path.display(), moved_to = %aside.display(), "result log in the old format without checksums: its results are not trusted and its tasks run again");
        fs::rename(path, &aside)?;
        return Ok(Vec::new());
    };
    let scan = record::scan(body);
    let mut blocks = Vec::with_capacity(scan.records.len());
    let mut undecodable = 0;
    for rec in &scan.records {
        match v1::StoredBlock::decode(*rec) {
            Ok(v1::StoredBlock {
                task,
                block: Some(b),
            }) => blocks.push((task, b)),
            _ => undecodable += 1,
        }
    }
    let damaged = scan.damaged + undecodable;
    if damaged > 0 {
        tracing::warn!(path = %path.display(), damaged, kept = blocks.len(), torn_bytes = scan.torn_bytes, "damaged records in a result log: dropping them (their tasks run again) and rewriting the log");
        let mut clean = LOG_MAGIC.to_vec();
        for (task, b) in &blocks {
            let _ = encode_block(*task, b.clone(), &mut clean);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        replace(dir, "results.log", &clean)?;
    } else if scan.torn_bytes > 0 {
        tracing::warn!(path = %path.display(), torn_bytes = scan.torn_bytes, kept = blocks.len(), "torn tail in a result log (a write cut short): truncating it to the last whole record");
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len((LOG_MAGIC.len() + scan.good_len) as u64)?;
        f.sync_all()?;
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests;
