//! Per-subscription rate limits on the local stack: a throttled subscription gets every event,
//! spaced by its limit, without a receive spent on waiting (so none reaches the dead-letter
//! queue under a tight redrive policy), and its neighbours are not held back.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hookpost_operations::Operations;
use hookpost_operations::subscriptions::{SubscriptionChanges, checked_rate};
use hookpost_shared::aws::{DynamoClient, DynamoSubscriptions, SqsClient, SqsQueue};
use hookpost_shared::signature::Provider;
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{SubscriptionStore, Visibility};

use crate::support;

const EVENTS: usize = 30;
const PER_SECOND: usize = 5;

#[tokio::test]
async fn a_throttled_subscription_gets_every_event_in_its_own_time_and_none_is_dead_lettered() {
    // Three receives only, one second apart: waiting for the limit on the queue would run a
    // record out of receives within seconds if waiting spent them.
    let stack = support::running_stack(Some(3), Some("1s,1s")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    support::add_source(sdk, names, "gh", Provider::Github, "s").await;
    let (throttled, throttled_id) = support::add_subscriber(sdk, names, "gh").await;
    let (free, _) = support::add_subscriber(sdk, names, "gh").await;
    let ops = Operations::new(sdk, names.clone(), None);
    let limited = ops
        .update_subscription(
            &throttled_id,
            SubscriptionChanges {
                rate: Some(Some(
                    checked_rate(&format!("{PER_SECOND}/s"), None).expect("valid"),
                )),
                ..SubscriptionChanges::default()
            },
        )
        .await
        .expect("the limit is set");
    assert_eq!(limited.rate.as_ref().map(|r| r.rate.as_str()), Some("5/s"));

    let mut sent = HashSet::new();
    for i in 0..EVENTS {
        let body = format!(r#"{{"zen":"event {i}"}}"#);
        sent.insert(
            support::post_github(&stack, "gh", "s", "push", &body, "application/json").await,
        );
    }

    let at_once = free.wait_for(EVENTS, support::PATIENCE).await;
    assert_eq!(
        at_once.len(),
        EVENTS,
        "the unlimited subscription is not held back"
    );
    let spaced = throttled.wait_for(EVENTS, Duration::from_secs(90)).await;
    let got: HashSet<String> = spaced
        .iter()
        .filter_map(|r| r.event_id().map(str::to_owned))
        .collect();
    assert_eq!(got, sent, "every event reaches the throttled subscription");

    // The limit holds over every window: 5/s with bursts of 1 allows at most 1 + 2 × 5 in any
    // two seconds, plus the quarter second a late copy may still use its slot.
    let arrivals: Vec<Instant> = spaced.iter().map(|r| r.at).collect();
    let window = Duration::from_secs(2);
    let most = arrivals
        .iter()
        .map(|start| {
            arrivals
                .iter()
                .filter(|t| **t >= *start && **t < *start + window)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(most <= 1 + 2 * PER_SECOND + 2, "{most} deliveries in 2 s");
    let first = arrivals.iter().min().expect("some");
    let last = arrivals.iter().max().expect("some");
    assert!(
        *last - *first
            >= Duration::from_millis((EVENTS as u64 - 1) * 1000 / PER_SECOND as u64 - 500),
        "spread over the limit's time: {:?}",
        *last - *first
    );

    let drained = support::eventually(|| async {
        support::queue_depth(sdk, &names.ingest_queue_url).await == 0
    })
    .await;
    assert!(
        drained,
        "every record (and every copy) is deleted once delivered"
    );
    assert_eq!(
        support::queue_depth(sdk, &names.dead_letter_queue_url).await,
        0,
        "waiting never dead-letters"
    );
    throttled.stop();
    free.stop();
    stack.stop().await;
}

/// The two calls a throttled batch gathers, on the emulator: several slots in one `UpdateItem`
/// (the limiter's time moves on by all of them), and copies in `SendMessageBatch`es of ten.
#[tokio::test]
async fn slots_are_reserved_several_at_once_and_copies_are_queued_in_batches() {
    let support::Resources { sdk, names } = support::resources().await;
    support::add_source(&sdk, &names, "gh", Provider::Github, "s").await;
    let (_subscriber, id) = support::add_subscriber(&sdk, &names, "gh").await;
    let store = DynamoSubscriptions::new(DynamoClient::new(&sdk), &names.subscriptions_table);
    let source = SourceId::parse("gh").expect("valid id");
    let interval = 50_000;

    // Idle: the first of three slots is now, and the limiter's time is three intervals on.
    let first = store
        .reserve_slots(&source, &id, 1_000_000, interval, 3)
        .await
        .expect("UpdateItem");
    assert_eq!(first, None);
    let next = store
        .reserve_slots(&source, &id, 1_000_000, interval, 1)
        .await
        .expect("UpdateItem");
    assert_eq!(next, Some(1_150_000), "three slots were taken");
    // Busy: two more found the time the last one left.
    let busy = store
        .reserve_slots(&source, &id, 1_100_000, interval, 2)
        .await
        .expect("UpdateItem");
    assert_eq!(busy, Some(1_200_000));
    // Idle again later: starts from then.
    let later = store
        .reserve_slots(&source, &id, 9_000_000, interval, 2)
        .await
        .expect("UpdateItem");
    assert_eq!(later, None);
    assert_eq!(
        store
            .reserve_slots(&source, &id, 9_000_000, interval, 1)
            .await
            .expect("UpdateItem"),
        Some(9_100_000)
    );

    // Twelve copies: two requests, every copy answered and on the queue.
    let queue = SqsQueue::new(SqsClient::new(&sdk), &names.ingest_queue_url);
    let copies: Vec<(String, i32)> = (0..12).map(|i| (format!("copy {i}"), 0)).collect();
    let answers = queue.requeue(&copies).await;
    assert_eq!(answers.len(), 12);
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let mut queued = support::drain(&sdk, &names.ingest_queue_url).await;
    queued.sort();
    let mut sent: Vec<String> = copies.into_iter().map(|(body, _)| body).collect();
    sent.sort();
    assert_eq!(queued, sent);
}
