//! The subcommands: each turns parsed arguments into calls and output.

use crate::args::{InjectionArgs, OutputArgs, Remote, SearchCmd, SubmitCmd, WatchCmd};
use crate::data::DataMeta;
use crate::data_output::{DataReport, DataSink};
use crate::embedded::{Embedded, Options};
use crate::emit::{emit, print_job_id};
use crate::error::CliError;
use crate::interrupt::{interrupted, OnStop, Signals};
use crate::output::Report;
use crate::progress::Progress;
use crate::remote::{collect, Conn, SignalSink};
use crate::spec::{prepare, Prepared, Target};
use chirpfarm_core::SearchSpec;
use chirpfarm_proto::connect::ClientTls;
use chirpfarm_proto::v1;

/// Reads the token from --token-file, or CHIRPFARM_TOKEN.
fn token(remote: &Remote) -> Result<Option<String>, CliError> {
    match &remote.token_file {
        Some(p) => chirpfarm_proto::auth::read_token_file(p)
            .map(Some)
            .map_err(CliError::Input),
        None => Ok(std::env::var("CHIRPFARM_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())),
    }
}

/// Connects to the coordinator named by --coordinator / CHIRPFARM_COORDINATOR.
pub async fn connect(remote: &Remote) -> Result<Conn, CliError> {
    let url = remote.coordinator.as_deref().ok_or_else(|| {
        CliError::Input(
            "no coordinator: pass --coordinator URL or set CHIRPFARM_COORDINATOR".into(),
        )
    })?;
    let tls =
        ClientTls::from_files(remote.ca_file.as_deref(), None, None).map_err(CliError::Input)?;
    Conn::connect(url, token(remote)?, tls).await
}

pub async fn submit_to(
    conn: &Conn,
    p: &Prepared,
    chunk: Option<u32>,
    wait_for_workers: bool,
) -> Result<v1::SubmitResponse, CliError> {
    submit_named(conn, p, chunk, wait_for_workers, None).await
}

/// The user this client declares to the coordinator ($USER, else $LOGNAME; the coordinator
/// records it with the address it sees, and trusts neither).
fn declared_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|u| !u.is_empty()))
        .unwrap_or_default()
}

/// Submits a prepared search with an optional `--name` label.
pub async fn submit_named(
    conn: &Conn,
    p: &Prepared,
    chunk: Option<u32>,
    wait_for_workers: bool,
    name: Option<&str>,
) -> Result<v1::SubmitResponse, CliError> {
    if let Some(d) = &p.data {
        crate::data::upload(conn, &d.blobs).await?;
    }
    let submit = v1::SubmitRequest {
        spec: Some(chirpfarm_proto::spec_to_proto(&p.spec)),
        chunk_size: chunk.unwrap_or(0),
        wait_for_workers,
        name: name.unwrap_or_default().to_string(),
        user: declared_user(),
    };
    let bytes = prost::Message::encoded_len(&submit);
    if bytes > chirpfarm_proto::MAX_CLIENT_REQUEST_BYTES {
        return Err(CliError::Input(format!(
            "this search is {:.1} MiB on the wire, more than the {} MiB a request may be: split the bank into several searches",
            bytes as f64 / (1 << 20) as f64,
            chirpfarm_proto::MAX_CLIENT_REQUEST_BYTES >> 20
        )));
    }
    let req = conn.req(submit);
    conn.client()
        .submit(req)
        .await
        .map(|r| r.into_inner())
        .map_err(|s| conn.status_error(s))
}

/// Where a finished job's results should go besides stdout.
#[derive(Debug, Default)]
struct Extra {
    /// A data search's file details (a watched job only knows what the coordinator kept).
    meta: Option<DataMeta>,
    /// The HDF5 trigger file to write.
    hdf5: Option<std::path::PathBuf>,
    /// `--injections`: the list and the matching window, seconds.
    injections: Option<(Vec<chirpfarm_strain::simulate::InjectionRow>, f64)>,
    /// The job ran on the embedded cluster: its id means nothing after the process ends.
    embedded: bool,
}

/// Fails unless the job succeeded.
pub fn check_succeeded(job_id: &str, finished: &v1::JobFinished) -> Result<(), CliError> {
    let state = v1::JobState::try_from(finished.state).unwrap_or(v1::JobState::Unspecified);
    if state != v1::JobState::Succeeded {
        let why = if finished.error.is_empty() {
            String::new()
        } else {
            format!(": {}", esc(&finished.error, 2000))
        };
        return Err(CliError::Failed(format!(
            "{job_id} ended {}{why}",
            state
                .as_str_name()
                .trim_start_matches("JOB_STATE_")
                .to_lowercase()
        )));
    }
    Ok(())
}

/// Watches a job to its end with a progress bar, feeding `sink`; fails unless it succeeded.
async fn watch_job(
    conn: &Conn,
    job_id: &str,
    sink: &mut impl crate::remote::Sink,
    templates: u64,
    quiet: bool,
) -> Result<crate::remote::Collected, CliError> {
    let progress = Progress::new(templates, quiet);
    let collected = tokio::select! {
        c = collect(conn, job_id, sink, &progress) => c,
        never = show_queued(conn, job_id, &progress) => match never {},
    };
    progress.finish();
    let collected = collected?;
    check_succeeded(job_id, &collected.finished)?;
    Ok(collected)
}

/// While the job is queued, says on the bar how many workers the coordinator has (polled every
/// second; errors are left to the result stream to report). Runs until dropped.
async fn show_queued(conn: &Conn, job_id: &str, progress: &Progress) -> std::convert::Infallible {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let job = conn
            .client()
            .get_job(conn.req(v1::JobRef {
                job_id: job_id.to_string(),
            }))
            .await;
        match job {
            Ok(j) if j.get_ref().state == v1::JobState::Queued as i32 => {}
            // Running or over: nothing more to say here.
            Ok(_) => return std::future::pending().await,
            Err(_) => continue,
        }
        if let Ok(w) = conn
            .client()
            .list_workers(conn.req(v1::ListWorkersRequest {}))
            .await
        {
            progress.queued(w.get_ref().workers.len());
        }
    }
}

/// Waits for a data search and prints its triggers and peaks.
async fn wait_and_print_data(
    conn: &Conn,
    job_id: &str,
    spec: &SearchSpec,
    masses: Vec<f64>,
    output: OutputArgs,
    extra: Extra,
) -> Result<(), CliError> {
    let data = spec.data.clone().expect("a data search");
    let mut sink = DataSink::for_spec(masses.len() as u64, &data);
    let collected = watch_job(conn, job_id, &mut sink, masses.len() as u64, output.quiet).await?;
    let meta = extra.meta.unwrap_or_else(|| DataMeta::uploaded(&data));
    let report = DataReport::new(
        masses,
        spec.bank.params().map(|p| p.to_vec()),
        data,
        (spec.approximant, spec.f_final),
        meta,
        sink,
        (
            collected.finished.wall_seconds,
            collected.workers,
            job_id.to_string(),
        ),
    )
    .map_err(CliError::Failed)?;
    if let Some(path) = &extra.hdf5 {
        report.write_hdf5(path).map_err(CliError::Failed)?;
    }
    if let Some((rows, window)) = &extra.injections {
        return emit(
            &crate::injections::WithInjections::new(&report, rows, *window),
            &output,
        );
    }
    emit(&report, &output)
}

/// Waits for a job and prints its results.
async fn wait_and_print(
    conn: &Conn,
    job_id: &str,
    spec: &SearchSpec,
    masses: Vec<f64>,
    output: OutputArgs,
    extra: Extra,
) -> Result<(), CliError> {
    if spec.data.is_some() {
        return wait_and_print_data(conn, job_id, spec, masses, output, extra).await;
    }
    let mut sink = SignalSink::new(spec.signals.len(), masses.len() as u64);
    let collected = watch_job(conn, job_id, &mut sink, masses.len() as u64, output.quiet).await?;
    let report = Report {
        convention: spec.convention,
        params: spec.bank.params().map(|p| p.to_vec()),
        masses,
        signals: spec.signals.clone(),
        results: sink.results,
        wall_seconds: collected.finished.wall_seconds,
        workers: collected.workers,
        job_id: (!extra.embedded).then(|| job_id.to_string()),
    };
    emit(&report, &output)
}

/// The most compute threads a process may ask for: 4 × the machine's cores (a stray
/// `--threads 100000` would otherwise start that many threads on a shared machine).
pub fn max_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .saturating_mul(4)
}

/// `chirpfarm search`.
pub async fn search(cmd: SearchCmd) -> Result<(), CliError> {
    let mut signals = Signals::install()?;
    let injections = read_injections(&cmd.injections, cmd.search.data.data.is_some())?;
    if cmd.threads == Some(0) {
        return Err(CliError::Input("--threads must be at least 1".into()));
    }
    if let Some(t) = cmd.threads.filter(|&t| t > max_threads()) {
        return Err(CliError::Input(format!(
            "--threads {t} is more than 4 × this machine's cores ({})",
            max_threads()
        )));
    }
    let target = match cmd.remote.coordinator {
        Some(_) => Target::Remote,
        None => Target::Embedded,
    };
    let p = prepare(&cmd.search, target)?;
    for w in &p.warnings {
        eprintln!("{w}");
    }
    let (conn, embedded) = match &cmd.remote.coordinator {
        Some(_) => (connect(&cmd.remote).await?, None),
        None => {
            let threads = cmd.threads.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
            let e = Embedded::start(Options::search(threads, cmd.search.chunk_size)).await?;
            (e.connect().await?, Some(e))
        }
    };
    let name = cmd.search.name.as_deref();
    if cmd.detach && embedded.is_none() {
        let sub =
            submit_named(&conn, &p, cmd.search.chunk_size, !cmd.require_workers, name).await?;
        print_job_id(&sub.job_id, cmd.output.json)?;
        eprintln!(
            "{} left running: `chirpfarm watch {}` prints its results",
            sub.job_id, sub.job_id
        );
        return Ok(());
    }
    let wait = embedded.is_some() || !cmd.require_workers;
    let sub = submit_named(&conn, &p, cmd.search.chunk_size, wait, name).await;
    let result = match sub {
        Err(e) => Err(e),
        Ok(sub) => {
            let job = sub.job_id.clone();
            let extra = Extra {
                meta: p.data.as_ref().map(|d| d.meta.clone()),
                hdf5: cmd.search.data.output.clone(),
                injections,
                embedded: embedded.is_some(),
            };
            tokio::select! {
                r = wait_and_print(&conn, &job, &p.spec, p.masses.clone(), cmd.output, extra) => r,
                stop = signals.recv() => {
                    let how = OnStop {
                        stop,
                        embedded: embedded.is_some(),
                        cancel: cmd.cancel_on_exit,
                        url: cmd.remote.coordinator.as_deref().unwrap_or(""),
                    };
                    Err(interrupted(&conn, &job, how).await)
                }
            }
        }
    };
    if let Some(e) = embedded {
        e.stop().await;
    }
    result
}

/// The rows and matching window of `--injections`, read and checked (exit 2 on a bad file or
/// window, or on injections for a search that is not a data search: `data`).
fn read_injections(
    args: &InjectionArgs,
    data: bool,
) -> Result<Option<(Vec<chirpfarm_strain::simulate::InjectionRow>, f64)>, CliError> {
    let Some(path) = &args.injections else {
        return Ok(None);
    };
    if !data {
        return Err(CliError::Input(
            "--injections applies to data searches (--data FILE): a signal search has no triggers to match".into(),
        ));
    }
    let w = args.injection_window;
    if !(w.is_finite() && w >= 0.0) {
        return Err(CliError::Input(format!(
            "--injection-window must be a non-negative number of seconds, got {w}"
        )));
    }
    let rows = chirpfarm_strain::simulate::read_injection_file(path)
        .map_err(|e| CliError::Input(e.to_string()))?;
    Ok(Some((rows, w)))
}

/// `chirpfarm submit`.
pub async fn submit(cmd: SubmitCmd) -> Result<(), CliError> {
    let injections = read_injections(&cmd.injections, cmd.search.data.data.is_some())?;
    let p = prepare(&cmd.search, Target::Remote)?;
    for w in &p.warnings {
        eprintln!("{w}");
    }
    let conn = connect(&cmd.remote).await?;
    let sub = submit_named(
        &conn,
        &p,
        cmd.search.chunk_size,
        !cmd.require_workers,
        cmd.search.name.as_deref(),
    )
    .await?;
    print_job_id(&sub.job_id, cmd.json)?;
    if let (Some(path), Some((rows, _))) = (&cmd.injections.injections, &injections) {
        eprintln!(
            "{} injection(s) checked: `chirpfarm watch {} --injections {}` matches them against the triggers",
            rows.len(),
            sub.job_id,
            path.display()
        );
    }
    Ok(())
}

/// `chirpfarm watch`.
pub async fn watch(cmd: WatchCmd) -> Result<(), CliError> {
    // A bad list is bad input before any network; whether the job has triggers, after.
    let injections = read_injections(&cmd.injections, true)?;
    let conn = connect(&cmd.remote).await?;
    let info = conn
        .client()
        .get_job(conn.req(v1::JobRef {
            job_id: cmd.job.clone(),
        }))
        .await
        .map_err(|s| conn.status_error(s))?
        .into_inner();
    if !info.journal_error.is_empty() {
        eprintln!(
            "warning: {} is paused until the coordinator can store results again: {}",
            cmd.job, info.journal_error
        );
    }
    let spec = chirpfarm_proto::spec_from_proto(info.spec.as_ref())?;
    if injections.is_some() && spec.data.is_none() {
        return Err(CliError::Input(format!(
            "{} is a signal search: --injections applies to data searches",
            cmd.job
        )));
    }
    // The spec comes from the network: the bank is bounded before it is built.
    let masses = spec.bank.masses(crate::spec::CLIENT_MAX_TEMPLATES)?;
    if cmd.partial && spec.data.is_none() {
        return crate::partial::watch_partial(&conn, &cmd.job, &spec, masses, cmd.output).await;
    }
    if cmd.partial {
        return crate::partial_data::watch_partial_data(
            &conn, &cmd.job, &spec, masses, cmd.output, injections,
        )
        .await;
    }
    let extra = Extra {
        injections,
        ..Extra::default()
    };
    wait_and_print(&conn, &cmd.job, &spec, masses, cmd.output, extra).await
}

/// Text from the coordinator (worker names, failure reasons) made safe for a terminal: no
/// control characters, no escape sequences, bounded length.
fn esc(text: &str, max_chars: usize) -> String {
    chirpfarm_core::logging::escape(text, max_chars)
}
