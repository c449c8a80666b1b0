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
}
