//! A stand-in for Lambda's SQS event source mapping: receives batches (batch size, batching
//! window), hands them to the dispatcher handler with a deadline, deletes what succeeded and leaves
//! the reported failures on the queue, so visibility timeouts and redrive happen in SQS for real.
//!
//! Like Lambda, it stops an invocation that outlives the function timeout: the batch's work in
//! flight is dropped, nothing of it is deleted, and its messages come back after their visibility
//! timeout.
//!
//! What the mapping does: <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>.

use std::sync::{Arc, Mutex, PoisonError};
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

/// Polls `queue_url` and feeds the dispatcher until `shutdown` turns true.
#[derive(Debug)]
pub struct Poller {
    pub client: Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub spec: EventSourceSpec,
    /// Where each invocation is written down, when someone wants to read them afterwards.
    pub journal: Option<Arc<Journal>>,
}

/// The invocations of one or more pollers: which message each handled, when, and whether it was
/// cut at the function timeout. A test reads it to tell how a message came to be handled twice.
#[derive(Debug, Default)]
pub struct Journal {
    handlings: Mutex<Vec<Handling>>,
}

/// One message's part in one invocation.
#[derive(Debug, Clone)]
pub struct Handling {
    pub message_id: String,
    /// The envelope's event id, when the body is an envelope.
    pub event_id: Option<String>,
    /// SQS's `ApproximateReceiveCount` for this receive.
    pub receive_count: Option<u32>,
    pub started: Instant,
    pub ended: Instant,
    /// Stopped at the function timeout, as Lambda stops it: nothing of the batch was deleted.
    pub cut: bool,
}

impl Journal {
    /// Every handling so far, in the order the invocations ended.
    pub fn handlings(&self) -> Vec<Handling> {
        self.lock().clone()
    }

    /// Invocations stopped at the function timeout (counted per message).
    pub fn cuts(&self) -> usize {
        self.lock().iter().filter(|h| h.cut).count()
    }

    fn record(&self, messages: &[Message], started: Instant, cut: bool) {
        #[derive(serde::Deserialize)]
        struct Ids {
            event_id: String,
        }
        let ended = Instant::now();
        let handlings = messages.iter().map(|m| Handling {
            message_id: m.message_id.clone().unwrap_or_default(),
            event_id: m
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Ids>(b).ok())
                .map(|ids| ids.event_id),
            receive_count: m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok()),
            started,
            ended,
            cut,
        });
        self.lock().extend(handlings);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Handling>> {
        self.handlings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Poller {
    pub async fn run(self, dispatcher: Arc<AwsDispatcher>, mut shutdown: watch::Receiver<bool>) {
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
            if let Some(journal) = &self.journal {
                journal.record(&messages, started, handled.is_err());
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
