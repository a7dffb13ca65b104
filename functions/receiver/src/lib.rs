//! The receiver: `POST /webhooks/{source}` → look up the source → verify the provider's signature
//! on the exact raw body → queue a versioned envelope → `202 {"event_id": …}`.
//!
//! It never answers 2xx for an event it did not durably queue: any failure to queue is a 503 with
//! `Retry-After`, so the provider tries again.

mod refusal;

use std::collections::BTreeMap;
use std::sync::Arc;

use hookpost_shared::clock::{Clock, rfc3339};
use hookpost_shared::config::{self, ConfigError};
use hookpost_shared::envelope::{ENVELOPE_VERSION, EncodedBody, Envelope, new_event_id};
use hookpost_shared::signature::{Inbound, VerifyError};
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{EventQueue, SourceStore};
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::{info, warn};

pub use refusal::Refusal;

/// The largest body accepted by default: the size of one SQS message.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// SQS's classic message size limit, which the whole envelope must fit.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The receiver's settings, read once at init.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bodies larger than this get 413 `payload_too_large`.
    pub max_body_bytes: usize,
    /// Envelopes larger than this cannot be queued (413 until large bodies go to S3).
    pub max_message_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
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
        })
    }
}

/// What the receiver needs: where sources are, where events go, what time it is.
#[derive(Debug)]
pub struct Receiver<S, Q> {
    sources: S,
    queue: Q,
    clock: Arc<dyn Clock>,
    config: Config,
}

impl<S: SourceStore, Q: EventQueue> Receiver<S, Q> {
    pub fn new(sources: S, queue: Q, clock: Arc<dyn Clock>, config: Config) -> Self {
        Self {
            sources,
            queue,
            clock,
            config,
        }
    }

    /// Handles one API Gateway request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.accept(request).await {
            Ok(event_id) => refusal::json_response(
                http::StatusCode::ACCEPTED,
                &serde_json::json!({ "event_id": event_id }),
            ),
            Err(refusal) => refusal.into_response(),
        }
    }

    async fn accept(&self, request: Request) -> Result<String, Refusal> {
        if request.method() != http::Method::POST {
            return Err(Refusal::MethodNotAllowed);
        }
        let raw_id = request
            .path_parameters_ref()
            .and_then(|p| p.first("source"))
            .unwrap_or_default();
        // An id that cannot exist is answered exactly like one that does not.
        let source_id = SourceId::parse(raw_id).map_err(|_| Refusal::UnknownSource)?;

        let (parts, body) = request.into_parts();
        let body = match body {
            Body::Empty => Vec::new(),
            Body::Text(text) => text.into_bytes(),
            Body::Binary(bytes) => bytes,
            other => other.as_ref().to_vec(),
        };
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
            headers: &parts.headers,
            body: &body,
        };
        let policy = source.time_policy(self.clock.unix_seconds());
        if let Err(e) = source.provider.verify(&source.secrets, &inbound, &policy) {
            let meta = source.provider.describe(&inbound);
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

        let meta = source.provider.describe(&inbound);
        let headers = kept_headers(&parts.headers, source.provider.forwarded_headers());
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let envelope = Envelope {
            version: ENVELOPE_VERSION,
            event_id: new_event_id(),
            source_id,
            provider: source.provider,
            event_type: meta.event_type,
            delivery_id: meta.delivery_id,
            received_at: rfc3339(self.clock.now()),
            content_type,
            headers,
            body: EncodedBody::from_bytes(body),
        };
        let message = envelope.encode();
        if message.len() > self.config.max_message_bytes {
            return Err(Refusal::PayloadTooLarge {
                limit: self.config.max_message_bytes,
            });
        }
        if let Err(e) = self.queue.enqueue(message).await {
            warn!(source = %envelope.source_id, event_id = %envelope.event_id, error = %e, "enqueue failed");
            return Err(Refusal::EnqueueFailed);
        }
        info!(
            source = %envelope.source_id,
            event_id = %envelope.event_id,
            delivery_id = envelope.delivery_id.as_deref().unwrap_or("-"),
            event_type = envelope.event_type.as_deref().unwrap_or("-"),
            "accepted"
        );
        Ok(envelope.event_id)
    }
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
