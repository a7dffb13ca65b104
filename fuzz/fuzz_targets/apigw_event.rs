//! The API Gateway event path: an HTTP API (payload 2.0) event as JSON text →
//! `lambda_http::request::from_str` → the receiver's handler with in-memory ports. Never panics,
//! a refusal queues nothing, and an accepted event is queued once with the exact body.
//!
//! lambda_http panics, before any Hookpost code runs, on two kinds of event that API Gateway
//! never sends: `isBase64Encoded` with a body that is not base64, and a host or path that make
//! no URL. Those are skipped here (`lambda_http_refuses`); in Lambda the runtime catches the
//! panic and API Gateway answers 500. See docs/reliability.md.

#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hookpost_fuzz::{NOW, PUBLIC_URL, options, secrets};
use hookpost_receiver::{Config, Receiver};
use hookpost_shared::clock::FixedClock;
use hookpost_shared::envelope::{EncodedBody, Envelope};
use hookpost_shared::signature::{Provider, SchemeOptions};
use hookpost_shared::source::{Source, SourceId};
use hookpost_shared::store::{BodyStore, Claim, DeliveryIds, EventQueue, SourceStore, StoreError};
use lambda_http::Body;
use libfuzzer_sys::fuzz_target;

/// 9999-12-31T23:59:59Z.
const LAST_SECOND_OF_9999: u64 = 253_402_300_799;

/// The sources the fake table holds: the id is the provider's name.
struct Sources(HashMap<String, Source>);

impl Sources {
    fn new() -> Self {
        Self(
            Provider::ALL
                .iter()
                .map(|&provider| {
                    let options = match provider {
                        Provider::GenericHmac => options(0b0110_0101),
                        Provider::Twilio | Provider::Square => SchemeOptions {
                            public_url: Some(PUBLIC_URL.to_owned()),
                            ..SchemeOptions::default()
                        },
                        _ => SchemeOptions::default(),
                    };
                    let source = Source {
                        source_id: SourceId::parse(provider.name()).expect("a valid id"),
                        provider,
                        secrets: secrets(provider),
                        tolerance_seconds: None,
                        options,
                        created_at: "2023-11-14T22:13:20Z".to_owned(),
                    };
                    (provider.name().to_owned(), source)
                })
                .collect(),
        )
    }
}

impl SourceStore for Sources {
    async fn get_source(&self, id: &SourceId) -> Result<Option<Source>, StoreError> {
        Ok(self.0.get(id.as_str()).cloned())
    }
}

/// The queue, the delivery-id table and the bodies bucket, in memory.
#[derive(Default)]
struct Aws {
    queued: Mutex<Vec<String>>,
    /// delivery key → (event id, queued)
    ids: Mutex<HashMap<String, (String, bool)>>,
    bodies: Mutex<HashMap<String, Vec<u8>>>,
}

impl EventQueue for &Aws {
    async fn enqueue(&self, envelope_json: String) -> Result<(), StoreError> {
        self.queued.lock().expect("lock").push(envelope_json);
        Ok(())
    }
}

impl DeliveryIds for &Aws {
    async fn claim(&self, key: &str, event_id: &str, _: i64, _: i64) -> Result<Claim, StoreError> {
        let mut ids = self.ids.lock().expect("lock");
        Ok(match ids.get(key) {
            Some((id, true)) => Claim::Duplicate {
                event_id: id.clone(),
            },
            Some((_, false)) => Claim::InFlight,
            None => {
                ids.insert(key.to_owned(), (event_id.to_owned(), false));
                Claim::New
            }
        })
    }

    async fn confirm(&self, key: &str, event_id: &str) -> Result<(), StoreError> {
        let mut ids = self.ids.lock().expect("lock");
        ids.insert(key.to_owned(), (event_id.to_owned(), true));
        Ok(())
    }

    async fn release(&self, key: &str, _: &str) -> Result<(), StoreError> {
        self.ids.lock().expect("lock").remove(key);
        Ok(())
    }
}

impl BodyStore for &Aws {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let mut bodies = self.bodies.lock().expect("lock");
        bodies.insert(key.to_owned(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let bodies = self.bodies.lock().expect("lock");
        bodies
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::new("GetObject", "NoSuchKey"))
    }
}

/// Whether lambda_http would panic converting this event (see the module comment): the same
/// steps as its `into_api_gateway_v2_request`, without the `unwrap`s.
fn lambda_http_refuses(text: &str) -> bool {
    let Ok(event) = serde_json::from_str::<ApiGatewayV2httpRequest>(text) else {
        // from_str answers these with an error, which is checked below.
        return false;
    };
    if event.is_base64_encoded
        && event
            .body
            .as_deref()
            .is_some_and(|b| BASE64.decode(b).is_err())
    {
        return true;
    }
    let host = event
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(event.request_context.domain_name.as_deref());
    let raw_path = event.raw_path.clone().unwrap_or_default();
    let path = match event.request_context.stage.as_deref() {
        None | Some("$default") => raw_path,
        Some(stage) if raw_path.starts_with(&format!("/{stage}/")) => raw_path,
        Some(stage) => format!("/{stage}{raw_path}"),
    };
    let mut uri = match host {
        None => match url::Url::parse(&format!("http://localhost{path}")) {
            Ok(url) => url.path().to_owned(),
            Err(_) => return true,
        },
        Some(host) => {
            let scheme = event
                .headers
                .get("x-forwarded-proto")
                .and_then(|s| s.to_str().ok())
                .unwrap_or("https");
            match url::Url::parse(&format!("{scheme}://{host}{path}")) {
                Ok(url) => url.to_string(),
                Err(_) => return true,
            }
        }
    };
    if let Some(query) = event.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    uri.parse::<http::Uri>().is_err()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if lambda_http_refuses(text) {
        return;
    }
    let Ok(request) = lambda_http::request::from_str(text) else {
        return;
    };
    let sent: Vec<u8> = request.body().as_ref().to_vec();
    // The receiver's clock is the event's own time, so seeds signed at any time verify. A real
    // clock reads before the year 10000 (what RFC 3339 timestamps can say).
    let now = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|event| event["requestContext"]["timeEpoch"].as_u64())
        .map_or(NOW.unsigned_abs(), |millis| millis / 1000)
        .min(LAST_SECOND_OF_9999);

    let aws = Aws::default();
    let receiver = Receiver::new(
        Sources::new(),
        &aws,
        &aws,
        &aws,
        Arc::new(FixedClock::at_unix(now)),
        Config {
            // Small, so the claim check (body stored aside) is exercised too.
            max_message_bytes: 2048,
            max_body_bytes: 64 * 1024,
            ..Config::default()
        },
    );
    let response = futures_executor::block_on(receiver.handle(request));
    let status = response.status().as_u16();
    let queued = aws.queued.lock().expect("lock").clone();

    match status {
        202 => {
            assert_eq!(queued.len(), 1, "an accepted event is queued once");
            let envelope = Envelope::decode(&queued[0]).expect("a queued envelope decodes");
            let body = match &envelope.body {
                EncodedBody::Stored(key) => aws.bodies.lock().expect("lock")[key].clone(),
                inline => inline.bytes().expect("an inline body decodes").into_owned(),
            };
            assert_eq!(body, sent, "the exact body is queued");
        }
        200 => assert!(
            queued.len() <= 1,
            "a handshake or duplicate queues at most once"
        ),
        400 | 401 | 404 | 405 | 409 | 413 | 500 | 503 => {
            assert!(queued.is_empty(), "a refusal ({status}) queues nothing");
            assert!(aws.bodies.lock().expect("lock").is_empty());
            let json: serde_json::Value = match response.body() {
                Body::Text(t) => serde_json::from_str(t).expect("a refusal is JSON"),
                other => serde_json::from_slice(other.as_ref()).expect("a refusal is JSON"),
            };
            assert!(json["error"]["code"].is_string(), "{json}");
        }
        other => panic!("unexpected status {other}"),
    }
});
