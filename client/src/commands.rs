//! The subcommands: each turns parsed arguments into calls and output.

use crate::args::{OutputArgs, Remote, SearchCmd, SubmitCmd, WatchCmd};
use crate::data::DataMeta;
use crate::data_output::{DataReport, DataSink};
use crate::embedded::{Embedded, Options};
use crate::error::CliError;
use crate::output::{Formats, Report};
use crate::plot::Plot;
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
        .map_err(CliError::from_status)
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

/// The path of the first `null` in a JSON document (serde_json writes NaN and infinities as
/// `null`), if any.
fn find_null(v: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::Null => Some(if path.is_empty() {
            "/".into()
        } else {
            path.into()
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_null(x, &format!("{path}/{i}"))),
        Value::Object(o) => o
            .iter()
            .find_map(|(k, x)| find_null(x, &format!("{path}/{k}"))),
        _ => None,
    }
}

/// The report as JSON, refused when a number in it is not finite: a script reading `null`
/// where a number belongs would misread it, so the outputs omit the fields they cannot fill
/// and anything left is an error.
fn json_bytes(report: &impl Formats) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    report
        .write_json(&mut buf)
        .map_err(|e| CliError::Failed(format!("cannot write output: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&buf)
        .map_err(|e| CliError::Failed(format!("the JSON output does not parse: {e}")))?;
    if let Some(path) = find_null(&v, "") {
        return Err(CliError::Failed(format!(
            "the results hold a number that is not finite (NaN or infinity) at {path}: refusing to print it as null"
        )));
    }
    Ok(buf)
}

/// Writes a report to stdout in the format the flags ask for, flushing, with one error message
/// for all formats; then draws it to the `--plot` file, if any. A closed stdout (`| head`) ends
/// it quietly (see [`crate::stdout`]).
fn emit(report: &(impl Formats + Plot), output: &OutputArgs) -> Result<(), CliError> {
    let json = if output.json {
        Some(json_bytes(report)?)
    } else {
        None
    };
    crate::stdout::write(|out| {
        if let Some(bytes) = &json {
            out.write_all(bytes)
        } else if output.csv {
            report.write_csv(out)
        } else {
            report.write_table(out)
        }
    })?;
    match &output.plot {
        Some(target) => crate::plot::write(report, target),
        None => Ok(()),
    }
}

/// Prints a submitted job's id: `job-N`, or `{"job":"job-N"}` with `--json`.
fn print_job_id(job_id: &str, json: bool) -> Result<(), CliError> {
    if json {
        crate::stdout::line(&serde_json::json!({ "job": job_id }).to_string())
    } else {
        crate::stdout::line(job_id)
    }
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
    let meta = extra.meta.unwrap_or_else(|| DataMeta {
        file: format!(
            "(uploaded to the coordinator: sha256 {})",
            data.strain.hex()
        ),
        psd: format!("(uploaded: sha256 {})", data.psd.hex()),
        samples: data.n_samples(),
    });
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

/// The signal that ended a search before its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt,
    /// SIGTERM (Slurm, `timeout`, `kill`): exit 143.
    Terminate,
}

/// The listeners for SIGINT and SIGTERM, installed before anything starts so that a signal at
/// any point of the search is handled, not the default death.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs both handlers.
    fn install() -> Result<Signals, CliError> {
        use tokio::signal::unix::{signal, SignalKind};
        let fail = |e: std::io::Error| CliError::Failed(format!("cannot handle signals: {e}"));
        Ok(Signals {
            int: signal(SignalKind::interrupt()).map_err(fail)?,
            term: signal(SignalKind::terminate()).map_err(fail)?,
        })
    }

    /// Resolves with the first signal received.
    async fn recv(&mut self) -> Stop {
        tokio::select! {
            _ = self.int.recv() => Stop::Interrupt,
            _ = self.term.recv() => Stop::Terminate,
        }
    }
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
    let injections = match &cmd.injections {
        Some(path) => {
            let w = cmd.injection_window;
            if !(w.is_finite() && w >= 0.0) {
                return Err(CliError::Input(format!(
                    "--injection-window must be a non-negative number of seconds, got {w}"
                )));
            }
            let rows = chirpfarm_strain::simulate::read_injection_file(path)
                .map_err(|e| CliError::Input(e.to_string()))?;
            Some((rows, w))
        }
        None => None,
    };
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
            (
                Conn::connect(&e.url, None, ClientTls::none()).await?,
                Some(e),
            )
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

/// What to do with a search's job when a signal ends the client.
#[derive(Debug, Clone, Copy)]
struct OnStop<'a> {
    /// Which signal.
    stop: Stop,
    /// The job runs on the embedded cluster (it stops with the process).
    embedded: bool,
    /// --cancel-on-exit: cancel the remote job without asking.
    cancel: bool,
    /// The coordinator's URL, for the commands printed.
    url: &'a str,
}

/// SIGINT or SIGTERM during `search`: on the embedded cluster the job stops with the process; on
/// a coordinator the job is cancelled with --cancel-on-exit, else (on a terminal, after Ctrl-C)
/// the user is asked, else it keeps running and the commands to follow or stop it are printed.
async fn interrupted(conn: &Conn, job: &str, how: OnStop<'_>) -> CliError {
    use std::io::IsTerminal;
    let (word, make): (&str, fn(String) -> CliError) = match how.stop {
        Stop::Interrupt => ("interrupted", CliError::Interrupted),
        Stop::Terminate => ("terminated", CliError::Terminated),
    };
    if how.embedded {
        return make(format!("{word}: the embedded search stopped"));
    }
    let ask = how.stop == Stop::Interrupt
        && !how.cancel
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal();
    let cancel = how.cancel
        || (ask
            && tokio::task::spawn_blocking({
                let job = job.to_string();
                move || {
                    eprint!("\ninterrupted: cancel {job} on the coordinator? [y/N] ");
                    let mut line = String::new();
                    let _ = std::io::stdin().read_line(&mut line);
                    matches!(line.trim(), "y" | "Y" | "yes")
                }
            })
            .await
            .unwrap_or(false));
    if cancel {
        match conn
            .client()
            .cancel(conn.req(v1::JobRef {
                job_id: job.to_string(),
            }))
            .await
        {
            Ok(r) if r.get_ref().already_ended => make(format!(
                "{word}: {job} had already ended ({})",
                crate::listings::state_name(r.get_ref().state)
            )),
            Ok(_) => make(format!("{word}: {job} cancelled")),
            Err(s) => make(format!(
                "{word}; cancelling {job} failed: {}",
                esc(s.message(), 500)
            )),
        }
    } else {
        let url = esc(how.url, 200);
        make(format!(
            "{word}: job {job} keeps running; `chirpfarm watch {job} --coordinator {url}` prints its results, `chirpfarm cancel {job} --coordinator {url}` stops it"
        ))
    }
}

/// `chirpfarm submit`.
pub async fn submit(cmd: SubmitCmd) -> Result<(), CliError> {
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
    print_job_id(&sub.job_id, cmd.json)
}

/// `chirpfarm watch`.
pub async fn watch(cmd: WatchCmd) -> Result<(), CliError> {
    let conn = connect(&cmd.remote).await?;
    let info = conn
        .client()
        .get_job(conn.req(v1::JobRef {
            job_id: cmd.job.clone(),
        }))
        .await
        .map_err(CliError::from_status)?
        .into_inner();
    if !info.journal_error.is_empty() {
        eprintln!(
            "warning: {} is paused until the coordinator can store results again: {}",
            cmd.job, info.journal_error
        );
    }
    let spec = chirpfarm_proto::spec_from_proto(info.spec.as_ref())?;
    // The spec comes from the network: the bank is bounded before it is built.
    let masses = spec.bank.masses(crate::spec::CLIENT_MAX_TEMPLATES)?;
    if cmd.partial && spec.data.is_none() {
        return watch_partial(&conn, &cmd.job, &spec, masses, cmd.output).await;
    }
    wait_and_print(&conn, &cmd.job, &spec, masses, cmd.output, Extra::default()).await
}

/// `chirpfarm watch --partial` of a signal search: whatever arrived, marked incomplete unless
/// the job succeeded with every template; exit 1 when incomplete.
async fn watch_partial(
    conn: &Conn,
    job_id: &str,
    spec: &SearchSpec,
    masses: Vec<f64>,
    output: OutputArgs,
) -> Result<(), CliError> {
    let total = masses.len() as u64;
    let mut sink = crate::partial::PartialSink::new(spec.signals.len(), total);
    let progress = Progress::new(total, output.quiet);
    let collected = crate::remote::collect_partial(conn, job_id, &mut sink, &progress).await;
    progress.finish();
    let collected = collected?;
    let indices = sink.indices();
    let report = crate::partial::PartialReport {
        report: Report {
            convention: spec.convention,
            params: spec
                .bank
                .params()
                .map(|p| indices.iter().map(|&i| p[i as usize]).collect()),
            masses: indices.iter().map(|&i| masses[i as usize]).collect(),
            signals: spec.signals.clone(),
            results: sink.signals.results.clone(),
            wall_seconds: collected.finished.wall_seconds,
            workers: collected.workers,
            job_id: Some(job_id.to_string()),
        },
        missing: sink.missing(),
        indices,
        templates_total: total,
        state: crate::listings::state_name(collected.finished.state),
    };
    emit(&report, &output)?;
    if report.complete() {
        return Ok(());
    }
    let why = match collected.finished.error.as_str() {
        "" => String::new(),
        e => format!(" ({})", esc(e, 2000)),
    };
    Err(CliError::Failed(format!("{}{why}", report.notice())))
}

/// Text from the coordinator (worker names, failure reasons) made safe for a terminal: no
/// control characters, no escape sequences, bounded length.
fn esc(text: &str, max_chars: usize) -> String {
    chirpfarm_core::logging::escape(text, max_chars)
}
