//! The dispatcher's delivery semantics with SQS doing the counting for real: subscribers that fail
//! N times, stall past their timeout, answer 410, throttle with `Retry-After`, redirect or always
//! fail, and what the delivery records, the subscriptions, the archive and the dead-letter queue
//! show afterwards; and the SSRF guard refusing loopback subscribers when private targets are
//! not allowed.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use hookpost_cli::signing::provider_headers;
use hookpost_local::{LocalOptions, LocalStack};
use hookpost_shared::aws::{
    DeliveryRecord, DynamoClient, DynamoDeliveries, DynamoEvents, DynamoSubscriptions,
};
use hookpost_shared::clock::rfc3339;
use hookpost_shared::deployment::StackNames;
use hookpost_shared::envelope::Envelope;
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::Provider;
use hookpost_shared::source::SourceId;
use hookpost_shared::store::EventArchive;
use hookpost_shared::subscription::{Subscription, new_subscription_id};
use hookpost_testkit::{Reply, Subscriber};

use crate::support::{self, PATIENCE};

const SOURCE: &str = "gh";
const SECRET: &str = "delivery-secret";

/// A stack with one GitHub source.
async fn stack(max_receive_count: u32, retry_delays: &str) -> LocalStack {
    let stack = support::running_stack(Some(max_receive_count), Some(retry_delays)).await;
    support::add_source(
        &stack.sdk,
        &stack.state.names,
        SOURCE,
        Provider::Github,
        SECRET,
    )
    .await;
    stack
}

/// Posts a signed GitHub push to the receiver; the event id it answers with.
async fn send(stack: &LocalStack) -> String {
    let body = br#"{"ref":"refs/heads/main","commits":[]}"#;
    let headers = provider_headers(
        Provider::Github,
        &Secret::new(SECRET),
        body,
        Some("push"),
        support::now(),
        &Default::default(),
    )
    .expect("signs");
    let url = format!("{}{SOURCE}", stack.state.receiver_url);
    let (status, answer) = support::post(&url, &headers, body).await;
    assert_eq!(status, 202, "{answer}");
    answer["event_id"].as_str().expect("event id").to_owned()
}

/// Waits for the delivery record of (event, subscription) to satisfy `done`; moto applies an
/// update clause by clause, so a half-written record is read again rather than trusted.
async fn record_when(
    sdk: &SdkConfig,
    names: &StackNames,
    event_id: &str,
    subscription_id: &str,
    done: impl Fn(&DeliveryRecord) -> bool,
) -> DeliveryRecord {
    let deliveries = DynamoDeliveries::new(DynamoClient::new(sdk), &names.deliveries_table);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let record = deliveries
            .for_event(event_id)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|r| r.subscription_id == subscription_id);
        match record {
            Some(record) if done(&record) => return record,
            last if tokio::time::Instant::now() >= deadline => {
                panic!("the delivery record never got there: {last:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn outcomes(record: &DeliveryRecord) -> Vec<&str> {
    record.history.iter().map(|a| a.outcome.as_str()).collect()
}

fn statuses(subscriber: &Subscriber) -> Vec<u16> {
    subscriber.received().iter().map(|r| r.answered).collect()
}

async fn drained(sdk: &SdkConfig, names: &StackNames) -> bool {
    support::eventually(|| async { support::queue_depth(sdk, &names.ingest_queue_url).await == 0 })
        .await
}

#[tokio::test]
async fn a_subscriber_that_fails_twice_then_succeeds_gets_the_event_on_the_third_try_and_the_event_is_archived()
 {
    let stack = stack(5, "1s").await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let (subscriber, subscription_id) = support::add_subscriber(sdk, names, SOURCE).await;
    subscriber.then_reply([Reply::status(503), Reply::status(500)]);

    let event_id = send(&stack).await;

    let record = record_when(sdk, names, &event_id, &subscription_id, |r| {
        r.status == "delivered" && r.attempts == 3 && r.history.len() == 3
    })
    .await;
    assert_eq!(
        outcomes(&record),
        ["server_error", "server_error", "delivered"]
    );
    assert_eq!(statuses(&subscriber), [503, 500, 204]);
    assert!(subscriber.received().iter().all(|r| r.verified));
    assert!(
        subscriber
            .received()
            .iter()
            .all(|r| r.event_id() == Some(event_id.as_str())),
        "every attempt carries the same webhook-id"
    );
    assert!(
        drained(sdk, names).await,
        "the delivered event leaves the queue"
    );
    assert_eq!(
        support::queue_depth(sdk, &names.dead_letter_queue_url).await,
        0
    );

    let archive = DynamoEvents::new(DynamoClient::new(sdk), &names.events_table);
    let archived = archive
        .get(&event_id)
        .await
        .expect("GetItem")
        .expect("the event is archived");
    let envelope = Envelope::decode(&archived.envelope).expect("the envelope as queued");
    assert_eq!(envelope.event_id, event_id);
    assert_eq!(archived.received_at, envelope.received_at);
    let listed = archive
        .window(
            &SourceId::parse(SOURCE).expect("valid"),
            "1970-01-01T00:00:00.000Z",
            None,
            10,
            |_| true,
        )
        .await
        .expect("Query on by_source");
    assert_eq!(
        listed
            .iter()
            .map(|e| e.event_id.as_str())
            .collect::<Vec<_>>(),
        [event_id.as_str()],
        "archived once, although received three times"
    );
    subscriber.stop();
    stack.stop().await;
}

#[tokio::test]
async fn a_410_disables_the_subscription_with_its_reason_and_the_event_is_not_retried() {
    let stack = stack(5, "1s").await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let (subscriber, subscription_id) = support::add_subscriber(sdk, names, SOURCE).await;
    subscriber.answer_with(410);

    let event_id = send(&stack).await;

    let record = record_when(sdk, names, &event_id, &subscription_id, |r| {
        r.status == "gone" && r.attempts == 1
    })
    .await;
    assert_eq!(record.last_status_code, Some(410));
    let subscriptions =
        DynamoSubscriptions::new(DynamoClient::new(sdk), &names.subscriptions_table);
    let disabled = support::eventually(|| async {
        subscriptions
            .find(&subscription_id)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| {
                !s.enabled
                    && s.disabled_at.is_some()
                    && s.disabled_reason
                        .as_deref()
                        .is_some_and(|r| r.contains("410"))
            })
    })
    .await;
    assert!(disabled, "the subscription is disabled and says why");
    assert!(
        drained(sdk, names).await,
        "the event is not kept for a retry"
    );

    // A later event is archived but never sent to the disabled subscription.
    let later = send(&stack).await;
    let archive = DynamoEvents::new(DynamoClient::new(sdk), &names.events_table);
    let handled = support::eventually(|| async {
        archive.get(&later).await.ok().flatten().is_some()
            && support::queue_depth(sdk, &names.ingest_queue_url).await == 0
    })
    .await;
    assert!(handled, "the later event was handled");
    assert_eq!(subscriber.received().len(), 1);
    assert_eq!(
        support::queue_depth(sdk, &names.dead_letter_queue_url).await,
        0
    );
    subscriber.stop();
    stack.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_stalls_past_its_timeout_is_retried_and_then_gets_the_event() {
    let stack = stack(5, "1s").await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let (subscriber, subscription_id) = support::add_subscriber(sdk, names, SOURCE).await;
    // The subscription's own 1 s limit, well below the deployment's 15 s.
    let subscriptions =
        DynamoSubscriptions::new(DynamoClient::new(sdk), &names.subscriptions_table);
    let mut subscription = subscriptions
        .find(&subscription_id)
        .await
        .expect("Scan")
        .expect("stored");
    subscription.timeout_seconds = Some(1);
    subscriptions.put(&subscription).await.expect("PutItem");
    subscriber.then_reply([Reply::status(204).after(Duration::from_secs(4))]);

    let event_id = send(&stack).await;

    let record = record_when(sdk, names, &event_id, &subscription_id, |r| {
        r.status == "delivered" && r.history.len() == 2
    })
    .await;
    assert_eq!(outcomes(&record), ["timeout", "delivered"]);
    assert_eq!(subscriber.received().len(), 2);
    assert!(drained(sdk, names).await);
    subscriber.stop();
    stack.stop().await;
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_the_event_is_retried_at_the_subscribed_url() {
    let stack = stack(5, "1s").await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let elsewhere = Subscriber::start().await.expect("binds 127.0.0.1");
    let (subscriber, subscription_id) = support::add_subscriber(sdk, names, SOURCE).await;
    subscriber.then_reply([Reply::status(307).header("location", &elsewhere.url)]);

    let event_id = send(&stack).await;

    let record = record_when(sdk, names, &event_id, &subscription_id, |r| {
        r.status == "delivered" && r.history.len() == 2
    })
    .await;
    assert_eq!(outcomes(&record), ["redirect", "delivered"]);
    assert_eq!(record.history[0].status_code, Some(307));
    assert_eq!(statuses(&subscriber), [307, 204]);
    assert!(
        elsewhere.received().is_empty(),
        "the Location was never called"
    );
    elsewhere.stop();
    subscriber.stop();
    stack.stop().await;
}

#[tokio::test]
async fn retry_after_from_a_throttling_subscriber_lengthens_the_wait_before_the_next_attempt() {
    // Without Retry-After the next attempt comes after 1 s (±20 %); the schedule's cap is 10 s.
    let stack = stack(5, "1s,10s").await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let (subscriber, subscription_id) = support::add_subscriber(sdk, names, SOURCE).await;
    subscriber.then_reply([Reply::status(429).header("retry-after", "4")]);

    let event_id = send(&stack).await;

    let record = record_when(sdk, names, &event_id, &subscription_id, |r| {
        r.status == "delivered" && r.history.len() == 2
    })
    .await;
    assert_eq!(outcomes(&record), ["throttled", "delivered"]);
    let at = |i: usize| {
        humantime::parse_rfc3339_weak(&record.history[i].at).expect("RFC 3339 attempt time")
    };
    // SQS keeps the record invisible for the 4 s asked, so the second attempt cannot come sooner.
    let waited = at(1).duration_since(at(0)).unwrap_or_default();
    assert!(
        waited >= Duration::from_millis(3500),
        "the second attempt came {waited:?} after the first"
    );
    subscriber.stop();
    stack.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_always_fails_leaves_the_event_in_the_dead_letter_queue_after_the_last_receive()
 {
    const MAX_RECEIVES: u32 = 2;
    // The last entry would hold the record for 12 h; the last receive is not delayed at all.
    let stack = stack(MAX_RECEIVES, "1s,12h").await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let (failing, failing_id) = support::add_subscriber(sdk, names, SOURCE).await;
    let (healthy, healthy_id) = support::add_subscriber(sdk, names, SOURCE).await;
    failing.answer_with(500);

    let event_id = send(&stack).await;

    let dead_lettered = support::eventually(|| async {
        support::queue_depth(sdk, &names.dead_letter_queue_url).await == 1
    })
    .await;
    assert!(dead_lettered, "the event reaches the dead-letter queue");
    assert_eq!(support::queue_depth(sdk, &names.ingest_queue_url).await, 0);
    let failed = record_when(sdk, names, &event_id, &failing_id, |r| {
        r.history.len() == MAX_RECEIVES as usize
    })
    .await;
    assert_eq!(failed.status, "failing");
    assert_eq!(outcomes(&failed), ["server_error", "server_error"]);
    assert_eq!(failing.received().len(), MAX_RECEIVES as usize);
    let delivered = record_when(sdk, names, &event_id, &healthy_id, |r| {
        r.status == "delivered"
    })
    .await;
    assert_eq!(delivered.attempts, 1);
    assert_eq!(healthy.received().len(), 1);

    let in_dlq = support::drain(sdk, &names.dead_letter_queue_url).await;
    assert_eq!(in_dlq.len(), 1);
    let envelope = Envelope::decode(&in_dlq[0]).expect("the dead letter is the envelope");
    assert_eq!(envelope.event_id, event_id);
    let streaks: BTreeMap<String, Option<String>> =
        DynamoSubscriptions::new(DynamoClient::new(sdk), &names.subscriptions_table)
            .list_all()
            .await
            .expect("Scan")
            .into_iter()
            .map(|s| (s.subscription_id, s.failing_since))
            .collect();
    assert!(
        streaks[&failing_id].is_some(),
        "the failing subscription's streak is recorded"
    );
    assert_eq!(streaks[&healthy_id], None, "the healthy one has none");
    failing.stop();
    healthy.stop();
    stack.stop().await;
}

#[tokio::test]
async fn an_enabled_again_subscription_gets_new_events_and_starts_its_streak_over() {
    let stack = stack(5, "1s").await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let (subscriber, subscription_id) = support::add_subscriber(sdk, names, SOURCE).await;
    let subscriptions =
        DynamoSubscriptions::new(DynamoClient::new(sdk), &names.subscriptions_table);
    let mut subscription = subscriptions
        .find(&subscription_id)
        .await
        .expect("Scan")
        .expect("stored");
    subscription.enabled = false;
    subscription.disabled_reason = Some("failing since … for more than 5 days".to_owned());
    subscription.failing_since = Some(rfc3339(SystemTime::now()));
    subscriptions.put(&subscription).await.expect("PutItem");

    subscriptions
        .set_enabled(&subscription.source_id, &subscription_id, true, None)
        .await
        .expect("UpdateItem");
    let event_id = send(&stack).await;

    record_when(sdk, names, &event_id, &subscription_id, |r| {
        r.status == "delivered"
    })
    .await;
    let now = subscriptions
        .find(&subscription_id)
        .await
        .expect("Scan")
        .expect("stored");
    assert!(now.enabled);
    assert_eq!(now.disabled_reason, None);
    assert_eq!(now.failing_since, None);
    subscriber.stop();
    stack.stop().await;
}

#[tokio::test]
async fn with_private_targets_not_allowed_a_loopback_subscriber_is_never_called_by_address_or_by_name()
 {
    // The stack as deployed by default (AllowPrivateTargets=false); everything stays on loopback.
    let stack = LocalStack::start(
        support::emulator(),
        LocalOptions {
            port: 0,
            max_receive_count: Some(2),
            retry_delays: Some("1s".to_owned()),
            prefix: support::unique("ssrf"),
            parameters: BTreeMap::from([("AllowPrivateTargets".to_owned(), "false".to_owned())]),
            ..LocalOptions::default()
        },
    )
    .await
    .expect("the local stack starts");
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    support::add_source(sdk, names, SOURCE, Provider::Github, SECRET).await;
    // One subscription names the subscriber by address (http://127.0.0.1:port), a second by a
    // host name that resolves to it: the guard filters resolved addresses, so both are refused.
    let (subscriber, by_address) = support::add_subscriber(sdk, names, SOURCE).await;
    let by_name = new_subscription_id();
    let key = SigningKey::generate().expect("rng");
    DynamoSubscriptions::new(DynamoClient::new(sdk), &names.subscriptions_table)
        .put(&Subscription::new(
            SourceId::parse(SOURCE).expect("valid"),
            by_name.clone(),
            subscriber.url.replace("127.0.0.1", "localhost"),
            vec![key.to_whsec()],
            rfc3339(SystemTime::now()),
        ))
        .await
        .expect("stored");

    let event_id = send(&stack).await;

    for subscription_id in [&by_address, &by_name] {
        let record = record_when(sdk, names, &event_id, subscription_id, |r| {
            !r.history.is_empty()
        })
        .await;
        assert_eq!(outcomes(&record)[0], "blocked_target", "{record:?}");
        let error = record.history[0].error.as_deref().unwrap_or_default();
        assert!(error.contains("loopback"), "{error}");
    }
    assert!(
        subscriber.received().is_empty(),
        "the guard let a request through"
    );
    subscriber.stop();
    stack.stop().await;
}

/// SQS may hand one message to two invocations at once (standard queues deliver at least once):
/// a failed attempt recorded after the other invocation's success must leave the record
/// delivered, or the next retry calls the subscriber again.
#[tokio::test]
async fn a_failed_attempt_recorded_after_a_success_leaves_the_delivery_delivered() {
    use hookpost_shared::delivery::classify_status;
    use hookpost_shared::store::{AttemptRecord, DeliveryLog};

    let support::Resources { sdk, names } = support::resources().await;
    let deliveries = DynamoDeliveries::new(DynamoClient::new(&sdk), &names.deliveries_table);
    let attempt = |status_code: u16, at: &str| AttemptRecord {
        event_id: "evt-twice".to_owned(),
        subscription_id: "sub-1".to_owned(),
        source_id: SourceId::parse(SOURCE).expect("valid"),
        event_type: Some("push".to_owned()),
        outcome: classify_status(status_code, None),
        error: None,
        response_snippet: None,
        duration_ms: 5,
        attempted_at: at.to_owned(),
        expires_at: 4_102_444_800,
    };

    deliveries
        .record_attempt(&attempt(500, "2026-11-23T10:00:00.000Z"))
        .await
        .expect("first failure recorded");
    assert!(
        deliveries
            .delivered_subscriptions("evt-twice")
            .await
            .expect("read")
            .is_empty(),
        "a failing record is not a delivery"
    );
    deliveries
        .record_attempt(&attempt(200, "2026-11-23T10:00:01.000Z"))
        .await
        .expect("success recorded");
    deliveries
        .record_attempt(&attempt(500, "2026-11-23T10:00:02.000Z"))
        .await
        .expect("late failure recorded");

    let delivered = deliveries
        .delivered_subscriptions("evt-twice")
        .await
        .expect("read");
    assert_eq!(delivered.into_iter().collect::<Vec<_>>(), ["sub-1"]);
    let records = deliveries.for_event("evt-twice").await.expect("read");
    let [record] = records.as_slice() else {
        panic!("one record per (event, subscription): {records:?}")
    };
    assert_eq!(record.status, "delivered");
    assert_eq!(record.attempts, 3);
    let outcomes: Vec<&str> = record.history.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["server_error", "delivered", "server_error"]);
    assert_eq!(
        record.last_status_code,
        Some(500),
        "the last attempt is still shown"
    );
}

/// A stack whose dispatcher may reach only the networks in `allowed` beyond the public internet.
async fn stack_allowing(allowed: &str) -> LocalStack {
    LocalStack::start(
        support::emulator(),
        LocalOptions {
            port: 0,
            max_receive_count: Some(2),
            retry_delays: Some("1s".to_owned()),
            prefix: support::unique("nets"),
            parameters: BTreeMap::from([
                ("AllowPrivateTargets".to_owned(), "false".to_owned()),
                ("AllowedPrivateNetworks".to_owned(), allowed.to_owned()),
            ]),
            ..LocalOptions::default()
        },
    )
    .await
    .expect("the local stack starts")
}

#[tokio::test]
async fn allowed_private_networks_open_exactly_the_networks_listed() {
    // Loopback is listed: the subscriber on 127.0.0.1 gets the event.
    let open = stack_allowing("127.0.0.0/8, 10.20.0.0/16").await;
    let (sdk, names) = (&open.sdk, &open.state.names);
    support::add_source(sdk, names, SOURCE, Provider::Github, SECRET).await;
    let (subscriber, _) = support::add_subscriber(sdk, names, SOURCE).await;
    send(&open).await;
    assert_eq!(subscriber.wait_for(1, PATIENCE).await.len(), 1);
    subscriber.stop();
    open.stop().await;

    // Only another private network is listed: loopback stays blocked, and the record says
    // which setting would open it.
    let closed = stack_allowing("10.20.0.0/16").await;
    let (sdk, names) = (&closed.sdk, &closed.state.names);
    support::add_source(sdk, names, SOURCE, Provider::Github, SECRET).await;
    let (subscriber, subscription_id) = support::add_subscriber(sdk, names, SOURCE).await;
    let event_id = send(&closed).await;
    let record = record_when(sdk, names, &event_id, &subscription_id, |r| {
        !r.history.is_empty()
    })
    .await;
    assert_eq!(outcomes(&record)[0], "blocked_target", "{record:?}");
    let error = record.history[0].error.as_deref().unwrap_or_default();
    assert!(
        error.contains("loopback") && error.contains("AllowedPrivateNetworks"),
        "{error}"
    );
    assert!(
        subscriber.received().is_empty(),
        "the guard let a request through"
    );
    subscriber.stop();
    closed.stop().await;
}
