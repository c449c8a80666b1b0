//! What one request, one client or one job may cost the coordinator.
//!
//! The coordinator is shared by a lab: one script in a loop, one stuck watcher or one tiny
//! request asking for a million tasks must not exhaust it for everyone else. Each limit is a
//! flag of `chirpfarm-coordinator`, and a request over a limit is refused with
//! `RESOURCE_EXHAUSTED` and a message naming the limit and the flag — never queued into memory.

/// The coordinator's per-request and per-client limits (bank sizes live in
/// [`chirpfarm_core::Limits`], shared with the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceLimits {
    /// Unfinished (queued or running) jobs across all clients.
    pub max_queued_jobs: usize,
    /// Unfinished jobs submitted from one client address.
    pub max_queued_jobs_per_client: usize,
    /// Tasks one job may be cut into: each costs scheduler memory whatever its size, so a
    /// 48-byte request for a million one-template tasks is refused (a larger `--chunk-size` or
    /// the automatic sizing fixes it).
    pub max_tasks_per_job: u64,
    /// Watch streams open at once.
    pub max_watch_streams: usize,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        ServiceLimits {
            max_queued_jobs: 1000,
            max_queued_jobs_per_client: 200,
            max_tasks_per_job: 100_000,
            max_watch_streams: 1024,
        }
    }
}

pub use chirpfarm_proto::MAX_CLIENT_REQUEST_BYTES;

/// Jobs per `ListJobs` page when the client does not say, and at most.
pub const LIST_PAGE: usize = 1000;

/// Bytes of results a watcher copies out per batch (about one watch message).
pub const WATCH_BATCH_BYTES: usize = 1 << 20;
