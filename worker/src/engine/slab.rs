//! Storage for normalised templates that does not page-fault once warm.
//!
//! A template's band is ~1 MB. Allocated from the heap, every template is its own `malloc`
//! block, and glibc returns blocks that large to the kernel when they are freed, so a
//! long-lived worker whose cache evicts (any bank larger than `--template-cache-mb`) faulted
//! evicted memory back in: 940 templates through a 300-template cache cost 152,000 minor faults
//! and ~0.3 s of system time (as much CPU as filtering them), of which only 74,000 are the 300
//! insertions that fill the cache.
//!
//! A [`Slab`] allocates 32 MiB chunks, cuts them into fixed-size template slots and keeps the
//! slots of dropped templates on a free list (most recently freed first), so evicted slots are
//! reused without new faults: the same run costs 75,000 faults and ~0.15 s, and a second bank
//! through the warm cache 257 faults (2,000–4,400 before). Chunks are only released when the
//! slab itself goes away, after the engine and every template it handed out are dropped (each
//! slot holds an `Arc` of its slab), so memory is bounded by the peak number of live templates
//! (cache budget + templates in flight), rounded up to whole chunks.
//!
//! Filling a cache with fresh memory still costs the kernel's page zeroing (~0.4 s per 940
//! templates here). Transparent huge pages (`madvise(MADV_HUGEPAGE)`) cut the fault count to
//! ~1,600 but made that fill 3–5× slower on this project's VM (the kernel's huge-page zeroing
//! dominated: 1.2–2.3 s of system time), so they are not requested.

use super::grid::NB;
use num_complex::Complex64;
use std::alloc::Layout;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes of one slot: one template band (`NB` complex numbers, a multiple of 64 bytes).
const SLOT_BYTES: usize = NB * std::mem::size_of::<Complex64>();
/// Bytes allocated at a time.
const CHUNK_BYTES: usize = 32 << 20;
/// Alignment of a chunk. Not more than 16: Rust's system allocator then uses `calloc`, which
/// for a block this large maps fresh zero pages without touching them (a larger alignment
/// would `memset` all 32 MiB, faulting every page in at once).
const CHUNK_ALIGN: usize = 16;
/// Template slots per chunk (33, 0.9% of the chunk unused).
pub const SLOTS_PER_CHUNK: usize = CHUNK_BYTES / SLOT_BYTES;

const _: () = assert!(SLOT_BYTES.is_multiple_of(64) && SLOTS_PER_CHUNK >= 1);

/// A pool of template slots carved from large chunks. `Send + Sync`; share it in an
/// `Arc` ([`Slab::alloc`] takes `&Arc<Slab>`).
pub struct Slab {
    /// Chunks and free slots.
    inner: Mutex<SlabInner>,
}

/// The slab's state, behind its mutex.
struct SlabInner {
    /// Start of every chunk (each `CHUNK_BYTES` long, 16-byte aligned).
    chunks: Vec<NonNull<u8>>,
    /// Slots not handed out, most recently freed last.
    free: Vec<NonNull<Complex64>>,
}

// SAFETY: the raw pointers are addresses of memory owned by the slab (the chunks) and used only
// under the mutex; nothing about them is tied to a thread.
unsafe impl Send for SlabInner {}

impl Default for Slab {
    fn default() -> Self {
        Slab::new()
    }
}

impl Slab {
    /// An empty slab (allocates nothing until the first template).
    pub fn new() -> Slab {
        Slab {
            inner: Mutex::new(SlabInner {
                chunks: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    /// The state, recovering from poisoning (the lists are consistent between operations).
    fn lock(&self) -> MutexGuard<'_, SlabInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A buffer of `NB` complex numbers with unspecified (but initialised) contents: a slot of
    /// this slab, allocating a new chunk if none is free (a plain heap buffer if that fails).
    pub fn alloc(self: &Arc<Self>) -> TemplateBuf {
        let mut g = self.lock();
        if g.free.is_empty() {
            if let Some(chunk) = alloc_chunk() {
                g.chunks.push(chunk);
                // Lowest addresses on top of the stack, handed out first.
                for i in (0..SLOTS_PER_CHUNK).rev() {
                    // SAFETY: `i·SLOT_BYTES + SLOT_BYTES ≤ CHUNK_BYTES`, inside the chunk;
                    // the chunk is 16-byte aligned and SLOT_BYTES a multiple of 64, so the slot
                    // is aligned for Complex64 (8 bytes).
                    let p = unsafe { chunk.as_ptr().add(i * SLOT_BYTES) };
                    g.free
                        .push(NonNull::new(p.cast::<Complex64>()).expect("non-null"));
                }
            }
        }
        match g.free.pop() {
            Some(ptr) => TemplateBuf(Repr::Slot {
                ptr,
                slab: Arc::clone(self),
            }),
            None => TemplateBuf::heap(vec![Complex64::new(0.0, 0.0); NB].into_boxed_slice()),
        }
    }

    /// Template slots allocated so far (free or in use).
    pub fn capacity(&self) -> usize {
        self.lock().chunks.len() * SLOTS_PER_CHUNK
    }

    /// Slots ready for reuse.
    pub fn free_slots(&self) -> usize {
        self.lock().free.len()
    }

    /// Returns a slot to the free list.
    fn release(&self, ptr: NonNull<Complex64>) {
        self.lock().free.push(ptr);
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        for chunk in inner.chunks.drain(..) {
            free_chunk(chunk);
        }
    }
}

/// The layout of a chunk.
fn chunk_layout() -> Layout {
    Layout::from_size_align(CHUNK_BYTES, CHUNK_ALIGN).expect("valid layout")
}

/// Allocates one zero-filled chunk; `None` if the allocator refuses. (Zero-filled so that every
/// slot holds initialised `Complex64` values from the start; for a block this large the
/// allocator maps fresh zero pages, touched only when a template is written.)
/// The chunk is left out of forked children ([`super::nofork`]): no child can reach an
/// engine's slots, and a parent that forked (a Python `multiprocessing.Pool`) would otherwise
/// fault every slot page in again on its next write.
fn alloc_chunk() -> Option<NonNull<u8>> {
    // SAFETY: the layout has a non-zero size.
    let chunk = NonNull::new(unsafe { std::alloc::alloc_zeroed(chunk_layout()) })?;
    super::nofork::exclude(chunk.as_ptr(), CHUNK_BYTES);
    Some(chunk)
}

/// Frees a chunk returned by [`alloc_chunk`] (or leaks it, if its pages cannot be given back
/// to children: the allocator could hand them to something a child needs).
fn free_chunk(chunk: NonNull<u8>) {
    if !super::nofork::include(chunk.as_ptr(), CHUNK_BYTES) {
        return;
    }
    // SAFETY: `chunk` was allocated by `alloc_chunk` with this layout and is freed once (the
    // slab is being dropped), and no slot of it is in use: every `TemplateBuf` slot keeps the
    // slab alive.
    unsafe { std::alloc::dealloc(chunk.as_ptr(), chunk_layout()) }
}

/// The band of a [`super::NormTemplate`]: `NB` complex numbers on the heap or in a [`Slab`]
/// slot (returned to its slab when dropped). Dereferences to `[Complex64]`.
pub struct TemplateBuf(Repr);

/// Where the numbers live.
enum Repr {
    /// An ordinary heap allocation (any length).
    Heap(Box<[Complex64]>),
    /// A slab slot of `NB` numbers.
    Slot {
        /// Start of the slot.
        ptr: NonNull<Complex64>,
        /// The slab the slot returns to (kept alive by this reference).
        slab: Arc<Slab>,
    },
}

// SAFETY: a `Slot` owns its memory exclusively, like a `Box<[Complex64]>` (the slab hands each
// slot to one `TemplateBuf` at a time), and `Complex64` is Send + Sync; `Arc<Slab>` is Send +
// Sync.
unsafe impl Send for TemplateBuf {}
// SAFETY: as above: shared access only reads through `&[Complex64]`.
unsafe impl Sync for TemplateBuf {}

impl TemplateBuf {
    /// Wraps a heap allocation.
    pub fn heap(b: Box<[Complex64]>) -> TemplateBuf {
        TemplateBuf(Repr::Heap(b))
    }

    /// Whether the numbers live in a slab slot.
    pub fn in_slab(&self) -> bool {
        matches!(self.0, Repr::Slot { .. })
    }
}

impl Deref for TemplateBuf {
    type Target = [Complex64];
    fn deref(&self) -> &[Complex64] {
        match &self.0 {
            Repr::Heap(b) => b,
            // SAFETY: the slot holds NB initialised Complex64 (zero-filled at allocation, then
            // only ever written as Complex64), is aligned, lives as long as the slab that
            // `slab` keeps alive, and is owned by this buffer alone.
            Repr::Slot { ptr, .. } => unsafe { std::slice::from_raw_parts(ptr.as_ptr(), NB) },
        }
    }
}

impl DerefMut for TemplateBuf {
    fn deref_mut(&mut self) -> &mut [Complex64] {
        match &mut self.0 {
            Repr::Heap(b) => b,
            // SAFETY: as in `deref`, and `&mut self` makes this the only access.
            Repr::Slot { ptr, .. } => unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), NB) },
        }
    }
}

impl Drop for TemplateBuf {
    fn drop(&mut self) {
        if let Repr::Slot { ptr, slab } = &self.0 {
            slab.release(*ptr);
        }
    }
}

impl Clone for TemplateBuf {
    /// A heap copy.
    fn clone(&self) -> Self {
        TemplateBuf::heap(self.to_vec().into_boxed_slice())
    }
}

impl fmt::Debug for TemplateBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl From<Box<[Complex64]>> for TemplateBuf {
    fn from(b: Box<[Complex64]>) -> Self {
        TemplateBuf::heap(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_lifo_and_hold_their_data() {
        let slab = Arc::new(Slab::new());
        let mut a = slab.alloc();
        assert!(a.in_slab() && a.len() == NB);
        assert_eq!(slab.capacity(), SLOTS_PER_CHUNK);
        a.iter_mut()
            .enumerate()
            .for_each(|(i, z)| *z = Complex64::new(i as f64, -(i as f64)));
        let b = slab.alloc();
        assert_ne!(a.as_ptr(), b.as_ptr());
        assert!(a
            .iter()
            .enumerate()
            .all(|(i, z)| z.re == i as f64 && z.im == -(i as f64)));
        let pa = a.as_ptr();
        drop(a);
        assert_eq!(slab.free_slots(), SLOTS_PER_CHUNK - 1);
        let c = slab.alloc();
        assert_eq!(c.as_ptr(), pa, "the last freed slot is handed out first");
        let copy = c.clone();
        assert!(!copy.in_slab() && *copy == *c);
    }

    #[test]
    fn chunks_grow_on_demand_and_slots_do_not_overlap() {
        let slab = Arc::new(Slab::new());
        let bufs: Vec<TemplateBuf> = (0..SLOTS_PER_CHUNK + 2).map(|_| slab.alloc()).collect();
        assert_eq!(slab.capacity(), 2 * SLOTS_PER_CHUNK);
        let mut starts: Vec<usize> = bufs.iter().map(|b| b.as_ptr() as usize).collect();
        starts.sort_unstable();
        assert!(starts.windows(2).all(|w| w[1] - w[0] >= SLOT_BYTES));
        assert!(starts.iter().all(|s| s % 16 == 0));
        assert!(bufs
            .iter()
            .all(|b| b.iter().all(|z| *z == Complex64::new(0.0, 0.0))));
        drop(bufs);
        assert_eq!(slab.free_slots(), 2 * SLOTS_PER_CHUNK);
    }

    #[test]
    fn buffers_outlive_the_last_other_reference_to_their_slab() {
        let slab = Arc::new(Slab::new());
        let mut b = slab.alloc();
        drop(slab);
        b[NB - 1] = Complex64::new(1.0, 2.0);
        let t = std::thread::spawn(move || b[NB - 1]);
        assert_eq!(t.join().unwrap(), Complex64::new(1.0, 2.0));
    }

    #[test]
    fn slab_and_buffers_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Slab>();
        check::<Arc<Slab>>();
        check::<TemplateBuf>();
    }
}
