//! Unit tests of the handler with in-memory ports; the integration tests run it against the emulator.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use hookpost_shared::clock::FixedClock;
use hookpost_shared::envelope::{EncodedBody, Envelope, stored_body_key};
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::{Provider, github, standard_webhooks};
use hookpost_shared::source::Source;
use hookpost_shared::store::{Claim, StoreError};

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
        (
            "pub".to_owned(),
            Source {
                secrets: Vec::new(),
                ..source("pub", Provider::Publish, "")
            },
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

/// A `method /webhooks/{source}` invocation as API Gateway (HTTP API, payload format 2.0) hands
/// it to the function, read as the deployed function reads it: the JSON text into `HttpApiEvent`.
/// Header names are lower-cased and a repeated header's values joined with commas, as API Gateway
/// does (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>).
/// The body is sent as text when it is UTF-8 of a text content type, else base64-encoded and
/// marked `isBase64Encoded`: AWS documents that binary bodies are base64-encoded but not which
/// types count as text; these are the ones observed against AWS (the integration tests'
/// `support::ApiEvent` cites the observation).
fn event(method: &str, source: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpApiEvent {
    const TEXT_TYPES: [&str; 4] = [
        "text/",
        "application/json",
        "application/xml",
        "application/javascript",
    ];
    let mut joined = serde_json::Map::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let value = match joined.remove(&name) {
            Some(serde_json::Value::String(earlier)) => format!("{earlier},{value}"),
            _ => (*value).to_owned(),
        };
        joined.insert(name, value.into());
    }
    let text_type = joined
        .get("content-type")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|t| TEXT_TYPES.iter().any(|p| t.starts_with(p)));
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) if text_type => (text.to_owned(), false),
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let payload = serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /webhooks/{source}",
        "rawPath": format!("/webhooks/{source}"),
        "rawQueryString": "",
        "headers": joined,
        "requestContext": { "http": { "method": method, "path": format!("/webhooks/{source}") } },
        "pathParameters": { "source": source },
        "body": body,
        "isBase64Encoded": base64,
    });
    serde_json::from_str(&payload.to_string()).expect("an API Gateway payload 2.0 event")
}

fn github_headers(body: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "x-hub-signature-256",
            github::sign(&Secret::new(GITHUB_SECRET), body.as_bytes()),
        ),
        ("x-github-event", "push".to_owned()),
        ("x-github-delivery", "d-1".to_owned()),
        ("content-type", "application/json".to_owned()),
    ]
}

/// A GitHub delivery of `body`, signed over `signed`.
fn github_event_signed_over(signed: &str, method: &str, body: &str) -> HttpApiEvent {
    let headers = github_headers(signed);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    event(method, "gh", &headers, body.as_bytes())
}

fn github_event(body: &str) -> HttpApiEvent {
    github_event_signed_over(body, "POST", body)
}

/// The answer's status and its JSON body.
fn answer(response: &ApiGatewayV2httpResponse) -> (u16, serde_json::Value) {
    let status = u16::try_from(response.status_code).expect("an HTTP status");
    assert!(!response.is_base64_encoded, "answers are text");
    let body = response.body.as_ref().expect("a body");
    (status, serde_json::from_slice(body.as_ref()).expect("json"))
}

/// The answer's status and refusal code.
fn error_code(response: &ApiGatewayV2httpResponse) -> (u16, String) {
    let (status, body) = answer(response);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn a_signed_github_delivery_is_queued_as_an_envelope() {
    let queue = FakeAws::default();
    let body = r#"{"ref":"refs/heads/main"}"#;
    let response = receiver(&queue).handle_event(github_event(body)).await;
    let (status, reply) = answer(&response);
    assert_eq!(status, 202);
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
    assert_eq!(reply["event_id"], envelope.event_id.as_str());
}

#[tokio::test]
async fn a_tampered_body_is_rejected_and_nothing_is_enqueued() {
    let queue = FakeAws::default();
    let tampered = github_event_signed_over(r#"{"amount":1}"#, "POST", r#"{"amount":9}"#);
    let response = receiver(&queue).handle_event(tampered).await;
    assert_eq!(error_code(&response), (401, "invalid_signature".into()));
    assert!(queue.sent.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_missing_signature_is_named() {
    let queue = FakeAws::default();
    let response = receiver(&queue)
        .handle_event(event("POST", "gh", &[], b"{}"))
        .await;
    assert_eq!(error_code(&response), (401, "missing_signature".into()));
}

#[tokio::test]
async fn a_stale_standard_webhooks_timestamp_is_refused() {
    let queue = FakeAws::default();
    let key = SigningKey::parse(SW_SECRET).expect("key");
    let ts = i64::try_from(NOW).expect("fits") - 301;
    let sig = standard_webhooks::sign(&key, "msg_1", ts, b"{}");
    let request = event(
        "POST",
        "sw",
        &[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", &ts.to_string()),
            ("webhook-signature", &sig),
        ],
        b"{}",
    );
    let response = receiver(&queue).handle_event(request).await;
    assert_eq!(
        error_code(&response),
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
    let request = event(
        "POST",
        "sw",
        &[
            ("webhook-id", "msg_2"),
            ("webhook-timestamp", &ts.to_string()),
            ("webhook-signature", &sig),
        ],
        &body,
    );
    assert_eq!(request.is_base64_encoded, Some(true));
    let response = receiver(&queue).handle_event(request).await;
    assert_eq!(answer(&response).0, 202);
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
            .handle_event(event("POST", id, &[], b"{}"))
            .await;
        assert_eq!(
            error_code(&response),
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
    let response = receiver(&queue).handle_event(github_event("{}")).await;
    assert_eq!(
        response.headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"5"[..])
    );
    assert_eq!(error_code(&response), (503, "enqueue_failed".into()));
}

#[tokio::test]
async fn a_failing_source_lookup_is_503() {
    let queue = FakeAws::default();
    let response = receiver(&queue)
        .handle_event(event("POST", "broken-store", &[], b"{}"))
        .await;
    assert_eq!(
        error_code(&response),
        (503, "temporarily_unavailable".into())
    );
}

#[tokio::test]
async fn other_methods_and_oversized_bodies_are_refused() {
    let queue = FakeAws::default();
    let get = github_event_signed_over("{}", "GET", "{}");
    let response = receiver(&queue).handle_event(get).await;
    assert_eq!(error_code(&response), (405, "method_not_allowed".into()));
    assert_eq!(response.headers["allow"], "POST");

    let big = "x".repeat(DEFAULT_MAX_BODY_BYTES + 1);
    let response = receiver(&queue).handle_event(github_event(&big)).await;
    assert_eq!(error_code(&response), (413, "payload_too_large".into()));
    assert!(queue.sent.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_redelivered_github_event_is_answered_as_a_duplicate_and_queued_once() {
    let aws = FakeAws::default();
    let first = receiver(&aws).handle_event(github_event("{}")).await;
    assert_eq!(answer(&first).0, 202);
    let again = receiver(&aws).handle_event(github_event("{}")).await;
    let (status, reply) = answer(&again);
    assert_eq!(status, 200);
    assert_eq!(reply["duplicate"], true);
    let sent = aws.sent.lock().expect("lock");
    assert_eq!(sent.len(), 1);
    let envelope = Envelope::decode(&sent[0]).expect("envelope");
    assert_eq!(reply["event_id"], envelope.event_id.as_str());
}

#[tokio::test]
async fn a_delivery_that_could_not_be_queued_is_not_remembered_so_its_retry_is_queued() {
    let failing = FakeAws {
        fail: true,
        ..FakeAws::default()
    };
    let response = receiver(&failing).handle_event(github_event("{}")).await;
    assert_eq!(answer(&response).0, 503);
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
    let response = receiver(&aws).handle_event(github_event("{}")).await;
    assert!(response.headers.contains_key("retry-after"));
    assert_eq!(error_code(&response), (409, "delivery_in_progress".into()));
    assert!(aws.sent.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_body_too_large_for_a_message_is_stored_aside_and_the_envelope_carries_its_key() {
    let aws = FakeAws::default();
    let body = format!(r#"{{"blob":"{}"}}"#, "x".repeat(DEFAULT_MAX_MESSAGE_BYTES));
    let response = receiver(&aws).handle_event(github_event(&body)).await;
    assert_eq!(answer(&response).0, 202);
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

#[tokio::test]
async fn a_publish_source_is_answered_like_an_unknown_one_and_nothing_is_queued() {
    let aws = FakeAws::default();
    let receiver = receiver(&aws);
    let body = r#"{"a":1}"#;
    let headers = github_headers(body);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let to_publish = receiver
        .handle_event(event("POST", "pub", &headers, body.as_bytes()))
        .await;
    let to_nothing = receiver
        .handle_event(event("POST", "nosuch", &headers, body.as_bytes()))
        .await;
    assert_eq!(error_code(&to_publish), (404, "unknown_source".to_owned()));
    assert_eq!(answer(&to_publish), answer(&to_nothing));
    assert!(aws.sent.lock().expect("lock").is_empty());
}
