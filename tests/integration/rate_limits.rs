//! Per-subscription rate limits on the local stack: a throttled subscription gets every event,
//! spaced by its limit, without a receive spent on waiting (so none reaches the dead-letter
//! queue under a tight redrive policy), and its neighbours are not held back.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hookpost_operations::Operations;
use hookpost_operations::subscriptions::{SubscriptionChanges, checked_rate};
use hookpost_shared::signature::Provider;

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
