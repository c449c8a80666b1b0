//! gRPC health checking and server reflection over a real socket on 127.0.0.1: both answer
//! without a token while the chirpfarm services still refuse a caller without one, reflection
//! lists and resolves the chirpfarm services, and health turns NOT_SERVING when the coordinator
//! drains, after which the server goes away.

use chirpfarm_coordinator::{serve, CoordinatorConfig, Security};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::client_client::ClientClient;
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

/// The parts of `google.protobuf.FileDescriptorProto` this test reads (field numbers from
/// descriptor.proto), so a reflection answer is decoded, not searched as bytes.
#[derive(Clone, PartialEq, prost::Message)]
struct FileDescriptor {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    package: Option<String>,
    #[prost(message, repeated, tag = "6")]
    service: Vec<ServiceDescriptor>,
}

/// `google.protobuf.ServiceDescriptorProto`'s name.
#[derive(Clone, PartialEq, prost::Message)]
struct ServiceDescriptor {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
}

const WAIT: Duration = Duration::from_secs(10);

/// A plaintext channel to `url`.
async fn channel(url: &str) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(url.to_string())
        .unwrap()
        .connect_timeout(WAIT)
        .connect()
        .await
}

/// A coordinator that requires a token, on 127.0.0.1: its URL, the stop handle, the server task.
async fn start() -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(
            CoordinatorConfig::default(),
            listener,
            Security::with_token(Some("secret")),
            async {
                let _ = rx.await;
            },
        )
        .await
        .expect("server runs");
    });
    (url, tx, server)
}

async fn check(url: &str, service: &str) -> Result<ServingStatus, tonic::Status> {
    let mut c = HealthClient::new(channel(url).await.unwrap());
    let r = tokio::time::timeout(
        WAIT,
        c.check(HealthCheckRequest {
            service: service.into(),
        }),
    )
    .await
    .expect("check answered in time")?;
    Ok(r.into_inner().status())
}

/// Sends one reflection request and returns its answer.
async fn reflect(url: &str, req: MessageRequest) -> MessageResponse {
    let mut c = ServerReflectionClient::new(channel(url).await.unwrap());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(req),
    };
    let mut answers = tokio::time::timeout(
        WAIT,
        c.server_reflection_info(tokio_stream::iter([request])),
    )
    .await
    .expect("reflection answered in time")
    .expect("reflection needs no token")
    .into_inner();
    let first = tokio::time::timeout(WAIT, answers.message())
        .await
        .expect("an answer in time")
        .expect("a well-formed answer")
        .expect("one answer");
    first.message_response.expect("a response")
}

#[tokio::test]
async fn health_and_reflection_answer_without_a_token() {
    let (url, _stop, _server) = start().await;
    // The chirpfarm services refuse a caller without the token...
    let mut client = ClientClient::connect(url.clone()).await.unwrap();
    let refused = client
        .list_workers(v1::ListWorkersRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    // ...while health answers for the server and both services.
    for service in ["", "chirpfarm.v1.Client", "chirpfarm.v1.WorkerSession"] {
        assert_eq!(
            check(&url, service).await.unwrap(),
            ServingStatus::Serving,
            "{service:?}"
        );
    }
    let unknown = check(&url, "no.such.Service").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // Reflection lists the services...
    let MessageResponse::ListServicesResponse(list) =
        reflect(&url, MessageRequest::ListServices(String::new())).await
    else {
        panic!("not a service list");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "chirpfarm.v1.Client",
        "chirpfarm.v1.WorkerSession",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    // ...and resolves the file that declares them.
    let MessageResponse::FileDescriptorResponse(files) = reflect(
        &url,
        MessageRequest::FileContainingSymbol("chirpfarm.v1.WorkerSession".into()),
    )
    .await
    else {
        panic!("not a file descriptor");
    };
    let decoded: Vec<FileDescriptor> = files
        .file_descriptor_proto
        .iter()
        .map(|b| prost::Message::decode(b.as_slice()).expect("a FileDescriptorProto"))
        .collect();
    let file = decoded
        .iter()
        .find(|f| f.package.as_deref() == Some("chirpfarm.v1"))
        .expect("the chirpfarm.v1 file");
    assert_eq!(file.name.as_deref(), Some("chirpfarm.proto"));
    let services: Vec<&str> = file
        .service
        .iter()
        .filter_map(|s| s.name.as_deref())
        .collect();
    assert!(
        services.contains(&"Client") && services.contains(&"WorkerSession"),
        "{services:?}"
    );
}

#[tokio::test]
async fn health_turns_not_serving_on_shutdown_then_the_server_stops() {
    let (url, stop, server) = start().await;
    let mut c = HealthClient::new(channel(&url).await.unwrap());
    let mut watch = c
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch needs no token")
        .into_inner();
    let first = tokio::time::timeout(WAIT, watch.next())
        .await
        .expect("a first status in time")
        .expect("a status")
        .unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    stop.send(()).unwrap();
    let next = tokio::time::timeout(WAIT, watch.next())
        .await
        .expect("a status change in time")
        .expect("the stream tells NOT_SERVING before it ends")
        .unwrap();
    assert_eq!(next.status(), ServingStatus::NotServing);
    // The watch ends, and with it the server (a watcher does not hold up the stop).
    let end = tokio::time::timeout(WAIT, watch.next())
        .await
        .expect("the watch ends in time");
    assert!(!matches!(end, Some(Ok(_))), "{end:?}");
    tokio::time::timeout(WAIT, server)
        .await
        .expect("the server stops in time")
        .unwrap();
    let gone = channel(&url).await;
    assert!(gone.is_err(), "the port still answers after the stop");
}
