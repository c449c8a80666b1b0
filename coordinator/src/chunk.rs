//! Automatic task sizing.
//!
//! A task is a contiguous bank range run against every signal of the job. Its cost on one core is
//! roughly `templates × (GEN + FFT × signals)` (template generation once, one inverse FFT per
//! signal). We aim at about [`TARGET_TASK_MS`] of single-core work per task — a fraction of a
//! second on a multi-core worker, and never one template per RPC — but cut small banks into
//! enough tasks to keep every worker busy.

/// Estimated single-core cost of generating and normalising one template, in ms.
pub const GEN_MS: f64 = 0.3;
/// Estimated single-core cost of one multiply + inverse FFT + max scan, in ms.
pub const FFT_MS: f64 = 0.4;
/// Target single-core work per task, in ms.
pub const TARGET_TASK_MS: f64 = 1000.0;
/// Never make tasks smaller than this many templates (unless the bank is smaller).
pub const MIN_CHUNK: u64 = 8;

/// Templates per task for a job of `templates` × `signals`, with `workers` currently registered.
pub fn auto_chunk(templates: u64, signals: u64, workers: usize) -> u32 {
    let per_template = GEN_MS + FFT_MS * signals.max(1) as f64;
    let by_time = (TARGET_TASK_MS / per_template).floor().max(1.0) as u64;
    // At least four tasks per worker when the bank allows, for balance.
    let by_spread = templates.div_ceil(4 * workers.max(1) as u64);
    let chunk = by_time.min(by_spread).max(MIN_CHUNK).min(templates.max(1));
    chunk.min(u32::MAX as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_sane() {
        // Seed bank, one signal, one worker: a few tasks of a couple dozen templates.
        assert_eq!(auto_chunk(94, 1, 1), 24);
        // A big bank is cut by time: ~1 s of single-core work.
        assert_eq!(auto_chunk(1_000_000, 1, 2), 1428);
        assert_eq!(auto_chunk(940, 10, 2), 118);
        // Tiny banks are one task.
        assert_eq!(auto_chunk(3, 1, 8), 3);
    }
}
