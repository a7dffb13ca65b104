//! Publishing through the API, end to end: the local stack's `/v1` behind its SigV4 check, on the
//! emulator, to subscribers on 127.0.0.1 that verify every delivery with the `standardwebhooks`
//! crate. A source and a subscription are made through the API; 100 events are published, ten of
//! them twice under the same `Idempotency-Key`, and exactly 100 deliveries arrive. Then a failing
//! subscriber's events are dead-lettered, listed and redriven, all through the API; and the two
//! doors never mix: a publish source takes no webhooks, a provider source takes no publishing.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt as _, stream};
use hookpost_shared::secret::SigningKey;
use hookpost_testkit::{SignedClient, Subscriber};
use http::Method;
use serde_json::{Value, json};
use standardwebhooks::Webhook;

use crate::support::{self, PATIENCE};

const EVENTS: usize = 100;
const REPEATED: usize = 10;
/// Receives before SQS dead-letters a record, in the dead-letter part.
const MAX_RECEIVES: u32 = 2;

/// A hostile publish: path, headers, body; the status expected and a word its message names.
type Hostile<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u8], u16, &'a str);

/// Publishes `body` to `source` with an event type and an idempotency key.
async fn publish(client: &SignedClient, source: &str, key: &str, body: &str) -> (u16, Value) {
    let request = client.raw_request(
        Method::POST,
        &format!("sources/{source}/events"),
        &[
            ("content-type", "application/json"),
            ("event-type", "order.created"),
            ("idempotency-key", key),
        ],
        body.as_bytes().to_vec(),
    );
    client.send(request).await
}

/// A publish source and a subscription to it made through the API, the subscription pointed at
/// a subscriber that verifies with the secret the API answered with (shown once).
async fn subscribed(client: &SignedClient, source: &str) -> (Subscriber, String) {
    let (status, created) = client
        .post("sources", &json!({"id": source, "provider": "publish"}))
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(
        created.get("secret").is_none(),
        "a publish source has no secret: {created}"
    );
    assert_eq!(created["url"], Value::Null, "and no webhook URL");

    let (status, sub) = client
        .post(
            "subscriptions",
            &json!({"source": source, "url": "http://127.0.0.1:9/not-yet", "events": ["order.*"]}),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let secret = sub["secret"].as_str().expect("the whsec_ secret, once");
    let key = SigningKey::parse(secret).expect("a Standard Webhooks secret");
    let subscriber = Subscriber::verifying(&key).await.expect("subscriber");
    let id = sub["subscription_id"].as_str().expect("an id").to_owned();
    let (status, patched) = client
        .patch(
            &format!("subscriptions/{id}"),
            &json!({"url": subscriber.url}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        client
            .get(&format!("subscriptions/{id}"))
            .await
            .1
            .get("secret"),
        None,
        "a read never shows the secret"
    );
    (subscriber, secret.to_owned())
}

#[tokio::test]
async fn events_published_through_the_api_are_delivered_once_each_even_when_published_twice() {
    let stack = support::running_stack(None, None).await;
    let client = SignedClient::for_stack(&stack);
    let (subscriber, secret) = subscribed(&client, "orders").await;

    let first: BTreeMap<usize, String> = stream::iter(0..EVENTS)
        .map(|n| {
            let client = &client;
            async move {
                let body = json!({"order": n}).to_string();
                let (status, answer) =
                    publish(client, "orders", &format!("order-{n}"), &body).await;
                assert_eq!(status, 202, "publish {n}: {answer}");
                assert_eq!(answer.get("duplicate"), None, "{answer}");
                (
                    n,
                    answer["event_id"].as_str().expect("an event id").to_owned(),
                )
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(first.values().collect::<BTreeSet<_>>().len(), EVENTS);

    // A publisher that timed out and retries: the same key returns the first event.
    for n in 0..REPEATED {
        let body = json!({"order": n}).to_string();
        let (status, again) = publish(&client, "orders", &format!("order-{n}"), &body).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again, json!({"event_id": first[&n], "duplicate": true}));
    }

    let delivered = subscriber.wait_for(EVENTS, PATIENCE).await;
    assert_eq!(delivered.len(), EVENTS, "every event is delivered");
    let drained = support::eventually(|| async {
        support::queue_depth(&stack.sdk, &stack.state.names.ingest_queue_url).await == 0
    })
    .await;
    assert!(drained, "the ingest queue drains");

    // Exactly once each, signed so that an independent Standard Webhooks verifier accepts it.
    let verifier = Webhook::new(&secret).expect("the secret reads as a Standard Webhooks key");
    let delivered = subscriber.received();
    assert_eq!(
        delivered.len(),
        EVENTS,
        "nothing more arrived after the queue drained"
    );
    let mut orders = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for delivery in &delivered {
        verifier
            .verify(&delivery.body, &delivery.headers)
            .expect("the delivery verifies with the standardwebhooks crate");
        let payload: Value = serde_json::from_slice(&delivery.body).expect("the JSON published");
        orders.insert(payload["order"].as_u64().expect("an order number"));
        ids.insert(
            delivery.headers["webhook-id"]
                .to_str()
                .expect("ascii")
                .to_owned(),
        );
        assert_eq!(delivery.headers["content-type"], "application/json");
    }
    assert_eq!(orders, (0..EVENTS as u64).collect::<BTreeSet<_>>());
    assert_eq!(ids.len(), EVENTS, "one delivery per event, no repeats");

    // The archive knows them by the type the publisher set.
    let (status, page) = client
        .get("events?source=orders&type=order.created&limit=500")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(EVENTS));
}

#[tokio::test]
async fn the_webhook_door_and_the_publish_door_never_mix() {
    let stack = support::running_stack(None, None).await;
    let client = SignedClient::for_stack(&stack);
    let (status, _) = client
        .post("sources", &json!({"id": "orders", "provider": "publish"}))
        .await;
    assert_eq!(status, 201);
    let (status, created) = client
        .post("sources", &json!({"id": "gh", "provider": "github"}))
        .await;
    assert_eq!(status, 201, "{created}");

    // A publish source is unknown to the receiver, exactly like a source that does not exist.
    let unsigned = [("content-type".to_owned(), "application/json".to_owned())];
    let to_publish = support::post(
        &format!("{}orders", stack.state.receiver_url),
        &unsigned,
        b"{}",
    )
    .await;
    let to_nothing = support::post(
        &format!("{}nosuch", stack.state.receiver_url),
        &unsigned,
        b"{}",
    )
    .await;
    assert_eq!(to_publish.0, 404, "{}", to_publish.1);
    assert_eq!(to_publish, to_nothing);

    // A provider source takes its events from the provider only.
    let (status, refused) = publish(&client, "gh", "k-1", "{}").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "conflict");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/webhooks/gh") && m.contains("publish")),
        "{refused}"
    );

    // A publish source has no secret to rotate, and takes no scheme options.
    let (status, refused) = client
        .post("sources/orders/rotate-secret", &json!({}))
        .await;
    assert_eq!(status, 409, "{refused}");
    let (status, refused) = client
        .patch(
            "sources/orders",
            &json!({"options": {"public_url": "https://example.com/hook"}}),
        )
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (400, &json!("invalid")),
        "{refused}"
    );

    // Hostile publishes: each refused with the field named, and nothing queued.
    let long_key = "k".repeat(201);
    let cases: [Hostile<'_>; 5] = [
        (
            "sources/orders/events",
            &[("idempotency-key", &long_key)],
            b"{}",
            400,
            "Idempotency-Key",
        ),
        (
            "sources/orders/events",
            &[("event-type", "a\tb")],
            b"{}",
            400,
            "Event-Type",
        ),
        ("sources/orders/events", &[], b"", 400, "body"),
        ("sources/nosuch/events", &[], b"{}", 404, "nosuch"),
        ("sources/..%2F/events", &[], b"{}", 404, ""),
    ];
    for (path, headers, body, status, named) in cases {
        let (got, answer) = client
            .send(client.raw_request(Method::POST, path, headers, body.to_vec()))
            .await;
        assert_eq!(got, status, "{path} {headers:?}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{path}: {answer}");
    }
    assert_eq!(
        support::queue_depth(&stack.sdk, &stack.state.names.ingest_queue_url).await,
        0,
        "nothing refused was queued"
    );

    // The source can still change what it can: PATCH answers the source as it is now.
    let (status, changed) = client
        .patch("sources/gh", &json!({"tolerance_seconds": 120}))
        .await;
    assert_eq!(
        (status, &changed["tolerance_seconds"]),
        (200, &json!(120)),
        "{changed}"
    );
    let (status, reset) = client
        .patch("sources/gh", &json!({"tolerance_seconds": null}))
        .await;
    assert_eq!(
        (status, &reset["tolerance_seconds"]),
        (200, &json!(0)),
        "{reset}"
    );
}

#[tokio::test]
async fn a_failing_subscribers_events_are_dead_lettered_listed_and_redriven_through_the_api() {
    let stack = support::running_stack(Some(MAX_RECEIVES), Some("1s")).await;
    let client = SignedClient::for_stack(&stack);
    let (subscriber, _) = subscribed(&client, "billing").await;
    subscriber.answer_with(500);

    let mut published = BTreeSet::new();
    for n in 0..3 {
        let (status, answer) = publish(
            &client,
            "billing",
            &format!("inv-{n}"),
            &json!({"invoice": n}).to_string(),
        )
        .await;
        assert_eq!(status, 202, "{answer}");
        published.insert(answer["event_id"].as_str().expect("an id").to_owned());
    }

    let listed = || async {
        let (status, page) = client.get("dead-letters?source=billing").await;
        assert_eq!(status, 200, "{page}");
        page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["event_id"].as_str().map(str::to_owned))
            .collect::<BTreeSet<_>>()
    };
    assert!(
        support::eventually(|| async { listed().await == published }).await,
        "every event is dead-lettered and listed: {:?}",
        listed().await
    );
    let one = published.first().expect("three events");
    let (status, letter) = client.get(&format!("dead-letters/{one}")).await;
    assert_eq!(
        (status, &letter["event_id"]),
        (200, &json!(one)),
        "{letter}"
    );

    // Fixed, then redriven: each event is delivered once more, and the queue is empty.
    subscriber.answer_with(204);
    let (status, moved) = client
        .post("dead-letters/redrive", &json!({"source": "billing"}))
        .await;
    assert_eq!((status, &moved["moved"]), (200, &json!(3)), "{moved}");
    let delivered = subscriber
        .wait_for(3 * MAX_RECEIVES as usize + 3, PATIENCE)
        .await;
    let ok: BTreeSet<String> = delivered
        .iter()
        .filter(|d| d.answered == 204)
        .map(|d| d.headers["webhook-id"].to_str().expect("ascii").to_owned())
        .collect();
    assert_eq!(ok.len(), 3, "each redriven event is delivered");
    assert!(
        support::eventually(|| async { listed().await.is_empty() }).await,
        "the dead-letter queue is empty after the redrive"
    );
}
