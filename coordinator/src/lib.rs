//! # chirpfarm-coordinator
//!
//! The coordinator splits template-bank searches into tasks, leases them to worker daemons that
//! register at runtime, and streams the results back to clients in bank order.
//!
//! * [`scheduler`]: the sans-IO core (events in, actions out), with no sockets, clocks or disks;
//!   every scheduling rule lives there and is tested without a network.
//! * [`state`]: the shared [`state::Coordinator`] — the scheduler plus job records and worker
//!   sessions — which carries out the scheduler's actions.
//! * [`jobs`]: a job's result blocks, released to watchers in bank order from any cursor.
//! * [`watch`]: a job's Watch stream, lazy: results are copied out batch by batch as the client
//!   reads them.
//! * [`blobs`]: content-addressed blobs (strain samples, noise spectra) uploaded by clients and
//!   fetched by workers, bounded in memory and kept on disk with `--data-dir`.
//! * [`store`]: the durable store in `--data-dir` (jobs and accepted results, checksummed
//!   ([`record`]) and fsynced); [`journal`]: the thread that appends results with group commit;
//!   [`recover`]: reading it all back at start; [`datadir`]: the data dir's lock.
//! * [`submit`]: accepting a search (validation, sizing, durable record) for any caller.
//! * [`identity`]: worker identities and the per-session secrets that prove them.
//! * [`check`]: checking a worker's data result against its task before it is accepted.
//! * [`limits`]: what one request, client or job may cost (refused with RESOURCE_EXHAUSTED).
//! * [`chunk`]: automatic task sizing; [`duration`]: `90s`, `12h`, `7d` on the command line.
//! * [`autoalloc`]: automatic allocation — worker jobs asked of Slurm while tasks wait,
//!   drained when idle (`--autoalloc slurm`, `chirpfarm alloc`).
//! * [`sim`]: a whole-farm simulation with instant fake workers, for scale benchmarks.
//! * [`client_service`], [`worker_service`]: the two gRPC services, thin translations.
//! * [`metrics`]: the Prometheus registry, and the observer that times leases and results from
//!   the scheduler's steps; [`http`]: the optional HTTP endpoint serving `/metrics`, the status
//!   page and its JSON (`--http`).
//! * [`introspect`]: gRPC health checking and server reflection (no token: they reveal nothing).
//! * [`server`]: one listener, both services, the heartbeat timer, graceful shutdown.
//! * [`security`]: tokens per role, TLS, limits, and the refusal to expose a coordinator
//!   without them; [`conn`]: accepting connections (handshake deadline, cap, accept back-off);
//!   [`plaintext`]: the answer to an `http://` client on a TLS port.

pub mod autoalloc;
pub mod blobs;
pub mod check;
pub mod chunk;
pub mod client_service;
pub mod conn;
pub mod datadir;
pub mod duration;
pub mod http;
pub mod identity;
pub mod introspect;
pub mod jobs;
pub mod journal;
pub mod limits;
pub mod metrics;
pub mod plaintext;
pub mod record;
pub mod recover;
pub mod scheduler;
pub mod security;
pub mod server;
pub mod sim;
pub mod state;
pub mod store;
pub mod submit;
pub mod watch;
pub mod worker_service;

pub use security::{Security, ServerTls};
pub use server::{serve, serve_coordinator, serve_in_memory};
pub use state::{Coordinator, CoordinatorConfig};
