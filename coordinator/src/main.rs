//! `chirpfarm-coordinator`: serves searches to clients and tasks to worker daemons.

use chirpfarm_coordinator::scheduler::Config;
use chirpfarm_coordinator::CoordinatorConfig;
use chirpfarm_core::logging::{self, LogFormat};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// The chirpfarm coordinator: splits template-bank searches into tasks, hands them to the worker
/// daemons that register with it, and streams results to clients in bank order.
#[derive(Debug, Parser)]
#[command(name = "chirpfarm-coordinator", version, about, long_about = None)]
struct Args {
    /// Address to listen on; port 0 picks a free port (the bound address is logged).
    #[arg(long, default_value = "127.0.0.1:50051", env = "CHIRPFARM_LISTEN")]
    listen: String,
    /// File holding a shared secret that every client and worker must present.
    #[arg(long, env = "CHIRPFARM_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Templates per task (default: chosen automatically for ~0.2-2 s of work per task).
    #[arg(long)]
    chunk_size: Option<u32>,
    /// Seconds without a heartbeat after which a worker is considered lost and its tasks re-queued.
    #[arg(long, default_value_t = 5.0)]
    heartbeat_timeout: f64,
    /// Largest bank a search may use, in templates.
    #[arg(long, default_value_t = 1_000_000)]
    max_templates: u64,
    /// Log format: text or json.
    #[arg(long, default_value = "text")]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(args.log_format, "info");
    if !(args.heartbeat_timeout.is_finite() && args.heartbeat_timeout > 0.0) {
        eprintln!("error: --heartbeat-timeout must be a positive number of seconds");
        return ExitCode::from(2);
    }
    if args.chunk_size == Some(0) {
        eprintln!("error: --chunk-size must be at least 1");
        return ExitCode::from(2);
    }
    let token = match &args.token_file {
        Some(p) => match chirpfarm_proto::auth::read_token_file(p) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(address = %addr, auth = token.is_some(), "chirpfarm-coordinator listening on {addr}");
    let config = CoordinatorConfig {
        scheduler: Config {
            heartbeat_timeout_ms: (args.heartbeat_timeout * 1000.0) as u64,
        },
        heartbeat_interval_ms: ((args.heartbeat_timeout * 1000.0) / 5.0).clamp(100.0, 1000.0) as u32,
        chunk_size: args.chunk_size,
        limits: chirpfarm_core::Limits {
            max_templates: args.max_templates,
            ..Default::default()
        },
    };
    match chirpfarm_coordinator::serve(config, listener, token, chirpfarm_proto::shutdown::signal()).await {
        Ok(()) => {
            tracing::info!("coordinator stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: server failed: {e}");
            ExitCode::from(1)
        }
    }
}
