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

/// Estimated single-core cost of filtering one template against one data segment (complex
/// inverse FFT, multiply, threshold and cluster), per segment sample, in ns.
pub const DATA_FILTER_NS: f64 = 12.0;
/// Estimated single-core cost of generating a template on a data grid, per segment sample, in ns.
pub const DATA_GEN_NS: f64 = 8.0;

/// Task shape for a data search of `templates` × `segments` segments of `n` samples with
/// `workers` registered: `(templates per task, segments per task)`. A task holds a group of
/// segments (so a template generated once is filtered against several) and about
/// [`TARGET_TASK_MS`] of single-core work; jobs are still cut into at least four tasks per
/// worker when the grid allows.
pub fn auto_data(templates: u64, segments: u32, n: u64, workers: usize) -> (u32, u32) {
    let filter_ms = n as f64 * DATA_FILTER_NS / 1e6;
    let gen_ms = n as f64 * DATA_GEN_NS / 1e6;
    let per_task =
        ((TARGET_TASK_MS / 2.0 / filter_ms).floor() as u64).clamp(1, segments.max(1) as u64);
    let groups = (segments as u64).div_ceil(per_task);
    let by_time = (TARGET_TASK_MS / (gen_ms + per_task as f64 * filter_ms))
        .floor()
        .max(1.0) as u64;
    let ranges_wanted = (4 * workers.max(1) as u64).div_ceil(groups);
    let by_spread = templates.div_ceil(ranges_wanted);
    let chunk = by_time.min(by_spread).max(1).min(templates.max(1));
    (chunk.min(u32::MAX as u64) as u32, per_task as u32)
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

    #[test]
    fn data_tasks_group_segments_and_spread() {
        // 2048 s at 2048 Hz in 256 s segments (2^19 samples, 15 segments), 1,000 templates, two
        // workers: ~80 segment-filters per task, so all 15 segments in one group.
        let (chunk, per_task) = auto_data(1000, 15, 1 << 19, 2);
        assert_eq!(per_task, 15);
        assert!((5..=125).contains(&chunk), "{chunk}");
        // Small test data: everything in few tasks, but at least 4 per worker.
        let (chunk, per_task) = auto_data(20, 3, 4096, 1);
        assert_eq!((chunk, per_task), (5, 3));
        // Huge segments: one segment per task.
        let (_, per_task) = auto_data(10, 40, 1 << 22, 1);
        assert!((1..=10).contains(&per_task));
    }
}
