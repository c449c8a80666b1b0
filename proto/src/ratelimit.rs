//! A log-line limiter: lets one event through per interval and counts the rest.
//!
//! Refused requests and refused connections are worth a warning, but a peer that makes
//! thousands of them per second must not turn the log into the bottleneck (or fill the disk).
//! Each logged line carries the number of events suppressed since the previous one, so nothing
//! is hidden, only summarised.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows one event per `every`; [`RateLimited::allow`] says whether to log this one.
#[derive(Debug)]
pub struct RateLimited {
    /// Minimum time between two logged events.
    every: Duration,
    /// When the last event was let through (`None`: never).
    last: Mutex<Option<Instant>>,
    /// Events not let through since the last one that was.
    suppressed: AtomicU64,
}

impl RateLimited {
    /// At most one event per `every`.
    pub fn new(every: Duration) -> RateLimited {
        RateLimited {
            every,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// One event per second (the default for warnings).
    pub fn per_second() -> RateLimited {
        RateLimited::new(Duration::from_secs(1))
    }

    /// `Some(n)` when this event should be logged, `n` being how many were suppressed since the
    /// last logged one; `None` when it is suppressed (and counted).
    pub fn allow(&self) -> Option<u64> {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(t) if now.duration_since(t) < self.every => {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.suppressed.swap(0, Ordering::Relaxed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_interval_with_a_count() {
        let r = RateLimited::new(Duration::from_millis(200));
        assert_eq!(r.allow(), Some(0));
        assert_eq!(r.allow(), None);
        assert_eq!(r.allow(), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(r.allow(), Some(2));
    }
}
