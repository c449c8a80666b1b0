//! # chirpfarm-proto
//!
//! The `chirpfarm.v1` wire contract, generated from `proto/chirpfarm.proto` at build time (protox,
//! no `protoc`), plus the conversions between the generated types and the domain types of
//! `chirpfarm-core`. Generated types stay at the edges: services translate a request with the
//! functions here and hand plain Rust to the scheduler and the engine.
//!
//! Around the wire: [`auth`] (who may call which service: tokens per role), [`connect`] (how a
//! worker or the CLI reaches a coordinator: URL, TLS, timeouts), [`memory`] (the embedded
//! cluster's in-process transport: gRPC over pipes, no socket), [`ratelimit`] (warnings that a
//! flood of bad peers cannot flood) and [`shutdown`] (SIGTERM and Ctrl-C alike).

/// Generated messages and service stubs for package `chirpfarm.v1`.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    tonic::include_proto!("chirpfarm.v1");
}

/// The encoded `FileDescriptorSet` of `chirpfarm.proto` (every `chirpfarm.v1` service and
/// message), for gRPC server reflection: generic clients such as grpcurl list and call the
/// services without a copy of the `.proto` file.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/chirpfarm_descriptor.bin"));

pub mod auth;
pub mod connect;
mod convert;
pub mod labels;
pub mod memory;
pub mod ratelimit;
pub mod shutdown;

pub use convert::{
    approximant_from_proto, approximant_to_proto, bank_from_proto, bank_to_proto, blob_from_proto,
    blob_to_proto, convention_from_proto, convention_to_proto, data_from_proto, data_to_proto,
    signal_block, signal_result_block, spec_from_proto, spec_to_proto,
};

/// The protocol version a worker must speak to register. Bump it on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 3;

/// Largest message a client may send to the Client service (a submit with a 500,000-template
/// parameter bank fits; data travels as 1 MiB blob chunks). The CLI checks it before sending.
pub const MAX_CLIENT_REQUEST_BYTES: usize = 16 << 20;

/// The build version every binary reports (the crate version).
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The metadata key carrying the bearer token when a coordinator requires one.
pub const TOKEN_HEADER: &str = "authorization";
