//! Taking ownership of `--data-dir`: checks that it is a writable directory and holds an
//! exclusive lock on `DATA_DIR/lock` for the coordinator's lifetime.
//!
//! Why: two coordinators appending to the same result logs would interleave records and each
//! resume the other's jobs; a data dir that cannot be written would only be noticed at the first
//! result. Both are refused at start, before the coordinator listens, with the path named (the
//! binary exits 2). The lock is an OS file lock (`flock`), released by the kernel when the
//! process dies however it dies, so a crash never leaves a stale lock behind; the file's text
//! (pid and host of the holder) is only there to tell a user who holds it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Why a data dir cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The path exists and is not a directory.
    #[error("data dir {0} is not a directory")]
    NotADirectory(PathBuf),
    /// Creating, writing or reading it failed.
    #[error("data dir {path}: {what}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// Another coordinator holds it.
    #[error("data dir {path} is in use by another coordinator ({holder}); stop it or choose another --data-dir")]
    Locked {
        /// The data dir.
        path: PathBuf,
        /// What the lock file says about its holder.
        holder: String,
    },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Creates `dir` if needed, checks it takes writes, and locks it.
pub fn acquire(dir: &Path) -> Result<DataDirLock, DataDirError> {
    let io_err = |path: &Path, what: &'static str| {
        let path = path.to_path_buf();
        move |source| DataDirError::Io { path, what, source }
    };
    if dir.exists() && !dir.is_dir() {
        return Err(DataDirError::NotADirectory(dir.to_path_buf()));
    }
    fs::create_dir_all(dir).map_err(io_err(dir, "cannot create it"))?;
    let path = dir.join("lock");
    // The lock is held through a read-only descriptor, so the coordinator keeps no file open
    // for writing between journal writes (a read-only remount of the disk, say, is not
    // refused as busy): create the file, lock it, then write the holder's name separately.
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .append(true)
        .open(&path)
        .map_err(io_err(
            &path,
            "cannot create the lock file (is the directory writable?)",
        ))?;
    let mut file = File::open(&path).map_err(io_err(&path, "cannot open the lock file"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match text.trim() {
                "" => "holder unknown".to_string(),
                t => t.to_string(),
            };
            return Err(DataDirError::Locked {
                path: dir.to_path_buf(),
                holder,
            });
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(io_err(&path, "cannot lock the lock file")(e));
        }
    }
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown host".into());
    let text = format!("pid {} on {host}\n", std::process::id());
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut w| {
            w.write_all(text.as_bytes())?;
            w.sync_all()
        })
        .map_err(io_err(&path, "cannot write the lock file"))?;
    Ok(DataDirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!("chirpfarm-lock-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let held = acquire(&dir).unwrap();
        let e = acquire(&dir).unwrap_err().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        assert!(e.contains(&dir.display().to_string()), "{e}");
        drop(held);
        let again = acquire(&dir).unwrap();
        drop(again);
        // Not a directory.
        let file = dir.join("plain-file");
        fs::write(&file, b"x").unwrap();
        let e = acquire(&file).unwrap_err().to_string();
        assert!(e.contains("is not a directory"), "{e}");
        fs::remove_dir_all(&dir).ok();
    }
}
