//! Hookpost's operations core: what an operator can do to a deployment — sources, subscriptions,
//! the event archive, delivery records and the dead-letter queue — as typed operations over the
//! store ports. The `hookpost` CLI is one face of it; the management API and the console are two
//! more. Every operation returns `Serialize` values and an [`OpError`] that says what to fix;
//! lists are paged with an opaque [`Cursor`] and a limit.
//!
//! - [`sources`], [`subscriptions`]: what an operator configures.
//! - [`events`]: the archive, replaying one event, and recovering a window.
//! - [`publish`]: an event published to a `publish` source, made durable as the receiver does.
//! - [`deliveries`]: every attempt of an event.
//! - [`dead_letters`]: the dead-letter queue, complete at any depth; redrive and purge.

pub mod dead_letters;
pub mod deliveries;
pub mod error;
pub mod events;
pub mod page;
pub mod progress;
pub mod publish;
pub mod sources;
pub mod subscriptions;
pub mod time;

use aws_config::SdkConfig;
use hookpost_shared::aws::{
    DynamoClient, DynamoDeliveries, DynamoEvents, DynamoSources, DynamoSubscriptions, S3Client,
    SqsClient, SqsQueue,
};
use hookpost_shared::deployment::StackNames;
use hookpost_shared::intake::Limits;

pub use error::{Kind, OpError};
pub use page::{Cursor, Page, PageRequest};
pub use progress::{NoProgress, Progress};

/// A deployment to operate on: its resources by name and the SDK clients that reach them. Built
/// once per command (or per warm function); cheap to share by reference.
#[derive(Debug, Clone)]
pub struct Operations {
    names: StackNames,
    receiver_url: Option<String>,
    dynamo: DynamoClient,
    sqs: SqsClient,
    s3: S3Client,
    limits: Limits,
    /// The ARNs the deployment lets the dispatcher send to (its `DestinationArns`).
    destinations: Vec<String>,
}

impl Operations {
    /// Operations on the deployment `names`, through the clients of `sdk`. `receiver_url` is the
    /// receiver's base URL (`…/webhooks/`), when known, to show the URL a provider posts to.
    pub fn new(sdk: &SdkConfig, names: StackNames, receiver_url: Option<String>) -> Self {
        Self {
            names,
            receiver_url,
            dynamo: DynamoClient::new(sdk),
            sqs: SqsClient::new(sdk),
            s3: S3Client::new(sdk),
            limits: Limits::default(),
            destinations: Vec::new(),
        }
    }

    /// The ARNs subscriptions may target (the stack's `DestinationArns`); none by default.
    pub fn with_destinations(self, destinations: Vec<String>) -> Self {
        Self {
            destinations,
            ..self
        }
    }

    pub fn destinations(&self) -> &[String] {
        &self.destinations
    }

    /// The intake limits a publish is held to (the receiver's, by default).
    pub fn with_limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn names(&self) -> &StackNames {
        &self.names
    }

    /// The URL a provider posts a source's events to, when the receiver's base URL is known.
    pub fn webhook_url(&self, source: &str) -> Option<String> {
        self.receiver_url
            .as_deref()
            .map(|base| format!("{}/{source}", base.trim_end_matches('/')))
    }

    fn sources_table(&self) -> DynamoSources {
        DynamoSources::new(self.dynamo.clone(), &self.names.sources_table)
    }

    fn subscriptions_table(&self) -> DynamoSubscriptions {
        DynamoSubscriptions::new(self.dynamo.clone(), &self.names.subscriptions_table)
    }

    fn deliveries_table(&self) -> DynamoDeliveries {
        DynamoDeliveries::new(self.dynamo.clone(), &self.names.deliveries_table)
    }

    fn events_table(&self) -> DynamoEvents {
        DynamoEvents::new(self.dynamo.clone(), &self.names.events_table)
    }

    fn ingest_queue(&self) -> SqsQueue {
        SqsQueue::new(self.sqs.clone(), &self.names.ingest_queue_url)
    }
}
