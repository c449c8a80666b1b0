//! The durable store: every submitted job and every accepted task result, on disk in
//! `--data-dir`, written (and fsynced) before it is released to anyone.
//!
//! Layout, one directory per job:
//! ```text
//! DATA_DIR/jobs/job-7/job.pb        StoredJob: spec, chunking, and the final state once ended
//! DATA_DIR/jobs/job-7/results.log   StoredBlock records, length-delimited, appended in acceptance order
//! ```
//! `job.pb` is replaced atomically (write to a temporary file, fsync, rename). A record cut short
//! by a crash at the end of `results.log` is ignored on load: its task is simply run again.
//! No external server, no schema migrations: the records are the wire contract's own messages.

use chirpfarm_proto::v1;
use prost::Message;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A job read back from disk.
#[derive(Debug)]
pub struct Recovered {
    /// Its parameters and state.
    pub meta: v1::StoredJob,
    /// Accepted results: (task, block), in acceptance order.
    pub blocks: Vec<(u32, v1::ResultBlock)>,
}

/// A data directory.
#[derive(Debug, Clone)]
pub struct Store {
    jobs: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store under `dir`.
    pub fn open(dir: &Path) -> io::Result<Store> {
        let jobs = dir.join("jobs");
        fs::create_dir_all(&jobs)?;
        Ok(Store { jobs })
    }

    fn job_dir(&self, job_id: &str) -> PathBuf {
        self.jobs.join(job_id)
    }

    /// Writes a job's description (on submission, and again with its final state).
    pub fn put_job(&self, meta: &v1::StoredJob) -> io::Result<()> {
        let dir = self.job_dir(&meta.job_id);
        fs::create_dir_all(&dir)?;
        let tmp = dir.join("job.pb.tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&meta.encode_to_vec())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, dir.join("job.pb"))?;
        File::open(&dir)?.sync_all()
    }

    /// Appends an accepted task result and syncs it to disk.
    pub fn append_block(&self, job_id: &str, task: u32, block: &v1::ResultBlock) -> io::Result<()> {
        let rec = v1::StoredBlock {
            task,
            block: Some(block.clone()),
        };
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.job_dir(job_id).join("results.log"))?;
        f.write_all(&rec.encode_length_delimited_to_vec())?;
        f.sync_data()
    }

    /// Deletes a job's files (retention).
    pub fn remove_job(&self, job_id: &str) -> io::Result<()> {
        match fs::remove_dir_all(self.job_dir(job_id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Reads every job back. Directories without a readable `job.pb` are skipped with a warning.
    pub fn load(&self) -> io::Result<Vec<Recovered>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.jobs)? {
            let dir = entry?.path();
            let meta = match fs::read(dir.join("job.pb"))
                .ok()
                .and_then(|b| v1::StoredJob::decode(b.as_slice()).ok())
            {
                Some(m) => m,
                None => {
                    tracing::warn!(dir = %dir.display(), "skipping a job directory without a readable job.pb");
                    continue;
                }
            };
            let blocks = match fs::read(dir.join("results.log")) {
                Ok(bytes) => decode_blocks(&bytes),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e),
            };
            out.push(Recovered { meta, blocks });
        }
        Ok(out)
    }
}

/// Decodes length-delimited records, stopping at the first incomplete or corrupt one.
fn decode_blocks(mut bytes: &[u8]) -> Vec<(u32, v1::ResultBlock)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let Ok(len) = prost::encoding::decode_varint(&mut bytes) else {
            break;
        };
        if (len as usize) > bytes.len() {
            break; // cut short by a crash
        }
        let (rec, rest) = bytes.split_at(len as usize);
        bytes = rest;
        match v1::StoredBlock::decode(rec) {
            Ok(v1::StoredBlock {
                task,
                block: Some(b),
            }) => out.push((task, b)),
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_tail() {
        let dir = std::env::temp_dir().join(format!("chirpfarm-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        let meta = v1::StoredJob {
            job_id: "job-3".into(),
            templates: 20,
            chunk: 10,
            ..Default::default()
        };
        store.put_job(&meta).unwrap();
        let block = |start| v1::ResultBlock {
            start,
            count: 10,
            signals: vec![v1::SignalBlock {
                snr: vec![1.5; 10],
                lag_seconds: vec![0.0; 10],
            }],
            ..Default::default()
        };
        store.append_block("job-3", 1, &block(10)).unwrap();
        store.append_block("job-3", 0, &block(0)).unwrap();
        // A crash in the middle of a third record leaves a torn tail.
        let log = dir.join("jobs/job-3/results.log");
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(&[200, 1, 8, 1]).unwrap();
        let jobs = store.load().unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].meta, meta);
        assert_eq!(jobs[0].blocks.len(), 2);
        assert_eq!(jobs[0].blocks[0].0, 1);
        assert_eq!(jobs[0].blocks[1].1, block(0));
        store.remove_job("job-3").unwrap();
        assert!(store.load().unwrap().is_empty());
        fs::remove_dir_all(&dir).ok();
    }
}
