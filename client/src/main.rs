//! `chirpfarm`: the command line for matched-filter template-bank searches.
//!
//! Exit codes: the table of [`chirpfarm_core::ExitKind`] (0 success, 1 failure, 2 bad input,
//! 3 cannot reach the coordinator, 130 interrupted, 143 terminated), printed by every `--help`.
//! With `--json`, an error is one JSON object on stderr instead of the `error: ...` line.
//!
//! A closed stdout (`chirpfarm search ... | head`) is a quiet success: the reader has what it
//! wanted. SIGPIPE stays ignored (Rust's default) so that a closed pipe never kills the
//! process in the middle of a job; results are written only once a job has ended, and a write
//! that fails with a broken pipe ends the command with exit 0 and nothing on stderr.

use chirpfarm::args::{BenchCmd, Cli, Command};
use chirpfarm::error::CliError;
use chirpfarm::{
    alloc, bank_cmd, bench, bench_embedded, bench_load, commands, health, manage, simulate, stdout,
};
use chirpfarm_core::ExitKind;
use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

fn main() -> ExitCode {
    let (cli, json) = match parse() {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report(json);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Parses the command line, with the exit-code table after every `--help`. Returns the
/// arguments and whether the chosen subcommand has `--json` set; a usage error is printed
/// (as JSON when `--json` is on the command line) and returned as the exit code.
fn parse() -> Result<(Cli, bool), ExitCode> {
    let command = with_exit_codes(Cli::command());
    let wants_json = std::env::args_os().skip(1).any(|a| a == "--json");
    let matches = match command.try_get_matches() {
        Ok(m) => m,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) if wants_json => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            let msg = first.trim_start_matches("error: ").to_string();
            CliError::Input(msg).report(true);
            return Err(ExitKind::BadInput.into());
        }
        Err(e) => e.exit(), // clap's own message; exit 2 (bad input), as in the table
    };
    let json = json_flag(&matches);
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => Ok((cli, json)),
        Err(e) => e.exit(),
    }
}

/// Appends the exit-code table to the help of `cmd` and of all its subcommands.
fn with_exit_codes(cmd: clap::Command) -> clap::Command {
    let table = chirpfarm_core::exit::help();
    let after = match cmd.get_after_help() {
        Some(existing) => format!("{existing}\n\n{table}"),
        None => table,
    };
    cmd.after_help(after).mut_subcommands(with_exit_codes)
}

/// Whether the innermost chosen subcommand has a `--json` flag and it is set.
fn json_flag(matches: &clap::ArgMatches) -> bool {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    matches!(m.try_get_one::<bool>("json"), Ok(Some(true)))
}

/// Runs the command.
fn run(cli: Cli) -> Result<(), CliError> {
    chirpfarm_core::logging::init(chirpfarm_core::logging::LogFormat::Text, "warn");
    if let Command::Bench(BenchCmd::Filter { json, iters }) = cli.command {
        return bench_filter(json, iters);
    }
    if let Command::Bench(BenchCmd::Sim {
        workers,
        templates,
        chunk_size,
    }) = cli.command
    {
        return bench::sim(workers, templates, chunk_size);
    }
    if let Command::Simulate(c) = &cli.command {
        return simulate::simulate(c);
    }
    if let Command::Bank(c) = cli.command {
        return bank_cmd::run(c);
    }
    if let Command::Bench(BenchCmd::Cache { signals: 0, .. }) = cli.command {
        return Err(CliError::Input("--signals must be at least 1".into()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Search(c) => commands::search(c).await,
            Command::Submit(c) => commands::submit(c).await,
            Command::Watch(c) => commands::watch(c).await,
            Command::Jobs(r) => manage::jobs(r).await,
            Command::Cancel(c) => manage::cancel(c).await,
            Command::Workers(r) => manage::workers(r).await,
            Command::Health(c) => health::health(c).await,
            Command::Alloc(c) => alloc::alloc(c).await,
            Command::Bench(BenchCmd::Cache { bank, signals }) => bench::cache(bank, signals).await,
            Command::Bench(BenchCmd::Embedded {
                bank,
                signal_mc,
                rounds,
                threads,
            }) => bench_embedded::embedded(bank, signal_mc, rounds, threads).await,
            Command::Bench(BenchCmd::Dispatch {
                tasks,
                workers,
                credits,
            }) => bench::dispatch(tasks, workers, credits).await,
            Command::Bench(BenchCmd::Load {
                remote,
                coordinator_pid,
                idle_connections,
                unread_watchers,
                queued_jobs,
                watch_job,
            }) => {
                let load = bench_load::Load {
                    watch_job,
                    idle_connections,
                    unread_watchers,
                    queued_jobs,
                };
                bench_load::load(&remote, coordinator_pid, load).await
            }
            Command::Simulate(_)
            | Command::Bank(_)
            | Command::Bench(BenchCmd::Filter { .. } | BenchCmd::Sim { .. }) => {
                unreachable!("handled above")
            }
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// `chirpfarm bench filter`: one template on one thread.
fn bench_filter(json: bool, iters: usize) -> Result<(), CliError> {
    if iters == 0 {
        return Err(CliError::Input("--iters must be at least 1".into()));
    }
    let secs = chirpfarm_worker::engine::bench_per_template_seconds(iters);
    let line = if json {
        serde_json::json!({
            "per_template_seconds": secs,
            "threads": 1,
            "n": chirpfarm_worker::engine::N,
            "precision": "f64",
        })
        .to_string()
    } else {
        format!(
            "one template (multiply + c2r n={} + max, f64, 1 thread): {:.1} µs",
            chirpfarm_worker::engine::N,
            secs * 1e6
        )
    };
    stdout::line(&line)
}
