//! Writing results to stdout, where a closed pipe is the reader saying it has enough.
//!
//! `chirpfarm search ... | head -n 3` closes stdout after three lines. Rust ignores SIGPIPE,
//! so the next write fails with a broken pipe (and `println!` would panic): here that failure
//! is a quiet success. Other write errors (a full disk) are still errors.

use crate::error::CliError;
use std::io::Write;

/// Runs `write` on a locked stdout and flushes it. A broken pipe ends it quietly with `Ok`.
pub fn write(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match write(&mut out).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if reader_gone(&e) => Ok(()),
        Err(e) => Err(CliError::Failed(format!("cannot write output: {e}"))),
    }
}

/// Prints one line on stdout (see [`write`]).
pub fn line(text: &str) -> Result<(), CliError> {
    write(|out| writeln!(out, "{text}"))
}

/// Whether a write error means that nobody reads stdout any more.
fn reader_gone(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}
