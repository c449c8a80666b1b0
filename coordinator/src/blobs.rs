//! Content-addressed blobs: the strain samples and noise spectra of data searches.
//!
//! A client uploads each blob once (in chunks of at most [`BLOB_CHUNK_BYTES`]); the coordinator
//! checks its SHA-256 against the name the client gave, keeps it in memory (and, with
//! `--data-dir`, on disk as `DATA_DIR/blobs/<sha256>` so a restarted coordinator can resume the
//! jobs that use it), and streams it to each worker that runs a task of such a job. Blobs live
//! apart from jobs because several jobs over the same data share one copy.
//!
//! Memory is bounded: the blobs held at once never exceed the budget (`--max-blob-mb`); an upload
//! that would pass it is refused with `RESOURCE_EXHAUSTED` before anything is allocated. Blobs no
//! job refers to are dropped after [`UNUSED_BLOB_TTL`] (time to submit after uploading).

use chirpfarm_core::data::BLOB_CHUNK_BYTES;
use chirpfarm_core::BlobRef;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::Status;

/// How long a blob no job refers to is kept (between an upload and the submit that uses it).
pub const UNUSED_BLOB_TTL: Duration = Duration::from_secs(600);

/// One stored blob.
#[derive(Debug)]
struct Entry {
    bytes: Arc<Vec<u8>>,
    /// When it was stored (or last asked about), for [`UNUSED_BLOB_TTL`].
    touched: Instant,
}

/// The coordinator's blobs, in memory and optionally on disk.
#[derive(Debug)]
pub struct BlobStore {
    dir: Option<PathBuf>,
    budget: u64,
    inner: Mutex<HashMap<[u8; 32], Entry>>,
}

impl BlobStore {
    /// A store holding at most `budget` bytes in memory, persisting to `dir` if given.
    pub fn new(dir: Option<PathBuf>, budget: u64) -> std::io::Result<BlobStore> {
        if let Some(d) = &dir {
            std::fs::create_dir_all(d)?;
        }
        Ok(BlobStore {
            dir,
            budget,
            inner: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, blob: &BlobRef) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(blob.hex()))
    }

    /// Bytes held in memory.
    pub fn bytes(&self) -> u64 {
        self.lock().values().map(|e| e.bytes.len() as u64).sum()
    }

    /// Whether the blob is available (in memory, or on disk with the right length).
    pub fn contains(&self, blob: &BlobRef) -> bool {
        if let Some(e) = self.lock().get_mut(&blob.digest) {
            e.touched = Instant::now();
            return e.bytes.len() as u64 == blob.len;
        }
        self.path(blob)
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.len() == blob.len)
    }

    /// The blob's bytes: from memory, or read back from disk and verified (a damaged file is
    /// removed and reported as missing).
    pub fn get(&self, blob: &BlobRef) -> Option<Arc<Vec<u8>>> {
        if let Some(e) = self.lock().get(&blob.digest) {
            return (e.bytes.len() as u64 == blob.len).then(|| e.bytes.clone());
        }
        let path = self.path(blob)?;
        let bytes = std::fs::read(&path).ok()?;
        if !blob.matches(&bytes) {
            tracing::warn!(path = %path.display(), "a stored blob does not match its digest; removing it");
            let _ = std::fs::remove_file(&path);
            return None;
        }
        self.admit(blob, bytes).ok()
    }

    /// Checks that `len` more bytes fit in the budget.
    pub fn check_room(&self, len: u64) -> Result<(), Status> {
        let used = self.bytes();
        if used.saturating_add(len) > self.budget {
            return Err(Status::resource_exhausted(format!(
                "a blob of {len} bytes does not fit: {used} of the coordinator's {} bytes of blob memory are in use (--max-blob-mb)",
                self.budget
            )));
        }
        Ok(())
    }

    fn admit(&self, blob: &BlobRef, bytes: Vec<u8>) -> Result<Arc<Vec<u8>>, Status> {
        self.check_room(bytes.len() as u64)?;
        let bytes = Arc::new(bytes);
        self.lock().insert(
            blob.digest,
            Entry {
                bytes: bytes.clone(),
                touched: Instant::now(),
            },
        );
        Ok(bytes)
    }

    /// Stores an uploaded blob after checking it is exactly `blob`; returns `false` if it was
    /// already there. With a data dir it is on disk (fsynced) before this returns.
    pub fn put(&self, blob: &BlobRef, bytes: Vec<u8>) -> Result<bool, Status> {
        if !blob.matches(&bytes) {
            return Err(Status::invalid_argument(format!(
                "the uploaded bytes ({} bytes) do not match the blob's name (sha256 {}, {} bytes)",
                bytes.len(),
                blob.hex(),
                blob.len
            )));
        }
        if self.lock().contains_key(&blob.digest) {
            return Ok(false);
        }
        if let Some(path) = self.path(blob) {
            write_synced(&path, &bytes).map_err(|e| {
                Status::unavailable(format!("cannot store the blob in {}: {e}", path.display()))
            })?;
        }
        self.admit(blob, bytes)?;
        Ok(true)
    }

    /// Drops (from memory and disk) blobs that no job refers to and that nobody touched for
    /// [`UNUSED_BLOB_TTL`].
    pub fn retain_referenced(&self, referenced: &HashSet<[u8; 32]>) {
        let now = Instant::now();
        let mut inner = self.lock();
        let gone: Vec<[u8; 32]> = inner
            .iter()
            .filter(|(d, e)| {
                !referenced.contains(*d) && now.duration_since(e.touched) > UNUSED_BLOB_TTL
            })
            .map(|(d, _)| *d)
            .collect();
        for d in gone {
            if let Some(e) = inner.remove(&d) {
                let blob = BlobRef {
                    digest: d,
                    len: e.bytes.len() as u64,
                };
                tracing::info!(blob = %blob.hex(), "removing a blob no job uses");
                if let Some(p) = self.path(&blob) {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
    }
}

fn write_synced(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Assembles an upload from its chunks, checking every one as it arrives: the first names the
/// blob, offsets are consecutive, no chunk is larger than [`BLOB_CHUNK_BYTES`], and the total is
/// exactly the announced length.
#[derive(Debug)]
pub struct Upload {
    blob: BlobRef,
    bytes: Vec<u8>,
}

impl Upload {
    /// Starts an upload of `blob`, once the store said it has room for it.
    pub fn start(blob: BlobRef, store: &BlobStore) -> Result<Upload, Status> {
        store.check_room(blob.len)?;
        let cap = usize::try_from(blob.len)
            .map_err(|_| Status::resource_exhausted("blob too large for this machine"))?;
        Ok(Upload {
            blob,
            bytes: Vec::with_capacity(cap),
        })
    }

    /// Adds one chunk.
    pub fn push(&mut self, offset: u64, data: &[u8]) -> Result<(), Status> {
        if data.len() > BLOB_CHUNK_BYTES {
            return Err(Status::invalid_argument(format!(
                "a blob chunk carries {} bytes, more than the {BLOB_CHUNK_BYTES} allowed",
                data.len()
            )));
        }
        if offset != self.bytes.len() as u64 {
            return Err(Status::invalid_argument(format!(
                "blob chunk at offset {offset}, expected {}",
                self.bytes.len()
            )));
        }
        if offset + data.len() as u64 > self.blob.len {
            return Err(Status::invalid_argument(format!(
                "blob chunks go past the announced length of {} bytes",
                self.blob.len
            )));
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// The finished upload: the blob and its bytes (the store checks the digest).
    pub fn finish(self) -> Result<(BlobRef, Vec<u8>), Status> {
        if self.bytes.len() as u64 != self.blob.len {
            return Err(Status::invalid_argument(format!(
                "the upload ended after {} of {} bytes",
                self.bytes.len(),
                self.blob.len
            )));
        }
        Ok((self.blob, self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_checked_and_bounded() {
        let store = BlobStore::new(None, 100).unwrap();
        let bytes = vec![7u8; 60];
        let blob = BlobRef::of(&bytes);
        let mut up = Upload::start(blob, &store).unwrap();
        assert!(up.push(1, &bytes[..10]).is_err(), "offset gap");
        up.push(0, &bytes[..30]).unwrap();
        up.push(30, &bytes[30..]).unwrap();
        assert!(up.push(60, &[1]).is_err(), "past the end");
        let (b, data) = up.finish().unwrap();
        assert!(store.put(&b, data).unwrap());
        assert!(!store.put(&b, bytes.clone()).unwrap(), "stored once");
        assert!(store.contains(&blob));
        assert_eq!(store.get(&blob).unwrap().as_slice(), &bytes[..]);
        // A second blob of 60 bytes does not fit in 100.
        let other = BlobRef::of(&[1u8; 60]);
        assert_eq!(
            Upload::start(other, &store).unwrap_err().code(),
            tonic::Code::ResourceExhausted
        );
        // Wrong content for a name.
        let lie = BlobRef::of(&[2u8; 10]);
        assert_eq!(
            store.put(&lie, vec![3u8; 10]).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        let short = Upload::start(BlobRef::of(&[1u8; 10]), &store).unwrap();
        assert!(short.finish().is_err());
    }

    #[test]
    fn blobs_survive_on_disk_and_damage_is_detected() {
        let dir = std::env::temp_dir().join(format!("chirpfarm-blobs-{}", std::process::id()));
        let bytes = vec![9u8; 1000];
        let blob = BlobRef::of(&bytes);
        {
            let store = BlobStore::new(Some(dir.clone()), 1 << 20).unwrap();
            store.put(&blob, bytes.clone()).unwrap();
        }
        let store = BlobStore::new(Some(dir.clone()), 1 << 20).unwrap();
        assert!(store.contains(&blob));
        assert_eq!(store.get(&blob).unwrap().as_slice(), &bytes[..]);
        // Damage the file: a fresh store refuses it.
        let path = dir.join(blob.hex());
        let mut damaged = bytes.clone();
        damaged[500] = 0;
        std::fs::write(&path, &damaged).unwrap();
        let store = BlobStore::new(Some(dir.clone()), 1 << 20).unwrap();
        assert!(store.get(&blob).is_none());
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
