//! The API Gateway event path, as the deployed function runs it: an HTTP API (payload 2.0) event
//! as JSON text → `HttpApiEvent` → `Receiver::handle_event` with in-memory ports. Never panics, a
//! refusal queues nothing, and an accepted event is queued once with the exact body.
//!
//! (Before the receiver read events itself, lambda_http panicked on two kinds of event API
//! Gateway never sends — `isBase64Encoded` with a body that is not base64, and a host or path
//! that make no URL — and this target had to skip them. Both are now plain refusals or unused.)

#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hookpost_fuzz::{NOW, PUBLIC_URL, options, secrets};
use hookpost_receiver::{Config, HttpApiEvent, Receiver};
use hookpost_shared::clock::FixedClock;
use hookpost_shared::envelope::{EncodedBody, Envelope};
use hookpost_shared::signature::{Provider, SchemeOptions};
use hookpost_shared::source::{Source, SourceId};
use hookpost_shared::store::{BodyStore, Claim, DeliveryIds, EventQueue, SourceStore, StoreError};
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

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(event) = serde_json::from_str::<HttpApiEvent>(text) else {
        // The runtime reports an event that is not JSON of this shape as an invocation error.
        return;
    };
    // What the body decodes to, read from a second copy of the event (the handler takes its own).
    let sent: Vec<u8> = serde_json::from_str::<HttpApiEvent>(text)
        .expect("parsed once already")
        .take_body()
        .unwrap_or_default();
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
    let response = futures_executor::block_on(receiver.handle_event(event));
    let status = u16::try_from(response.status_code).expect("an HTTP status");
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
            let body = response.body.as_ref().expect("a refusal has a body");
            let json: serde_json::Value =
                serde_json::from_slice(body.as_ref()).expect("a refusal is JSON");
            assert!(json["error"]["code"].is_string(), "{json}");
        }
        other => panic!("unexpected status {other}"),
    }
});
