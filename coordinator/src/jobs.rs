//! A job as the shell keeps it: its spec, its result blocks in task order, and who is watching.

use crate::scheduler::{JobState, Outcome, SegmentGrid};
use chirpfarm_core::SearchSpec;
use chirpfarm_proto::v1;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// One submitted job.
#[derive(Debug)]
pub struct JobRecord {
    /// The validated search.
    pub spec: SearchSpec,
    /// The same search in wire form, sent once to each worker that runs a task of it.
    pub wire_spec: v1::SearchSpec,
    /// Templates in the bank.
    pub templates: u64,
    /// Templates per task.
    pub chunk: u32,
    /// Segment groups of a data search ([`SegmentGrid::NONE`] for a signal search).
    pub grid: SegmentGrid,
    /// The data's analysis segments (empty for a signal search), to check workers' results.
    pub segments: Vec<chirpfarm_core::Segment>,
    /// Accepted result blocks, indexed by task (segment group-major).
    blocks: Vec<Option<Arc<v1::ResultBlock>>>,
    /// Number of leading tasks whose blocks are all present: results up to there can be released
    /// in order.
    contiguous: usize,
    /// Result units accepted (in any order): templates, × segment groups for a data search.
    pub templates_done: u64,
    /// Wall-clock submission time.
    pub submitted: SystemTime,
    /// Wall-clock completion time.
    pub finished: Option<SystemTime>,
    started: Instant,
    /// Seconds from submission to completion.
    pub wall_seconds: f64,
    /// Why the job is paused: its last journal write (or probe) failed. `None` when writes work.
    pub journal_error: Option<String>,
    /// A probe of the data dir is queued for this paused job (one at a time).
    pub probing: bool,
    /// Bumped on every change; watchers wait on it.
    notify: watch::Sender<u64>,
    /// Who submitted it (the client's address), for the per-client queue limit; empty for jobs
    /// submitted in-process.
    pub owner: String,
    /// The user the client declared (escaped, bounded: see `chirpfarm_proto::labels`).
    pub user: String,
    /// The job's label (`--name`), checked on submission; empty when it has none.
    pub name: String,
}

impl JobRecord {
    /// A new job with an empty result slot per task.
    pub fn new(spec: SearchSpec, templates: u64, chunk: u32, grid: SegmentGrid) -> JobRecord {
        let tasks = templates.div_ceil(chunk.max(1) as u64) as usize * grid.groups() as usize;
        let segments = spec
            .data
            .as_ref()
            .and_then(|d| d.segments().ok())
            .unwrap_or_default();
        JobRecord {
            wire_spec: chirpfarm_proto::spec_to_proto(&spec),
            spec,
            templates,
            chunk,
            grid,
            segments,
            blocks: vec![None; tasks],
            contiguous: 0,
            templates_done: 0,
            submitted: SystemTime::now(),
            finished: None,
            started: Instant::now(),
            wall_seconds: 0.0,
            journal_error: None,
            probing: false,
            notify: watch::channel(0).0,
            owner: String::new(),
            user: String::new(),
            name: String::new(),
        }
    }

    /// Who submitted the job, as shown to clients: `user@address`.
    pub fn owner_shown(&self) -> String {
        chirpfarm_proto::labels::owner(&self.user, &self.owner)
    }

    /// The job as the durable store keeps it, with its outcome once it has one (the scheduler
    /// holds it).
    pub fn to_stored(&self, job_id: String, outcome: Option<&Outcome>) -> v1::StoredJob {
        v1::StoredJob {
            job_id,
            spec: Some(self.wire_spec.clone()),
            templates: self.templates,
            chunk: self.chunk,
            submitted_unix_ms: unix_ms(self.submitted),
            state: client_state(outcome.map(Outcome::state)) as i32,
            error: error_of(outcome),
            finished_unix_ms: self.finished.map(unix_ms).unwrap_or(0),
            wall_seconds: self.wall_seconds,
            segments_per_task: self.grid.per_task,
            name: self.name.clone(),
            client_addr: self.owner.clone(),
            user: self.user.clone(),
        }
    }

    /// Result units of the whole job: templates × segment groups (the Watch cursor's unit).
    pub fn units_total(&self) -> u64 {
        self.templates * self.grid.groups() as u64
    }

    /// Tasks per segment group.
    fn per_group(&self) -> u64 {
        self.templates.div_ceil(self.chunk.max(1) as u64)
    }

    /// The cursor position (in units) where a block starts.
    fn unit_of(&self, block: &v1::ResultBlock) -> u64 {
        let g = if self.grid.segments == 0 {
            0
        } else {
            (block.segment_start / self.grid.per_task.max(1)) as u64
        };
        g * self.templates + block.start
    }

    /// Rebuilds a job from the store: its spec and its stored blocks. Returns the accepted task
    /// indices too, and the outcome if it had ended (for the scheduler, which keeps it). Fails if
    /// the stored spec is unusable.
    ///
    /// Nothing is taken on trust: counts that disagree with the spec are corrected from the spec,
    /// a block that does not fit its task (range, segments, signal count, lengths) is dropped,
    /// and a job recorded as succeeded with results missing is resumed rather than kept with
    /// holes. Each correction is logged as a warning.
    pub fn restore(
        stored: &v1::StoredJob,
        blocks: Vec<(u32, v1::ResultBlock)>,
    ) -> Result<(JobRecord, Vec<u32>, Option<Outcome>), String> {
        let job = stored.job_id.as_str();
        let spec =
            chirpfarm_proto::spec_from_proto(stored.spec.as_ref()).map_err(|e| e.to_string())?;
        let grid = match &spec.data {
            Some(d) => {
                let segments = d.validate().map_err(|e| e.to_string())?.len() as u32;
                let per_task = stored.segments_per_task.clamp(1, segments.max(1));
                if per_task != stored.segments_per_task {
                    tracing::warn!(
                        job,
                        stored = stored.segments_per_task,
                        used = per_task,
                        "job.pb: segments per task disagree with the data; corrected"
                    );
                }
                SegmentGrid { segments, per_task }
            }
            None => SegmentGrid::NONE,
        };
        let in_spec = spec.bank.masses(u64::MAX).map_err(|e| e.to_string())?.len() as u64;
        if in_spec != stored.templates {
            tracing::warn!(
                job,
                stored = stored.templates,
                in_spec,
                "job.pb: template count disagrees with the bank; using the bank's"
            );
        }
        let chunk = match stored.chunk {
            0 => {
                let c = crate::chunk::auto_chunk(in_spec, spec.signals.len() as u64, 1);
                tracing::warn!(job, used = c, "job.pb: zero templates per task; re-chunked");
                c
            }
            c => c,
        };
        let mut rec = JobRecord::new(spec, in_spec, chunk, grid);
        let from_ms = |ms: u64| UNIX_EPOCH + std::time::Duration::from_millis(ms);
        rec.submitted = from_ms(stored.submitted_unix_ms);
        // Written by this coordinator, but a file on disk is not trusted: a label that breaks
        // the rules is dropped, the user cleaned again.
        match chirpfarm_proto::labels::check_job_name(&stored.name) {
            Ok(()) => rec.name = stored.name.clone(),
            Err(e) => tracing::warn!(job, error = %e, "job.pb: unusable job name; dropped"),
        }
        rec.user = chirpfarm_proto::labels::clean_user(&stored.user);
        rec.owner = chirpfarm_core::logging::escape(&stored.client_addr, 64);
        // Keep measuring wall time from the original submission.
        let age = SystemTime::now()
            .duration_since(rec.submitted)
            .unwrap_or_default();
        rec.started = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        let mut done = Vec::new();
        let mut misfits = 0;
        for (task, block) in blocks {
            if let Err(why) = rec.check_block(task, &block) {
                misfits += 1;
                if misfits <= 3 {
                    tracing::warn!(job, task, %why, "stored block does not fit its task; dropped (the task runs again)");
                }
                continue;
            }
            if rec.blocks.get(task as usize).is_some_and(|b| b.is_none()) {
                done.push(task);
                rec.store(task, block);
            }
        }
        if misfits > 3 {
            tracing::warn!(
                job,
                misfits,
                "stored blocks that do not fit their tasks were dropped"
            );
        }
        let outcome = match v1::JobState::try_from(stored.state) {
            Ok(v1::JobState::Succeeded) if done.len() == rec.blocks.len() => {
                Some(Outcome::Succeeded)
            }
            Ok(v1::JobState::Succeeded) => {
                tracing::warn!(
                    job,
                    stored = done.len(),
                    tasks = rec.blocks.len(),
                    "recorded as succeeded but results are missing: resuming the missing tasks"
                );
                None
            }
            Ok(v1::JobState::Failed) => Some(Outcome::Failed(stored.error.clone())),
            Ok(v1::JobState::Cancelled) => Some(Outcome::Cancelled),
            _ => None,
        };
        if outcome.is_some() {
            rec.finished = Some(from_ms(stored.finished_unix_ms));
            rec.wall_seconds = stored.wall_seconds;
        }
        Ok((rec, done, outcome))
    }

    /// The bank range, count and segments task `task` must have, if it exists.
    fn task_shape(&self, task: u32) -> Option<(u64, u32, (u32, u32))> {
        if task as usize >= self.blocks.len() {
            return None;
        }
        let per_group = self.per_group();
        let (g, i) = (task as u64 / per_group, task as u64 % per_group);
        let start = i * self.chunk.max(1) as u64;
        let count = (self.templates - start).min(self.chunk.max(1) as u64) as u32;
        Some((start, count, self.grid.group_range(g as u32)))
    }

    /// Checks that a block read from disk is shaped like its task's result (so that releasing,
    /// slicing or printing it cannot go wrong).
    pub fn check_block(&self, task: u32, b: &v1::ResultBlock) -> Result<(), String> {
        let (start, count, segs) = self.task_shape(task).ok_or("no such task")?;
        if (b.start, b.count, (b.segment_start, b.segment_count)) != (start, count, segs) {
            return Err(format!(
                "holds templates {}+{} segments {}+{}; the task is {start}+{count} segments {}+{}",
                b.start, b.count, b.segment_start, b.segment_count, segs.0, segs.1
            ));
        }
        match (&self.spec.data, &b.data) {
            (Some(spec), Some(d)) => {
                crate::check::check_data_result(spec, &self.segments, (start, count), segs, d)
            }
            (None, None) => {
                let n = count as usize;
                let ok = b.signals.len() == self.spec.signals.len()
                    && b.signals
                        .iter()
                        .all(|s| s.snr.len() == n && s.lag_seconds.len() == n);
                ok.then_some(()).ok_or_else(|| {
                    format!(
                        "expected {} signals × {count} values",
                        self.spec.signals.len()
                    )
                })
            }
            _ => Err("result kind does not match the search (signal vs data)".into()),
        }
    }

    /// Records (or clears) the journal error that pauses the job, waking watchers on a change.
    pub fn set_journal_error(&mut self, error: Option<String>) {
        if self.journal_error != error {
            self.journal_error = error;
            self.notify.send_modify(|v| *v += 1);
        }
    }

    /// Stores a task's accepted block and wakes watchers.
    pub fn store(&mut self, task: u32, block: v1::ResultBlock) {
        let Some(slot) = self.blocks.get_mut(task as usize) else {
            return;
        };
        if slot.is_none() {
            self.templates_done += block.count as u64;
            *slot = Some(Arc::new(block));
            while self
                .blocks
                .get(self.contiguous)
                .is_some_and(|b| b.is_some())
            {
                self.contiguous += 1;
            }
            self.notify.send_modify(|v| *v += 1);
        }
    }

    /// Records when the job ended (its outcome is the scheduler's) and wakes watchers.
    pub fn finish(&mut self) {
        if self.finished.is_none() {
            self.wall_seconds = self.started.elapsed().as_secs_f64();
            self.finished = Some(SystemTime::now());
            self.notify.send_modify(|v| *v += 1);
        }
    }

    /// A receiver that changes whenever results or the state change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// The blocks releasable in order from unit `cursor` (see [`JobRecord::units_total`]), the
    /// first possibly sliced so it starts exactly at `cursor`.
    ///
    /// At most about `max_bytes` of blocks are copied out (always at least one, when there is
    /// one): a watcher takes results in bounded batches, so a slow or unread watch stream holds a
    /// batch, never a copy of the whole job.
    pub fn blocks_from(&self, cursor: u64, max_bytes: usize) -> Vec<v1::ResultBlock> {
        self.blocks_upto(cursor, max_bytes, self.contiguous)
    }

    /// Like [`JobRecord::blocks_from`], but every stored block from `cursor` on, skipping the
    /// missing ones: what a job that ended early has to show (`WatchRequest.partial`).
    pub fn stored_from(&self, cursor: u64, max_bytes: usize) -> Vec<v1::ResultBlock> {
        self.blocks_upto(cursor, max_bytes, self.blocks.len())
    }

    /// The cursor just after the last stored block (0 when none is): where a partial watch
    /// ends.
    pub fn stored_end(&self) -> u64 {
        match self.blocks.iter().rev().find_map(|b| b.as_deref()) {
            Some(b) => self.cursor_after(b),
            None => 0,
        }
    }

    /// The blocks stored in task slots below `upto`, from unit `cursor`, in order.
    fn blocks_upto(&self, cursor: u64, max_bytes: usize, upto: usize) -> Vec<v1::ResultBlock> {
        use prost::Message;
        if self.templates == 0 {
            return Vec::new();
        }
        let chunk = self.chunk.max(1) as u64;
        let (g, t) = (cursor / self.templates, cursor % self.templates);
        let first = (g * self.per_group() + t / chunk) as usize;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for b in (first..upto).filter_map(|i| self.blocks.get(i).and_then(|b| b.as_deref())) {
            if !out.is_empty() && bytes >= max_bytes {
                break;
            }
            let unit = self.unit_of(b);
            let mut sent = if cursor > unit {
                slice_block(b, b.start + (cursor - unit))
            } else {
                b.clone()
            };
            // Its first unit, so a client can resume after it even past a hole.
            sent.unit = unit + (sent.start - b.start);
            let b = sent;
            bytes += b.encoded_len();
            out.push(b);
        }
        out
    }

    /// The cursor just after `block`.
    pub fn cursor_after(&self, block: &v1::ResultBlock) -> u64 {
        self.unit_of(block) + block.count as u64
    }

    /// Units releasable in order.
    pub fn released(&self) -> u64 {
        if self.contiguous == self.blocks.len() {
            return self.units_total();
        }
        match self.blocks[..self.contiguous].last() {
            Some(Some(b)) => self.cursor_after(b),
            _ => 0,
        }
    }

    /// The final-state event for watchers, given the job's outcome (from the scheduler).
    pub fn finished_event(&self, outcome: Option<&Outcome>) -> Option<v1::JobFinished> {
        Some(v1::JobFinished {
            state: client_state(Some(outcome?.state())) as i32,
            error: error_of(outcome),
            wall_seconds: self.wall_seconds,
        })
    }
}

/// A job's state for clients, from the scheduler's (`None`: not known to it, shown as running).
pub fn client_state(state: Option<JobState>) -> v1::JobState {
    match state {
        Some(JobState::Succeeded) => v1::JobState::Succeeded,
        Some(JobState::Failed) => v1::JobState::Failed,
        Some(JobState::Cancelled) => v1::JobState::Cancelled,
        Some(JobState::Queued) => v1::JobState::Queued,
        Some(JobState::Running) | None => v1::JobState::Running,
    }
}

/// The error message of a failed job (empty otherwise).
pub fn error_of(outcome: Option<&Outcome>) -> String {
    match outcome {
        Some(Outcome::Failed(e)) => e.clone(),
        _ => String::new(),
    }
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The part of `block` from bank index `from` on (the whole block if it starts there or later).
fn slice_block(block: &v1::ResultBlock, from: u64) -> v1::ResultBlock {
    if from <= block.start {
        return block.clone();
    }
    let skip = (from - block.start).min(block.count as u64) as usize;
    v1::ResultBlock {
        start: block.start + skip as u64,
        count: block.count - skip as u32,
        signals: block
            .signals
            .iter()
            .map(|s| v1::SignalBlock {
                snr: s.snr[skip..].to_vec(),
                lag_seconds: s.lag_seconds[skip..].to_vec(),
            })
            .collect(),
        segment_start: block.segment_start,
        segment_count: block.segment_count,
        data: block.data.as_ref().map(|d| slice_data(d, from, skip)),
        unit: block.unit + skip as u64,
    }
}

/// A data result without its first `skip` templates (those below bank index `from`).
fn slice_data(d: &v1::DataResult, from: u64, skip: usize) -> v1::DataResult {
    let keep: Vec<usize> = (0..d.trigger_template.len())
        .filter(|&i| d.trigger_template[i] >= from)
        .collect();
    let pick = |v: &Vec<f64>| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    v1::DataResult {
        peak_snr: d.peak_snr.get(skip..).unwrap_or_default().to_vec(),
        peak_sample: d.peak_sample.get(skip..).unwrap_or_default().to_vec(),
        trigger_template: keep.iter().map(|&i| d.trigger_template[i]).collect(),
        trigger_segment: keep.iter().map(|&i| d.trigger_segment[i]).collect(),
        trigger_sample: keep.iter().map(|&i| d.trigger_sample[i]).collect(),
        trigger_snr: pick(&d.trigger_snr),
        trigger_phase: pick(&d.trigger_phase),
        trigger_sigmasq: pick(&d.trigger_sigmasq),
        peak_chisq: d.peak_chisq.get(skip..).unwrap_or_default().to_vec(),
        peak_newsnr: d.peak_newsnr.get(skip..).unwrap_or_default().to_vec(),
        trigger_chisq: keep
            .iter()
            .filter_map(|&i| d.trigger_chisq.get(i))
            .copied()
            .collect(),
        trigger_newsnr: keep
            .iter()
            .filter_map(|&i| d.trigger_newsnr.get(i))
            .copied()
            .collect(),
    }
}

#[cfg(test)]
mod tests;
