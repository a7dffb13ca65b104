//! Ordered mode (`OrderedDelivery=true`): FIFO queues with one message group per source, so a
//! source's events reach its subscribers in the order they were received, a failed one holding
//! the later ones back, while other sources' events go on.

use std::collections::BTreeMap;
use std::time::Duration;

use hookpost_cli::signing::provider_headers;
use hookpost_local::{LocalOptions, LocalStack};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_testkit::{Received, Reply};

use crate::support::{self, PATIENCE};

const SECRET: &str = "ordered-secret";

/// A stack in ordered mode with GitHub sources `sources`.
async fn ordered_stack(retry_delays: &str, sources: &[&str]) -> LocalStack {
    let stack = LocalStack::start(
        support::emulator(),
        LocalOptions {
            port: 0,
            max_receive_count: Some(5),
            retry_delays: Some(retry_delays.to_owned()),
            prefix: support::unique("it"),
            parameters: BTreeMap::from([("OrderedDelivery".to_owned(), "true".to_owned())]),
            ..LocalOptions::default()
        },
    )
    .await
    .expect("the local stack starts");
    for source in sources {
        support::add_source(
            &stack.sdk,
            &stack.state.names,
            source,
            Provider::Github,
            SECRET,
        )
        .await;
    }
    stack
}

/// Posts a signed GitHub push numbered `n` to `source`; the event id the receiver answers with.
async fn send(stack: &LocalStack, source: &str, n: usize) -> String {
    let body = format!(r#"{{"ref":"refs/heads/main","n":{n}}}"#);
    let headers = provider_headers(
        Provider::Github,
        &Secret::new(SECRET),
        body.as_bytes(),
        Some("push"),
        support::now(),
        &Default::default(),
    )
    .expect("signs");
    let url = format!("{}{source}", stack.state.receiver_url);
    let (status, answer) = support::post(&url, &headers, body.as_bytes()).await;
    assert_eq!(status, 202, "{answer}");
    answer["event_id"].as_str().expect("event id").to_owned()
}

fn event_ids(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .filter_map(|r| r.event_id().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn ordered_mode_delivers_a_sources_events_in_order_and_a_failed_one_holds_the_rest() {
    let stack = ordered_stack("1s", &["gh"]).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    assert!(names.ingest_queue_url.ends_with(".fifo"), "{names:?}");
    assert!(names.dead_letter_queue_url.ends_with(".fifo"), "{names:?}");
    let (subscriber, _) = support::add_subscriber(sdk, names, "gh").await;
    subscriber.then_reply([Reply::status(503)]);

    let mut sent = Vec::new();
    for n in 0..4 {
        sent.push(send(&stack, "gh", n).await);
    }

    let received = subscriber.wait_for(5, PATIENCE).await;
    // The first event twice (failed, then delivered) before any later one, then the rest in order.
    let mut expected = vec![sent[0].clone()];
    expected.extend(sent.iter().cloned());
    assert_eq!(event_ids(&received), expected);
    let statuses: Vec<u16> = received.iter().map(|r| r.answered).collect();
    assert_eq!(statuses, [503, 204, 204, 204, 204]);
    assert!(received.iter().all(|r| r.verified));
    assert!(
        support::eventually(|| async {
            support::queue_depth(sdk, &names.ingest_queue_url).await == 0
        })
        .await,
        "every event leaves the queue"
    );
    assert_eq!(
        support::queue_depth(sdk, &names.dead_letter_queue_url).await,
        0
    );
    stack.stop().await;
}

#[tokio::test]
async fn in_ordered_mode_a_failing_event_does_not_hold_up_another_sources_events() {
    // A retry delay long enough that the other source's event is seen while the group waits.
    let stack = ordered_stack("5s", &["held", "free"]).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let (held, _) = support::add_subscriber(sdk, names, "held").await;
    let (free, _) = support::add_subscriber(sdk, names, "free").await;
    held.then_reply([Reply::status(503)]);

    let first = send(&stack, "held", 0).await;
    let second = send(&stack, "held", 1).await;
    assert_eq!(
        event_ids(&held.wait_for(1, PATIENCE).await),
        [first.as_str()]
    );
    let other = send(&stack, "free", 0).await;

    assert_eq!(
        event_ids(&free.wait_for(1, PATIENCE).await),
        [other.as_str()]
    );
    // When the other source's event arrived, this source was still waiting for its retry.
    assert_eq!(event_ids(&held.received()), [first.as_str()]);

    let received = held.wait_for(3, PATIENCE).await;
    assert_eq!(event_ids(&received), [first.clone(), first, second]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(held.received().len(), 3);
    stack.stop().await;
}
