//! Logging set-up shared by every chirpfarm binary.

use std::io::IsTerminal;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (ANSI colours only when stderr is a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected text or json"
            )),
        }
    }
}

/// Installs a global `tracing` subscriber writing to stderr. The level comes from `RUST_LOG`
/// (default `info`). Safe to call more than once: later calls do nothing.
pub fn init(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Makes text from the network safe to print in a log line or a table: control characters
/// (newlines, ANSI escapes, NUL...) are written as Rust escapes (`\n`, `\u{1b}`), so a worker
/// named `"x\nINFO forged line"` cannot forge a log line or recolour a terminal, and anything past
/// `max_chars` characters is cut with an ellipsis, so one field cannot flood a log.
pub fn escape(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars + 8));
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Lets through at most `burst` events per `period` and counts the rest, so a misbehaving
/// peer (a buggy worker resending a bad result, a scanner guessing tokens) cannot flood the log:
/// the next line that gets through says how many were suppressed.
#[derive(Debug)]
pub struct RateLimit {
    period: std::time::Duration,
    burst: u32,
    window_start: Option<std::time::Instant>,
    in_window: u32,
    suppressed: u64,
}

impl RateLimit {
    /// At most `burst` events per `period`.
    pub const fn new(burst: u32, period: std::time::Duration) -> RateLimit {
        RateLimit {
            period,
            burst,
            window_start: None,
            in_window: 0,
            suppressed: 0,
        }
    }

    /// `Some(n)` when this event may be logged, `n` being how many were suppressed since the
    /// last one logged; `None` when it must be dropped.
    pub fn allow(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        if self
            .window_start
            .is_none_or(|s| now.duration_since(s) >= self.period)
        {
            self.window_start = Some(now);
            self.in_window = 0;
        }
        if self.in_window < self.burst {
            self.in_window += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_control_characters_and_bounds_length() {
        assert_eq!(escape("w1", 10), "w1");
        assert_eq!(
            escape("x\nINFO forged\u{1b}[31m", 100),
            "x\\nINFO forged\\u{1b}[31m"
        );
        assert_eq!(escape("abcdef", 3), "abc…");
        assert_eq!(escape("Mc ☉ ok", 10), "Mc ☉ ok");
    }

    #[test]
    fn rate_limit_counts_what_it_drops() {
        let mut r = RateLimit::new(2, std::time::Duration::from_secs(3600));
        assert_eq!(r.allow(), Some(0));
        assert_eq!(r.allow(), Some(0));
        assert_eq!(r.allow(), None);
        assert_eq!(r.allow(), None);
        r.window_start = Some(std::time::Instant::now() - std::time::Duration::from_secs(7200));
        assert_eq!(r.allow(), Some(2));
    }
}
