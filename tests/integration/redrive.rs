//! Retries, the dead-letter queue and redrive, with SQS doing the counting for real.

use hookpost_cli::signing::provider_headers;
use hookpost_operations::dead_letters::Selection;
use hookpost_operations::{NoProgress, Operations};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;

use crate::support::{self, PATIENCE};

const MAX_RECEIVES: u32 = 3;

#[tokio::test]
async fn a_failing_subscriber_is_retried_into_the_dead_letter_queue_while_a_healthy_one_gets_the_event_once()
 {
    let stack = support::running_stack(Some(MAX_RECEIVES), Some("1s")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    support::add_source(sdk, names, "gh", Provider::Github, "s").await;
    let (healthy, _) = support::add_subscriber(sdk, names, "gh").await;
    let (failing, _) = support::add_subscriber(sdk, names, "gh").await;
    failing.answer_with(500);

    let body = br#"{"zen":"Design for failure."}"#;
    let headers = provider_headers(
        Provider::Github,
        &Secret::new("s"),
        body,
        Some("push"),
        support::now(),
        &Default::default(),
    )
    .expect("signs");
    let (status, _) =
        support::post(&format!("{}gh", stack.state.receiver_url), &headers, body).await;
    assert_eq!(status, 202);

    let dead_lettered = support::eventually(|| async {
        support::queue_depth(sdk, &names.dead_letter_queue_url).await == 1
    })
    .await;
    assert!(dead_lettered, "the event reaches the dead-letter queue");
    assert_eq!(support::queue_depth(sdk, &names.ingest_queue_url).await, 0);
    assert_eq!(
        failing.received().len(),
        MAX_RECEIVES as usize,
        "one attempt per receive"
    );
    assert_eq!(
        healthy.received().len(),
        1,
        "the healthy subscriber was not called again"
    );

    // The subscriber is fixed; redrive delivers to it alone.
    failing.answer_with(204);
    let moved = Operations::new(sdk, names.clone(), None)
        .redrive(&Selection::All, None, &NoProgress)
        .await
        .expect("redrive");
    assert_eq!(moved.moved, 1);
    let after = failing.wait_for(MAX_RECEIVES as usize + 1, PATIENCE).await;
    assert_eq!(after.len(), MAX_RECEIVES as usize + 1);
    assert_eq!(after.last().map(|d| d.answered), Some(204));
    let drained = support::eventually(|| async {
        support::queue_depth(sdk, &names.ingest_queue_url).await == 0
    })
    .await;
    assert!(drained, "the redriven event is deleted once delivered");
    assert_eq!(healthy.received().len(), 1, "still once after the redrive");
    healthy.stop();
    failing.stop();
    stack.stop().await;
}

#[tokio::test]
async fn a_record_that_is_not_an_envelope_is_dead_lettered_on_its_first_receive_with_the_reason() {
    // Three receives allowed, each kept invisible for the queue's visibility timeout: a record
    // left to SQS's own redrive would take minutes to reach the dead-letter queue, not seconds.
    let stack = support::running_stack(Some(3), Some("1m,1m")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    sqs.send_message()
        .queue_url(&names.ingest_queue_url)
        .message_body(r#"{"version": 99, "what": "a future envelope"}"#)
        .send()
        .await
        .expect("SendMessage");

    let arrived = support::eventually(|| async {
        support::queue_depth(sdk, &names.dead_letter_queue_url).await == 1
    })
    .await;
    assert!(
        arrived,
        "the poison record reaches the dead-letter queue at once"
    );
    assert_eq!(
        support::queue_depth(sdk, &names.ingest_queue_url).await,
        0,
        "and leaves the ingest queue"
    );

    let ops = Operations::new(sdk, names.clone(), None);
    let letters = ops
        .list_dead_letters(
            &Default::default(),
            &hookpost_operations::PageRequest::first(10).expect("page"),
        )
        .await
        .expect("lists");
    assert_eq!(letters.items.len(), 1);
    let reason = letters.items[0].error.clone().unwrap_or_default();
    assert!(
        reason.starts_with("the record is not a deliverable envelope") && reason.contains("99"),
        "dlq list shows why: {reason}"
    );
    stack.stop().await;
}
