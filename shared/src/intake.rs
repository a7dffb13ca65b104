//! Intake: how an accepted event becomes durable. Its delivery id (a provider's, or a publisher's
//! `Idempotency-Key`) is claimed so a retry is recognised, the versioned envelope is queued (the
//! body stored aside when it does not fit a message), and the claim is settled by the outcome.
//! The receiver's webhook route and the API's publish route both end here, so both doors keep
//! the same promise: an event is reported accepted only once the queue has it.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tracing::{info, warn};

use crate::clock::{Clock, rfc3339};
use crate::config::{self, ConfigError};
use crate::envelope::{ENVELOPE_VERSION, EncodedBody, Envelope, new_event_id, stored_body_key};
use crate::signature::Provider;
use crate::source::SourceId;
use crate::store::{BodyStore, Claim, DeliveryIds, EventQueue};

/// The largest body accepted by default: what a Lambda invocation can carry (6 MB, request
/// included) with room for headers and base64. Bodies that do not fit a queue message go to S3.
pub const DEFAULT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// SQS's classic message size limit: a larger envelope is sent with its body stored aside.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// How long a delivery id is remembered; Stripe, the most persistent provider, retries for
/// three days.
pub const DEFAULT_DEDUPE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Delivery ids longer than this are stored as their SHA-256, keeping keys small.
pub const MAX_RAW_DELIVERY_ID: usize = 200;

/// The intake's limits, read once at init.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bodies larger than this are refused (413 `payload_too_large`).
    pub max_body_bytes: usize,
    /// Envelopes larger than this are queued with their body stored aside.
    pub max_message_bytes: usize,
    /// How long delivery ids are remembered for duplicate detection.
    pub dedupe_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            dedupe_ttl: DEFAULT_DEDUPE_TTL,
        }
    }
}

impl Limits {
    /// `HOOKPOST_MAX_BODY_BYTES`, `HOOKPOST_MAX_MESSAGE_BYTES`, `HOOKPOST_DEDUPE_TTL_HOURS`.
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

/// An event accepted at a door (verified, or published by an authenticated caller), not yet
/// durable.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub source_id: SourceId,
    pub provider: Provider,
    pub event_type: Option<String>,
    /// The id the sender repeats on a retry; claimed so the retry is a duplicate.
    pub delivery_id: Option<String>,
    pub content_type: Option<String>,
    /// The request headers the envelope keeps, by lower-case name.
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// A durable event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// Queued now as this event.
    Queued { event_id: String },
    /// Queued before as this event: the sender retried.
    Duplicate { event_id: String },
}

/// Why an event did not become durable. Every case is worth a retry by the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// Another request holds the delivery id's claim and has not settled it yet.
    #[error("this delivery is being queued by another request; retry later")]
    InFlight,
    /// The delivery-id table could not be asked.
    #[error("duplicate detection is unavailable; retry later")]
    ClaimUnavailable,
    /// The queue (or the body store) did not take the event.
    #[error("the event could not be queued; retry later")]
    EnqueueFailed,
}

/// What intake needs: where events go, what was seen before, where large bodies are kept.
#[derive(Debug)]
pub struct Intake<Q, D, B> {
    queue: Q,
    delivery_ids: D,
    bodies: B,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

impl<Q, D, B> Intake<Q, D, B>
where
    Q: EventQueue,
    D: DeliveryIds,
    B: BodyStore,
{
    pub fn new(
        queue: Q,
        delivery_ids: D,
        bodies: B,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            queue,
            delivery_ids,
            bodies,
            clock,
            limits,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Makes `arrival` durable: a new event id when it is new, the first one when its delivery
    /// id was seen before.
    pub async fn admit(&self, arrival: Arrival) -> Result<Admitted, IntakeError> {
        let event_id = new_event_id();
        let now = self.clock.now();
        let claim_key = arrival
            .delivery_id
            .as_deref()
            .map(|id| delivery_key(&arrival.source_id, id));
        if let Some(key) = &claim_key {
            let unix = self.clock.unix_seconds();
            let expires_at =
                unix + i64::try_from(self.limits.dedupe_ttl.as_secs()).unwrap_or(i64::MAX / 2);
            let claim = self
                .delivery_ids
                .claim(key, &event_id, unix, expires_at)
                .await
                .map_err(|e| {
                    warn!(source = %arrival.source_id, error = %e, "delivery id claim failed");
                    IntakeError::ClaimUnavailable
                })?;
            match claim {
                Claim::New => {}
                Claim::Duplicate { event_id } => {
                    info!(
                        source = %arrival.source_id,
                        event_id = %event_id,
                        delivery_id = arrival.delivery_id.as_deref().unwrap_or("-"),
                        "duplicate"
                    );
                    return Ok(Admitted::Duplicate { event_id });
                }
                Claim::InFlight => return Err(IntakeError::InFlight),
            }
        }

        let envelope = Envelope {
            version: ENVELOPE_VERSION,
            event_id: event_id.clone(),
            source_id: arrival.source_id,
            provider: arrival.provider,
            event_type: arrival.event_type,
            delivery_id: arrival.delivery_id,
            received_at: rfc3339(now),
            content_type: arrival.content_type,
            headers: arrival.headers,
            body: EncodedBody::from_bytes(arrival.body),
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
                // the claim goes stale by itself and the sender's retry takes it over.
                warn!(event_id = %event_id, error = %e, "settling the delivery id claim failed");
            }
        }
        result.map(|()| Admitted::Queued { event_id })
    }

    /// Queues the envelope, storing its body aside first when it does not fit a message.
    async fn queue_envelope(&self, mut envelope: Envelope) -> Result<(), IntakeError> {
        let event_id = envelope.event_id.clone();
        // A body at or over the message limit can never fit: store it without encoding it inline
        // first. A smaller one is encoded, and stored only if the whole envelope turns out too big.
        let mut message = None;
        if envelope.body.inline_len() < self.limits.max_message_bytes {
            let encoded = envelope.encode();
            if encoded.len() <= self.limits.max_message_bytes {
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
                    IntakeError::EnqueueFailed
                })?;
                if let Err(e) = self.bodies.put(&key, bytes).await {
                    warn!(event_id = %event_id, error = %e, "storing the body failed");
                    return Err(IntakeError::EnqueueFailed);
                }
                envelope.encode()
            }
        };
        // The source is the message group: in ordered mode, each source's events keep their order.
        let group = envelope.source_id.as_str();
        if let Err(e) = self.queue.enqueue_in_group(message, group, &event_id).await {
            warn!(source = %envelope.source_id, event_id = %event_id, error = %e, "enqueue failed");
            return Err(IntakeError::EnqueueFailed);
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

/// The key a delivery id is remembered under: per source, hashed when long.
pub fn delivery_key(source: &SourceId, delivery_id: &str) -> String {
    if delivery_id.len() <= MAX_RAW_DELIVERY_ID {
        format!("{source}#{delivery_id}")
    } else {
        let hex: String = Sha256::digest(delivery_id.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{source}#sha256:{hex}")
    }
}
