//! Publishing: a backend hands Hookpost an event for a `publish` source, and it is made durable
//! exactly as the receiver makes a verified webhook durable (the same intake: claim, queue,
//! settle), then delivered to that source's subscriptions. The caller was authenticated before
//! this runs (IAM, for the API); a source that verifies a provider's signatures takes no
//! published events, and a publish source takes no webhooks.

use std::collections::BTreeMap;
use std::sync::Arc;

use hookpost_shared::aws::{DynamoDeliveryIds, S3Bodies};
use hookpost_shared::clock::SystemClock;
use hookpost_shared::intake::{Admitted, Arrival, Intake, IntakeError, MAX_RAW_DELIVERY_ID};
use hookpost_shared::signature::Provider;
use hookpost_shared::source::SourceId;
use hookpost_shared::store::StoreError;
use serde::Serialize;

use crate::{OpError, Operations};

/// The longest event type a publisher may set.
pub const MAX_EVENT_TYPE: usize = 200;

/// One event to publish.
#[derive(Debug, Clone, Default)]
pub struct Publication {
    /// The type subscriptions filter on, e.g. `invoice.paid`.
    pub event_type: Option<String>,
    /// The publisher's key for this event: publishing again with the same key within the dedupe
    /// window returns the first event instead of queueing another.
    pub idempotency_key: Option<String>,
    /// Kept and sent to subscribers with the payload.
    pub content_type: Option<String>,
    /// The payload, as is.
    pub body: Vec<u8>,
}

/// A published event: its id, and whether it had been published before under the same key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Published {
    pub event_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

impl Operations {
    /// Queues `publication` for the subscriptions of the publish source `source`; answers only
    /// once the queue has it (or had it, for a repeated key).
    pub async fn publish(
        &self,
        source: &SourceId,
        publication: Publication,
    ) -> Result<Published, OpError> {
        check(&publication, self.limits().max_body_bytes)?;
        let found = self.source(source).await?;
        if !found.provider.is_publish() {
            return Err(OpError::Conflict(format!(
                "source {source} verifies {} signatures: its events arrive at POST \
                 /webhooks/{source}. Publish to a source created with provider `publish`",
                found.provider
            )));
        }
        let arrival = Arrival {
            source_id: found.source_id,
            provider: Provider::Publish,
            event_type: publication.event_type,
            delivery_id: publication.idempotency_key,
            content_type: publication.content_type,
            headers: BTreeMap::new(),
            body: publication.body,
        };
        match self.intake().admit(arrival).await {
            Ok(Admitted::Queued { event_id }) => Ok(Published {
                event_id,
                duplicate: false,
            }),
            Ok(Admitted::Duplicate { event_id }) => Ok(Published {
                event_id,
                duplicate: true,
            }),
            Err(IntakeError::InFlight) => Err(OpError::Conflict(
                "an event with this Idempotency-Key is being queued by another request; retry \
                 later"
                    .to_owned(),
            )),
            Err(e @ (IntakeError::ClaimUnavailable | IntakeError::EnqueueFailed)) => Err(
                OpError::Unavailable(StoreError::new("publishing an event", e.to_string())),
            ),
        }
    }

    fn intake(&self) -> Intake<hookpost_shared::aws::SqsQueue, DynamoDeliveryIds, S3Bodies> {
        Intake::new(
            self.ingest_queue(),
            DynamoDeliveryIds::new(self.dynamo.clone(), &self.names.delivery_ids_table),
            S3Bodies::new(self.s3.clone(), &self.names.bodies_bucket),
            Arc::new(SystemClock),
            self.limits().clone(),
        )
    }
}

/// What a publication must be before anything is claimed or queued.
fn check(publication: &Publication, max_body_bytes: usize) -> Result<(), OpError> {
    if publication.body.is_empty() {
        return Err(OpError::invalid(
            "body",
            "is empty: the request body is the event's payload",
        ));
    }
    if publication.body.len() > max_body_bytes {
        return Err(OpError::invalid(
            "body",
            format!(
                "is {} bytes, over the {max_body_bytes}-byte limit",
                publication.body.len()
            ),
        ));
    }
    if let Some(event_type) = &publication.event_type {
        text("Event-Type", event_type, MAX_EVENT_TYPE)?;
    }
    if let Some(key) = &publication.idempotency_key {
        text("Idempotency-Key", key, MAX_RAW_DELIVERY_ID)?;
    }
    Ok(())
}

/// A header-borne name: 1 to `max` characters of visible ASCII and inner spaces.
fn text(field: &str, value: &str, max: usize) -> Result<(), OpError> {
    if value.trim().is_empty() {
        return Err(OpError::invalid(
            field,
            "cannot be empty; leave it out instead",
        ));
    }
    if value.len() > max {
        return Err(OpError::invalid(
            field,
            format!("is {} characters; at most {max}", value.len()),
        ));
    }
    if value.trim() != value || value.chars().any(|c| !(c == ' ' || c.is_ascii_graphic())) {
        return Err(OpError::invalid(
            field,
            "must be visible ASCII, with spaces only between words",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publication(body: &[u8]) -> Publication {
        Publication {
            body: body.to_vec(),
            ..Publication::default()
        }
    }

    fn field(result: Result<(), OpError>) -> String {
        match result {
            Err(OpError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_or_oversized_body_is_refused_naming_the_body() {
        assert_eq!(field(check(&publication(b""), 10)), "body");
        assert_eq!(field(check(&publication(&[b'x'; 11]), 10)), "body");
        assert!(check(&publication(&[b'x'; 10]), 10).is_ok());
    }

    #[test]
    fn idempotency_keys_and_event_types_are_bounded_visible_text() {
        let with_key = |key: &str| Publication {
            idempotency_key: Some(key.to_owned()),
            ..publication(b"{}")
        };
        assert!(check(&with_key(&"k".repeat(200)), 100).is_ok());
        assert_eq!(
            field(check(&with_key(&"k".repeat(201)), 100)),
            "Idempotency-Key"
        );
        assert_eq!(field(check(&with_key(""), 100)), "Idempotency-Key");
        assert_eq!(field(check(&with_key("a\u{7}b"), 100)), "Idempotency-Key");
        assert_eq!(field(check(&with_key("é"), 100)), "Idempotency-Key");
        let with_type = |t: &str| Publication {
            event_type: Some(t.to_owned()),
            ..publication(b"{}")
        };
        assert!(check(&with_type("invoice.paid"), 100).is_ok());
        assert!(check(&with_type("Push Hook"), 100).is_ok());
        assert_eq!(field(check(&with_type(" padded"), 100)), "Event-Type");
        assert_eq!(
            field(check(&with_type(&"t".repeat(201)), 100)),
            "Event-Type"
        );
    }

    #[test]
    fn a_first_publication_serializes_without_the_duplicate_flag() {
        let first = Published {
            event_id: "evt_1".into(),
            duplicate: false,
        };
        assert_eq!(
            serde_json::to_value(&first).expect("json"),
            serde_json::json!({"event_id": "evt_1"})
        );
        let again = Published {
            duplicate: true,
            ..first
        };
        assert_eq!(
            serde_json::to_value(&again).expect("json"),
            serde_json::json!({"event_id": "evt_1", "duplicate": true})
        );
    }
}
