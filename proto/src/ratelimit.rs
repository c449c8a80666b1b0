//! A log-line limiter: lets a few events through per interval and counts the rest.
//!
//! Refused requests, refused connections and rejected worker messages are worth a warning, but
//! a peer that makes thousands of them per second must not turn the log into the bottleneck (or
//! fill the disk). Each logged line carries the number of events suppressed since the previous
//! one, so nothing is hidden, only summarised. The one limiter of the workspace.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows `burst` events per `every`; [`RateLimited::allow`] says whether to log this one.
#[derive(Debug)]
pub struct RateLimited {
    /// The window length.
    every: Duration,
    /// Events let through per window.
    burst: u32,
    /// (window start, events let through in it, events suppressed since the last let through).
    state: Mutex<(Option<Instant>, u32, u64)>,
}

impl RateLimited {
    /// At most one event per `every`.
    pub fn new(every: Duration) -> RateLimited {
        RateLimited::with_burst(1, every)
    }

    /// At most `burst` events per `every` (a short burst shows the pattern, then silence).
    pub fn with_burst(burst: u32, every: Duration) -> RateLimited {
        RateLimited {
            every,
            burst: burst.max(1),
            state: Mutex::new((None, 0, 0)),
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
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (start, used, suppressed) = &mut *st;
        if start.is_none_or(|t| now.duration_since(t) >= self.every) {
            *start = Some(now);
            *used = 0;
        }
        if *used < self.burst {
            *used += 1;
            Some(std::mem::take(suppressed))
        } else {
            *suppressed += 1;
            None
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

    #[test]
    fn a_burst_then_silence() {
        let r = RateLimited::with_burst(2, Duration::from_secs(3600));
        assert_eq!(r.allow(), Some(0));
        assert_eq!(r.allow(), Some(0));
        assert_eq!(r.allow(), None);
        assert_eq!(r.allow(), None);
    }
}
