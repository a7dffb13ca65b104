//! `hookpost`, the operator's tool: a thin face over the operations core
//! (`hookpost-operations`) and the local stack (`hookpost-local`). One module per command group,
//! each depending only on the core and on the small shared modules below it:
//!
//! - [`cli`]: the root of the command line (global flags, the groups).
//! - [`sources`], [`subscriptions`], [`events`], [`deliveries`], [`dlq`]: the operations.
//! - [`console`]: `console`, the web console (crate `hookpost-console`) over the same operations.
//! - [`sign`]: `sign`, `send` and `verify`; [`local`]: `local up`; [`demo`]: `demo`.
//! - [`target`]: which deployment a command talks to; [`output`]: JSON, tables, progress;
//!   [`parse`] and [`scheme`]: flag values checked by clap; [`rotation`]: a rotation's report; [`signing`]: provider headers;
//!   [`cloudformation`]: a deployed stack's outputs; [`error`]: the one error type and its exit
//!   codes.

pub mod cli;
pub mod cloudformation;
pub mod console;
pub mod deliveries;
pub mod demo;
pub mod dlq;
pub mod error;
pub mod events;
pub mod local;
pub mod output;
pub mod parse;
pub mod rotation;
pub mod scheme;
pub mod sign;
pub mod signing;
pub mod sources;
pub mod subscriptions;
pub mod target;

pub use error::CliError;

use cli::{Cli, Command};
use target::Target;

/// Runs one command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    let output = global.output;
    match cli.command {
        Command::Local(command) => local::run(command).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Sign(args) => sign::sign(output, &args),
        Command::Verify(args) => sign::verify(output, &args),
        Command::Send(args) => {
            let base = match &args.url {
                Some(url) => url.clone(),
                None => Target::resolve(global).await?.receiver_url.ok_or_else(|| {
                    CliError::Usage("pass --url with the receiver's base URL".to_owned())
                })?,
            };
            sign::send(output, &base, &args).await
        }
        Command::Sources(command) => {
            sources::run(&Target::resolve(global).await?.ops, output, command).await
        }
        Command::Subscriptions(command) => {
            subscriptions::run(&Target::resolve(global).await?.ops, output, command).await
        }
        Command::Events(command) => {
            events::run(&Target::resolve(global).await?.ops, output, command).await
        }
        Command::Dlq(command) => {
            dlq::run(&Target::resolve(global).await?.ops, output, command).await
        }
        Command::Console(args) => console::run(Target::resolve(global).await?.ops, args).await,
        Command::Deliveries { event_id } => {
            deliveries::run(&Target::resolve(global).await?.ops, output, &event_id).await
        }
    }
}
