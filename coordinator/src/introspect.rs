//! The coordinator's standard gRPC introspection services: health checking
//! (`grpc.health.v1.Health`) for load balancers, Kubernetes `grpc:` probes and `chirpfarm health`,
//! and server reflection (`grpc.reflection.v1` and `v1alpha`) for grpcurl and other generic
//! clients.
//!
//! Neither asks for a token: health says only whether the server is up, and reflection only
//! describes the public `chirpfarm.v1` contract (the same `.proto` that ships with the source).
//! Neither reads or changes a job, a worker or a result, so a probe or an operator with grpcurl
//! needs no secret; the chirpfarm services on the same port still refuse a caller without one.
//! They still go through [`Speaking`], so a connection that only checks health has its handshake
//! deadline lifted like any other.

use crate::conn::Speaking;
use chirpfarm_proto::v1::client_server::ClientServer;
use chirpfarm_proto::v1::worker_session_server::WorkerSessionServer;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Status};
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

/// The interceptor of the introspection services: admits every caller (no token needed).
pub type Open = Speaking<fn(Request<()>) -> Result<Request<()>, Status>>;

/// Admits a request as it is.
fn admit(req: Request<()>) -> Result<Request<()>, Status> {
    Ok(req)
}

/// The names health reports on: the whole server (`""`) and both chirpfarm services.
fn service_names() -> [&'static str; 3] {
    [
        "",
        <ClientServer<crate::client_service::ClientService> as NamedService>::NAME,
        <WorkerSessionServer<crate::worker_service::WorkerService> as NamedService>::NAME,
    ]
}

/// The health service and the handle that flips it to NOT_SERVING when the coordinator drains.
pub struct Health {
    reporter: HealthReporter,
}

impl Health {
    /// The health service, SERVING for `""`, `chirpfarm.v1.Client` and
    /// `chirpfarm.v1.WorkerSession`, and its handle.
    pub async fn new() -> (
        Health,
        InterceptedService<
            tonic_health::pb::health_server::HealthServer<
                impl tonic_health::pb::health_server::Health,
            >,
            Open,
        >,
    ) {
        let (reporter, service) = tonic_health::server::health_reporter();
        for name in service_names() {
            reporter
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        (
            Health { reporter },
            InterceptedService::new(service, open()),
        )
    }

    /// Reports every service NOT_SERVING: the coordinator is draining and takes no new work.
    pub async fn draining(&self) {
        for name in service_names() {
            self.reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    }

    /// Forgets every status, which ends open `Watch` streams (after their last NOT_SERVING):
    /// a watcher must not hold up the server's graceful stop.
    pub async fn stopped(&mut self) {
        for name in service_names() {
            self.reporter.clear_service_status(name).await;
        }
    }
}

/// The [`Open`] interceptor.
fn open() -> Open {
    Speaking(admit as fn(Request<()>) -> Result<Request<()>, Status>)
}

// The two services' types are named in full: tonic-reflection returns them as `impl` types.
#[allow(clippy::type_complexity)]
/// Builds reflection over the chirpfarm and health descriptors, v1 and v1alpha, or says why it
/// could not (only a build defect in the embedded descriptors can make it fail).
pub fn reflection() -> Result<
    (
        InterceptedService<
            tonic_reflection::server::v1::ServerReflectionServer<
                impl tonic_reflection::server::v1::ServerReflection,
            >,
            Open,
        >,
        InterceptedService<
            tonic_reflection::server::v1alpha::ServerReflectionServer<
                impl tonic_reflection::server::v1alpha::ServerReflection,
            >,
            Open,
        >,
    ),
    tonic_reflection::server::Error,
> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(chirpfarm_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let v1 = builder().build_v1()?;
    let v1alpha = builder().build_v1alpha()?;
    Ok((
        InterceptedService::new(v1, open()),
        InterceptedService::new(v1alpha, open()),
    ))
}
