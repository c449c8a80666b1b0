//! The CLI's errors, their exit codes (the one table in [`chirpfarm_core::ExitKind`]) and how
//! they are printed: one `error: ...` line, or with `--json` one JSON object on stderr.

use chirpfarm_core::{ExitKind, SpecError};

/// Everything that can make a command fail, with its exit code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CliError {
    /// Bad input from the user (exit 2).
    #[error("{0}")]
    Input(String),
    /// The coordinator refused the token: missing or wrong (exit 2, bad input, like other
    /// input errors; kept apart so that library users, e.g. Python's `PermissionError`, can
    /// tell it from a bad value).
    #[error("{0}")]
    Denied(String),
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
    /// Which row of the exit-code table this error is.
    pub fn kind(&self) -> ExitKind {
        match self {
            CliError::Input(_) | CliError::Denied(_) => ExitKind::BadInput,
            CliError::Unreachable(_) => ExitKind::Unreachable,
            CliError::Failed(_) => ExitKind::Failure,
            CliError::Interrupted(_) => ExitKind::Interrupted,
            CliError::Terminated(_) => ExitKind::Terminated,
        }
    }

    /// The process exit code (see [`ExitKind`]).
    pub fn exit_code(&self) -> u8 {
        self.kind().code()
    }

    /// The `--json` form: `{"error":{"code":2,"kind":"bad_input","message":"..."}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let kind = self.kind();
        serde_json::json!({
            "error": {
                "code": kind.code(),
                "kind": kind.name(),
                "message": self.to_string(),
            }
        })
    }

    /// Prints the error on stderr: one JSON object when `json`, else `error: ...`.
    pub fn report(&self, json: bool) {
        if json {
            eprintln!("{}", self.to_json());
        } else {
            eprintln!("error: {self}");
        }
    }

    /// Maps a gRPC status from the coordinator to a CLI error. The message names the problem
    /// in words; gRPC codes are not shown (see
    /// [`chirpfarm_proto::connect::describe_status`]).
    pub fn from_status(s: tonic::Status) -> CliError {
        CliError::from_status_at(s, None)
    }

    /// [`CliError::from_status`] for a call to the coordinator at `coordinator`: an answer that
    /// was not gRPC at all says that this address is not a chirpfarm coordinator.
    pub fn from_status_at(s: tonic::Status, coordinator: Option<&str>) -> CliError {
        use tonic::Code;
        let msg = chirpfarm_proto::connect::describe_status(&s);
        if let Some(coordinator) = coordinator {
            if chirpfarm_proto::connect::looks_not_grpc(&msg) {
                return CliError::Unreachable(chirpfarm_proto::connect::not_grpc(coordinator));
            }
        }
        match s.code() {
            Code::InvalidArgument | Code::ResourceExhausted | Code::NotFound => {
                CliError::Input(msg)
            }
            Code::Unavailable => CliError::Unreachable(format!("coordinator unavailable: {msg}")),
            Code::Unauthenticated | Code::PermissionDenied => CliError::Denied(msg),
            Code::DeadlineExceeded => {
                CliError::Failed(format!("the coordinator did not answer in time ({msg})"))
            }
            _ => CliError::Failed(format!("the coordinator reported an error: {msg}")),
        }
    }
}

impl From<SpecError> for CliError {
    fn from(e: SpecError) -> Self {
        CliError::Input(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_object_carries_code_kind_and_message() {
        let e = CliError::Input("no such file".into());
        let v = e.to_json();
        assert_eq!(v["error"]["code"], 2);
        assert_eq!(v["error"]["kind"], "bad_input");
        assert_eq!(v["error"]["message"], "no such file");
        assert_eq!(CliError::Unreachable(String::new()).exit_code(), 3);
    }

    #[test]
    fn status_messages_name_no_grpc_code() {
        let e = CliError::from_status(tonic::Status::internal("disk full"));
        let text = e.to_string();
        assert!(!text.contains("Internal"), "{text}");
        assert!(text.contains("disk full"), "{text}");
        assert_eq!(e.exit_code(), 1);
        let e = CliError::from_status(tonic::Status::permission_denied("wrong token"));
        assert_eq!(e.exit_code(), 2);
        assert!(matches!(e, CliError::Denied(_)), "{e:?}");
        assert!(!e.to_string().contains("PermissionDenied"));
    }
}
