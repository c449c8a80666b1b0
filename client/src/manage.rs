//! The subcommands that list and manage what a coordinator holds: `jobs`, `cancel`,
//! `workers`. Their formatting lives in [`crate::listings`] (no I/O); this file makes the calls
//! and prints.

use crate::args::{CancelCmd, JobsCmd, WorkersCmd};
use crate::commands::connect;
use crate::error::CliError;
use crate::remote::Conn;
use chirpfarm_proto::v1;

/// Text from the coordinator made safe for a terminal: no control characters, bounded length.
fn esc(text: &str, max_chars: usize) -> String {
    chirpfarm_core::logging::escape(text, max_chars)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Prints a listing's JSON document (a closed stdout ends it quietly: [`crate::stdout`]).
fn print_json(v: &serde_json::Value) -> Result<(), CliError> {
    crate::stdout::write(|out| {
        serde_json::to_writer(&mut *out, v)?;
        writeln!(out)
    })
}

/// Prints a listing's table (a closed stdout ends it quietly: [`crate::stdout`]).
fn print_text(text: &str) -> Result<(), CliError> {
    crate::stdout::write(|out| out.write_all(text.as_bytes()))
}

/// Every job the coordinator holds, oldest first (paged: it sends at most 1000 per call).
pub async fn list_jobs(conn: &Conn) -> Result<Vec<v1::JobInfo>, CliError> {
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
            .map_err(|s| conn.status_error(s))?
            .into_inner();
        jobs.extend(page.jobs);
        if page.next_page_token.is_empty() || page.next_page_token == page_token {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(jobs)
}

/// Cancels `job` (idempotent: a job that had already ended is left as it was).
pub async fn cancel_job(conn: &Conn, job: &str) -> Result<v1::JobInfo, CliError> {
    conn.client()
        .cancel(conn.req(v1::JobRef {
            job_id: job.to_string(),
        }))
        .await
        .map_err(|s| conn.status_error(s))
        .map(|r| r.into_inner())
}

/// The workers registered with the coordinator.
pub async fn list_workers(conn: &Conn) -> Result<Vec<v1::WorkerInfo>, CliError> {
    conn.client()
        .list_workers(conn.req(v1::ListWorkersRequest {}))
        .await
        .map_err(|s| conn.status_error(s))
        .map(|r| r.into_inner().workers)
}

/// `chirpfarm jobs`.
pub async fn jobs(cmd: JobsCmd) -> Result<(), CliError> {
    let conn = connect(&cmd.remote).await?;
    let mut jobs = list_jobs(&conn).await?;
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
    let info = cancel_job(&conn, &cmd.job).await?;
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
    let list = list_workers(&conn).await?;
    if cmd.json {
        print_json(&crate::listings::workers_json(&list))
    } else {
        print_text(&crate::listings::workers_table(&list))
    }
}
