//! `hookpost console`: serves the web console on 127.0.0.1 over the deployment the global flags
//! name, prints its URL (with this launch's token) and opens it in the browser.

use clap::Args;
use hookpost_console::ConsoleOptions;
use hookpost_operations::Operations;

use crate::CliError;

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The port on 127.0.0.1 (0: any free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Print the URL without opening a browser.
    #[arg(long)]
    pub no_open: bool,
}

pub async fn run(ops: Operations, args: ConsoleArgs) -> Result<(), CliError> {
    let console = hookpost_console::serve(ops, ConsoleOptions::on_port(args.port))
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    // The URL is the credential: it goes to the operator's terminal, never to the log.
    println!("Hookpost console: {}", console.url());
    eprintln!("Press Ctrl+C to stop.");
    if !args.no_open
        && let Err(e) = open::that_detached(console.url())
    {
        eprintln!("hookpost: could not open a browser ({e}); open the URL above");
    }
    let mut console = console;
    let interrupted = tokio::select! {
        _ = tokio::signal::ctrl_c() => true,
        () = console.stopped() => false,
    };
    if interrupted {
        console.shutdown().await;
        return Ok(());
    }
    Err(CliError::Failed(
        "the console stopped serving (see the log above)".to_owned(),
    ))
}
