//! The `hookpost` binary: parse, run, map the error to an exit code.

use std::process::ExitCode;

use clap::Parser;
use hookpost_cli::args::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    hookpost_shared::telemetry::init();
    let cli = Cli::parse();
    match hookpost_cli::commands::run(&cli.global, cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookpost: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
