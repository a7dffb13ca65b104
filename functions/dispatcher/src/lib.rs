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
//!
//! The batch flow reads top-down from here: a batch splits into [lanes](lanes), each lane's
//! [records](record) fan out into [deliveries](delivery) to subscriptions from the source's
//! [snapshot](snapshot), each delivery makes one HTTP [attempt](attempt) within the
//! [time](timing) the invocation has left.

mod attempt;
mod config;
mod delivery;
mod gather;
mod guard;
mod lanes;
mod last_delivery;
mod lease;
pub mod metrics;
mod record;
mod snapshot;
#[cfg(test)]
mod test_support;
mod timing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures_util::StreamExt as _;
use futures_util::stream;
use hookpost_shared::aws::destinations::AwsDestinations;
use hookpost_shared::aws::{
    DynamoClient, DynamoDeliveries, DynamoEvents, DynamoSubscriptions, S3Bodies, S3Client,
    SqsClient, SqsQueue,
};
use hookpost_shared::clock::{Clock, SystemClock, unix_millis};
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{BodyStore, DeliveryLog, EventArchive, SubscriptionStore, Visibility};
use tokio::sync::Semaphore;

pub use crate::attempt::RESPONSE_SNIPPET_BYTES;
pub use crate::config::{
    Config, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_DISABLE_AFTER, DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_RETENTION, DEFAULT_SUBSCRIPTION_CACHE, Resources,
};
pub use crate::lanes::GROUP_ATTRIBUTE;
pub use crate::snapshot::{describe_period, streak_expired};
pub use crate::timing::{RECEIVE_COUNT_ATTRIBUTE, attempt_budget, attempt_limit};

use crate::gather::Gather;
use crate::metrics::BatchMetrics;
use crate::snapshot::{SourceSlot, SourceSnapshot};

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
    /// SQS, SNS and EventBridge, for subscriptions whose target is an ARN; `None` refuses them.
    destinations: Option<Arc<AwsDestinations>>,
    /// Sources' subscriptions kept across the batches of a warm function.
    warm: Mutex<HashMap<SourceId, (Instant, Arc<SourceSnapshot>)>>,
    /// The last deliveries this function wrote on subscription items.
    last_deliveries: last_delivery::LastDeliveries,
    /// Rate-limit slot reservations [gathered](gather) per subscription and interval: when each
    /// delivery may go (µs since the epoch). On Lambda an environment handles one
    /// batch at a time, so these gather a batch's records; where batches run side by side on
    /// one dispatcher (the local stack's pollers), theirs too.
    slots: Gather<SlotKey, (), i64>,
    /// Spare slots reserved ahead for busy subscriptions ([`lease`]).
    leases: lease::Leases,
    /// Deferred copies (body, delay in seconds) queued again, gathered the same way.
    copies: Gather<(), (String, i32), ()>,
}

/// The dispatcher on the AWS adapters, as the deployed function runs it.
pub type AwsDispatcher =
    Dispatcher<DynamoSubscriptions, DynamoDeliveries, SqsQueue, S3Bodies, DynamoEvents>;

impl AwsDispatcher {
    /// The dispatcher on a stack's tables, ingest queue and bodies bucket, on the machine's clock:
    /// the wiring of the deployed function, and of the local stack on an emulator.
    pub fn on_aws(
        sdk: &aws_config::SdkConfig,
        resources: &Resources,
        config: Config,
    ) -> Result<Self, DispatcherError> {
        let dynamo = DynamoClient::new(sdk);
        Ok(Self::new(
            DynamoSubscriptions::new(dynamo.clone(), &resources.subscriptions_table),
            DynamoDeliveries::new(dynamo.clone(), &resources.deliveries_table),
            match &resources.dead_letter_queue_url {
                Some(dlq) => SqsQueue::new(SqsClient::new(sdk), &resources.ingest_queue_url)
                    .with_dead_letter_queue(dlq),
                None => SqsQueue::new(SqsClient::new(sdk), &resources.ingest_queue_url),
            },
            S3Bodies::new(S3Client::new(sdk), &resources.bodies_bucket),
            DynamoEvents::new(dynamo, &resources.events_table),
            Arc::new(SystemClock),
            config,
        )?
        .with_destinations(AwsDestinations::new(sdk)))
    }
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
        let http = attempt::http_client(&config).map_err(DispatcherError::HttpClient)?;
        Ok(Self {
            subscriptions,
            log,
            visibility,
            bodies,
            events,
            clock,
            config,
            http,
            destinations: None,
            warm: Mutex::default(),
            last_deliveries: last_delivery::LastDeliveries::default(),
            slots: Gather::new(usize::MAX),
            leases: lease::Leases::default(),
            copies: Gather::new(COPIES_PER_CALL),
        })
    }

    /// Lets subscriptions deliver to SQS queues, SNS topics and EventBridge buses by ARN.
    pub fn with_destinations(mut self, destinations: AwsDestinations) -> Self {
        self.destinations = Some(Arc::new(destinations));
        self
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
        let failed: Vec<Vec<String>> = stream::iter(lanes::lanes(event.records))
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
}

/// The state of one batch: subscriptions loaded once per source, the bound on deliveries, and
/// what the batch did.
struct Batch {
    sources: Mutex<HashMap<SourceId, SourceSlot>>,
    permits: Semaphore,
    deadline: Option<SystemTime>,
    metrics: Mutex<BatchMetrics>,
}

/// Whose slots a reservation takes: the source, the subscription, and its rate's interval (µs).
type SlotKey = (SourceId, String, i64);

/// The most deferred copies one call queues: what one `SendMessageBatch` carries.
const COPIES_PER_CALL: usize = 10;

impl Batch {
    fn measure(&self, update: impl FnOnce(&mut BatchMetrics)) {
        update(&mut self.metrics.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

#[cfg(test)]
mod tests {
    use hookpost_shared::delivery::classify_status;
    use hookpost_shared::envelope::{ENVELOPE_VERSION, EncodedBody};

    use crate::test_support::*;

    #[tokio::test]
    async fn a_good_record_is_delivered_with_a_signature_that_verifies() {
        let subscriber = Subscriber::start(Answer::Status(204)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert!(failed_ids(&response).is_empty());
        let requests = subscriber.requests();
        assert_eq!(requests.len(), 1);
        let got = &requests[0];
        assert_eq!(got.body, BODY.as_bytes());
        assert_eq!(verify(got, SECRET), Ok(()));
        assert_eq!(header(got, "webhook-id"), Some("evt_1"));
        assert_eq!(
            header(got, "webhook-timestamp"),
            Some(NOW.to_string().as_str())
        );
        assert_eq!(header(got, "content-type"), Some("application/json"));
        assert_eq!(header(got, "user-agent"), Some(hookpost_shared::USER_AGENT));

        let attempts = world.attempts();
        assert_eq!(attempts.len(), 1);
        let a = &attempts[0];
        assert_eq!(
            (a.event_id.as_str(), a.subscription_id.as_str()),
            ("evt_1", "sub_a")
        );
        assert_eq!(a.outcome, classify_status(204, None));
        assert_eq!(a.outcome.label(), "delivered");
        assert_eq!(a.error, None);
        assert_eq!(a.attempted_at, "2023-11-14T22:13:20.000Z");
        assert_eq!(
            a.expires_at,
            i64::try_from(NOW).expect("fits") + 30 * 24 * 60 * 60
        );
        assert!(world.delays().is_empty());
    }

    #[tokio::test]
    async fn a_malformed_record_goes_to_the_dead_letter_queue_at_once_and_the_rest_is_delivered() {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let mut future_version = envelope("evt_v2", EncodedBody::Utf8(BODY.to_owned()));
        future_version.version = ENVELOPE_VERSION + 1;

        let response = world
            .dispatcher(local_config())
            .handle(
                batch(vec![
                    record("m-1", "evt_1"),
                    message("m-bad", "not an envelope", 1),
                    message("m-v2", &future_version.encode(), 1),
                    record("m-3", "evt_3"),
                ]),
                None,
            )
            .await;

        // Dead-lettered on this first receive, so not reported failed: SQS deletes them.
        assert!(failed_ids(&response).is_empty(), "{response:?}");
        let dead = world.dead_lettered();
        assert_eq!(
            dead.iter()
                .map(|d| (d.message_id.as_str(), d.body.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("m-bad", "not an envelope"),
                ("m-v2", future_version.encode().as_str())
            ]
        );
        assert!(
            dead.iter().all(|d| d
                .reason
                .starts_with("the record is not a deliverable envelope")),
            "{dead:?}"
        );
        assert!(dead[1].reason.contains("version"), "{}", dead[1].reason);
        let mut ids = subscriber.event_ids();
        ids.sort();
        assert_eq!(ids, vec!["evt_1", "evt_3"]);
        assert!(world.delays().is_empty());
    }

    #[tokio::test]
    async fn a_malformed_record_that_cannot_be_dead_lettered_stays_on_the_queue() {
        let world = World {
            fail_dead_letters: true,
            ..World::default()
        };

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![message("m-bad", "not an envelope", 1)]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-bad"], "never lost");
        assert!(world.dead_lettered().is_empty());
    }

    #[tokio::test]
    async fn a_batch_reports_its_outcomes_as_metrics() {
        let ok = Subscriber::start(Answer::Status(204)).await;
        let failing = Subscriber::start(Answer::Status(503)).await;
        let gone = Subscriber::start(Answer::Status(410)).await;
        let world = World::with(vec![
            subscription("sub_ok", &ok.url()),
            subscription("sub_failing", &failing.url()),
            subscription("sub_gone", &gone.url()),
        ]);

        let (response, metrics) = world
            .dispatcher(local_config())
            .handle_measured(
                batch(vec![
                    record("m-1", "evt_1"),
                    message("m-bad", "not an envelope", 1),
                ]),
                None,
            )
            .await;

        // The malformed record went to the dead-letter queue: counted, not failed.
        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert_eq!(
            (
                metrics.delivered,
                metrics.retried,
                metrics.gone,
                metrics.malformed,
                metrics.retries,
                metrics.disabled_subscriptions,
            ),
            (1, 1, 1, 1, 1, 1)
        );
        assert_eq!(metrics.latencies_ms.len(), 3);
    }

    #[test]
    fn a_batch_can_be_handled_on_a_spawned_task() {
        fn assert_send<T: Send>(_: &T) {}
        let world = World::default();
        let dispatcher = world.dispatcher(local_config());
        let handling = dispatcher.handle(batch(Vec::new()), None);
        assert_send(&handling);
    }
}
