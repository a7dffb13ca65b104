//! Hookpost's domain and its AWS adapters, shared by the receiver, the dispatcher and the CLI.
//!
//! - [`signature`]: the verifier registry, one module per provider scheme.
//! - [`envelope`]: the versioned message the receiver queues and the dispatcher reads.
//! - [`source`] and [`subscription`]: what an operator configures.
//! - [`delivery`]: outbound signing, attempt outcomes and the retry schedule.
//! - [`store`]: the narrow ports the handlers use; [`aws`] implements them on DynamoDB and SQS.

pub mod aws;
pub mod cache;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod deployment;
pub mod envelope;
pub mod intake;
pub mod routing;
pub mod secret;
pub mod signature;
pub mod source;
pub mod store;
pub mod subscription;
pub mod telemetry;

/// The `User-Agent` Hookpost sends to subscribers.
pub const USER_AGENT: &str = concat!("Hookpost/", env!("CARGO_PKG_VERSION"));
