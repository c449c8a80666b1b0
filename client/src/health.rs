//! `chirpfarm health`: asks a coordinator's standard gRPC health service
//! (`grpc.health.v1.Health/Check`) whether it serves, for container health checks and scripts.
//! The exit code is the answer: 0 serving, 1 not serving (starting or draining), 3 unreachable.
//! No token is needed: the coordinator answers health checks from anyone (they reveal nothing).

use crate::args::Remote;
use crate::error::CliError;
use chirpfarm_proto::connect::ClientTls;
use clap::Args;
use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// How long the check may take once connected; a coordinator slower than this is reported
/// unreachable (a health check that hangs is no answer).
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// `chirpfarm health` arguments.
#[derive(Debug, Args, Clone)]
pub struct HealthCmd {
    /// Service to ask about: empty for the whole coordinator (the default), or
    /// `chirpfarm.v1.Client` / `chirpfarm.v1.WorkerSession`.
    #[arg(long, default_value = "")]
    pub service: String,
    /// The coordinator (the token file, if given, is not needed and not sent).
    #[command(flatten)]
    pub remote: Remote,
}

/// Checks the coordinator's health; `Ok` only when it serves.
pub async fn health(cmd: HealthCmd) -> Result<(), CliError> {
    let url = cmd.remote.coordinator.as_deref().ok_or_else(|| {
        CliError::Input(
            "no coordinator: pass --coordinator URL or set CHIRPFARM_COORDINATOR".into(),
        )
    })?;
    let tls = ClientTls::from_files(cmd.remote.ca_file.as_deref(), None, None)
        .map_err(CliError::Input)?;
    let endpoint = chirpfarm_proto::connect::endpoint(url, &tls).map_err(CliError::Input)?;
    let channel = chirpfarm_proto::connect::connect(&endpoint)
        .await
        .map_err(CliError::Unreachable)?;
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: cmd.service.clone(),
    });
    request.set_timeout(CHECK_TIMEOUT);
    let what = match cmd.service.as_str() {
        "" => format!("the coordinator at {url}"),
        s => format!("{} on the coordinator at {url}", escape(s)),
    };
    let answer = HealthClient::new(channel).check(request).await;
    let status = match answer {
        Ok(r) => r.into_inner().status(),
        Err(s) => {
            let msg = chirpfarm_core::logging::escape(s.message(), 500);
            return Err(match s.code() {
                tonic::Code::NotFound => CliError::Failed(format!(
                    "{what} does not know that service (known: chirpfarm.v1.Client, chirpfarm.v1.WorkerSession, or none for the whole coordinator)"
                )),
                tonic::Code::Unimplemented => CliError::Failed(format!(
                    "{what} does not answer health checks (an older coordinator?)"
                )),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                    CliError::Unreachable(format!("{what} did not answer the health check: {msg}"))
                }
                _ => CliError::Failed(format!("{what} could not check its health: {msg}")),
            });
        }
    };
    match status {
        ServingStatus::Serving => {
            println!("{what} is serving");
            Ok(())
        }
        ServingStatus::NotServing => Err(CliError::Failed(format!(
            "{what} is not serving (it is shutting down)"
        ))),
        ServingStatus::Unknown | ServingStatus::ServiceUnknown => Err(CliError::Failed(format!(
            "{what} does not know its state yet"
        ))),
    }
}

/// A user-given service name, printable on one line.
fn escape(s: &str) -> String {
    chirpfarm_core::logging::escape(s, 200)
}
