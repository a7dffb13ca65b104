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

use hookpost_shared::clock::Clock;
use hookpost_shared::intake::{Admitted, Arrival, Intake, IntakeError};
use hookpost_shared::signature::{Handshake, Inbound, VerifyError};
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{BodyStore, DeliveryIds, EventQueue, SourceStore};
use tracing::{info, warn};

pub use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
pub use event::{Headers, HttpApiEvent, InvalidBase64};
/// The receiver's settings are the intake's limits (body size, message size, dedupe window).
pub use hookpost_shared::intake::{
    DEFAULT_DEDUPE_TTL, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_MESSAGE_BYTES, Limits as Config,
    delivery_key,
};
pub use refusal::Refusal;

/// How long a source read from DynamoDB is reused by a warm function.
pub const DEFAULT_SOURCE_CACHE_TTL: Duration = Duration::from_secs(30);

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
    intake: Intake<Q, D, B>,
    clock: Arc<dyn Clock>,
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
            intake: Intake::new(queue, delivery_ids, bodies, Arc::clone(&clock), config),
            clock,
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
        let limit = self.intake.limits().max_body_bytes;
        if body.len() > limit {
            return Err(Refusal::PayloadTooLarge { limit });
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
        if source.provider.is_publish() {
            // Its events come through the API's publish route, signed by IAM; here it is
            // answered exactly like a source that does not exist.
            info!(source = %source_id, "refused: a publish source takes no webhooks");
            return Err(Refusal::UnknownSource);
        }

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
        let mut forwarded = source.provider.forwarded_headers().to_vec();
        if let Some(layout) = &source.options.generic {
            forwarded.extend(layout.event_type_header.as_deref());
            forwarded.extend(layout.delivery_id_header.as_deref());
        }
        let arrival = Arrival {
            source_id,
            provider: source.provider,
            event_type: meta.event_type,
            delivery_id: meta.delivery_id,
            content_type: headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            headers: kept_headers(headers, &forwarded),
            body,
        };
        match self.intake.admit(arrival).await {
            Ok(Admitted::Queued { event_id }) => Ok(Accepted::Queued { event_id, reply }),
            Ok(Admitted::Duplicate { event_id }) => Ok(Accepted::Duplicate { event_id, reply }),
            Err(IntakeError::InFlight) => Err(Refusal::InFlight),
            Err(IntakeError::ClaimUnavailable) => Err(Refusal::Unavailable),
            Err(IntakeError::EnqueueFailed) => Err(Refusal::EnqueueFailed),
        }
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
