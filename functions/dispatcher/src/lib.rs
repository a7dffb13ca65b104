//! The dispatcher: one SQS batch of envelopes → each event POSTed, signed with Standard Webhooks,
//! to every enabled subscription of its source that wants it and does not have it yet.
//!
//! Records are independent: a malformed one is reported alone, and a record fails (stays on the
//! queue, delayed by the retry schedule) only if one of its own deliveries needs another try.
//! The exception is ordered mode (a FIFO queue): records of one message group are handled one
//! after the other, and a failed one holds the group's later records back with it.
//! Subscribers that already got an event are never called again for it, so a retry reaches only
//! the ones still missing it. Delivery is at least once: a success whose record could not be
//! written may be delivered again.
//!
//! Every event is archived the first time it is seen, for replay. A subscription that keeps
//! failing for the configured period is disabled; any success ends its failure streak. Each batch
//! ends with one line of metrics in CloudWatch's embedded metric format.

mod guard;
pub mod metrics;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::future::join_all;
use futures_util::stream;
use hookpost_shared::clock::{Clock, rfc3339, unix_millis, unix_seconds};
use hookpost_shared::config::{self, ConfigError};
use hookpost_shared::delivery::outcome::RetryReason;
use hookpost_shared::delivery::{AttemptOutcome, RetrySchedule, classify_status, visibility_after};
use hookpost_shared::envelope::{EncodedBody, Envelope, Replay};
use hookpost_shared::signature::standard_webhooks::{STANDARD_HEADERS, signature_header};
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{
    ArchivedEvent, AttemptRecord, BodyStore, DeliveryLog, EventArchive, StoreError,
    SubscriptionStore, Visibility,
};
use hookpost_shared::subscription::{Subscription, parse_target_url};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use tokio::sync::{OnceCell, Semaphore};
use tracing::{Instrument as _, debug, field, info, info_span, warn};

use crate::metrics::BatchMetrics;

/// How long one attempt may take unless configured otherwise.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long delivery records are kept unless configured otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// How many deliveries of one batch run at once unless configured otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 32;
/// How long a warm function reuses a source's subscriptions unless configured otherwise.
pub const DEFAULT_SUBSCRIPTION_CACHE: Duration = Duration::from_secs(30);
/// How long a subscription may fail without a single success before it is disabled (5 days).
pub const DEFAULT_DISABLE_AFTER: Duration = Duration::from_secs(120 * 60 * 60);
/// How much of a subscriber's answer is kept in the delivery record.
pub const RESPONSE_SNIPPET_BYTES: usize = 2048;
/// The SQS attribute the retry schedule is indexed by.
pub const RECEIVE_COUNT_ATTRIBUTE: &str = "ApproximateReceiveCount";
/// The SQS attribute naming a FIFO message's group (the source, in ordered mode).
pub const GROUP_ATTRIBUTE: &str = "MessageGroupId";

/// Time kept back from the invocation deadline to set visibility delays and answer Lambda.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// With less time than this left, an attempt is not started: it could only time out.
const MIN_ATTEMPT: Duration = Duration::from_millis(250);
const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// Headers a subscription's custom headers may not set: the signature, the framing and the
/// identity of the request are Hookpost's.
const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "host",
    "user-agent",
];

/// The dispatcher's settings, read once at init.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a failed record waits before its next receive.
    pub retry: RetrySchedule,
    /// The most one HTTP attempt may take, connection and response body included.
    pub attempt_timeout: Duration,
    /// How long delivery records are kept (the DynamoDB TTL).
    pub retention: Duration,
    /// Whether subscribers may be on private, loopback or other non-public addresses.
    pub allow_private_targets: bool,
    /// How many deliveries of one batch run at once.
    pub max_in_flight: usize,
    /// How long a source's subscriptions are reused across batches; zero reads them for every
    /// batch (a new or changed subscription is then seen at once).
    pub subscription_cache: Duration,
    /// How long a subscription may fail continuously before it is disabled.
    pub disable_after: Duration,
    /// The ingest queue's `maxReceiveCount`, when known: the last receive is not delayed, since
    /// SQS dead-letters the record on its next receive anyway.
    pub max_receive_count: Option<u32>,
    /// The `Function` dimension of the embedded metrics; `None` prints none.
    pub metrics_function: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            retry: RetrySchedule::default(),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            retention: DEFAULT_RETENTION,
            allow_private_targets: false,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            subscription_cache: DEFAULT_SUBSCRIPTION_CACHE,
            disable_after: DEFAULT_DISABLE_AFTER,
            max_receive_count: None,
            metrics_function: None,
        }
    }
}

impl Config {
    /// Reads `HOOKPOST_RETRY_DELAYS`, `HOOKPOST_ATTEMPT_TIMEOUT_SECS`,
    /// `HOOKPOST_DELIVERY_RETENTION_DAYS`, `HOOKPOST_ALLOW_PRIVATE_TARGETS` (`true`/`false`),
    /// `HOOKPOST_MAX_IN_FLIGHT`, `HOOKPOST_SUBSCRIPTION_CACHE_SECS` (0 = no cache),
    /// `HOOKPOST_DISABLE_AFTER_HOURS` and `HOOKPOST_MAX_RECEIVE_COUNT`; unset ones take the
    /// defaults, invalid ones are errors. Metrics are printed under `AWS_LAMBDA_FUNCTION_NAME`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let timeout_secs = positive(
            "HOOKPOST_ATTEMPT_TIMEOUT_SECS",
            config::optional(
                "HOOKPOST_ATTEMPT_TIMEOUT_SECS",
                defaults.attempt_timeout.as_secs(),
            )?,
        )?;
        let retention_days = positive(
            "HOOKPOST_DELIVERY_RETENTION_DAYS",
            config::optional(
                "HOOKPOST_DELIVERY_RETENTION_DAYS",
                defaults.retention.as_secs() / 86_400,
            )?,
        )?;
        let max_in_flight = positive(
            "HOOKPOST_MAX_IN_FLIGHT",
            config::optional("HOOKPOST_MAX_IN_FLIGHT", defaults.max_in_flight)?,
        )?;
        let cache_secs = config::optional(
            "HOOKPOST_SUBSCRIPTION_CACHE_SECS",
            defaults.subscription_cache.as_secs(),
        )?;
        let disable_after_hours = positive(
            "HOOKPOST_DISABLE_AFTER_HOURS",
            config::optional(
                "HOOKPOST_DISABLE_AFTER_HOURS",
                defaults.disable_after.as_secs() / 3600,
            )?,
        )?;
        let max_receive_count = match config::optional::<u32>("HOOKPOST_MAX_RECEIVE_COUNT", 0)? {
            0 => None,
            count => Some(count),
        };
        Ok(Self {
            retry: config::optional("HOOKPOST_RETRY_DELAYS", defaults.retry)?,
            attempt_timeout: Duration::from_secs(timeout_secs),
            retention: Duration::from_secs(retention_days.saturating_mul(86_400)),
            allow_private_targets: config::optional("HOOKPOST_ALLOW_PRIVATE_TARGETS", false)?,
            max_in_flight,
            subscription_cache: Duration::from_secs(cache_secs),
            disable_after: Duration::from_secs(disable_after_hours.saturating_mul(3600)),
            max_receive_count,
            metrics_function: Some(config::optional(
                "AWS_LAMBDA_FUNCTION_NAME",
                "hookpost-dispatcher".to_owned(),
            )?),
        })
    }
}

fn positive<T: Default + PartialEq>(name: &'static str, value: T) -> Result<T, ConfigError> {
    if value == T::default() {
        return Err(ConfigError::Invalid {
            name,
            reason: "must be greater than zero".to_owned(),
        });
    }
    Ok(value)
}

/// Why a dispatcher could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DispatcherError {
    #[error("the HTTP client could not be built: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// What the dispatcher needs: the subscriptions, the delivery trail, the queue's visibility, the
/// large bodies stored aside, the event archive, the time, and one HTTP client shared by every
/// delivery.
#[derive(Debug)]
pub struct Dispatcher<S, L, V, B, E> {
    subscriptions: S,
    log: L,
    visibility: V,
    bodies: B,
    events: E,
    clock: Arc<dyn Clock>,
    config: Config,
    http: reqwest::Client,
    /// Sources' subscriptions kept across the batches of a warm function.
    warm: Mutex<HashMap<SourceId, (Instant, Arc<SourceSnapshot>)>>,
}

impl<S, L, V, B, E> Dispatcher<S, L, V, B, E>
where
    S: SubscriptionStore,
    L: DeliveryLog,
    V: Visibility,
    B: BodyStore,
    E: EventArchive,
{
    /// Builds the one HTTP client every delivery shares (guarded unless private targets are
    /// allowed); fails only if that client cannot be built.
    pub fn new(
        subscriptions: S,
        log: L,
        visibility: V,
        bodies: B,
        events: E,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Result<Self, DispatcherError> {
        let http = http_client(&config).map_err(DispatcherError::HttpClient)?;
        Ok(Self {
            subscriptions,
            log,
            visibility,
            bodies,
            events,
            clock,
            config,
            http,
            warm: Mutex::default(),
        })
    }

    /// Handles one SQS batch; `deadline` is when the invocation must have answered (Lambda context
    /// deadline), `None` = no limit. Returns the ids of the records to keep on the queue.
    ///
    /// With [`Config::metrics_function`] set, the batch's metrics are printed to stdout in
    /// CloudWatch's embedded metric format.
    pub async fn handle(&self, event: SqsEvent, deadline: Option<SystemTime>) -> SqsBatchResponse {
        let (response, metrics) = self.handle_measured(event, deadline).await;
        if let Some(function) = &self.config.metrics_function {
            // Lambda sends stdout to CloudWatch Logs line by line, where EMF lines become metrics.
            for line in metrics.to_emf(function, unix_millis(self.clock.now())) {
                println!("{line}");
            }
        }
        response
    }

    /// [`Dispatcher::handle`], returning the batch's metrics instead of printing them.
    pub async fn handle_measured(
        &self,
        event: SqsEvent,
        deadline: Option<SystemTime>,
    ) -> (SqsBatchResponse, BatchMetrics) {
        let batch = Batch {
            sources: Mutex::default(),
            permits: Semaphore::new(self.config.max_in_flight.max(1)),
            deadline,
            metrics: Mutex::default(),
        };
        let failed: Vec<Vec<String>> = stream::iter(lanes(event.records))
            .map(|lane| self.handle_lane(lane, &batch))
            .buffered(self.config.max_in_flight.max(1))
            .collect()
            .await;
        let mut response = SqsBatchResponse::default();
        for message_id in failed.into_iter().flatten() {
            response.add_failure(message_id);
        }
        (
            response,
            batch
                .metrics
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// A standard queue's record on its own, or a FIFO message group's records one after the
    /// other in batch order. Returns the ids of the records to keep on the queue.
    ///
    /// Once a record of a group fails, the group's later records are kept unprocessed: delivering
    /// them would overtake the failed one. Lambda requires exactly this of a FIFO partial batch
    /// response (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>).
    async fn handle_lane(&self, records: Vec<SqsMessage>, batch: &Batch) -> Vec<String> {
        let mut failed = Vec::new();
        let mut held = Vec::new();
        for message in records {
            if failed.is_empty() {
                failed.extend(self.handle_record(message, batch).await);
            } else {
                failed.push(message.message_id.clone().unwrap_or_default());
                held.push(message);
            }
        }
        if !held.is_empty() {
            info!(
                group = held[0]
                    .attributes
                    .get(GROUP_ATTRIBUTE)
                    .map_or("-", String::as_str),
                held = held.len(),
                "an earlier event of the group failed: its later events wait for it"
            );
        }
        // A held record would stay in flight for the queue's whole visibility timeout and keep
        // the group blocked past the failed record's retry delay. Visible again, it still waits:
        // SQS returns nothing of a group while one of its messages is in flight.
        join_all(held.iter().map(|message| self.release(message))).await;
        failed
    }

    /// Makes a held record visible again at once.
    async fn release(&self, message: &SqsMessage) {
        let Some(receipt_handle) = message.receipt_handle.as_deref() else {
            return;
        };
        if let Err(e) = self.visibility.delay(receipt_handle, 0).await {
            warn!(
                message_id = message.message_id.as_deref().unwrap_or_default(),
                error = %e,
                "releasing a held record failed; the queue's visibility timeout applies"
            );
        }
    }

    /// One record in its own span; `Some(message id)` when it failed.
    async fn handle_record(&self, message: SqsMessage, batch: &Batch) -> Option<String> {
        // Lambda treats an empty item identifier as a failure of the whole batch: a record
        // without an id (never sent by SQS) is then retried with the rest instead of dropped.
        let message_id = message.message_id.clone().unwrap_or_default();
        let span = info_span!("record", message_id = %message_id, event_id = field::Empty);
        async {
            match self.process(&message, batch).await {
                RecordResult::Done => None,
                RecordResult::Malformed => {
                    batch.measure(|m| m.malformed += 1);
                    Some(message_id)
                }
                RecordResult::Retry { retry_after } => {
                    batch.measure(|m| m.retries += 1);
                    self.back_off(&message, retry_after).await;
                    Some(message_id)
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn process(&self, message: &SqsMessage, batch: &Batch) -> RecordResult {
        let Some(body) = message.body.as_deref() else {
            warn!("the record has no body");
            return RecordResult::Malformed;
        };
        let envelope = match Envelope::decode(body) {
            Ok(envelope) => envelope,
            Err(e) => {
                warn!(error = %e, "the record is not a deliverable envelope");
                return RecordResult::Malformed;
            }
        };
        tracing::Span::current().record("event_id", field::display(&envelope.event_id));
        if HeaderValue::from_str(&envelope.event_id).is_err() {
            warn!("the envelope's event id cannot be sent as a header");
            return RecordResult::Malformed;
        }
        // Archiving runs beside the deliveries: it adds no latency, and its failure only costs
        // the replay of this event, never its delivery.
        // A replay (`hookpost events replay`) is already archived as first queued.
        if let Some(replay) = Replay::read(body) {
            info!(replay_id = %replay.id, "replaying the event");
            return self.deliver_envelope(&envelope, Some(&replay), batch).await;
        }
        let (result, ()) = tokio::join!(
            self.deliver_envelope(&envelope, None, batch),
            self.archive(&envelope, body)
        );
        result
    }

    /// Keeps the event for replay, the envelope exactly as queued.
    async fn archive(&self, envelope: &Envelope, queued: &str) {
        let now = self.clock.now();
        let event = ArchivedEvent {
            event_id: envelope.event_id.clone(),
            source_id: envelope.source_id.clone(),
            event_type: envelope.event_type.clone(),
            received_at: envelope.received_at.clone(),
            envelope: queued.to_owned(),
            expires_at: unix_seconds(now)
                .saturating_add(i64::try_from(self.config.retention.as_secs()).unwrap_or(i64::MAX)),
        };
        match self.events.archive(&event).await {
            Ok(true) => debug!("event archived"),
            Ok(false) => debug!("event already archived"),
            Err(e) => warn!(error = %e, "archiving the event failed; it cannot be replayed"),
        }
    }

    /// Delivers a decoded envelope to every subscription still missing it.
    async fn deliver_envelope(
        &self,
        envelope: &Envelope,
        replay: Option<&Replay>,
        batch: &Batch,
    ) -> RecordResult {
        let payload = match &envelope.body {
            // The claim check: a body too large for the message was stored aside.
            EncodedBody::Stored(key) => match self.bodies.get(key).await {
                Ok(bytes) => Bytes::from(bytes),
                Err(e) => {
                    warn!(error = %e, "reading the stored body failed");
                    return RecordResult::Retry { retry_after: None };
                }
            },
            inline => match inline.bytes() {
                Ok(bytes) => Bytes::from(bytes.into_owned()),
                Err(e) => {
                    warn!(error = %e, "the envelope's body cannot be decoded");
                    return RecordResult::Malformed;
                }
            },
        };

        let snapshot = match self.source_snapshot(batch, &envelope.source_id).await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                warn!(source = %envelope.source_id, error = %e, "loading subscriptions failed");
                return RecordResult::Retry { retry_after: None };
            }
        };
        let wanted: Vec<&Subscription> = snapshot
            .subscriptions
            .iter()
            .filter(|s| {
                s.enabled
                    && !snapshot.is_disabled(&s.subscription_id)
                    && s.wants(envelope.event_type.as_deref())
                    && replay.is_none_or(|r| r.includes(&s.subscription_id))
            })
            .collect();
        if wanted.is_empty() {
            info!(source = %envelope.source_id, "no subscription wants this event");
            return RecordResult::Done;
        }
        let delivered: HashSet<String> = match self
            .log
            .delivered_subscriptions(&delivery_key(envelope, replay))
            .await
        {
            Ok(delivered) => delivered,
            Err(e) => {
                // Delivering without knowing who has the event would call them again.
                warn!(error = %e, "reading earlier deliveries failed");
                return RecordResult::Retry { retry_after: None };
            }
        };
        let pending: Vec<&Subscription> = wanted
            .into_iter()
            .filter(|s| {
                let done = delivered.contains(&s.subscription_id);
                if done {
                    debug!(subscription_id = %s.subscription_id, "already delivered, skipped");
                }
                !done
            })
            .collect();

        let results = join_all(
            pending
                .iter()
                .map(|s| self.deliver(envelope, replay, &payload, s, &snapshot, batch)),
        )
        .await;
        let mut retry = false;
        let mut retry_after: Option<Duration> = None;
        for result in results {
            match result {
                Delivery::Settled => {}
                Delivery::Retry { after } => {
                    retry = true;
                    retry_after = retry_after.max(after);
                }
            }
        }
        if retry {
            RecordResult::Retry { retry_after }
        } else {
            RecordResult::Done
        }
    }

    /// A source's subscriptions: from the warm cache while fresh, else read once for the batch
    /// (the records of one source share the read) and cached.
    async fn source_snapshot(
        &self,
        batch: &Batch,
        source: &SourceId,
    ) -> Result<Arc<SourceSnapshot>, StoreError> {
        let cell = Arc::clone(
            batch
                .sources
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(source.clone())
                .or_default(),
        );
        cell.get_or_init(|| async {
            let ttl = self.config.subscription_cache;
            let cached = self
                .warm
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(source)
                .filter(|(at, _)| at.elapsed() < ttl)
                .map(|(_, snapshot)| Arc::clone(snapshot));
            if let Some(snapshot) = cached {
                return Ok(snapshot);
            }
            let snapshot = Arc::new(SourceSnapshot::new(
                self.subscriptions.subscriptions_for(source).await?,
            ));
            if !ttl.is_zero() {
                self.warm
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(source.clone(), (Instant::now(), Arc::clone(&snapshot)));
            }
            Ok(snapshot)
        })
        .await
        .clone()
    }

    /// One attempt at one subscription, recorded.
    async fn deliver(
        &self,
        envelope: &Envelope,
        replay: Option<&Replay>,
        payload: &Bytes,
        subscription: &Subscription,
        snapshot: &SourceSnapshot,
        batch: &Batch,
    ) -> Delivery {
        let Ok(_permit) = batch.permits.acquire().await else {
            return Delivery::Retry { after: None };
        };
        let now = self.clock.now();
        let limit = attempt_limit(self.config.attempt_timeout, subscription.timeout_seconds);
        let Some(timeout) = attempt_budget(now, batch.deadline, limit) else {
            warn!(
                subscription_id = %subscription.subscription_id,
                "not attempted: the invocation is about to time out"
            );
            batch.measure(|m| m.deferred += 1);
            return Delivery::Retry { after: None };
        };

        let started = Instant::now();
        let attempt = self.attempt(envelope, payload, subscription, timeout).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let record = AttemptRecord {
            event_id: delivery_key(envelope, replay),
            subscription_id: subscription.subscription_id.clone(),
            source_id: envelope.source_id.clone(),
            event_type: envelope.event_type.clone(),
            outcome: attempt.verdict.label().to_owned(),
            delivered: matches!(
                attempt.verdict,
                Verdict::Sent(AttemptOutcome::Delivered { .. })
            ),
            status_code: attempt.verdict.status(),
            error: attempt.error.clone(),
            response_snippet: attempt.snippet,
            duration_ms,
            attempted_at: rfc3339(now),
            expires_at: unix_seconds(now)
                .saturating_add(i64::try_from(self.config.retention.as_secs()).unwrap_or(i64::MAX)),
        };
        let event_id = envelope.event_id.as_str();
        let subscription_id = subscription.subscription_id.as_str();
        let outcome = record.outcome.as_str();
        let status = record.status_code;
        match &attempt.verdict {
            Verdict::Sent(AttemptOutcome::Delivered { .. }) => {
                info!(
                    event_id,
                    subscription_id, outcome, status, duration_ms, "delivered"
                );
            }
            _ => warn!(
                event_id,
                subscription_id,
                outcome,
                status,
                duration_ms,
                error = attempt.error.as_deref(),
                "not delivered"
            ),
        }
        batch.measure(|m| m.attempt(outcome, duration_ms));
        if let Err(e) = self.log.record_attempt(&record).await {
            // For a success this means the subscriber may get the event again on a retry of
            // another subscription: at-least-once, which Standard Webhooks' `webhook-id` covers.
            warn!(event_id, subscription_id, outcome, error = %e, "recording the attempt failed");
        }

        let source = &envelope.source_id;
        match attempt.verdict {
            Verdict::Sent(AttemptOutcome::Delivered { .. }) => {
                self.end_streak(source, subscription, snapshot).await;
                Delivery::Settled
            }
            Verdict::Sent(AttemptOutcome::Gone { .. }) => {
                let reason = format!("the subscriber answered 410 Gone at {}", rfc3339(now));
                self.disable(source, subscription_id, &reason, snapshot, batch)
                    .await;
                Delivery::Settled
            }
            Verdict::Sent(AttemptOutcome::Retry { retry_after, .. }) => {
                if self
                    .extend_streak(source, subscription, snapshot, now, batch)
                    .await
                {
                    return Delivery::Settled;
                }
                Delivery::Retry { after: retry_after }
            }
            Verdict::Misconfigured => {
                if self
                    .extend_streak(source, subscription, snapshot, now, batch)
                    .await
                {
                    return Delivery::Settled;
                }
                Delivery::Retry { after: None }
            }
        }
    }

    /// Disables a subscription, for this batch and the warm cache too.
    async fn disable(
        &self,
        source: &SourceId,
        subscription_id: &str,
        reason: &str,
        snapshot: &SourceSnapshot,
        batch: &Batch,
    ) {
        if !snapshot.mark_disabled(subscription_id) {
            // Another record of the batch has just disabled it.
            return;
        }
        match self
            .subscriptions
            .disable(source, subscription_id, reason)
            .await
        {
            Ok(()) => {
                batch.measure(|m| m.disabled_subscriptions += 1);
                warn!(subscription_id, reason, "subscription disabled");
            }
            Err(e) => warn!(subscription_id, error = %e, "disabling the subscription failed"),
        }
    }

    /// A failed attempt: starts the subscription's failure streak if none is running (one write
    /// when the state changes, none while it stays failing), and disables the subscription once
    /// the streak is longer than [`Config::disable_after`]. True when it was disabled.
    async fn extend_streak(
        &self,
        source: &SourceId,
        subscription: &Subscription,
        snapshot: &SourceSnapshot,
        now: SystemTime,
        batch: &Batch,
    ) -> bool {
        let id = subscription.subscription_id.as_str();
        let since = match snapshot.failing_since(subscription) {
            Some(since) => since,
            None => match self.subscriptions.record_failure(source, id, now).await {
                Ok(since) => {
                    snapshot.set_streak(id, Some(since));
                    since
                }
                Err(e) => {
                    warn!(subscription_id = id, error = %e, "recording the failure streak failed");
                    return false;
                }
            },
        };
        if !streak_expired(since, now, self.config.disable_after) {
            return false;
        }
        let reason = format!(
            "failing since {} for more than {}",
            rfc3339(since),
            describe_period(self.config.disable_after)
        );
        self.disable(source, id, &reason, snapshot, batch).await;
        true
    }

    /// A success: ends the failure streak, writing only if one is running.
    async fn end_streak(
        &self,
        source: &SourceId,
        subscription: &Subscription,
        snapshot: &SourceSnapshot,
    ) {
        if snapshot.failing_since(subscription).is_none() {
            return;
        }
        let id = subscription.subscription_id.as_str();
        match self.subscriptions.clear_failure(source, id).await {
            Ok(()) => {
                snapshot.set_streak(id, None);
                info!(subscription_id = id, "failure streak ended");
            }
            Err(e) => warn!(subscription_id = id, error = %e, "ending the failure streak failed"),
        }
    }

    /// Signs and sends the request; never panics on a subscription's contents.
    async fn attempt(
        &self,
        envelope: &Envelope,
        payload: &Bytes,
        subscription: &Subscription,
        timeout: Duration,
    ) -> Attempt {
        let url = match parse_target_url(&subscription.url) {
            Ok(url) => url,
            // The parser's message quotes the URL, which may hold a token in its query.
            Err(_) => {
                return Attempt::misconfigured(
                    "the subscription's URL is not a usable http(s) URL",
                );
            }
        };
        if !self.config.allow_private_targets
            && let Some(blocked) = guard::blocked_literal(&url)
        {
            return Attempt::failed(RetryReason::Blocked, blocked.to_string());
        }
        let headers = match self.request_headers(envelope, payload, subscription) {
            Ok(headers) => headers,
            Err(reason) => return Attempt::misconfigured(reason),
        };

        let sent = self
            .http
            .post(url)
            .headers(headers)
            .body(payload.clone())
            .timeout(timeout)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Attempt::from_error(e),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let snippet = read_snippet(response).await;
        Attempt {
            verdict: Verdict::Sent(classify_status(status, retry_after.as_deref())),
            error: None,
            snippet,
        }
    }

    /// The subscription's custom headers, then Hookpost's, which always win.
    fn request_headers(
        &self,
        envelope: &Envelope,
        payload: &[u8],
        subscription: &Subscription,
    ) -> Result<HeaderMap, String> {
        let keys = subscription
            .signing_keys()
            .map_err(|e| format!("the subscription's signing secret is unusable: {e}"))?;
        if keys.is_empty() {
            return Err("the subscription has no signing secret".to_owned());
        }
        let mut headers = custom_headers(&subscription.headers)?;
        let timestamp = self.clock.unix_seconds();
        let signature = signature_header(&keys, &envelope.event_id, timestamp, payload);
        let content_type = envelope
            .content_type
            .as_deref()
            .and_then(|ct| HeaderValue::from_str(ct).ok())
            .unwrap_or_else(|| HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
        headers.insert(CONTENT_TYPE, content_type);
        headers.insert(
            STANDARD_HEADERS.id,
            HeaderValue::from_str(&envelope.event_id)
                .map_err(|_| "the event id is not a valid header value".to_owned())?,
        );
        headers.insert(STANDARD_HEADERS.timestamp, HeaderValue::from(timestamp));
        headers.insert(
            STANDARD_HEADERS.signature,
            HeaderValue::from_str(&signature)
                .map_err(|_| "the signature is not a valid header value".to_owned())?,
        );
        Ok(headers)
    }

    /// Keeps a failed record invisible for the schedule's delay.
    async fn back_off(&self, message: &SqsMessage, retry_after: Option<Duration>) {
        let Some(receipt_handle) = message.receipt_handle.as_deref() else {
            warn!("the record has no receipt handle; the queue's visibility timeout applies");
            return;
        };
        let receive_count = receive_count(message);
        let delay = visibility_after(
            &self.config.retry,
            receive_count,
            self.config.max_receive_count,
            retry_after,
            jitter(),
        );
        let seconds = visibility_seconds(delay);
        match self.visibility.delay(receipt_handle, seconds).await {
            Ok(()) if delay.is_zero() => info!(
                receive_count,
                "last receive failed: the record goes to the dead-letter queue"
            ),
            Ok(()) => info!(receive_count, delay_secs = seconds, "will retry"),
            Err(e) => warn!(
                receive_count,
                error = %e,
                "delaying the retry failed; the queue's visibility timeout applies"
            ),
        }
    }
}

/// A source's subscriptions, loaded at most once per batch (a failed load included).
type SourceSlot = Arc<OnceCell<Result<Arc<SourceSnapshot>, StoreError>>>;

/// A source's subscriptions as read, plus what this function changed since: failure streaks
/// begun or ended and subscriptions disabled. The changes live as long as the snapshot, so they
/// spare repeated writes within a batch and while cached, and give way to the table's state on
/// the next read.
#[derive(Debug)]
struct SourceSnapshot {
    subscriptions: Vec<Subscription>,
    streaks: Mutex<HashMap<String, Option<SystemTime>>>,
    disabled: Mutex<HashSet<String>>,
}

impl SourceSnapshot {
    fn new(subscriptions: Vec<Subscription>) -> Self {
        Self {
            subscriptions,
            streaks: Mutex::default(),
            disabled: Mutex::default(),
        }
    }

    /// When the subscription's running failure streak began, if one is.
    fn failing_since(&self, subscription: &Subscription) -> Option<SystemTime> {
        let changed = self
            .streaks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&subscription.subscription_id)
            .copied();
        match changed {
            Some(since) => since,
            // An unreadable stored time counts as a streak starting now: never an early disable.
            None => subscription
                .failing_since
                .as_deref()
                .map(|t| humantime::parse_rfc3339_weak(t).unwrap_or_else(|_| SystemTime::now())),
        }
    }

    fn set_streak(&self, subscription_id: &str, since: Option<SystemTime>) {
        self.streaks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(subscription_id.to_owned(), since);
    }

    /// False when it was already marked.
    fn mark_disabled(&self, subscription_id: &str) -> bool {
        self.disabled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(subscription_id.to_owned())
    }

    fn is_disabled(&self, subscription_id: &str) -> bool {
        self.disabled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(subscription_id)
    }
}

/// The state of one batch: subscriptions loaded once per source, the bound on deliveries, and
/// what the batch did.
struct Batch {
    sources: Mutex<HashMap<SourceId, SourceSlot>>,
    permits: Semaphore,
    deadline: Option<SystemTime>,
    metrics: Mutex<BatchMetrics>,
}

impl Batch {
    fn measure(&self, update: impl FnOnce(&mut BatchMetrics)) {
        update(&mut self.metrics.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Whether a failure streak that began at `since` has run longer than `period` by `now`.
pub fn streak_expired(since: SystemTime, now: SystemTime, period: Duration) -> bool {
    now.duration_since(since).is_ok_and(|d| d > period)
}

/// `5 days`, `36 hours`: a period as the disable reason states it.
pub fn describe_period(period: Duration) -> String {
    let hours = period.as_secs() / 3600;
    match (hours, hours % 24) {
        (24, 0) => "1 day".to_owned(),
        (h, 0) if h > 0 => format!("{} days", h / 24),
        (1, _) => "1 hour".to_owned(),
        (h, _) if h > 0 => format!("{h} hours"),
        _ => humantime::format_duration(period).to_string(),
    }
}

/// The most one attempt at a subscription may take: its own timeout, never above the configured
/// one (a zero of its own is ignored).
pub fn attempt_limit(configured: Duration, own_seconds: Option<u64>) -> Duration {
    own_seconds
        .filter(|s| *s > 0)
        .map_or(configured, |s| Duration::from_secs(s).min(configured))
}

/// What became of a record.
enum RecordResult {
    /// Every wanted subscription has the event (or gave it up with 410).
    Done,
    /// Not an envelope this build can deliver: reported, never retried sooner than SQS decides.
    Malformed,
    /// Some subscription still needs it.
    Retry { retry_after: Option<Duration> },
}

/// What became of one (event, subscription) pair.
enum Delivery {
    Settled,
    Retry { after: Option<Duration> },
}

/// The result of one attempt, before it is recorded.
struct Attempt {
    verdict: Verdict,
    error: Option<String>,
    snippet: Option<String>,
}

enum Verdict {
    Sent(AttemptOutcome),
    /// The subscription cannot be delivered to as configured (secret, URL, headers).
    Misconfigured,
}

impl Verdict {
    fn label(&self) -> &'static str {
        match self {
            Verdict::Sent(outcome) => outcome.label(),
            Verdict::Misconfigured => "misconfigured",
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Verdict::Sent(
                AttemptOutcome::Delivered { status } | AttemptOutcome::Gone { status },
            ) => Some(*status),
            Verdict::Sent(AttemptOutcome::Retry { status, .. }) => *status,
            Verdict::Misconfigured => None,
        }
    }
}

impl Attempt {
    fn misconfigured(reason: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Misconfigured,
            error: Some(reason.into()),
            snippet: None,
        }
    }

    fn failed(reason: RetryReason, error: String) -> Self {
        Self {
            verdict: Verdict::Sent(AttemptOutcome::Retry {
                status: None,
                reason,
                retry_after: None,
            }),
            error: Some(error),
            snippet: None,
        }
    }

    fn from_error(err: reqwest::Error) -> Self {
        // The URL may carry a token in its query: it is left out of what is logged and stored.
        let err = err.without_url();
        if let Some(blocked) = guard::find_blocked(&err) {
            return Self::failed(RetryReason::Blocked, blocked.to_string());
        }
        let reason = if err.is_timeout() {
            RetryReason::Timeout
        } else {
            RetryReason::Connection
        };
        Self::failed(reason, error_chain(&err))
    }
}

/// An error and its causes, `: `-separated.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn custom_headers(custom: &BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in custom {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("custom header `{name}` is not a valid header name"))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            debug!(header = %header, "custom header ignored: Hookpost sets it");
            continue;
        }
        // The value is not quoted: custom headers often carry credentials.
        let value = HeaderValue::from_str(value).map_err(|_| {
            format!("the value of custom header `{name}` is not a valid header value")
        })?;
        headers.append(header, value);
    }
    Ok(headers)
}

/// The start of the response body, read no further than [`RESPONSE_SNIPPET_BYTES`].
async fn read_snippet(mut response: reqwest::Response) -> Option<String> {
    let mut body: Vec<u8> = Vec::new();
    while body.len() < RESPONSE_SNIPPET_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(RESPONSE_SNIPPET_BYTES);
    (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned())
}

/// How long the next attempt may take: the configured timeout, cut short so the invocation can
/// still answer before `deadline`; `None` when there is no useful time left.
pub fn attempt_budget(
    now: SystemTime,
    deadline: Option<SystemTime>,
    attempt_timeout: Duration,
) -> Option<Duration> {
    let Some(deadline) = deadline else {
        return Some(attempt_timeout);
    };
    let left = deadline
        .duration_since(now)
        .ok()?
        .checked_sub(DEADLINE_MARGIN)?;
    (left >= MIN_ATTEMPT).then(|| left.min(attempt_timeout))
}

/// Splits a batch into what the handler runs concurrently, in order of first appearance: each
/// record of a standard queue alone, and all records of one FIFO message group together, in batch
/// order. A record is from a FIFO queue when it carries a `MessageGroupId` (SQS sets it on every
/// FIFO message and on no standard one).
fn lanes(records: Vec<SqsMessage>) -> Vec<Vec<SqsMessage>> {
    let mut lanes: Vec<Vec<SqsMessage>> = Vec::with_capacity(records.len());
    let mut groups: HashMap<String, usize> = HashMap::new();
    for message in records {
        let Some(group) = message.attributes.get(GROUP_ATTRIBUTE).cloned() else {
            lanes.push(vec![message]);
            continue;
        };
        if let Some(&i) = groups.get(&group) {
            lanes[i].push(message);
        } else {
            groups.insert(group, lanes.len());
            lanes.push(vec![message]);
        }
    }
    lanes
}

/// Where an event's delivery records are kept: under its id, or under a replay's own key, so the
/// original deliveries do not make a replay skip anyone.
fn delivery_key(envelope: &Envelope, replay: Option<&Replay>) -> String {
    replay.map_or_else(
        || envelope.event_id.clone(),
        |r| r.delivery_key(&envelope.event_id),
    )
}

/// The record's `ApproximateReceiveCount` (1 when absent or unreadable).
fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get(RECEIVE_COUNT_ATTRIBUTE)
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(1)
}

/// A delay as whole seconds for `ChangeMessageVisibility`, rounded to the nearest.
fn visibility_seconds(delay: Duration) -> i32 {
    let rounded = delay.as_secs() + u64::from(delay.subsec_millis() >= 500);
    i32::try_from(rounded).unwrap_or(i32::MAX)
}

/// A sample from `[0, 1)`; jitter only spreads retries, so a failing RNG falls back to the middle.
fn jitter() -> f64 {
    getrandom::u64().map_or(0.5, |r| (r >> 11) as f64 / (1u64 << 53) as f64)
}

/// The shared client: no redirects (a 3xx is an answer, not a delivery), no proxies (they would
/// resolve names past the SSRF guard), and the guard's resolver unless private targets are allowed.
fn http_client(config: &Config) -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(hookpost_shared::USER_AGENT)
        .no_proxy()
        .connect_timeout(config.attempt_timeout);
    let builder = if config.allow_private_targets {
        builder
    } else {
        builder.dns_resolver(guard::PublicOnlyResolver)
    };
    builder.build()
}

#[cfg(test)]
mod tests;
