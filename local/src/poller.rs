//! A stand-in for Lambda's SQS event source mapping: receives batches (batch size, batching
//! window), hands them to the dispatcher handler with a deadline, deletes what succeeded and leaves
//! the reported failures on the queue, so visibility timeouts and redrive happen in SQS for real.
//!
//! Like Lambda, it stops an invocation that outlives the function timeout: the batch's work in
//! flight is dropped, nothing of it is deleted, and its messages come back after their visibility
//! timeout.
//!
//! An [`Observer`] can be told about each invocation once it ended: which messages, their receive
//! counts, when, and whether it was cut.
//!
//! What the mapping does: <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use hookpost_dispatcher::Dispatcher;
use hookpost_shared::aws::{
    DynamoDeliveries, DynamoEvents, DynamoSubscriptions, S3Bodies, SqsQueue,
};
use tokio::sync::watch;
use tracing::warn;

use crate::template::EventSourceSpec;

/// The dispatcher wired to the AWS adapters, as in the deployed function.
pub type AwsDispatcher =
    Dispatcher<DynamoSubscriptions, DynamoDeliveries, SqsQueue, S3Bodies, DynamoEvents>;

/// Long-poll wait per receive: short, so shutdown is prompt.
const WAIT_SECONDS: i32 = 1;

/// Told about every invocation once it ended (see [`Poller::with_observer`]).
pub type Observer = Arc<dyn Fn(&Invocation<'_>) + Send + Sync>;

/// Polls `queue_url` and feeds the dispatcher until `shutdown` turns true.
pub struct Poller {
    client: Client,
    queue_url: String,
    queue_arn: String,
    region: String,
    spec: EventSourceSpec,
    observer: Option<Observer>,
    concurrency: usize,
    /// Held across each `ReceiveMessage`: the invocations run at once, their receives one after
    /// the other. moto's receive is not safe to call concurrently: two calls that both find a
    /// message past `maxReceiveCount` both move it, and the second fails (a 500, so that poller
    /// backs off), which stalled a queue to about one message a second with ten pollers.
    receiving: tokio::sync::Mutex<()>,
}

/// One invocation of the dispatcher, as the poller saw it.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The batch, in the order it was handed over.
    pub messages: Vec<Handed<'a>>,
    pub started: Instant,
    pub ended: Instant,
    /// Stopped at the function timeout, as Lambda stops it: nothing of the batch was deleted.
    pub cut: bool,
}

/// One message of an invocation's batch.
#[derive(Debug, Clone, Copy)]
pub struct Handed<'a> {
    pub message_id: &'a str,
    pub body: &'a str,
    /// SQS's `ApproximateReceiveCount` for this receive.
    pub receive_count: Option<u32>,
}

impl<'a> Handed<'a> {
    fn of(message: &'a Message) -> Self {
        Self {
            message_id: message.message_id.as_deref().unwrap_or_default(),
            body: message.body.as_deref().unwrap_or_default(),
            receive_count: message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok()),
        }
    }
}

impl fmt::Debug for Poller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller")
            .field("queue_url", &self.queue_url)
            .field("queue_arn", &self.queue_arn)
            .field("region", &self.region)
            .field("spec", &self.spec)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl Poller {
    /// A poller of `queue_url` (whose ARN and region go into each event, as Lambda's do) with the
    /// mapping's settings from `spec`.
    pub fn new(
        client: Client,
        queue_url: String,
        queue_arn: String,
        region: String,
        spec: EventSourceSpec,
    ) -> Self {
        Self {
            client,
            queue_url,
            queue_arn,
            region,
            spec,
            observer: None,
            concurrency: 1,
            receiving: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs up to `invocations` at once, as the mapping's `MaximumConcurrency` lets Lambda do
    /// (default 1: one invocation after the other).
    pub fn with_concurrency(mut self, invocations: u32) -> Self {
        self.concurrency = usize::try_from(invocations.max(1)).unwrap_or(1);
        self
    }

    /// Tells `observer` about every invocation once it ended, cut or not.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    pub async fn run(self, dispatcher: Arc<AwsDispatcher>, shutdown: watch::Receiver<bool>) {
        let poller = Arc::new(self);
        let mut pollers = tokio::task::JoinSet::new();
        for _ in 0..poller.concurrency {
            let poller = Arc::clone(&poller);
            let dispatcher = Arc::clone(&dispatcher);
            let shutdown = shutdown.clone();
            pollers.spawn(async move { poller.invoke_until(&dispatcher, shutdown).await });
        }
        while pollers.join_next().await.is_some() {}
    }

    /// One poller's loop: receive a batch, invoke, delete what succeeded.
    async fn invoke_until(&self, dispatcher: &AwsDispatcher, mut shutdown: watch::Receiver<bool>) {
        loop {
            let batch = tokio::select! {
                batch = self.receive_batch() => batch,
                _ = shutdown.changed() => return,
            };
            let messages = match batch {
                Ok(messages) => messages,
                Err(e) => {
                    warn!(error = %e, "ReceiveMessage failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let timeout = Duration::from_secs(self.spec.function_timeout_seconds);
            let started = Instant::now();
            let event = self.event(&messages);
            let handled = tokio::time::timeout(
                timeout,
                dispatcher.handle(event, Some(SystemTime::now() + timeout)),
            )
            .await;
            if let Some(observer) = &self.observer {
                observer(&Invocation {
                    messages: messages.iter().map(Handed::of).collect(),
                    started,
                    ended: Instant::now(),
                    cut: handled.is_err(),
                });
            }
            match handled {
                Ok(response) => self.delete_succeeded(&messages, &response).await,
                Err(_) => warn!(
                    messages = messages.len(),
                    timeout_seconds = timeout.as_secs(),
                    "invocation stopped at the function timeout; its messages return after their \
                     visibility timeout"
                ),
            }
        }
    }

    /// One batch: up to the batch size, waiting at most the batching window to fill it.
    async fn receive_batch(&self) -> Result<Vec<Message>, String> {
        let batch_size = usize::try_from(self.spec.batch_size.clamp(1, 10)).unwrap_or(10);
        let window = Duration::from_secs(self.spec.batching_window_seconds);
        let _turn = self.receiving.lock().await;
        let started = Instant::now();
        let mut messages = Vec::new();
        loop {
            let wanted = i32::try_from(batch_size - messages.len()).unwrap_or(10);
            let out = self
                .client
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(wanted)
                .wait_time_seconds(WAIT_SECONDS)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            messages.extend(out.messages.unwrap_or_default());
            if messages.len() >= batch_size || started.elapsed() >= window {
                return Ok(messages);
            }
            if messages.is_empty() {
                return Ok(messages);
            }
        }
    }

    /// The event Lambda would build from these messages.
    fn event(&self, messages: &[Message]) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id.clone();
                record.receipt_handle = m.receipt_handle.clone();
                record.body = m.body.clone();
                record.md5_of_body = m.md5_of_body.clone();
                record.attributes = m
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect();
                record.event_source = Some("aws:sqs".to_owned());
                record.event_source_arn = Some(self.queue_arn.clone());
                record.aws_region = Some(self.region.clone());
                record
            })
            .collect();
        event
    }

    /// Deletes every message not reported as failed, as the mapping does.
    async fn delete_succeeded(&self, messages: &[Message], response: &SqsBatchResponse) {
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.contains(&m.message_id.as_deref().unwrap_or_default()))
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return;
        }
        if let Err(e) = self
            .client
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            // The messages come back after their visibility timeout: at-least-once, as in Lambda.
            warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "DeleteMessageBatch failed");
        }
    }
}
