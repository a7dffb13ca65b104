//! `receiver`: the whole receiver handler in process, from the API Gateway HTTP API (v2) event
//! text Lambda delivers to the SQS `SendMessage` body it produces, beside one HMAC-SHA256 over
//! the same body (the floor `bench/report.py` states the goal against).
//!
//! `handler` is what the deployed function does per invocation: the event text is read into
//! `HttpApiEvent` (as `lambda_runtime` does with the payload), handled, and the response serialised
//! back to JSON. The ports are in-memory: the source store returns the GitHub source, delivery ids
//! are always new, and the queue serialises the `SendMessage` request body (`QueueUrl`,
//! `MessageBody`) the SDK would send — the JSON text out. A 1 MiB body does not fit the default
//! 256 KiB message, so it goes through the claim check (stored aside, the envelope re-encoded with
//! its key), as it would in production.
//!
//! `handler-lambda-http` is the same handler behind `lambda_http`'s conversion of the event into an
//! `http::Request` (what the function used before: `lambda_http::run`), the request's parts moved
//! back into an `HttpApiEvent` (lambda_http is a dev-dependency, for this row only). `parse-event`,
//! `json-string` and `encode-envelope` time steps on their own, to show where the time goes:
//! `json-string` is reading the body out of the event's JSON string and writing it back into the
//! envelope's, the part of the work any JSON-in, JSON-out receiver does whatever its language. No tracing subscriber is installed, so log lines cost next to nothing here;
//! in Lambda each accepted event also writes one JSON log line.
//!
//! Run with `make bench`, or `cargo bench -p hookpost-receiver --bench handler`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use hookpost_receiver::{Config, HttpApiEvent, Receiver};
use hookpost_shared::clock::FixedClock;
use hookpost_shared::envelope::{ENVELOPE_VERSION, EncodedBody, Envelope};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{Provider, github};
use hookpost_shared::source::{Source, SourceId};
use hookpost_shared::store::{BodyStore, Claim, DeliveryIds, EventQueue, SourceStore, StoreError};
use sha2::Sha256;

const SIZES: [(&str, usize); 3] = [("1KiB", 1024), ("64KiB", 64 * 1024), ("1MiB", 1024 * 1024)];

const NOW: u64 = 1_700_000_000;
const SOURCE_ID: &str = "github-example";
/// A 32-character secret, the length GitHub's documentation suggests generating.
const SECRET: &str = "bench-secret-0123456789abcdefghi";
/// The sample event in `events/`, as API Gateway delivers it; the bench swaps in its own body.
const SAMPLE_EVENT: &str = include_str!("../../../events/apigw-github-push.json");
const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/hookpost-ingest";

/// The `SendMessage` request body (AWS JSON 1.0 protocol) for one message.
#[derive(serde::Serialize)]
struct SendMessage<'a> {
    #[serde(rename = "QueueUrl")]
    queue_url: &'a str,
    #[serde(rename = "MessageBody")]
    message_body: &'a str,
}

struct OneSource(Source);

impl SourceStore for OneSource {
    async fn get_source(&self, id: &SourceId) -> Result<Option<Source>, StoreError> {
        Ok((id == &self.0.source_id).then(|| self.0.clone()))
    }
}

/// The queue, the delivery-id table and the bodies bucket, in memory. Each keeps only the last
/// thing it was given, so memory stays flat however many iterations run.
#[derive(Default)]
struct Fakes {
    message: Mutex<String>,
    stored: Mutex<Vec<u8>>,
}

impl EventQueue for &Fakes {
    async fn enqueue(&self, envelope_json: String) -> Result<(), StoreError> {
        let request = serde_json::to_string(&SendMessage {
            queue_url: QUEUE_URL,
            message_body: &envelope_json,
        })
        .map_err(|e| StoreError::new("SendMessage", e.to_string()))?;
        *self.message.lock().expect("lock") = request;
        Ok(())
    }
}

impl DeliveryIds for &Fakes {
    async fn claim(
        &self,
        _key: &str,
        _event_id: &str,
        _now: i64,
        _expires_at: i64,
    ) -> Result<Claim, StoreError> {
        // Every iteration sends the same delivery id; each must be a first delivery.
        Ok(Claim::New)
    }

    async fn confirm(&self, _key: &str, _event_id: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn release(&self, _key: &str, _event_id: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

impl BodyStore for &Fakes {
    async fn put(&self, _key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        // The S3 adapter hands the SDK the owned body; so does this fake.
        *self.stored.lock().expect("lock") = body;
        Ok(())
    }

    async fn get(&self, _key: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.stored.lock().expect("lock").clone())
    }
}

/// A GitHub push payload of exactly `size` bytes: many small commit records.
fn push_body(size: usize) -> String {
    let head = r#"{"ref":"refs/heads/main","repository":{"id":1296269,"full_name":"octocat/Hello-World"},"pusher":{"name":"octocat"},"commits":["#;
    let record = |i: usize| {
        format!(
            r#"{{"id":"{i:040x}","message":"Fix the \"quoted\" bug in module {i}","author":{{"name":"Octo Cat","email":"octo@example.com"}},"added":["src/lib.rs"],"distinct":true}}"#
        )
    };
    let tail_open = r#"],"padding":""#;
    let tail_close = r#""}"#;
    let mut body = head.to_owned();
    let mut i = 0;
    loop {
        let next = record(i);
        let separator = usize::from(i > 0);
        if body.len() + separator + next.len() + tail_open.len() + tail_close.len() > size {
            break;
        }
        if i > 0 {
            body.push(',');
        }
        body.push_str(&next);
        i += 1;
    }
    body.push_str(tail_open);
    let padding = size.saturating_sub(body.len() + tail_close.len());
    body.extend(std::iter::repeat_n('x', padding));
    body.push_str(tail_close);
    assert_eq!(body.len(), size, "the push body is exactly {size} bytes");
    body
}

/// The sample API Gateway v2 event with `body` and its GitHub signature, as JSON text.
fn event_text(body: &str) -> String {
    let mut event: serde_json::Value = serde_json::from_str(SAMPLE_EVENT).expect("sample event");
    event["body"] = body.into();
    event["isBase64Encoded"] = false.into();
    event["pathParameters"]["source"] = SOURCE_ID.into();
    event["rawPath"] = format!("/webhooks/{SOURCE_ID}").into();
    event["requestContext"]["http"]["path"] = format!("/webhooks/{SOURCE_ID}").into();
    let headers = &mut event["headers"];
    headers["x-hub-signature-256"] = github::sign(&Secret::new(SECRET), body.as_bytes()).into();
    headers["content-length"] = body.len().to_string().into();
    serde_json::to_string(&event).expect("serialises")
}

fn raw_hmac_sha256(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn receiver(fakes: &Fakes) -> Receiver<OneSource, &Fakes, &Fakes, &Fakes> {
    let source = Source {
        source_id: SourceId::parse(SOURCE_ID).expect("valid id"),
        provider: Provider::Github,
        secrets: vec![Secret::new(SECRET)],
        tolerance_seconds: None,
        options: Default::default(),
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    Receiver::new(
        OneSource(source),
        fakes,
        fakes,
        fakes,
        Arc::new(FixedClock::at_unix(NOW)),
        Config::default(),
    )
}

/// One invocation as the deployed function runs it: event text in, response text out.
async fn invoke(receiver: &Receiver<OneSource, &Fakes, &Fakes, &Fakes>, event: &str) -> Vec<u8> {
    let event: HttpApiEvent = serde_json::from_str(event).expect("an API Gateway v2 event");
    let response = receiver.handle_event(event).await;
    serde_json::to_vec(&response).expect("the response serialises")
}

/// The `http::Request` lambda_http made of the event, handed back to the receiver as an event:
/// its parts moved, the text body taken as it is, nothing copied. What the receiver did with
/// such a request when it ran behind `lambda_http::run`.
fn from_lambda_http(request: lambda_http::Request) -> HttpApiEvent {
    use lambda_http::RequestExt as _;
    let source = request
        .path_parameters_ref()
        .and_then(|p| p.first("source"))
        .unwrap_or_default()
        .to_owned();
    let (parts, body) = request.into_parts();
    let event = HttpApiEvent::new(
        parts.method.as_str(),
        &source,
        parts.uri.query(),
        parts.headers,
    );
    match body {
        lambda_http::Body::Text(text) => {
            let mut event = event;
            event.body = Some(text);
            event.is_base64_encoded = Some(false);
            event
        }
        lambda_http::Body::Binary(bytes) => event.with_body(bytes),
        other => event.with_body(other.as_ref().to_vec()),
    }
}

/// Checks one run end to end before timing it: accepted, queued, and the body intact (inline, or
/// stored aside when it does not fit a message).
fn check_once(runtime: &tokio::runtime::Runtime, fakes: &Fakes, event: &str, body: &str) {
    let receiver = receiver(fakes);
    let response = runtime.block_on(invoke(&receiver, event));
    let response: serde_json::Value = serde_json::from_slice(&response).expect("JSON");
    assert_eq!(response["statusCode"], 202, "the signed event is accepted");
    let request: serde_json::Value =
        serde_json::from_str(&fakes.message.lock().expect("lock")).expect("JSON");
    assert_eq!(request["QueueUrl"], QUEUE_URL);
    let message = request["MessageBody"].as_str().expect("a message body");
    let envelope = Envelope::decode(message).expect("the queued message is an envelope");
    match &envelope.body {
        EncodedBody::Stored(_) => {
            assert!(body.len() > Config::default().max_message_bytes);
            assert_eq!(*fakes.stored.lock().expect("lock"), body.as_bytes());
        }
        inline => assert_eq!(inline.bytes().expect("inline").as_ref(), body.as_bytes()),
    }
}

fn handler(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("receiver");
    for (label, size) in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        group.sample_size(if size >= 1024 * 1024 { 30 } else { 100 });
        let body = push_body(size);
        let event = event_text(&body);
        let fakes = Fakes::default();
        check_once(&runtime, &fakes, &event, &body);
        let receiver = receiver(&fakes);

        group.bench_function(BenchmarkId::new("handler", label), |b| {
            b.to_async(&runtime)
                .iter(|| async { invoke(&receiver, black_box(&event)).await })
        });
        let via_lambda_http =
            lambda_http::request::from_str(&event).expect("an API Gateway v2 event");
        let answer = runtime.block_on(receiver.handle_event(from_lambda_http(via_lambda_http)));
        assert_eq!(answer.status_code, 202, "accepted through lambda_http too");
        group.bench_function(BenchmarkId::new("handler-lambda-http", label), |b| {
            b.to_async(&runtime).iter(|| async {
                let request = lambda_http::request::from_str(black_box(&event))
                    .expect("an API Gateway v2 event");
                receiver.handle_event(from_lambda_http(request)).await
            })
        });
        group.bench_function(BenchmarkId::new("raw-hmac-sha256", label), |b| {
            b.iter(|| raw_hmac_sha256(black_box(SECRET.as_bytes()), body.as_bytes()))
        });
        group.bench_function(BenchmarkId::new("parse-event", label), |b| {
            b.iter(|| serde_json::from_str::<HttpApiEvent>(black_box(&event)))
        });
        let body_json = serde_json::to_string(&body).expect("serialises");
        group.bench_function(BenchmarkId::new("json-string", label), |b| {
            b.iter(|| {
                let text: String = serde_json::from_str(black_box(&body_json)).expect("a string");
                serde_json::to_string(&text).expect("serialises")
            })
        });
        let envelope = Envelope {
            version: ENVELOPE_VERSION,
            event_id: "evt_0190b7a4c8d97c2e9a1f3b5d7e9f0a1b".to_owned(),
            source_id: SourceId::parse(SOURCE_ID).expect("valid id"),
            provider: Provider::Github,
            event_type: Some("push".to_owned()),
            delivery_id: Some("72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned()),
            received_at: "2023-11-14T22:13:20Z".to_owned(),
            content_type: Some("application/json".to_owned()),
            headers: BTreeMap::from([("x-github-event".to_owned(), "push".to_owned())]),
            body: EncodedBody::Utf8(body.clone()),
        };
        group.bench_function(BenchmarkId::new("encode-envelope", label), |b| {
            b.iter(|| black_box(&envelope).encode())
        });
    }
    group.finish();
}

fn config() -> Criterion {
    // Defaults for a bare `cargo bench`; `make bench` passes shorter times on the command line.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = handler
}
criterion_main!(benches);
