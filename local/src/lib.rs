//! Hookpost on one machine (`hookpost local up`, `hookpost demo`): the deployed handlers wired to
//! the real SDK clients, talking to an AWS-protocol emulator instead of AWS.
//!
//! - [`emulator`]: the emulator at `AWS_ENDPOINT_URL`, or moto's server started from the venv.
//! - [`template`]: template.yaml, the deployed contract, read into a [`template::StackSpec`].
//! - [`provision`]: the spec's queues, tables and bucket created on the emulator.
//! - [`poller`]: Lambda's SQS event source mapping, feeding the dispatcher handler.
//! - [`front`]: the HTTP API on loopback: `POST /webhooks/{source}` feeding the receiver, `/v1`
//!   feeding the management API.
//! - [`sigv4`]: API Gateway's IAM check on `/v1`: SigV4 for the local credentials.
//! - [`stack`]: all of the above started and stopped together, and the wiring of the handlers.
//! - [`error`]: why a local stack could not start.
//! - [`state`]: the state file through which `hookpost --local …` finds a running stack.
//! - [`subscriber`]: a subscriber on loopback that verifies and records each delivery.
//!
//! Production code has no local branch: the handlers are the deployed ones, and the endpoint
//! alone decides where their clients talk.

pub mod emulator;
pub mod error;
pub mod front;
pub mod poller;
pub mod provision;
pub mod sigv4;
pub mod stack;
pub mod state;
pub mod subscriber;
pub mod template;

pub use emulator::Emulator;
pub use error::LocalError;
pub use stack::{LocalOptions, LocalStack};
pub use state::LocalState;
