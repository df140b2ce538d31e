//! rmq-migrate: tools over Java RocketMQ stores (inspect, verify, dump, recover, rebuild).
//!
//! `main.rs` parses the flags ([`cli::Cli`]) and calls [`run`].

pub mod align;
pub mod backup;
pub mod checks;
pub mod cli;
pub mod convert;
pub mod dump;
pub mod inspect;
pub mod progress;
pub mod rebuild;
pub mod recover;
pub mod report;
pub mod source;
pub mod verify;

use std::io::Write;

use cli::{Cli, Command};

/// Sets up tracing on stderr (`RUST_LOG` wins over `-v`).
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// Runs a parsed command, writing its output to `out`. Returns the exit code:
/// 0 success, 1 problems found in the store, 2 the tool could not run.
pub fn run_with(cli: &Cli, out: &mut dyn Write) -> i32 {
    let r = match &cli.command {
        Command::Inspect(a) => inspect::run(a, out),
        Command::Verify(a) => verify::run(a, out),
        Command::Dump(a) => dump::run(a, out),
        Command::Recover(a) => recover::run(a, out),
        Command::Rebuild(a) => rebuild::run(a, out),
        Command::ConvertDledger(a) => convert::run(a, out),
        Command::Align(a) => align::run(a, out),
    };
    let _ = out.flush();
    match r {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => {
            141
        }
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("rmq-migrate: {e:#}");
            2
        }
    }
}

/// Runs a parsed command against stdout.
pub fn run(cli: Cli) -> i32 {
    init_logging(cli.verbose);
    let stdout = std::io::stdout();
    let mut lock = std::io::BufWriter::new(stdout.lock());
    run_with(&cli, &mut lock)
}
