//! The subcommands: each turns parsed arguments into calls and output.

use crate::args::{
    CancelCmd, JobsCmd, OutputArgs, Remote, SearchCmd, SubmitCmd, WatchCmd, WorkersCmd,
};
use crate::data::DataMeta;
use crate::data_output::{DataReport, DataSink};
use crate::embedded::{Embedded, Options};
use crate::error::CliError;
use crate::output::{Formats, Report};
use crate::progress::Progress;
use crate::remote::{collect, Conn, SignalSink};
use crate::spec::{prepare, Prepared};
use chirpfarm_core::SearchSpec;
use chirpfarm_proto::connect::ClientTls;
use chirpfarm_proto::v1;
use std::io::Write;

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
pub(crate) async fn connect(remote: &Remote) -> Result<Conn, CliError> {
    let url = remote.coordinator.as_deref().ok_or_else(|| {
        CliError::Input(
            "no coordinator: pass --coordinator URL or set CHIRPFARM_COORDINATOR".into(),
        )
    })?;
    let tls =
        ClientTls::from_files(remote.ca_file.as_deref(), None, None).map_err(CliError::Input)?;
    Conn::connect(url, token(remote)?, tls).await
}

pub(crate) async fn submit_to(
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
pub(crate) async fn submit_named(
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
}

/// Fails unless the job succeeded.
pub(crate) fn check_succeeded(job_id: &str, finished: &v1::JobFinished) -> Result<(), CliError> {
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

/// Writes a report to stdout in the format the flags ask for, flushing, with one error message
/// for all formats.
fn emit(report: &impl Formats, output: OutputArgs) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let res = if output.json {
        report.write_json(&mut out)
    } else if output.csv {
        report.write_csv(&mut out)
    } else {
        report.write_table(&mut out)
    };
    res.and_then(|_| out.flush())
        .map_err(|e| CliError::Failed(format!("cannot write output: {e}")))
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
    let collected = collect(conn, job_id, sink, &progress).await;
    progress.finish();
    let collected = collected?;
    check_succeeded(job_id, &collected.finished)?;
    Ok(collected)
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
            output,
        );
    }
    emit(&report, output)
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
        job_id: job_id.to_string(),
    };
    emit(&report, output)
}

/// `chirpfarm search`.
pub async fn search(cmd: SearchCmd) -> Result<(), CliError> {
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
    let p = prepare(&cmd.search)?;
    if cmd.threads == Some(0) {
        return Err(CliError::Input("--threads must be at least 1".into()));
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
        println!("{}", sub.job_id);
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
            };
            tokio::select! {
                r = wait_and_print(&conn, &job, &p.spec, p.masses.clone(), cmd.output, extra) => r,
                _ = tokio::signal::ctrl_c() => Err(interrupted(&conn, &job, embedded.is_some()).await),
            }
        }
    };
    if let Some(e) = embedded {
        e.stop().await;
    }
    result
}

/// Ctrl-C during `search`: on the embedded cluster the job dies with the process; on a
/// coordinator, ask (on a terminal) whether to cancel the job or leave it running.
async fn interrupted(conn: &Conn, job: &str, embedded: bool) -> CliError {
    use std::io::IsTerminal;
    if embedded {
        return CliError::Interrupted("interrupted".into());
    }
    let ask = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let cancel = ask
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
        .unwrap_or(false);
    if cancel {
        match conn
            .client()
            .cancel(conn.req(v1::JobRef {
                job_id: job.to_string(),
            }))
            .await
        {
            Ok(r) if r.get_ref().already_ended => CliError::Interrupted(format!(
                "interrupted: {job} had already ended ({})",
                crate::listings::state_name(r.get_ref().state)
            )),
            Ok(_) => CliError::Interrupted(format!("interrupted: {job} cancelled")),
            Err(s) => CliError::Interrupted(format!(
                "interrupted; cancelling {job} failed: {}",
                s.message()
            )),
        }
    } else {
        CliError::Interrupted(format!(
            "interrupted: {job} left running; `chirpfarm watch {job}` prints its results"
        ))
    }
}

/// `chirpfarm submit`.
pub async fn submit(cmd: SubmitCmd) -> Result<(), CliError> {
    let p = prepare(&cmd.search)?;
    let conn = connect(&cmd.remote).await?;
    let sub = submit_named(
        &conn,
        &p,
        cmd.search.chunk_size,
        !cmd.require_workers,
        cmd.search.name.as_deref(),
    )
    .await?;
    println!("{}", sub.job_id);
    Ok(())
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
    let masses = spec.bank.masses(u64::MAX)?;
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
            job_id: job_id.to_string(),
        },
        missing: sink.missing(),
        indices,
        templates_total: total,
        state: crate::listings::state_name(collected.finished.state),
    };
    emit(&report, output)?;
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

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Prints a listing's JSON document.
fn print_json(v: &serde_json::Value) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, v)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Failed(format!("cannot write output: {e}")))
}

/// Prints a listing's table.
fn print_text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Failed(format!("cannot write output: {e}")))
}

/// `chirpfarm jobs`.
pub async fn jobs(cmd: JobsCmd) -> Result<(), CliError> {
    let conn = connect(&cmd.remote).await?;
    // Page through: the coordinator sends at most 1000 jobs per call.
    let mut jobs = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = conn
            .client()
            .list_jobs(conn.req(v1::ListJobsRequest {
                page_size: 0,
                page_token: page_token.clone(),
            }))
            .await
            .map_err(CliError::from_status)?
            .into_inner();
        jobs.extend(page.jobs);
        if page.next_page_token.is_empty() || page.next_page_token == page_token {
            break;
        }
        page_token = page.next_page_token;
    }
    if let Some(name) = &cmd.name {
        jobs.retain(|j| &j.name == name);
    }
    if cmd.json {
        print_json(&crate::listings::jobs_json(&jobs, now_ms()))
    } else {
        print_text(&crate::listings::jobs_table(&jobs, now_ms()))
    }
}

/// `chirpfarm cancel`.
pub async fn cancel(cmd: CancelCmd) -> Result<(), CliError> {
    let conn = connect(&cmd.remote).await?;
    let info = conn
        .client()
        .cancel(conn.req(v1::JobRef { job_id: cmd.job }))
        .await
        .map_err(CliError::from_status)?
        .into_inner();
    let (job, state) = (
        esc(&info.job_id, 40),
        crate::listings::state_name(info.state),
    );
    // Idempotent: a job that had already ended is left as it was, and that is not an error.
    let line = if info.already_ended {
        format!("{job} already ended: {state} (nothing to cancel)\n")
    } else {
        format!("{job} {state}\n")
    };
    print_text(&line)
}

/// `chirpfarm workers`.
pub async fn workers(cmd: WorkersCmd) -> Result<(), CliError> {
    let conn = connect(&cmd.remote).await?;
    let list = conn
        .client()
        .list_workers(conn.req(v1::ListWorkersRequest {}))
        .await
        .map_err(CliError::from_status)?
        .into_inner();
    if cmd.json {
        print_json(&crate::listings::workers_json(&list.workers))
    } else {
        print_text(&crate::listings::workers_table(&list.workers))
    }
}
