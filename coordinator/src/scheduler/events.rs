//! What goes into the scheduler ([`Event`]) and what comes out ([`Action`]): the whole contract
//! between the sans-IO core and the shell that carries it out.

use super::{JobId, Outcome, SegmentGrid, WorkerId};

/// Something that happened, as seen by the coordinator.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A validated job was accepted: `templates` bank entries cut into tasks of `chunk`.
    JobSubmitted {
        /// The new job.
        job: JobId,
        /// Number of templates in its bank.
        templates: u64,
        /// Templates per task.
        chunk: u32,
        /// Identifies the bank's contents, for template affinity across jobs.
        bank_key: u64,
        /// Segment groups of a data search ([`SegmentGrid::NONE`] for a signal search).
        segments: SegmentGrid,
    },
    /// A job read back from the durable store after a restart: `done` tasks already have
    /// accepted results and are not run again; new attempt ids start at `attempt_base` so they
    /// never collide with attempts issued before the restart.
    JobRecovered {
        /// The job.
        job: JobId,
        /// Number of templates in its bank.
        templates: u64,
        /// Templates per task.
        chunk: u32,
        /// Identifies the bank's contents.
        bank_key: u64,
        /// Segment groups of a data search.
        segments: SegmentGrid,
        /// Tasks whose results are already stored.
        done: Vec<u32>,
        /// First attempt id to use.
        attempt_base: u64,
    },
    /// A job read back from the durable store that had already ended: the scheduler keeps its
    /// outcome (the one place a job's state lives) and does nothing else with it.
    JobEnded {
        /// The job.
        job: JobId,
        /// How it ended.
        outcome: Outcome,
    },
    /// A worker registered, or re-attached after a reconnect with the leases it still holds
    /// (running or finished but not yet reported).
    WorkerJoined {
        /// Its identity.
        worker: WorkerId,
        /// How many templates its cache holds (0 = no affinity).
        cache_capacity: u64,
        /// Leases the worker reports holding: (job, task, attempt).
        in_flight: Vec<(JobId, u32, u64)>,
    },
    /// The worker can take `credits` more tasks.
    Credit {
        /// Who.
        worker: WorkerId,
        /// How many more.
        credits: u32,
    },
    /// The worker is alive.
    Heartbeat {
        /// Who.
        worker: WorkerId,
    },
    /// A worker returned a task's results.
    TaskCompleted {
        /// Who ran it.
        worker: WorkerId,
        /// Which job.
        job: JobId,
        /// Task index within the job.
        task: u32,
        /// The lease's attempt id.
        attempt: u64,
    },
    /// A worker could not execute a task (error or panic in the engine).
    TaskFailed {
        /// Who ran it.
        worker: WorkerId,
        /// Which job.
        job: JobId,
        /// Task index within the job.
        task: u32,
        /// The lease's attempt id.
        attempt: u64,
        /// What went wrong, for the user.
        reason: String,
    },
    /// The worker's session ended (disconnect, crash, shutdown).
    WorkerLost {
        /// Who.
        worker: WorkerId,
    },
    /// The user cancelled a job.
    CancelJob {
        /// Which job.
        job: JobId,
    },
    /// Time passed; check heartbeat deadlines.
    Tick,
    /// The coordinator is shutting down: lease nothing more (running leases may finish).
    StopLeasing,
    /// The accepted result of a task (see [`Action::Accept`]) is durable: the task is done.
    TaskStored {
        /// Which job.
        job: JobId,
        /// Task index.
        task: u32,
    },
    /// The accepted result of a task could not be stored: the task goes back to pending (not
    /// counted as a failure) and the job pauses until [`Event::StoreResumed`].
    StoreFailed {
        /// Which job.
        job: JobId,
        /// Task index.
        task: u32,
    },
    /// The journal of a paused job works again: lease and accept its tasks again.
    StoreResumed {
        /// Which job.
        job: JobId,
    },
}

/// Something the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send the job's spec to the worker (before its first lease of that job).
    SendJob {
        /// To whom.
        worker: WorkerId,
        /// Which job.
        job: JobId,
    },
    /// Lease a task to a worker.
    Lease {
        /// To whom.
        worker: WorkerId,
        /// Which job.
        job: JobId,
        /// Task index.
        task: u32,
        /// Fresh attempt id.
        attempt: u64,
        /// First bank index of the task.
        start: u64,
        /// Number of templates.
        count: u32,
        /// Segments `(start, count)` of a data search; `(0, 0)` for a signal search.
        segments: (u32, u32),
    },
    /// Tell a worker to stop working on a lease.
    Revoke {
        /// To whom.
        worker: WorkerId,
        /// Which job.
        job: JobId,
        /// Task index.
        task: u32,
        /// The revoked attempt.
        attempt: u64,
    },
    /// The result the shell is holding for this task is the accepted one: store it, then report
    /// [`Event::TaskStored`] (or [`Event::StoreFailed`]). Nothing of it may be released before.
    Accept {
        /// Which job.
        job: JobId,
        /// Task index.
        task: u32,
    },
    /// The job reached a final state.
    JobFinished {
        /// Which job.
        job: JobId,
        /// How it ended.
        outcome: Outcome,
    },
    /// Close a worker's session (it missed its heartbeat deadline).
    DropWorker {
        /// Whom.
        worker: WorkerId,
    },
}
