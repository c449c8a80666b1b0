//! `--idle-timeout`: when a worker with nothing to do should leave, as sans-IO state.
//!
//! A worker started by a batch system (an HTCondor job, a Slurm allocation) costs its owner
//! for as long as it runs, work or not. With an idle timeout it deregisters and exits 0 once it
//! has held no task for that long, so the job ends instead of burning walltime — and a job
//! that ends with 0 counts as a success, not a failure to retry.
//!
//! Like [`crate::session::WorkerSession`], this holds no clock and no timer: the daemon says
//! whether the session holds work and what time it is ([`IdleTimer::observe`]), sleeps until
//! [`IdleTimer::deadline`] and asks [`IdleTimer::expired`]. Tests drive it with made-up
//! instants.
//!
//! "Holds work" means a lease being computed or a result not yet delivered: a worker that is
//! disconnected with a finished result is not idle, and one whose coordinator cannot be
//! reached and that holds nothing is (its batch job ends rather than waiting forever).

use std::time::{Duration, Instant};

/// Tracks how long a worker has held no task, against an optional limit.
///
/// Why a type of its own: the rule (idle since the last task ended, or since start; any task
/// resets it) is the part worth testing, and it must not depend on tonic or tokio.
#[derive(Debug, Clone)]
pub struct IdleTimer {
    /// The limit; `None` means the worker never leaves on its own (the default).
    limit: Option<Duration>,
    /// Since when the worker has held nothing; `None` while it holds work.
    idle_since: Option<Instant>,
}

impl IdleTimer {
    /// A timer for a worker that starts, idle, at `now`.
    pub fn new(limit: Option<Duration>, now: Instant) -> IdleTimer {
        IdleTimer {
            limit,
            idle_since: Some(now),
        }
    }

    /// Records whether the worker holds work at `now`. Idleness starts when the last task
    /// ends; any task resets it.
    pub fn observe(&mut self, busy: bool, now: Instant) {
        match (busy, self.idle_since) {
            (true, _) => self.idle_since = None,
            (false, None) => self.idle_since = Some(now),
            (false, Some(_)) => {}
        }
    }

    /// When the worker will have been idle for the limit, if it is idle and has a limit.
    pub fn deadline(&self) -> Option<Instant> {
        Some(self.idle_since? + self.limit?)
    }

    /// Whether the worker has held nothing for at least the limit at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }

    /// The limit, if any.
    pub fn limit(&self) -> Option<Duration> {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn an_idle_worker_expires_exactly_at_the_limit_after_starting() {
        let t0 = Instant::now();
        let mut t = IdleTimer::new(Some(10 * S), t0);
        t.observe(false, t0 + 3 * S);
        assert_eq!(t.deadline(), Some(t0 + 10 * S), "idle since start");
        assert!(!t.expired(t0 + 10 * S - Duration::from_millis(1)));
        assert!(t.expired(t0 + 10 * S));
    }

    #[test]
    fn a_busy_worker_never_expires_however_long_its_task() {
        let t0 = Instant::now();
        let mut t = IdleTimer::new(Some(2 * S), t0);
        t.observe(true, t0 + S);
        assert_eq!(t.deadline(), None);
        assert!(!t.expired(t0 + 3600 * S), "a task longer than the limit");
        // The clock starts again when the last task ends, not from the start.
        t.observe(false, t0 + 100 * S);
        assert!(!t.expired(t0 + 101 * S));
        assert!(t.expired(t0 + 102 * S));
        assert_eq!(t.deadline(), Some(t0 + 102 * S));
    }

    #[test]
    fn staying_idle_does_not_push_the_deadline_back() {
        let t0 = Instant::now();
        let mut t = IdleTimer::new(Some(5 * S), t0);
        t.observe(true, t0);
        t.observe(false, t0 + S);
        for k in 2..6 {
            t.observe(false, t0 + k * S); // heartbeats, credits: still idle
        }
        assert_eq!(t.deadline(), Some(t0 + 6 * S));
    }

    #[test]
    fn a_task_between_idle_spells_resets_the_count() {
        let t0 = Instant::now();
        let mut t = IdleTimer::new(Some(5 * S), t0);
        t.observe(true, t0 + 4 * S); // a lease arrives just in time
        t.observe(false, t0 + 6 * S);
        assert!(
            !t.expired(t0 + 10 * S),
            "4 s idle before + 4 s after is not 5 s in a row"
        );
        assert!(t.expired(t0 + 11 * S));
    }

    #[test]
    fn without_a_limit_nothing_expires() {
        let t0 = Instant::now();
        let t = IdleTimer::new(None, t0);
        assert_eq!(t.deadline(), None);
        assert!(!t.expired(t0 + 1_000_000 * S));
        assert_eq!(t.limit(), None);
    }
}
