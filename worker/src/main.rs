//! `chirpfarm-worker`: a worker daemon that serves a coordinator's matched-filter tasks.

use chirpfarm_core::logging::{self, LogFormat};
use chirpfarm_core::ExitKind;
use chirpfarm_worker::daemon::{self, WorkerConfig};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Parses `--idle-timeout`: seconds, greater than 0 and finite.
fn idle_seconds(text: &str) -> Result<Duration, String> {
    let why = || format!("{text:?} is not a number of seconds greater than 0 (e.g. 300)");
    let secs: f64 = text.trim().parse().map_err(|_| why())?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(why());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| why())
}

/// A chirpfarm worker daemon: registers with a coordinator, runs the matched-filter tasks it
/// leases on all (or --threads) cores, and keeps normalised templates cached between tasks and
/// jobs. It may be started before the coordinator: it retries with back-off until it connects,
/// and reconnects by itself when the coordinator restarts. Ctrl-C or SIGTERM finishes the
/// current tasks, reports them and exits 0; so does --idle-timeout once no task came for that
/// long (for batch jobs: the job ends instead of holding its slot).
#[derive(Debug, Parser)]
#[command(
    name = "chirpfarm-worker",
    version,
    about,
    long_about = None,
    after_help = format!(
        "\
Examples:
  chirpfarm-worker --coordinator http://lab1:50051
  chirpfarm-worker --coordinator https://lab1:50051 --ca-file ca.pem --token-file token --threads 16
  CHIRPFARM_COORDINATOR=http://lab1:50051 chirpfarm-worker --template-cache-mb 4096
  chirpfarm-worker --coordinator http://lab1:50051 --idle-timeout 300   # in a batch job

RUST_LOG sets the log filter (default info; e.g. RUST_LOG=chirpfarm_worker=debug); --log-format
json writes one JSON object per line. --threads is at most 4 × the machine's cores.

{}",
        chirpfarm_core::exit::help()
    )
)]
struct Args {
    /// Coordinator URL.
    #[arg(
        long,
        env = "CHIRPFARM_COORDINATOR",
        default_value = "http://127.0.0.1:50051",
        value_name = "URL"
    )]
    coordinator: String,
    /// Compute threads (default: all cores; at most 4 × the cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Name shown by `chirpfarm workers` (default: HOST-PID).
    #[arg(long)]
    name: Option<String>,
    /// Template cache size in MB (each template takes about 1 MB).
    #[arg(long, default_value_t = 1024, value_name = "MB")]
    template_cache_mb: usize,
    /// Data cache size in MiB: strain and PSD of data searches (fetched once per worker) and
    /// their conditioned segments (16 bytes per segment sample / 2 each), kept across jobs.
    #[arg(long, default_value_t = 2048, value_name = "MIB")]
    data_cache_mb: usize,
    /// File holding the coordinator's shared secret.
    #[arg(long, env = "CHIRPFARM_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// CA certificate (PEM) that signed the coordinator's certificate; needed for https://.
    #[arg(long, env = "CHIRPFARM_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// This worker's client certificate (PEM), for a coordinator with --client-ca.
    #[arg(long, env = "CHIRPFARM_WORKER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "CHIRPFARM_WORKER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Tasks to request ahead of time (at least 1).
    #[arg(long, default_value_t = 2, value_name = "TASKS")]
    credits: u32,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 0.0.0.0:9464; port 0 picks a free
    /// port, logged). Off by default. The endpoint is read-only and shows only counts (tasks,
    /// templates, cache use, connection state): no job data, names or tokens. Like other
    /// Prometheus exporters it is open to whoever can reach ADDR, on any interface; bind it to
    /// loopback or a private network if the counts themselves are sensitive.
    #[arg(long, env = "CHIRPFARM_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// Deregister and exit 0 after holding no task for this many seconds (decimals allowed),
    /// counted from start or from the end of the last task, connected or not. A task never
    /// ends early. Off by default: the worker waits for work forever.
    #[arg(long, env = "CHIRPFARM_IDLE_TIMEOUT", value_name = "SECONDS", value_parser = idle_seconds)]
    idle_timeout: Option<Duration>,
    /// Benchmarks only: answer every task at once with zeros, without computing.
    #[arg(long, hide = true)]
    noop: bool,
    /// Log format: text or json.
    #[arg(long, default_value = "text", value_name = "text|json")]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(args.log_format, "info");
    let mut config = WorkerConfig::new(args.coordinator);
    if let Some(t) = args.threads {
        if t == 0 {
            eprintln!("error: --threads must be at least 1");
            return ExitKind::BadInput.into();
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if t > cores.saturating_mul(4) {
            eprintln!("error: --threads {t} is more than 4 × this machine's cores ({cores})");
            return ExitKind::BadInput.into();
        }
        config.threads = t;
    }
    if args.credits == 0 {
        eprintln!("error: --credits must be at least 1");
        return ExitKind::BadInput.into();
    }
    config.credits = args.credits;
    config.noop = args.noop;
    config.idle_timeout = args.idle_timeout;
    config.metrics_listen = args.metrics_listen.filter(|a| !a.is_empty());
    if let Some(n) = args.name {
        config.name = n;
    }
    config.cache_bytes = args.template_cache_mb.saturating_mul(1 << 20);
    config.data_cache_bytes = args.data_cache_mb.saturating_mul(1 << 20);
    if let Some(p) = &args.token_file {
        match chirpfarm_proto::auth::read_token_file(p) {
            Ok(t) => config.token = Some(t),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitKind::BadInput.into();
            }
        }
    } else if let Ok(t) = std::env::var("CHIRPFARM_TOKEN") {
        config.token = Some(t).filter(|t| !t.is_empty());
    }
    config.tls = match chirpfarm_proto::connect::ClientTls::from_files(
        args.ca_file.as_deref(),
        args.tls_cert.as_deref(),
        args.tls_key.as_deref(),
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitKind::BadInput.into();
        }
    };
    tracing::info!(name = %config.name, threads = config.threads, coordinator = %config.coordinator, "chirpfarm-worker starting");
    match daemon::run(config, chirpfarm_proto::shutdown::signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.kind().into()
        }
    }
}
