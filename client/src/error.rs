//! The CLI's errors and their exit codes.

use chirpfarm_core::SpecError;

/// Everything that can make a command fail, with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input from the user (exit 2).
    #[error("{0}")]
    Input(String),
    /// The coordinator cannot be reached (exit 3).
    #[error("{0}")]
    Unreachable(String),
    /// The job failed or was cancelled, or the coordinator returned an error (exit 1).
    #[error("{0}")]
    Failed(String),
    /// Ctrl-C (exit 130).
    #[error("{0}")]
    Interrupted(String),
    /// SIGTERM, as Slurm and `timeout` send (exit 143 = 128 + 15).
    #[error("{0}")]
    Terminated(String),
}

impl CliError {
    /// The process exit code: 2 bad input, 3 cannot reach the coordinator, 130 interrupted,
    /// 1 anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) => 2,
            CliError::Unreachable(_) => 3,
            CliError::Failed(_) => 1,
            CliError::Interrupted(_) => 130,
            CliError::Terminated(_) => 143,
        }
    }

    /// Maps a gRPC status from the coordinator to a CLI error.
    pub fn from_status(s: tonic::Status) -> CliError {
        use tonic::Code;
        // The message comes from the network: printed escaped, bounded.
        let msg = chirpfarm_core::logging::escape(s.message(), 2000);
        match s.code() {
            Code::InvalidArgument | Code::ResourceExhausted | Code::NotFound => {
                CliError::Input(msg)
            }
            Code::Unavailable => CliError::Unreachable(format!("coordinator unavailable: {msg}")),
            Code::Unauthenticated | Code::PermissionDenied => CliError::Input(msg),
            _ => CliError::Failed(format!("{:?}: {msg}", s.code())),
        }
    }
}

impl From<SpecError> for CliError {
    fn from(e: SpecError) -> Self {
        CliError::Input(e.to_string())
    }
}
