//! Memory a forked child never gets: the engine's template slots and its compute threads'
//! filter buffers.
//!
//! Python's `multiprocessing` forks the calling process, and after a `fork` every page of the
//! parent is copy-on-write until the parent writes it again, even once the children have
//! exited. The first in-process search after a `Pool` had run therefore took ~1,500 page
//! faults (~1 ms of a ~20 ms seed search on this project's VM) to make its own buffers
//! writable again, although no child ever used them. `madvise(MADV_DONTFORK)` leaves a range
//! out of children altogether, so the parent's pages stay writable.
//!
//! Only memory that no child can reach is marked: the chunks of an engine's [`super::slab`]
//! (a child makes its own engine: `client::local` checks the process id, and a daemon does not
//! fork) and the filter buffers of rayon's worker threads (threads do not survive a `fork`).
//! The mark is taken off (`MADV_DOFORK`) before the memory goes back to the allocator, which
//! may hand the same pages to something a child does need; if that fails the memory is leaked
//! instead (the caller's choice, told by the return value). Marking is an optimisation only:
//! where it fails, or off Linux, nothing changes.

/// Leaves the whole pages inside `ptr..ptr + len` out of future children (Linux only).
pub(crate) fn exclude<T>(ptr: *const T, len: usize) {
    #[cfg(target_os = "linux")]
    advise(
        ptr.cast(),
        len * std::mem::size_of::<T>(),
        libc::MADV_DONTFORK,
    );
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

/// Undoes [`exclude`] on the same range. `false` if the kernel refused: the caller must then
/// not free the memory (a later owner of those pages would be missing from children).
#[must_use]
pub(crate) fn include<T>(ptr: *const T, len: usize) -> bool {
    #[cfg(target_os = "linux")]
    return advise(
        ptr.cast(),
        len * std::mem::size_of::<T>(),
        libc::MADV_DOFORK,
    );
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (ptr, len);
        true
    }
}

/// `madvise(advice)` on the whole pages inside `ptr..ptr + bytes`; `true` if there were none or
/// the call succeeded. Whole pages only: a partial page at either end may hold the allocator's
/// bookkeeping or someone else's data, which a child does need.
#[cfg(target_os = "linux")]
fn advise(ptr: *const u8, bytes: usize, advice: libc::c_int) -> bool {
    const PAGE: usize = 4096;
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p >= PAGE as libc::c_long => p as usize,
        _ => PAGE,
    };
    let start = (ptr as usize).next_multiple_of(page);
    let end = (ptr as usize + bytes) / page * page;
    if end <= start {
        return true;
    }
    // SAFETY: the range lies inside memory the caller owns (whole pages of its allocation);
    // MADV_DONTFORK / MADV_DOFORK change only what a future fork copies, not the contents.
    unsafe { libc::madvise(start as *mut libc::c_void, end - start, advice) == 0 }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Minor page faults of this thread so far (other tests run on other threads).
    fn faults() -> i64 {
        // SAFETY: getrusage writes the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) }, 0);
        u.ru_minflt
    }

    /// Forks a child that exits at once, and waits for it.
    fn fork_and_reap() {
        // SAFETY: the child only calls `_exit` (async-signal-safe) before ending.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    }

    #[test]
    fn an_excluded_buffer_is_written_after_a_fork_without_faults() {
        const LEN: usize = 8 << 20;
        // Small pages for both (a machine with transparent huge pages always on would otherwise
        // take one fault per 2 MB), then every page written before the fork.
        let mut plain = vec![0u8; LEN];
        let mut kept = vec![0u8; LEN];
        for v in [&mut plain, &mut kept] {
            advise(v.as_ptr(), LEN, libc::MADV_NOHUGEPAGE);
            v.fill(1);
        }
        exclude(kept.as_ptr(), LEN);
        fork_and_reap();
        let f0 = faults();
        kept.iter_mut().step_by(4096).for_each(|b| *b = 2);
        let f1 = faults();
        plain.iter_mut().step_by(4096).for_each(|b| *b = 2);
        let f2 = faults();
        // 2,048 pages each: a copy-on-write fault per page for the plain buffer, (almost) none
        // for the excluded one.
        assert!(f1 - f0 < 16, "excluded buffer: {} faults", f1 - f0);
        assert!(f2 - f1 > 1_000, "plain buffer: {} faults", f2 - f1);
        assert!(include(kept.as_ptr(), LEN));
        assert!(include(kept.as_ptr(), 0), "an empty range is fine");
    }
}
