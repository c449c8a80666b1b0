//! The exit codes of all three binaries (`chirpfarm`, `chirpfarm-worker`,
//! `chirpfarm-coordinator`), declared once so scripts can rely on one meaning per number.
//!
//! Every `main` turns its outcome into an [`ExitKind`] and exits with [`ExitKind::code`]; every
//! `--help` ends with [`help`], generated from the same table.

/// What a process's exit status means. It exists so that the three binaries agree: a wrong
/// token is bad input (2) for the CLI and for a worker alike, an unreachable coordinator is 3
/// everywhere, and the help text and README are written from this one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitKind {
    /// Everything asked for was done.
    Success,
    /// The job failed or was cancelled, the server reported an error, or something else broke.
    Failure,
    /// The input is wrong: usage, files, values, a wrong or missing token (permission). Retrying
    /// the same command cannot help.
    BadInput,
    /// The coordinator cannot be reached: network, TLS handshake, or not a chirpfarm server.
    Unreachable,
    /// Interrupted by Ctrl-C (SIGINT): 128 + 2, as shells report it.
    Interrupted,
    /// Terminated by SIGTERM: 128 + 15, as shells report it.
    Terminated,
}

impl ExitKind {
    /// Every kind, in the order of the table.
    pub const ALL: [ExitKind; 6] = [
        ExitKind::Success,
        ExitKind::Failure,
        ExitKind::BadInput,
        ExitKind::Unreachable,
        ExitKind::Interrupted,
        ExitKind::Terminated,
    ];

    /// The process exit status.
    pub const fn code(self) -> u8 {
        match self {
            ExitKind::Success => 0,
            ExitKind::Failure => 1,
            ExitKind::BadInput => 2,
            ExitKind::Unreachable => 3,
            ExitKind::Interrupted => 130,
            ExitKind::Terminated => 143,
        }
    }

    /// A stable machine-readable name (the `kind` of a `--json` error object).
    pub const fn name(self) -> &'static str {
        match self {
            ExitKind::Success => "success",
            ExitKind::Failure => "failure",
            ExitKind::BadInput => "bad_input",
            ExitKind::Unreachable => "unreachable",
            ExitKind::Interrupted => "interrupted",
            ExitKind::Terminated => "terminated",
        }
    }

    /// What the code means, for people.
    pub const fn meaning(self) -> &'static str {
        match self {
            ExitKind::Success => "success",
            ExitKind::Failure => {
                "failure: the job failed or was cancelled, or the server reported an error"
            }
            ExitKind::BadInput => "bad input: usage, files, values, a wrong or missing token",
            ExitKind::Unreachable => {
                "cannot reach the coordinator: network, TLS handshake, not a chirpfarm server"
            }
            ExitKind::Interrupted => "interrupted (Ctrl-C, SIGINT)",
            ExitKind::Terminated => "terminated (SIGTERM)",
        }
    }
}

impl From<ExitKind> for std::process::ExitCode {
    fn from(k: ExitKind) -> Self {
        std::process::ExitCode::from(k.code())
    }
}

/// The table for `--help` (after_help of all three binaries).
pub fn help() -> String {
    let mut s = String::from("Exit codes:");
    for k in ExitKind::ALL {
        s.push_str(&format!("\n  {:>3}  {}", k.code(), k.meaning()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_distinct() {
        let codes: std::collections::HashSet<u8> = ExitKind::ALL.iter().map(|k| k.code()).collect();
        let names: std::collections::HashSet<&str> =
            ExitKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(codes.len(), ExitKind::ALL.len());
        assert_eq!(names.len(), ExitKind::ALL.len());
        assert_eq!(ExitKind::BadInput.code(), 2);
        assert_eq!(ExitKind::Unreachable.code(), 3);
        assert_eq!(ExitKind::Terminated.code(), 143);
    }

    #[test]
    fn help_lists_every_code() {
        let h = help();
        for k in ExitKind::ALL {
            assert!(
                h.contains(&format!("{:>3}  {}", k.code(), k.meaning())),
                "{h}"
            );
        }
    }
}
