//! Providers' delivery ids in DynamoDB, for duplicate detection: one item per
//! `{source}#{delivery id}`, written with a condition so two receivers can never both queue the
//! same delivery, expiring by TTL.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::sdk_error;
use crate::store::{Claim, DeliveryIds, StoreError};

/// A pending claim older than this is taken over: the receiver that made it has timed out.
pub const STALE_CLAIM_SECONDS: i64 = 60;

/// The delivery-ids table.
#[derive(Debug, Clone)]
pub struct DynamoDeliveryIds {
    client: Client,
    table: String,
}

impl DynamoDeliveryIds {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn is_condition_failure<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

impl DeliveryIds for DynamoDeliveryIds {
    async fn claim(
        &self,
        key: &str,
        event_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Claim, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("delivery_key", s(key))
            .item("event_id", s(event_id))
            .item("state", s("pending"))
            .item("claimed_at", n(now))
            .item("expires_at", n(expires_at))
            .condition_expression(
                "attribute_not_exists(delivery_key) OR (#state = :pending AND claimed_at < :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":stale", n(now - STALE_CLAIM_SECONDS))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::New),
            Err(e) if is_condition_failure(&e) => {
                let existing = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("delivery_key", s(key))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| sdk_error("GetItem", e))?
                    .item
                    .unwrap_or_default();
                let field = |name: &str| existing.get(name).and_then(|v| v.as_s().ok()).cloned();
                match (field("state").as_deref(), field("event_id")) {
                    (Some("queued"), Some(event_id)) => Ok(Claim::Duplicate { event_id }),
                    // Our own claim: the PutItem took effect but its answer was lost, and the
                    // SDK's retry found the item it had written (the chaos run's proxy does this).
                    (Some("pending"), Some(id)) if id == event_id => Ok(Claim::New),
                    _ => Ok(Claim::InFlight),
                }
            }
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    async fn confirm(&self, key: &str, event_id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("delivery_key", s(key))
            .update_expression("SET #state = :queued")
            .condition_expression("event_id = :event")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":queued", s("queued"))
            .expression_attribute_values(":event", s(event_id))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        Ok(())
    }

    async fn release(&self, key: &str, event_id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("delivery_key", s(key))
            .condition_expression("event_id = :event AND #state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":event", s(event_id))
            .expression_attribute_values(":pending", s("pending"))
            .send()
            .await;
        match result {
            // Someone else's claim now: nothing of ours to release.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(sdk_error("DeleteItem", e)),
            Ok(_) => Ok(()),
        }
    }
}
