//! # chirpfarm (the client library)
//!
//! Everything the `chirpfarm` command does, as a library, so that other front ends — the Python
//! package in `python/` above all — call the same code instead of re-implementing it: argument
//! validation ([`spec::prepare`]), the embedded cluster ([`embedded`]), talking to a coordinator
//! ([`remote`], [`farm`]), the in-process search ([`local`]) and the outputs.
//!
//! The binary (`src/main.rs`) only parses the command line and dispatches to [`commands`],
//! [`manage`] and the other subcommand modules. Errors are [`error::CliError`]: its variants are
//! the rows of the exit-code table of [`chirpfarm_core::ExitKind`].

pub mod alloc;
pub mod args;
pub mod bank_cmd;
pub mod bank_farm;
pub mod bench;
pub mod bench_embedded;
pub mod bench_load;
pub mod commands;
pub mod data;
pub mod data_output;
pub mod embedded;
pub mod emit;
pub mod error;
pub mod farm;
pub mod health;
pub mod injections;
pub mod interrupt;
pub mod listings;
pub mod local;
pub mod manage;
pub mod output;
pub mod partial;
pub mod partial_data;
pub mod plot;
pub mod progress;
pub mod remote;
pub mod simulate;
pub mod spec;
pub mod stdout;
