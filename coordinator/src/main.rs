//! `chirpfarm-coordinator`: serves searches to clients and tasks to worker daemons.

use chirpfarm_coordinator::autoalloc::cli::AllocArgs;
use chirpfarm_coordinator::conn::ConnLimits;
use chirpfarm_coordinator::duration::parse_duration;
use chirpfarm_coordinator::scheduler::Config;
use chirpfarm_coordinator::{CoordinatorConfig, Security, ServerTls};
use chirpfarm_core::logging::{self, LogFormat};
use chirpfarm_core::ExitKind;
use chirpfarm_proto::auth::{read_token_file, Access, Token};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// The chirpfarm coordinator: splits template-bank searches into tasks, hands them to the worker
/// daemons that register with it, and streams results to clients in bank order.
#[derive(Debug, Parser)]
#[command(
    name = "chirpfarm-coordinator",
    version,
    about,
    long_about = None,
    after_help = format!(
        "\
Examples:
  chirpfarm-coordinator                                   loopback only, port 50051
  chirpfarm-coordinator --listen 0.0.0.0:50051 --tls-cert cert.pem --tls-key key.pem --token-file token
  chirpfarm-coordinator --data-dir /var/lib/chirpfarm --retention 30d
  chirpfarm-coordinator --listen 0.0.0.0:50051 --insecure --autoalloc slurm --max-workers 16 \\
      --partition short --time-limit 4h --worker-args \"--template-cache-mb 4096\"

RUST_LOG sets the log filter (default info; e.g. RUST_LOG=chirpfarm_coordinator=debug);
--log-format json writes one JSON object per line.

{}",
        chirpfarm_core::exit::help()
    )
)]
struct Args {
    /// Address to listen on; port 0 picks a free port (the bound address is logged).
    #[arg(
        long,
        default_value = "127.0.0.1:50051",
        env = "CHIRPFARM_LISTEN",
        value_name = "HOST:PORT"
    )]
    listen: String,
    /// File holding a token that every client and worker must present (both roles; the
    /// role-specific files below take precedence for their role).
    #[arg(long, env = "CHIRPFARM_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// File holding the token clients (the CLI) must present; a worker token is refused on
    /// the Client service.
    #[arg(long, env = "CHIRPFARM_CLIENT_TOKEN_FILE")]
    client_token_file: Option<PathBuf>,
    /// File holding the token workers must present; a client token cannot open a worker
    /// session.
    #[arg(long, env = "CHIRPFARM_WORKER_TOKEN_FILE")]
    worker_token_file: Option<PathBuf>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key. Clients then use https://.
    #[arg(long, env = "CHIRPFARM_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "CHIRPFARM_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS for workers: worker sessions need a client certificate signed by this CA
    /// (PEM). CLI clients may still connect without a certificate.
    #[arg(long, env = "CHIRPFARM_CLIENT_CA", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Allow listening on an address other than loopback without TLS and tokens (a trusted
    /// network, or TLS ended by a proxy in front); also allows --http there without tokens.
    #[arg(long)]
    insecure: bool,
    /// Serve Prometheus metrics (GET /metrics) and a live status page (GET /, its JSON at
    /// /api/status) over plain HTTP on this address, e.g. 127.0.0.1:9464; port 0 picks a free
    /// port (the URL is logged). Off by default. With client tokens every path needs one:
    /// `Authorization: Bearer <token>`, or open /?token=<token> once in a browser (kept in an
    /// HttpOnly cookie). An address other than loopback needs tokens (or --insecure).
    #[arg(long, env = "CHIRPFARM_HTTP", value_name = "ADDR")]
    http: Option<String>,
    /// Seconds a new connection may take to make its first request (TLS handshake, HTTP/2
    /// preface, first call; on --http, the first request's headers) before it is closed.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    handshake_timeout: f64,
    /// Connections open at once (handshaking or serving); more are closed on accept. The
    /// --http endpoint has a cap of its own of the same size.
    #[arg(long, default_value_t = 4096, value_name = "CONNECTIONS")]
    max_connections: usize,
    /// Templates per task (default: chosen automatically for ~0.2-2 s of work per task).
    #[arg(long, value_name = "TEMPLATES")]
    chunk_size: Option<u32>,
    /// Seconds without a heartbeat after which a worker is considered lost and its tasks re-queued.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    heartbeat_timeout: f64,
    /// Largest bank a search may use, in templates.
    #[arg(long, default_value_t = 1_000_000, value_name = "TEMPLATES")]
    max_templates: u64,
    /// Memory for uploaded data (strain samples and noise spectra of data searches), in MiB;
    /// an upload that does not fit is refused. A 4096 s file at 4096 Hz is 128 MiB.
    #[arg(long, default_value_t = 4096, value_name = "MIB")]
    max_blob_mb: u64,
    /// Directory for durable state (jobs and every accepted result, checksummed and fsynced
    /// before release). A coordinator restarted on the same directory resumes its jobs without
    /// recomputing stored results; one coordinator at a time (DATA_DIR/lock). Without it,
    /// state lives in memory only and job ids carry a per-instance tag (job-kq3x-1).
    #[arg(long, env = "CHIRPFARM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// How long finished jobs are kept before removal: a number with a unit, s, m, h or d.
    #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
    retention: std::time::Duration,
    /// Do not run speculative copies of straggling tasks on idle workers.
    #[arg(long)]
    no_speculation: bool,
    /// On SIGTERM/Ctrl-C, how many seconds running tasks may take to finish before exiting.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    shutdown_grace: f64,
    /// Log format: text or json.
    #[arg(long, default_value = "text", value_name = "text|json")]
    log_format: LogFormat,
    /// Unfinished (queued or running) jobs allowed across all clients; more are refused.
    #[arg(long, default_value_t = 1000, help_heading = "Limits")]
    max_queued_jobs: usize,
    /// Unfinished jobs allowed per client address.
    #[arg(long, default_value_t = 200, help_heading = "Limits")]
    max_queued_jobs_per_client: usize,
    /// Tasks a job may be cut into (each costs memory whatever its size): a search asking for
    /// more, through a small --chunk-size, is refused.
    #[arg(long, default_value_t = 100_000, help_heading = "Limits")]
    max_tasks_per_job: u64,
    /// Watch streams open at once.
    #[arg(long, default_value_t = 1024, help_heading = "Limits")]
    max_watch_streams: usize,
    #[command(flatten)]
    alloc: AllocArgs,
}

/// The security settings from the flags: tokens per role, TLS, connection limits.
fn security(args: &Args) -> Result<Security, String> {
    let read = |p: &Option<PathBuf>| -> Result<Option<Token>, String> {
        p.as_deref()
            .map(|p| read_token_file(p).map(|t| Token::new(&t)))
            .transpose()
    };
    let shared = read(&args.token_file)?;
    let client = read(&args.client_token_file)?.or_else(|| shared.clone());
    let worker = read(&args.worker_token_file)?.or(shared);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(ServerTls::from_files(cert, key, args.client_ca.as_deref())?)
        }
        _ => None,
    };
    if !(args.handshake_timeout.is_finite() && args.handshake_timeout > 0.0) {
        return Err("--handshake-timeout must be a positive number of seconds".into());
    }
    if args.max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    Ok(Security {
        access: Access {
            client: client.into_iter().collect(),
            worker: worker.into_iter().collect(),
            worker_cert_required: false,
        },
        tls,
        limits: ConnLimits {
            handshake_timeout: std::time::Duration::from_secs_f64(args.handshake_timeout),
            max_connections: args.max_connections,
        },
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(args.log_format, "info");
    if !(args.heartbeat_timeout.is_finite() && args.heartbeat_timeout > 0.0) {
        eprintln!("error: --heartbeat-timeout must be a positive number of seconds");
        return ExitKind::BadInput.into();
    }
    if !(args.shutdown_grace.is_finite() && args.shutdown_grace >= 0.0) {
        eprintln!("error: --shutdown-grace must be a non-negative number of seconds");
        return ExitKind::BadInput.into();
    }
    if args.max_queued_jobs == 0
        || args.max_queued_jobs_per_client == 0
        || args.max_tasks_per_job == 0
        || args.max_watch_streams == 0
    {
        eprintln!("error: the --max-* limits must be at least 1");
        return ExitKind::BadInput.into();
    }
    if args.chunk_size == Some(0) {
        eprintln!("error: --chunk-size must be at least 1");
        return ExitKind::BadInput.into();
    }
    let (alloc_queue, alloc_tunables) = match (args.alloc.queue(), args.alloc.tunables()) {
        (Ok(q), Ok(t)) => (q, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitKind::BadInput.into();
        }
    };
    let security = match security(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitKind::BadInput.into();
        }
    };
    // Refuse an exposed address without TLS and tokens before binding anything.
    let addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host(&args.listen).await {
        Ok(a) => a.collect(),
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitKind::BadInput.into();
        }
    };
    if let Some(problem) = security.exposure_problem(&addrs).filter(|_| !args.insecure) {
        eprintln!("error: {problem}");
        return ExitKind::BadInput.into();
    }
    let http_addrs: Vec<std::net::SocketAddr> = match &args.http {
        None => Vec::new(),
        Some(a) => match tokio::net::lookup_host(a).await {
            Ok(a) => a.collect(),
            Err(e) => {
                eprintln!("error: cannot serve --http on {a}: {e}");
                return ExitKind::BadInput.into();
            }
        },
    };
    if let Some(exposed) = http_addrs.iter().find(|a| !a.ip().is_loopback()) {
        if security.effective_access().client.is_empty() && !args.insecure {
            eprintln!("error: refusing to serve --http on {exposed} without a client token: anyone who can reach it could read every job and worker. Add --client-token-file or --token-file, serve it on 127.0.0.1, or pass --insecure if the network itself is trusted");
            return ExitKind::BadInput.into();
        }
    }
    let config = CoordinatorConfig {
        scheduler: Config {
            heartbeat_timeout_ms: (args.heartbeat_timeout * 1000.0) as u64,
            speculate: !args.no_speculation,
        },
        heartbeat_interval_ms: ((args.heartbeat_timeout * 1000.0) / 5.0).clamp(100.0, 1000.0)
            as u32,
        chunk_size: args.chunk_size,
        limits: chirpfarm_core::Limits {
            max_templates: args.max_templates,
            ..Default::default()
        },
        data_dir: args.data_dir.clone(),
        retention: args.retention,
        shutdown_grace: std::time::Duration::from_secs_f64(args.shutdown_grace),
        max_blob_bytes: args.max_blob_mb.saturating_mul(1 << 20),
        service: chirpfarm_coordinator::limits::ServiceLimits {
            max_queued_jobs: args.max_queued_jobs,
            max_queued_jobs_per_client: args.max_queued_jobs_per_client,
            max_tasks_per_job: args.max_tasks_per_job,
            max_watch_streams: args.max_watch_streams,
        },
        ..Default::default()
    };
    // The data dir (lock, checks, recovery) before listening: a coordinator that cannot keep
    // its promise of durability never accepts a connection.
    let coord = match chirpfarm_coordinator::Coordinator::open(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitKind::BadInput.into();
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitKind::Failure.into();
        }
    };
    let bound = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot tell the address listened on: {e}");
            return ExitKind::Failure.into();
        }
    };
    let addr = bound.to_string();
    let autoalloc = match args
        .alloc
        .launch(bound, security.tls.is_some(), args.data_dir.as_deref())
    {
        Ok(launch) => chirpfarm_coordinator::autoalloc::cli::start(
            &coord,
            alloc_tunables,
            alloc_queue,
            launch,
        ),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitKind::BadInput.into();
        }
    };
    let http = match &args.http {
        None => None,
        Some(a) => match tokio::net::TcpListener::bind(&http_addrs[..]).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("error: cannot serve --http on {a}: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let access = security.effective_access();
    // The URL clients and workers pass as --coordinator (the scheme says TLS or not).
    let scheme = if security.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = http.map(|l| {
        let url = l
            .local_addr()
            .map(|a| format!("http://{a}/"))
            .unwrap_or_default();
        tracing::info!(url = %url, "status page and metrics at {url} (/metrics)");
        tokio::spawn(chirpfarm_coordinator::http::serve(
            l,
            coord.clone(),
            access.clone(),
            security.limits,
            async move {
                let _ = http_stopped.await;
            },
        ))
    });
    tracing::info!(
        address = %addr,
        tls = security.tls.is_some(),
        client_tokens = access.client.len(),
        worker_tokens = access.worker.len(),
        worker_certificates = access.worker_cert_required,
        "chirpfarm-coordinator listening on {scheme}://{addr}"
    );
    let served = chirpfarm_coordinator::serve_coordinator(
        coord,
        listener,
        security,
        chirpfarm_proto::shutdown::signal(),
    )
    .await;
    // Allocated worker jobs are told to end (scancel) before the process exits (after a
    // graceful shutdown; a failed server never began one).
    if served.is_err() {
        autoalloc.abort();
    } else if tokio::time::timeout(std::time::Duration::from_secs(40), autoalloc)
        .await
        .is_err()
    {
        tracing::warn!("autoalloc: ending the allocated jobs took more than 40 s");
    }
    // The HTTP endpoint stays up while leases drain, and stops with the gRPC server.
    let _ = stop_http.send(());
    if let Some(task) = http {
        match tokio::time::timeout(std::time::Duration::from_secs(5), task).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the HTTP endpoint failed"),
            Err(_) => tracing::warn!("the HTTP endpoint did not stop within 5 s"),
            Ok(_) => {}
        }
    }
    match served {
        Ok(()) => {
            tracing::info!("coordinator stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: server failed: {}",
                chirpfarm_proto::connect::chain(&e)
            );
            ExitKind::Failure.into()
        }
    }
}
