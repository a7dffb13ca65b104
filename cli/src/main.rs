//! The `hookpost` binary: logs to stderr, parse, run, map the error to an exit code.

use std::process::ExitCode;

use clap::Parser;
use hookpost_cli::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    hookpost_shared::telemetry::init_for_terminal();
    let cli = Cli::parse();
    match hookpost_cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookpost: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
