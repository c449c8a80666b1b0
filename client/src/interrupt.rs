//! SIGINT and SIGTERM during `search`: the listeners, installed before anything starts, and
//! what happens to the job — it stops with the process on the embedded cluster; on a
//! coordinator it is cancelled (`--cancel-on-exit`, or the user says so on a terminal) or left
//! running with the commands to follow or stop it.

use crate::error::CliError;
use crate::remote::Conn;
use chirpfarm_proto::v1;

/// The signal that ended a search before its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt,
    /// SIGTERM (Slurm, `timeout`, `kill`): exit 143.
    Terminate,
}

/// The listeners for SIGINT and SIGTERM, installed before anything starts so that a signal at
/// any point of the search is handled, not the default death.
pub(crate) struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs both handlers.
    pub(crate) fn install() -> Result<Signals, CliError> {
        use tokio::signal::unix::{signal, SignalKind};
        let fail = |e: std::io::Error| CliError::Failed(format!("cannot handle signals: {e}"));
        Ok(Signals {
            int: signal(SignalKind::interrupt()).map_err(fail)?,
            term: signal(SignalKind::terminate()).map_err(fail)?,
        })
    }

    /// Resolves with the first signal received.
    pub(crate) async fn recv(&mut self) -> Stop {
        tokio::select! {
            _ = self.int.recv() => Stop::Interrupt,
            _ = self.term.recv() => Stop::Terminate,
        }
    }
}

/// What to do with a search's job when a signal ends the client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OnStop<'a> {
    /// Which signal.
    pub stop: Stop,
    /// The job runs on the embedded cluster (it stops with the process).
    pub embedded: bool,
    /// --cancel-on-exit: cancel the remote job without asking.
    pub cancel: bool,
    /// The coordinator's URL, for the commands printed.
    pub url: &'a str,
}

/// SIGINT or SIGTERM during `search`: on the embedded cluster the job stops with the process; on
/// a coordinator the job is cancelled with --cancel-on-exit, else (on a terminal, after Ctrl-C)
/// the user is asked, else it keeps running and the commands to follow or stop it are printed.
pub(crate) async fn interrupted(conn: &Conn, job: &str, how: OnStop<'_>) -> CliError {
    use std::io::IsTerminal;
    let (word, make): (&str, fn(String) -> CliError) = match how.stop {
        Stop::Interrupt => ("interrupted", CliError::Interrupted),
        Stop::Terminate => ("terminated", CliError::Terminated),
    };
    if how.embedded {
        return make(format!("{word}: the embedded search stopped"));
    }
    let ask = how.stop == Stop::Interrupt
        && !how.cancel
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal();
    let cancel = how.cancel
        || (ask
            && tokio::task::spawn_blocking({
                let job = job.to_string();
                move || {
                    eprint!("\ninterrupted: cancel {job} on the coordinator? [y/N] ");
                    let mut line = String::new();
                    let _ = std::io::stdin().read_line(&mut line);
                    matches!(line.trim(), "y" | "Y" | "yes")
                }
            })
            .await
            .unwrap_or(false));
    if cancel {
        match conn
            .client()
            .cancel(conn.req(v1::JobRef {
                job_id: job.to_string(),
            }))
            .await
        {
            Ok(r) if r.get_ref().already_ended => make(format!(
                "{word}: {job} had already ended ({})",
                crate::listings::state_name(r.get_ref().state)
            )),
            Ok(_) => make(format!("{word}: {job} cancelled")),
            Err(s) => make(format!(
                "{word}; cancelling {job} failed: {}",
                chirpfarm_core::logging::escape(s.message(), 500)
            )),
        }
    } else {
        let url = chirpfarm_core::logging::escape(how.url, 200);
        make(format!(
            "{word}: job {job} keeps running; `chirpfarm watch {job} --coordinator {url}` prints its results, `chirpfarm cancel {job} --coordinator {url}` stops it"
        ))
    }
}
