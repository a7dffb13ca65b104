//! Unit tests of the handler with in-memory ports; the integration tests run it against the emulator.

use std::collections::HashMap;
use std::sync::Mutex;

use hookpost_shared::clock::FixedClock;
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::{Provider, github, standard_webhooks};
use hookpost_shared::source::Source;
use hookpost_shared::store::StoreError;

use super::*;

const NOW: u64 = 1_700_000_000;
const GITHUB_SECRET: &str = "gh-secret";
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Default)]
struct FakeSources(HashMap<String, Source>);

impl SourceStore for FakeSources {
    async fn get_source(&self, id: &SourceId) -> Result<Option<Source>, StoreError> {
        if id.as_str() == "broken-store" {
            return Err(StoreError::new("GetItem", "throttled"));
        }
        Ok(self.0.get(id.as_str()).cloned())
    }
}

#[derive(Default)]
struct FakeQueue {
    sent: Mutex<Vec<String>>,
    fail: bool,
}

impl EventQueue for &FakeQueue {
    async fn enqueue(&self, envelope_json: String) -> Result<(), StoreError> {
        if self.fail {
            return Err(StoreError::new(
                "SendMessage",
                "AWS.SimpleQueueService.Throttled",
            ));
        }
        self.sent.lock().expect("lock").push(envelope_json);
        Ok(())
    }
}

fn source(id: &str, provider: Provider, secret: &str) -> Source {
    Source {
        source_id: SourceId::parse(id).expect("valid"),
        provider,
        secrets: vec![Secret::new(secret)],
        tolerance_seconds: None,
        created_at: "2026-01-01T00:00:00Z".into(),
    }
}

fn receiver(queue: &FakeQueue) -> Receiver<FakeSources, &FakeQueue> {
    let sources = FakeSources(HashMap::from([
        (
            "gh".to_owned(),
            source("gh", Provider::Github, GITHUB_SECRET),
        ),
        (
            "sw".to_owned(),
            source("sw", Provider::StandardWebhooks, SW_SECRET),
        ),
    ]));
    Receiver::new(
        sources,
        queue,
        Arc::new(FixedClock::at_unix(NOW)),
        Config::default(),
    )
}

fn post(source: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Request {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("https://example.test/webhooks/{source}"));
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder
        .body(body.into())
        .expect("request")
        .with_path_parameters(HashMap::from([("source".to_owned(), source.to_owned())]))
}

fn github_request(body: &str) -> Request {
    let sig = github::sign(&Secret::new(GITHUB_SECRET), body.as_bytes());
    post(
        "gh",
        &[
            ("x-hub-signature-256", &sig),
            ("x-github-event", "push"),
            ("x-github-delivery", "d-1"),
            ("content-type", "application/json"),
        ],
        body.to_owned(),
    )
}

async fn error_code(response: Response<Body>) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = match response.body() {
        Body::Text(t) => serde_json::from_str(t).expect("json"),
        other => panic!("unexpected body {other:?}"),
    };
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn a_signed_github_delivery_is_queued_as_an_envelope() {
    let queue = FakeQueue::default();
    let body = r#"{"ref":"refs/heads/main"}"#;
    let response = receiver(&queue).handle(github_request(body)).await;
    assert_eq!(response.status(), 202);
    let sent = queue.sent.lock().expect("lock");
    assert_eq!(sent.len(), 1);
    let envelope = Envelope::decode(&sent[0]).expect("envelope");
    assert_eq!(envelope.source_id.as_str(), "gh");
    assert_eq!(envelope.event_type.as_deref(), Some("push"));
    assert_eq!(envelope.delivery_id.as_deref(), Some("d-1"));
    assert_eq!(
        envelope.body.bytes().expect("body").as_ref(),
        body.as_bytes()
    );
    assert_eq!(
        envelope.headers.get("x-github-event").map(String::as_str),
        Some("push")
    );
    let Body::Text(text) = response.body() else {
        panic!("json body")
    };
    assert!(text.contains(&envelope.event_id));
}

#[tokio::test]
async fn a_tampered_body_is_rejected_and_nothing_is_enqueued() {
    let queue = FakeQueue::default();
    let mut request = github_request(r#"{"amount":1}"#);
    *request.body_mut() = Body::Text(r#"{"amount":9}"#.into());
    let response = receiver(&queue).handle(request).await;
    assert_eq!(
        error_code(response).await,
        (401, "invalid_signature".into())
    );
    assert!(queue.sent.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_missing_signature_is_named() {
    let queue = FakeQueue::default();
    let response = receiver(&queue)
        .handle(post("gh", &[], "{}".to_owned()))
        .await;
    assert_eq!(
        error_code(response).await,
        (401, "missing_signature".into())
    );
}

#[tokio::test]
async fn a_stale_standard_webhooks_timestamp_is_refused() {
    let queue = FakeQueue::default();
    let key = SigningKey::parse(SW_SECRET).expect("key");
    let ts = i64::try_from(NOW).expect("fits") - 301;
    let sig = standard_webhooks::sign(&key, "msg_1", ts, b"{}");
    let request = post(
        "sw",
        &[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", &ts.to_string()),
            ("webhook-signature", &sig),
        ],
        "{}".to_owned(),
    );
    let response = receiver(&queue).handle(request).await;
    assert_eq!(
        error_code(response).await,
        (401, "timestamp_out_of_tolerance".into())
    );
    assert!(queue.sent.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_binary_standard_webhooks_body_is_kept_exactly() {
    let queue = FakeQueue::default();
    let key = SigningKey::parse(SW_SECRET).expect("key");
    let body = vec![0xde, 0xad, 0xbe, 0xef, 0x00];
    let ts = i64::try_from(NOW).expect("fits");
    let sig = standard_webhooks::sign(&key, "msg_2", ts, &body);
    let request = post(
        "sw",
        &[
            ("webhook-id", "msg_2"),
            ("webhook-timestamp", &ts.to_string()),
            ("webhook-signature", &sig),
        ],
        body.clone(),
    );
    assert_eq!(receiver(&queue).handle(request).await.status(), 202);
    let sent = queue.sent.lock().expect("lock");
    let envelope = Envelope::decode(&sent[0]).expect("envelope");
    assert!(matches!(envelope.body, EncodedBody::Base64(_)));
    assert_eq!(
        envelope.body.bytes().expect("body").as_ref(),
        body.as_slice()
    );
}

#[tokio::test]
async fn unknown_and_impossible_source_ids_are_404() {
    let queue = FakeQueue::default();
    for id in ["nope", "..", "a%2Fb", &"x".repeat(200), ""] {
        let response = receiver(&queue)
            .handle(post(id, &[], "{}".to_owned()))
            .await;
        assert_eq!(
            error_code(response).await,
            (404, "unknown_source".into()),
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_queue_failure_is_503_with_retry_after_never_2xx() {
    let queue = FakeQueue {
        fail: true,
        ..FakeQueue::default()
    };
    let response = receiver(&queue).handle(github_request("{}")).await;
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"5"[..])
    );
    assert_eq!(error_code(response).await, (503, "enqueue_failed".into()));
}

#[tokio::test]
async fn a_failing_source_lookup_is_503() {
    let queue = FakeQueue::default();
    let response = receiver(&queue)
        .handle(post("broken-store", &[], "{}".to_owned()))
        .await;
    assert_eq!(
        error_code(response).await,
        (503, "temporarily_unavailable".into())
    );
}

#[tokio::test]
async fn other_methods_and_oversized_bodies_are_refused() {
    let queue = FakeQueue::default();
    let mut get = github_request("{}");
    *get.method_mut() = http::Method::GET;
    assert_eq!(
        error_code(receiver(&queue).handle(get).await).await,
        (405, "method_not_allowed".into())
    );

    let big = "x".repeat(DEFAULT_MAX_BODY_BYTES + 1);
    let response = receiver(&queue).handle(github_request(&big)).await;
    assert_eq!(
        error_code(response).await,
        (413, "payload_too_large".into())
    );
    assert!(queue.sent.lock().expect("lock").is_empty());
}
