//! The receiver: `POST /webhooks/{source}` → look up the source → verify the provider's signature
//! on the exact raw body → queue a versioned envelope → `202 {"event_id": …}`.
//!
//! It never answers 2xx for an event it did not durably queue: any failure to queue is a 503 with
//! `Retry-After`, so the provider tries again.

mod event;
mod refusal;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hookpost_shared::clock::{Clock, rfc3339};
use hookpost_shared::config::{self, ConfigError};
use hookpost_shared::envelope::{
    ENVELOPE_VERSION, EncodedBody, Envelope, new_event_id, stored_body_key,
};
use hookpost_shared::signature::{Handshake, Inbound, VerifyError};
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{BodyStore, Claim, DeliveryIds, EventQueue, SourceStore};
use sha2::{Digest as _, Sha256};
use tracing::{info, warn};

pub use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
pub use event::{Headers, HttpApiEvent, InvalidBase64};
pub use refusal::Refusal;

/// The largest body accepted by default: what a Lambda invocation can carry (6 MB, request
/// included) with room for headers and base64. Bodies that do not fit a queue message go to S3.
pub const DEFAULT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// SQS's classic message size limit: a larger envelope is sent with its body stored aside.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// How long a provider's delivery id is remembered; Stripe, the most persistent, retries for
/// three days.
pub const DEFAULT_DEDUPE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a source read from DynamoDB is reused by a warm function.
pub const DEFAULT_SOURCE_CACHE_TTL: Duration = Duration::from_secs(30);
/// Delivery ids longer than this are stored as their SHA-256, keeping keys small.
const MAX_RAW_DELIVERY_ID: usize = 200;

/// The receiver's settings, read once at init.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bodies larger than this get 413 `payload_too_large`.
    pub max_body_bytes: usize,
    /// Envelopes larger than this are queued with their body stored aside.
    pub max_message_bytes: usize,
    /// How long delivery ids are remembered for duplicate detection.
    pub dedupe_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            dedupe_ttl: DEFAULT_DEDUPE_TTL,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            max_body_bytes: config::optional("HOOKPOST_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?,
            max_message_bytes: config::optional(
                "HOOKPOST_MAX_MESSAGE_BYTES",
                DEFAULT_MAX_MESSAGE_BYTES,
            )?,
            dedupe_ttl: Duration::from_secs(
                config::optional::<u64>("HOOKPOST_DEDUPE_TTL_HOURS", 7 * 24)?.saturating_mul(3600),
            ),
        })
    }
}

/// What the receiver answers with when it accepts a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Accepted {
    /// Queued as this event; `reply` is what the provider must be told instead of the event id.
    Queued {
        event_id: String,
        reply: Option<Handshake>,
    },
    /// Already queued as this event: the provider redelivered it.
    Duplicate {
        event_id: String,
        reply: Option<Handshake>,
    },
    /// A provider handshake, answered and not queued.
    Handshake {
        content_type: &'static str,
        body: String,
    },
}

/// What the receiver needs: where sources are, where events go, what was seen before, where large
/// bodies are kept, what time it is.
#[derive(Debug)]
pub struct Receiver<S, Q, D, B> {
    sources: S,
    queue: Q,
    delivery_ids: D,
    bodies: B,
    clock: Arc<dyn Clock>,
    config: Config,
}

impl<S, Q, D, B> Receiver<S, Q, D, B>
where
    S: SourceStore,
    Q: EventQueue,
    D: DeliveryIds,
    B: BodyStore,
{
    pub fn new(
        sources: S,
        queue: Q,
        delivery_ids: D,
        bodies: B,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Self {
        Self {
            sources,
            queue,
            delivery_ids,
            bodies,
            clock,
            config,
        }
    }

    /// Handles one API Gateway HTTP API invocation: what the deployed function runs.
    pub async fn handle_event(&self, mut event: HttpApiEvent) -> ApiGatewayV2httpResponse {
        let result = match source_of(event.method(), event.source()) {
            Err(refusal) => Err(refusal),
            Ok(source_id) => match (event.take_body(), event.headers.take()) {
                (Err(e), _) => Err(Refusal::Malformed(e.to_string())),
                (Ok(_), Some(headers)) if headers.is_malformed() => Err(Refusal::Malformed(
                    "a header name or value is not valid HTTP".to_owned(),
                )),
                (Ok(body), headers) => {
                    let headers = headers.map(Headers::into_map).unwrap_or_default();
                    self.accept(source_id, &headers, event.query(), body).await
                }
            },
        };
        respond(result)
    }

    async fn accept(
        &self,
        source_id: SourceId,
        headers: &http::HeaderMap,
        query: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Accepted, Refusal> {
        if body.len() > self.config.max_body_bytes {
            return Err(Refusal::PayloadTooLarge {
                limit: self.config.max_body_bytes,
            });
        }

        let source = self
            .sources
            .get_source(&source_id)
            .await
            .map_err(|e| {
                warn!(source = %source_id, error = %e, "source lookup failed");
                Refusal::Unavailable
            })?
            .ok_or(Refusal::UnknownSource)?;

        let inbound = Inbound {
            headers,
            body: &body,
            query,
        };
        let check = source.check(self.clock.unix_seconds());
        if let Err(e) = source.provider.verify(&check, &inbound) {
            let meta = source.provider.describe(&check, &inbound);
            warn!(
                source = %source_id,
                provider = %source.provider,
                delivery_id = meta.delivery_id.as_deref().unwrap_or("-"),
                code = e.code(),
                reason = %e,
                "refused"
            );
            return Err(match e {
                VerifyError::Unconfigured(_) => Refusal::Misconfigured,
                e => Refusal::Verification(e),
            });
        }
        if let Some(handshake) = source.provider.handshake(&check, &inbound) {
            info!(source = %source_id, provider = %source.provider, "handshake answered");
            return Ok(Accepted::Handshake {
                content_type: handshake.content_type,
                body: handshake.body,
            });
        }

        let meta = source.provider.describe(&check, &inbound);
        let reply = source.provider.queued_reply(&inbound);
        let event_id = new_event_id();
        let now = self.clock.now();
        let claim_key = meta
            .delivery_id
            .as_deref()
            .map(|id| delivery_key(&source_id, id));
        if let Some(key) = &claim_key {
            let expires_at = self.clock.unix_seconds()
                + i64::try_from(self.config.dedupe_ttl.as_secs()).unwrap_or(i64::MAX / 2);
            let claim = self
                .delivery_ids
                .claim(key, &event_id, self.clock.unix_seconds(), expires_at)
                .await
                .map_err(|e| {
                    warn!(source = %source_id, error = %e, "delivery id claim failed");
                    Refusal::Unavailable
                })?;
            match claim {
                Claim::New => {}
                Claim::Duplicate { event_id } => {
                    info!(
                        source = %source_id,
                        event_id = %event_id,
                        delivery_id = meta.delivery_id.as_deref().unwrap_or("-"),
                        "duplicate"
                    );
                    return Ok(Accepted::Duplicate { event_id, reply });
                }
                Claim::InFlight => return Err(Refusal::InFlight),
            }
        }

        let mut forwarded = source.provider.forwarded_headers().to_vec();
        if let Some(layout) = &source.options.generic {
            forwarded.extend(layout.event_type_header.as_deref());
            forwarded.extend(layout.delivery_id_header.as_deref());
        }
        let kept = kept_headers(headers, &forwarded);
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let envelope = Envelope {
            version: ENVELOPE_VERSION,
            event_id: event_id.clone(),
            source_id,
            provider: source.provider,
            event_type: meta.event_type,
            delivery_id: meta.delivery_id,
            received_at: rfc3339(now),
            content_type,
            headers: kept,
            body: EncodedBody::from_bytes(body),
        };
        let result = self.queue_envelope(envelope).await;
        if let Some(key) = &claim_key {
            let settled = match &result {
                Ok(()) => self.delivery_ids.confirm(key, &event_id).await,
                Err(_) => self.delivery_ids.release(key, &event_id).await,
            };
            if let Err(e) = settled {
                // Confirm failed: a redelivery within the stale window is refused as in flight,
                // after it the event is queued again (at least once, never lost). Release failed:
                // the claim goes stale by itself and the provider's retry takes it over.
                warn!(event_id = %event_id, error = %e, "settling the delivery id claim failed");
            }
        }
        result.map(|()| Accepted::Queued { event_id, reply })
    }

    /// Queues the envelope, storing its body aside first when it does not fit a message.
    async fn queue_envelope(&self, mut envelope: Envelope) -> Result<(), Refusal> {
        let event_id = envelope.event_id.clone();
        // A body at or over the message limit can never fit: store it without encoding it inline
        // first. A smaller one is encoded, and stored only if the whole envelope turns out too big.
        let mut message = None;
        if envelope.body.inline_len() < self.config.max_message_bytes {
            let encoded = envelope.encode();
            if encoded.len() <= self.config.max_message_bytes {
                message = Some(encoded);
            }
        }
        let message = match message {
            Some(message) => message,
            None => {
                let key = stored_body_key(&envelope.source_id, &event_id);
                let body = std::mem::replace(&mut envelope.body, EncodedBody::Stored(key.clone()));
                let bytes = body.into_bytes().map_err(|e| {
                    warn!(event_id = %event_id, error = %e, "the body cannot be stored");
                    Refusal::EnqueueFailed
                })?;
                if let Err(e) = self.bodies.put(&key, bytes).await {
                    warn!(event_id = %event_id, error = %e, "storing the body failed");
                    return Err(Refusal::EnqueueFailed);
                }
                envelope.encode()
            }
        };
        // The source is the message group: in ordered mode, each source's events keep their order.
        let group = envelope.source_id.as_str();
        if let Err(e) = self.queue.enqueue_in_group(message, group, &event_id).await {
            warn!(source = %envelope.source_id, event_id = %event_id, error = %e, "enqueue failed");
            return Err(Refusal::EnqueueFailed);
        }
        info!(
            source = %envelope.source_id,
            event_id = %event_id,
            delivery_id = envelope.delivery_id.as_deref().unwrap_or("-"),
            event_type = envelope.event_type.as_deref().unwrap_or("-"),
            stored_body = matches!(envelope.body, EncodedBody::Stored(_)),
            "accepted"
        );
        Ok(())
    }
}

/// The method and source checks every request passes first: 405, then 404.
fn source_of(method: Option<&str>, raw_id: Option<&str>) -> Result<SourceId, Refusal> {
    if method != Some("POST") {
        return Err(Refusal::MethodNotAllowed);
    }
    // An id that cannot exist is answered exactly like one that does not.
    SourceId::parse(raw_id.unwrap_or_default()).map_err(|_| Refusal::UnknownSource)
}

/// The answer to an accepted or refused request, as API Gateway expects it back.
fn respond(result: Result<Accepted, Refusal>) -> ApiGatewayV2httpResponse {
    match result {
        Ok(
            Accepted::Queued {
                event_id,
                reply: Some(reply),
            }
            | Accepted::Duplicate {
                event_id,
                reply: Some(reply),
            },
        ) => {
            let mut response = text_response(reply.content_type, reply.body);
            if let Ok(value) = http::HeaderValue::from_str(&event_id) {
                response.headers.insert(EVENT_ID_HEADER, value);
            }
            response
        }
        Ok(Accepted::Queued {
            event_id,
            reply: None,
        }) => refusal::json_response(
            http::StatusCode::ACCEPTED,
            &serde_json::json!({ "event_id": event_id }),
        ),
        Ok(Accepted::Duplicate {
            event_id,
            reply: None,
        }) => refusal::json_response(
            http::StatusCode::OK,
            &serde_json::json!({ "duplicate": true, "event_id": event_id }),
        ),
        Ok(Accepted::Handshake { content_type, body }) => text_response(content_type, body),
        Err(refusal) => refusal.into_response(),
    }
}

/// The header that carries the event id when the body is a provider-specific reply.
pub const EVENT_ID_HEADER: &str = "hookpost-event-id";

/// A provider-specific reply or handshake answer: 200 with the provider's content type.
fn text_response(content_type: &'static str, body: String) -> ApiGatewayV2httpResponse {
    refusal::text_response(http::StatusCode::OK, content_type, body)
}

/// The key a provider delivery id is remembered under: per source, hashed when long.
pub fn delivery_key(source: &SourceId, delivery_id: &str) -> String {
    if delivery_id.len() <= MAX_RAW_DELIVERY_ID {
        format!("{source}#{delivery_id}")
    } else {
        format!("{source}#sha256:{}", hex_sha256(delivery_id.as_bytes()))
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The request headers the envelope keeps, by lower-case name.
fn kept_headers(headers: &http::HeaderMap, names: &[&str]) -> BTreeMap<String, String> {
    names
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
