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

/// The queue, the delivery-id table and the bodies bucket, in memory.
#[derive(Default)]
struct FakeAws {
    sent: Mutex<Vec<String>>,
    /// (message group, deduplication id) of every message sent.
    groups: Mutex<Vec<(String, String)>>,
    fail: bool,
    /// delivery key → (event id, queued)
    ids: Mutex<HashMap<String, (String, bool)>>,
    bodies: Mutex<HashMap<String, Vec<u8>>>,
}

impl DeliveryIds for &FakeAws {
    async fn claim(
        &self,
        key: &str,
        event_id: &str,
        _now: i64,
        _expires_at: i64,
    ) -> Result<Claim, StoreError> {
        let mut ids = self.ids.lock().expect("lock");
        match ids.get(key) {
            Some((id, true)) => Ok(Claim::Duplicate {
                event_id: id.clone(),
            }),
            Some((_, false)) => Ok(Claim::InFlight),
            None => {
                ids.insert(key.to_owned(), (event_id.to_owned(), false));
                Ok(Claim::New)
            }
        }
    }

    async fn confirm(&self, key: &str, event_id: &str) -> Result<(), StoreError> {
        self.ids
            .lock()
            .expect("lock")
            .insert(key.to_owned(), (event_id.to_owned(), true));
        Ok(())
    }

    async fn release(&self, key: &str, _event_id: &str) -> Result<(), StoreError> {
        self.ids.lock().expect("lock").remove(key);
        Ok(())
    }
}

impl BodyStore for &FakeAws {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.bodies
            .lock()
            .expect("lock")
            .insert(key.to_owned(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.bodies
            .lock()
            .expect("lock")
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::new("GetObject", "NoSuchKey"))
    }
}

impl EventQueue for &FakeAws {
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

    async fn enqueue_in_group(
        &self,
        envelope_json: String,
        group: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        self.enqueue(envelope_json).await?;
        self.groups
            .lock()
            .expect("lock")
            .push((group.to_owned(), id.to_owned()));
        Ok(())
    }
}

fn source(id: &str, provider: Provider, secret: &str) -> Source {
    Source {
        source_id: SourceId::parse(id).expect("valid"),
        provider,
        secrets: vec![Secret::new(secret)],
        tolerance_seconds: None,
        options: Default::default(),
        created_at: "2026-01-01T00:00:00Z".into(),
    }
}

fn receiver(queue: &FakeAws) -> Receiver<FakeSources, &FakeAws, &FakeAws, &FakeAws> {
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
        queue,
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
    let queue = FakeAws::default();
    let body = r#"{"ref":"refs/heads/main"}"#;
    let response = receiver(&queue).handle(github_request(body)).await;
    assert_eq!(response.status(), 202);
    let sent = queue.sent.lock().expect("lock");
    assert_eq!(sent.len(), 1);
    let envelope = Envelope::decode(&sent[0]).expect("envelope");
    assert_eq!(envelope.source_id.as_str(), "gh");
    assert_eq!(envelope.event_type.as_deref(), Some("push"));
    assert_eq!(envelope.delivery_id.as_deref(), Some("d-1"));
    // Ordered mode: the source is the message group, the event id the deduplication id.
    assert_eq!(
        *queue.groups.lock().expect("lock"),
        [("gh".to_owned(), envelope.event_id.clone())]
    );
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
    let queue = FakeAws::default();
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
    let queue = FakeAws::default();
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
    let queue = FakeAws::default();
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
    let queue = FakeAws::default();
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
    let queue = FakeAws::default();
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
    let queue = FakeAws {
        fail: true,
        ..FakeAws::default()
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
    let queue = FakeAws::default();
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
    let queue = FakeAws::default();
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

#[tokio::test]
async fn a_redelivered_github_event_is_answered_as_a_duplicate_and_queued_once() {
    let aws = FakeAws::default();
    let first = receiver(&aws).handle(github_request("{}")).await;
    assert_eq!(first.status(), 202);
    let again = receiver(&aws).handle(github_request("{}")).await;
    assert_eq!(again.status(), 200);
    let Body::Text(text) = again.body() else {
        panic!("json body")
    };
    let answer: serde_json::Value = serde_json::from_str(text).expect("json");
    assert_eq!(answer["duplicate"], true);
    let sent = aws.sent.lock().expect("lock");
    assert_eq!(sent.len(), 1);
    let envelope = Envelope::decode(&sent[0]).expect("envelope");
    assert_eq!(answer["event_id"], envelope.event_id.as_str());
}

#[tokio::test]
async fn a_delivery_that_could_not_be_queued_is_not_remembered_so_its_retry_is_queued() {
    let failing = FakeAws {
        fail: true,
        ..FakeAws::default()
    };
    let response = receiver(&failing).handle(github_request("{}")).await;
    assert_eq!(response.status(), 503);
    assert!(
        failing.ids.lock().expect("lock").is_empty(),
        "the claim was released"
    );
}

#[tokio::test]
async fn a_delivery_another_request_is_still_queuing_gets_409_with_retry_after() {
    let aws = FakeAws::default();
    aws.ids.lock().expect("lock").insert(
        delivery_key(&SourceId::parse("gh").expect("valid"), "d-1"),
        ("evt_other".to_owned(), false),
    );
    let response = receiver(&aws).handle(github_request("{}")).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        error_code(response).await,
        (409, "delivery_in_progress".into())
    );
    assert!(aws.sent.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_body_too_large_for_a_message_is_stored_aside_and_the_envelope_carries_its_key() {
    let aws = FakeAws::default();
    let body = format!(r#"{{"blob":"{}"}}"#, "x".repeat(DEFAULT_MAX_MESSAGE_BYTES));
    let response = receiver(&aws).handle(github_request(&body)).await;
    assert_eq!(response.status(), 202);
    let sent = aws.sent.lock().expect("lock");
    assert!(
        sent[0].len() < DEFAULT_MAX_MESSAGE_BYTES,
        "the message fits SQS"
    );
    let envelope = Envelope::decode(&sent[0]).expect("envelope");
    let EncodedBody::Stored(key) = &envelope.body else {
        panic!("the body is stored aside: {:?}", envelope.body)
    };
    assert_eq!(
        key,
        &stored_body_key(&envelope.source_id, &envelope.event_id)
    );
    assert_eq!(
        aws.bodies.lock().expect("lock").get(key).map(Vec::as_slice),
        Some(body.as_bytes())
    );
}

#[test]
fn long_delivery_ids_are_hashed_into_the_key() {
    let source = SourceId::parse("gh").expect("valid");
    assert_eq!(delivery_key(&source, "d-1"), "gh#d-1");
    let long = delivery_key(&source, &"x".repeat(500));
    assert!(long.starts_with("gh#sha256:") && long.len() < 100, "{long}");
}
