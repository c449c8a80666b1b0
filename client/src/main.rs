//! `chirpfarm`: the command line for matched-filter template-bank searches.
//!
//! Exit codes: 0 success, 1 the job failed or another error, 2 bad input, 3 the coordinator
//! cannot be reached, 130 interrupted (Ctrl-C).

mod args;
mod bank_cmd;
mod bank_farm;
mod bench;
mod bench_load;
mod commands;
mod data;
mod data_output;
mod embedded;
mod error;
mod health;
mod injections;
mod output;
mod progress;
mod remote;
mod simulate;
mod spec;

use args::{BenchCmd, Cli, Command};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        return match bench::sim(workers, templates, chunk_size) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    if let Command::Simulate(c) = &cli.command {
        return match simulate::simulate(c) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    if let Command::Bank(c) = cli.command {
        return match bank_cmd::run(c) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    if let Command::Bench(BenchCmd::Cache { signals: 0, .. }) = cli.command {
        eprintln!("error: --signals must be at least 1");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Search(c) => commands::search(c).await,
            Command::Submit(c) => commands::submit(c).await,
            Command::Watch(c) => commands::watch(c).await,
            Command::Jobs(r) => commands::jobs(r).await,
            Command::Cancel(c) => commands::cancel(c).await,
            Command::Workers(r) => commands::workers(r).await,
            Command::Health(c) => health::health(c).await,
            Command::Bench(BenchCmd::Cache { bank, signals }) => bench::cache(bank, signals).await,
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
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `chirpfarm bench filter`: one template on one thread.
fn bench_filter(json: bool, iters: usize) -> ExitCode {
    if iters == 0 {
        eprintln!("error: --iters must be at least 1");
        return ExitCode::from(2);
    }
    let secs = chirpfarm_worker::engine::bench_per_template_seconds(iters);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "per_template_seconds": secs,
                "threads": 1,
                "n": chirpfarm_worker::engine::N,
                "precision": "f64",
            })
        );
    } else {
        println!(
            "one template (multiply + c2r n={} + max, f64, 1 thread): {:.1} µs",
            chirpfarm_worker::engine::N,
            secs * 1e6
        );
    }
    ExitCode::SUCCESS
}
