//! The progress bar on stderr: templates done / total, rate, ETA. Hidden when stderr is not a
//! terminal or with --quiet, so scripts and pipes see clean output.
//!
//! The rate and ETA are computed here ([`RateClock`], no I/O) from the progress seen since this
//! bar started, not since the job was submitted: `watch` of a job that is already half done
//! must not report the first jump as its speed. The clock ticks by itself (steady tick), so a
//! queued job shows time passing, and the whole line stays within 80 columns.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Width the bar's line must fit in (a classic terminal).
pub const LINE_COLUMNS: usize = 80;

/// An ETA above this is not worth showing (a stalled or barely started job).
const MAX_ETA: Duration = Duration::from_secs(30 * 24 * 3600);

/// Columns of the bar itself.
const BAR_COLUMNS: usize = 20;

/// Rate and ETA from the progress observed since the first report, free of any I/O so it can be
/// tested with made-up times.
#[derive(Debug, Clone, Default)]
pub struct RateClock {
    /// The first report: when, and how many templates were done then.
    base: Option<(Instant, u64)>,
    /// The latest report.
    last: Option<(Instant, u64, u64)>,
}

impl RateClock {
    /// Records `done` of `total` templates at `now`.
    pub fn observe(&mut self, now: Instant, done: u64, total: u64) {
        match self.base {
            // A count that went backwards (a restarted job) starts a new baseline.
            Some((_, d)) if done >= d => {}
            _ => self.base = Some((now, done)),
        }
        self.last = Some((now, done, total));
    }

    /// Templates per second since the first report; `None` until at least a second has passed
    /// and something was done in it.
    pub fn rate(&self) -> Option<f64> {
        let ((t0, d0), (t1, d1, _)) = (self.base?, self.last?);
        let secs = t1.duration_since(t0).as_secs_f64();
        let rate = (d1.saturating_sub(d0)) as f64 / secs;
        (secs >= 1.0 && rate.is_finite() && rate > 0.0).then_some(rate)
    }

    /// Time left at the current rate; `None` when the rate is unknown or the ETA above 30 days.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate()?;
        let (_, done, total) = self.last?;
        let secs = total.saturating_sub(done) as f64 / rate;
        let eta = Duration::try_from_secs_f64(secs).ok()?;
        (eta <= MAX_ETA).then_some(eta)
    }

    /// `1.2k tpl/s ETA 3m05s`, or what is known of it (empty when nothing is).
    pub fn summary(&self) -> String {
        let Some(rate) = self.rate() else {
            return String::new();
        };
        let mut s = format!("{} tpl/s", short_count(rate));
        if let Some(eta) = self.eta() {
            s.push_str(&format!(" ETA {}", short_duration(eta)));
        }
        s
    }
}

/// `950`, `12.3k`, `4.1M`: a rate in at most 5 characters.
fn short_count(x: f64) -> String {
    if x < 1e3 {
        format!("{x:.0}")
    } else if x < 1e6 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{:.1}M", x / 1e6)
    }
}

/// `42s`, `3m05s`, `2h10m`, `4d03h`.
fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Columns of the bar's line before the message: spinner, clock, bar and `pos/len`.
fn fixed_columns(done: u64, total: u64) -> usize {
    // "⠁ " + "00:00:00 " + bar + " " + "pos/len" + " "
    2 + 9 + BAR_COLUMNS + 1 + format!("{done}/{total}").len() + 1
}

/// The message after the bar: rate/ETA and a status, cut to what fits in [`LINE_COLUMNS`].
pub fn message_line(clock: &RateClock, status: &str, done: u64, total: u64) -> String {
    let summary = clock.summary();
    let text = match (summary.is_empty(), status.is_empty()) {
        (_, true) => summary,
        (true, false) => status.to_string(),
        (false, false) => format!("{summary} {status}"),
    };
    let room = LINE_COLUMNS.saturating_sub(fixed_columns(done, total));
    if text.chars().count() <= room {
        return text;
    }
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// What the bar shows besides the counts.
#[derive(Debug, Default)]
struct State {
    clock: RateClock,
    status: String,
    done: u64,
    total: u64,
}

/// A progress display that may be invisible.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
    state: Arc<Mutex<State>>,
}

impl Progress {
    /// A bar for `total` templates, shown only on a terminal and when not `quiet`.
    pub fn new(total: u64, quiet: bool) -> Progress {
        let state = Arc::new(Mutex::new(State {
            total,
            ..State::default()
        }));
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: None, state };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} {{elapsed_precise}} {{bar:{BAR_COLUMNS}}} {{pos}}/{{len}} {{msg}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        // The clock keeps ticking while nothing happens (a queued job).
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress {
            bar: Some(bar),
            state,
        }
    }

    /// Updates the counts.
    pub fn set(&self, done: u64, total: u64) {
        self.update(|s| {
            s.clock.observe(Instant::now(), done, total);
            s.done = done;
            s.total = total;
            // Progress means the job is no longer waiting for workers.
            if done > 0 && s.status.starts_with("queued") {
                s.status.clear();
            }
        });
        if let Some(b) = &self.bar {
            b.set_length(total);
            b.set_position(done);
        }
    }

    /// Shows a short status message next to the bar.
    pub fn message(&self, msg: &str) {
        self.update(|s| s.status = msg.to_string());
    }

    /// The job waits for workers: says how many are registered.
    pub fn queued(&self, workers: usize) {
        self.message(&format!(
            "queued: {workers} worker{} registered",
            if workers == 1 { "" } else { "s" }
        ));
    }

    /// Applies `f` to the state and redraws the message.
    fn update(&self, f: impl FnOnce(&mut State)) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        f(&mut s);
        if let Some(b) = &self.bar {
            b.set_message(message_line(&s.clock, &s.status, s.done, s.total));
        }
    }

    /// Templates done and in total, as last reported (for front ends that draw their own bar,
    /// e.g. the Python package's).
    pub fn counts(&self) -> (u64, u64) {
        self.state
            .lock()
            .map(|s| (s.done, s.total))
            .unwrap_or((0, 0))
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_counts_from_the_first_report_not_from_submission() {
        let t0 = Instant::now();
        let mut c = RateClock::default();
        // A watch that starts when the job is already 500 000 templates in.
        c.observe(t0, 500_000, 1_000_000);
        assert_eq!(c.rate(), None);
        assert_eq!(c.summary(), "");
        c.observe(t0 + Duration::from_secs(10), 501_000, 1_000_000);
        assert_eq!(c.rate(), Some(100.0));
        assert_eq!(c.eta(), Some(Duration::from_secs(4990)));
        assert_eq!(c.summary(), "100 tpl/s ETA 1h23m");
    }

    #[test]
    fn eta_is_hidden_when_unknown_or_absurd() {
        let t0 = Instant::now();
        let mut c = RateClock::default();
        c.observe(t0, 0, u64::MAX / 2);
        c.observe(t0 + Duration::from_secs(1000), 1, u64::MAX / 2);
        assert!(c.rate().is_some());
        assert_eq!(c.eta(), None, "an ETA of years is not shown");
        assert!(!c.summary().contains("ETA"));
        // No progress at all: no rate, no ETA.
        let mut c = RateClock::default();
        c.observe(t0, 7, 10);
        c.observe(t0 + Duration::from_secs(60), 7, 10);
        assert_eq!((c.rate(), c.eta()), (None, None));
    }

    #[test]
    fn the_line_fits_80_columns() {
        let t0 = Instant::now();
        let mut c = RateClock::default();
        let total = 100_000_000;
        c.observe(t0, 0, total);
        c.observe(t0 + Duration::from_secs(3), 12_345_678, total);
        let status = "coordinator lost (transport error: connection refused); reconnecting...";
        let msg = message_line(&c, status, 12_345_678, total);
        let line = fixed_columns(12_345_678, total) + msg.chars().count();
        assert!(line <= LINE_COLUMNS, "{line}: {msg}");
        assert!(msg.starts_with("4.1M tpl/s ETA 21s"), "{msg}");
        assert_eq!(
            message_line(&RateClock::default(), "queued: 0 workers registered", 0, 94),
            "queued: 0 workers registered"
        );
    }
}
