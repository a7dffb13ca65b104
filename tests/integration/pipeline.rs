//! Provider → receiver (over HTTP) → SQS → dispatcher (behind the event-source poller) → subscriber.

use hookpost_cli::signing::provider_headers;
use hookpost_shared::aws::{DynamoClient, DynamoDeliveries};
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::Provider;

use crate::support::{self, PATIENCE};

async fn a_signed_delivery_reaches_a_subscriber_that_verifies_it(provider: Provider, secret: &str) {
    let stack = support::running_stack(None, None).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    support::add_source(sdk, names, "src", provider, secret).await;
    let (subscriber, subscription_id) = support::add_subscriber(sdk, names, "src").await;

    let body = br#"{"type":"invoice.paid","ref":"refs/heads/main","amount":1200}"#;
    let headers = provider_headers(
        provider,
        &Secret::new(secret),
        body,
        Some("push"),
        support::now(),
        &Default::default(),
    )
    .expect("signs");
    let url = format!("{}src", stack.state.receiver_url);
    let (status, answer) = support::post(&url, &headers, body).await;
    assert_eq!(status, 202, "{answer}");
    let event_id = answer["event_id"].as_str().expect("event id").to_owned();

    let received = subscriber.wait_for(1, PATIENCE).await;
    assert_eq!(received.len(), 1, "exactly one delivery");
    let delivery = &received[0];
    assert!(
        delivery.verified,
        "the subscriber verified the Standard Webhooks signature"
    );
    assert_eq!(
        delivery.body.as_ref(),
        body,
        "the body arrives byte for byte"
    );
    assert_eq!(delivery.event_id(), Some(event_id.as_str()));

    let deliveries = DynamoDeliveries::new(DynamoClient::new(sdk), &names.deliveries_table);
    let recorded = support::eventually(|| async {
        deliveries
            .for_event(&event_id)
            .await
            .map_err(|e| eprintln!("Query: {e}"))
            .unwrap_or_default()
            .iter()
            .any(|r| {
                r.subscription_id == subscription_id && r.status == "delivered" && r.attempts == 1
            })
    })
    .await;
    assert!(
        recorded,
        "the delivery is recorded as delivered after one attempt"
    );
    subscriber.stop();
    stack.stop().await;
}

#[tokio::test]
async fn a_signed_github_delivery_reaches_a_subscriber_that_verifies_its_signature() {
    a_signed_delivery_reaches_a_subscriber_that_verifies_it(
        Provider::Github,
        "gh-integration-secret",
    )
    .await;
}

#[tokio::test]
async fn a_signed_standard_webhooks_delivery_reaches_a_subscriber_that_verifies_its_signature() {
    let secret = SigningKey::generate().expect("rng").to_whsec();
    a_signed_delivery_reaches_a_subscriber_that_verifies_it(
        Provider::StandardWebhooks,
        secret.expose(),
    )
    .await;
}

#[tokio::test]
async fn a_three_mebibyte_body_is_delivered_intact_through_the_claim_check() {
    let stack = support::running_stack(None, None).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    support::add_source(sdk, names, "big", Provider::Github, "s").await;
    let (subscriber, _) = support::add_subscriber(sdk, names, "big").await;

    // Multi-byte text, so any re-encoding on the way would show. (The independent verifier, the
    // `standardwebhooks` crate, only takes UTF-8 bodies; binary bodies are covered by the
    // dispatcher's unit tests.)
    let filler = "ünïcödé ✓ 0123456789 ".repeat(3 * 1024 * 1024 / 26);
    let body = format!(r#"{{"blob":"{filler}"}}"#).into_bytes();
    assert!(body.len() > 3 * 1024 * 1024);
    let headers = provider_headers(
        Provider::Github,
        &Secret::new("s"),
        &body,
        Some("push"),
        support::now(),
        &Default::default(),
    )
    .expect("signs");
    let (status, answer) =
        support::post(&format!("{}big", stack.state.receiver_url), &headers, &body).await;
    assert_eq!(status, 202, "{answer}");

    let received = subscriber.wait_for(1, PATIENCE).await;
    assert_eq!(received.len(), 1);
    assert!(received[0].verified);
    assert_eq!(received[0].body.len(), body.len());
    assert!(
        received[0].body.as_ref() == body.as_slice(),
        "byte for byte"
    );
    subscriber.stop();
    stack.stop().await;
}
