//! The narrow ports the handlers use. Each has an AWS implementation in [`crate::aws`] and, in the
//! handlers' unit tests, an in-memory one.

use std::collections::HashSet;
use std::future::Future;
use std::time::SystemTime;

use crate::delivery::AttemptOutcome;
use crate::source::{Source, SourceId};
use crate::subscription::{LastDelivery, Subscription};

/// A storage or queue call that failed. The message names the operation and the SDK's reason;
/// it never carries request data.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub message: String,
}

impl StoreError {
    pub fn new(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            operation,
            message: message.into(),
        }
    }
}

/// Looks up sources by id (the receiver).
pub trait SourceStore: Send + Sync {
    fn get_source(
        &self,
        id: &SourceId,
    ) -> impl Future<Output = Result<Option<Source>, StoreError>> + Send;
}

/// Durably queues an encoded envelope (the receiver). `Ok` means the queue has it.
pub trait EventQueue: Send + Sync {
    fn enqueue(&self, envelope_json: String)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Queues an envelope of message group `group` (its source) under `id` (its event id). An
    /// ordered (FIFO) queue keeps each group in send order and drops a repeated `id`; a queue
    /// without order ignores both, which is what this default does.
    fn enqueue_in_group(
        &self,
        envelope_json: String,
        group: &str,
        id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (group, id);
        self.enqueue(envelope_json)
    }
}

/// Lists a source's subscriptions (the dispatcher).
pub trait SubscriptionStore: Send + Sync {
    fn subscriptions_for(
        &self,
        source: &SourceId,
    ) -> impl Future<Output = Result<Vec<Subscription>, StoreError>> + Send;

    /// Disables a subscription, recording why (a 410 Gone, a failure streak).
    fn disable(
        &self,
        source: &SourceId,
        subscription_id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Notes a failed attempt: starts the subscription's failure streak at `now` unless one is
    /// already running. Returns when the running streak began.
    fn record_failure(
        &self,
        source: &SourceId,
        subscription_id: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<SystemTime, StoreError>> + Send;

    /// Keeps `last` on the subscription as its most recent attempt, unless a later one is kept
    /// already (attempts of a batch finish in any order).
    fn record_last_delivery(
        &self,
        source: &SourceId,
        subscription_id: &str,
        last: &LastDelivery,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reserves the subscription's next `count` delivery slots for its rate limit
    /// ([`crate::delivery::rate`]): atomically moves the limiter's time (TAT) on by `count`
    /// intervals of `interval_micros` from `max(TAT, now)`, and returns the TAT it found, `None`
    /// when the subscription was idle (TAT absent or past); [`RateLimit::nth_tat`] says what
    /// each of the `count` reservations found. One conditional `UpdateItem` whatever the count,
    /// two when the subscription turned idle or busy since the last reservation.
    ///
    /// [`RateLimit::nth_tat`]: crate::delivery::RateLimit::nth_tat
    fn reserve_slots(
        &self,
        source: &SourceId,
        subscription_id: &str,
        now_micros: i64,
        interval_micros: i64,
        count: u32,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Ends the subscription's failure streak (a success). Callers only ask when one is running,
    /// so a healthy subscription costs no write.
    fn clear_failure(
        &self,
        source: &SourceId,
        subscription_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// An accepted event as kept for replay: the envelope exactly as it was queued (a large body is
/// referenced by its S3 key, which expires after `BodyRetentionDays`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedEvent {
    pub event_id: String,
    pub source_id: SourceId,
    pub event_type: Option<String>,
    /// When the receiver accepted it (RFC 3339), the archive's sort key per source.
    pub received_at: String,
    /// The queued envelope's JSON.
    pub envelope: String,
    /// Unix seconds after which DynamoDB may expire it.
    pub expires_at: i64,
}

/// Every accepted event, kept for the retention period so it can be replayed (the dispatcher
/// writes, the CLI reads).
pub trait EventArchive: Send + Sync {
    /// Keeps the event unless it is already kept; `Ok(false)` when it was.
    fn archive(
        &self,
        event: &ArchivedEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn get(
        &self,
        event_id: &str,
    ) -> impl Future<Output = Result<Option<ArchivedEvent>, StoreError>> + Send;
}

/// One attempt, as recorded in the deliveries table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub event_id: String,
    pub subscription_id: String,
    pub source_id: SourceId,
    pub event_type: Option<String>,
    /// What the attempt came to, its HTTP status included; stored by its
    /// [label](AttemptOutcome::label).
    pub outcome: AttemptOutcome,
    pub error: Option<String>,
    /// The first 2 KiB of the response body.
    pub response_snippet: Option<String>,
    pub duration_ms: u64,
    pub attempted_at: String,
    /// Unix seconds after which DynamoDB may expire the record.
    pub expires_at: i64,
}

/// The trail of delivery attempts (the dispatcher).
pub trait DeliveryLog: Send + Sync {
    /// The subscriptions that already have this event: they are skipped on a retry or redrive.
    fn delivered_subscriptions(
        &self,
        event_id: &str,
    ) -> impl Future<Output = Result<HashSet<String>, StoreError>> + Send;

    fn record_attempt(
        &self,
        attempt: &AttemptRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The message attribute that says why a record went to the dead-letter queue on its first
/// receive: it can never be delivered (not an envelope this build reads).
pub const POISON_REASON_ATTRIBUTE: &str = "hookpost-poison-reason";

/// The ingest queue as the dispatcher handles a received message: delays its next delivery (the
/// backoff), or moves a record that can never succeed straight to the dead-letter queue.
pub trait Visibility: Send + Sync {
    fn delay(
        &self,
        receipt_handle: &str,
        seconds: i32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Queues each body of `copies` again on the ingest queue, invisible for its delay in
    /// seconds (at most 900, SQS's limit): a record whose deliveries wait for their rate
    /// limit's slot comes back as a new message, so waiting spends none of the original's
    /// receives. Answers one result per copy, in order; once a copy's is `Ok` its original may
    /// be deleted. Up to ten copies share one request. A FIFO queue cannot delay one message,
    /// so it refuses every copy.
    fn requeue(
        &self,
        copies: &[(String, i32)],
    ) -> impl Future<Output = Vec<Result<(), StoreError>>> + Send;

    /// Sends `body` to the dead-letter queue with `reason` as [`POISON_REASON_ATTRIBUTE`];
    /// `message_id` is the original message's (the deduplication id on a FIFO queue). Once this
    /// succeeds the original may be deleted.
    fn dead_letter(
        &self,
        body: &str,
        message_id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The outcome of claiming a provider delivery id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First sight of this delivery: queue it, then confirm.
    New,
    /// Already queued as `event_id`: answer without queuing again.
    Duplicate { event_id: String },
    /// Another request is queuing the same delivery right now (or did not finish): retry later.
    InFlight,
}

/// Remembers providers' delivery ids, so a redelivered webhook is queued once (the receiver).
///
/// A claim is `pending` until its event is queued, then `queued`. A pending claim older than the
/// stale window is taken over, so a receiver that died between claim and queue never makes the
/// provider's retries look like duplicates: nothing accepted is lost.
pub trait DeliveryIds: Send + Sync {
    fn claim(
        &self,
        key: &str,
        event_id: &str,
        now: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// The event is queued: later claims of `key` are duplicates.
    fn confirm(
        &self,
        key: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The event could not be queued: the provider's retry may claim `key` again.
    fn release(
        &self,
        key: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Bodies too large for a queue message, stored aside (the claim check).
pub trait BodyStore: Send + Sync {
    /// Takes the body by value: the S3 request owns it without another copy.
    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
}
