//! `hookpost`, the operator's tool: sources, subscriptions, the dead-letter queue, signing test
//! webhooks, and the whole stack on one machine (`hookpost local up`, `hookpost demo`).

pub mod args;
pub mod cloudformation;
pub mod commands;
pub mod demo;
pub mod dlq;
pub mod events;
pub mod signing;

use hookpost_shared::store::StoreError;

/// Why a command failed; each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or its inputs are wrong (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The operation failed (exit code 1).
    #[error("{0}")]
    Failed(String),
    /// A checked request is not valid (exit code 1); the reason was already printed.
    #[error("the request is not valid ({0})")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Local(#[from] hookpost_local::LocalError),
    #[error(transparent)]
    Subscriber(#[from] hookpost_local::subscriber::SubscriberError),
}

impl CliError {
    /// The documented exit code: 2 for bad usage, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}
