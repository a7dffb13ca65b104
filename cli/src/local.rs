//! `hookpost local up`: the whole stack on this machine (see the `hookpost-local` crate), until
//! Ctrl-C.

use std::path::PathBuf;

use clap::Subcommand;
use hookpost_local::{Emulator, LocalOptions, LocalStack, LocalState, template};

use crate::CliError;

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start the emulator (moto, unless AWS_ENDPOINT_URL is set; AWS_ENDPOINT_URL_DYNAMODB and
    /// the like send one service elsewhere), the queues and tables from template.yaml, the
    /// receiver and the dispatcher; stop with Ctrl-C.
    #[command(
        after_help = "Example:\n  hookpost local up --port 3000 --max-receive-count 3 --retry-delays 1s,2s,4s"
    )]
    Up {
        /// The HTTP API's port on 127.0.0.1: the receiver (/webhooks/) and the management API (/v1/).
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Receives before a message moves to the dead-letter queue (template: MaxReceiveCount).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        max_receive_count: Option<u32>,
        /// Delays before each retry (template: RetryDelays), e.g. 1s,2s,4s.
        #[arg(long, value_parser = retry_delays)]
        retry_delays: Option<String>,
        /// Each source's events in order, on FIFO queues (template: OrderedDelivery=true).
        #[arg(long)]
        ordered: bool,
        /// Another template than the one built in.
        #[arg(long)]
        template: Option<PathBuf>,
    },
}

/// A retry schedule as the template's RetryDelays parameter takes it.
fn retry_delays(text: &str) -> Result<String, String> {
    text.parse::<hookpost_shared::delivery::RetrySchedule>()
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

pub async fn run(command: LocalCommand) -> Result<(), CliError> {
    let LocalCommand::Up {
        port,
        max_receive_count,
        retry_delays,
        ordered,
        template: template_path,
    } = command;
    let template = match template_path {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?,
        None => template::BUNDLED.to_owned(),
    };
    let emulator = Emulator::from_env_or_spawn().await?;
    let owned = emulator.is_owned();
    let stack = LocalStack::start(
        emulator,
        LocalOptions {
            port,
            max_receive_count,
            retry_delays,
            template,
            parameters: ordered
                .then(|| ("OrderedDelivery".to_owned(), "true".to_owned()))
                .into_iter()
                .collect(),
            ..LocalOptions::default()
        },
    )
    .await?;
    let state_path = LocalState::path();
    stack.state.save(&state_path).map_err(CliError::Failed)?;
    let redrive = stack
        .spec
        .queues
        .iter()
        .find_map(|q| q.redrive.as_ref())
        .map_or(0, |r| r.max_receive_count);
    println!(
        "emulator   {} ({})",
        stack.state.endpoints(),
        if owned {
            "moto, started here"
        } else {
            "AWS_ENDPOINT_URL"
        }
    );
    println!("receiver   {}{{source}}", stack.state.receiver_url);
    println!(
        "api        {} (SigV4: access key {}, secret {}, region {}, service {})",
        stack.state.api_url,
        hookpost_local::emulator::ACCESS_KEY_ID,
        hookpost_local::emulator::SECRET_ACCESS_KEY,
        stack.state.region,
        hookpost_local::sigv4::SERVICE
    );
    println!(
        "dispatcher batch size {}, max receives {redrive}, retry delays {}{}",
        stack.spec.event_source.batch_size,
        stack.spec.parameters["RetryDelays"],
        if ordered {
            ", ordered per source (FIFO)"
        } else {
            ""
        }
    );
    println!("use it     hookpost --local sources add NAME --provider github");
    println!("Ctrl-C stops.");
    wait_for_signal().await;
    println!("stopping…");
    stack.stop().await;
    let _ = std::fs::remove_file(&state_path);
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
