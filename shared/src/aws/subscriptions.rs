//! Subscriptions in DynamoDB: keyed by `source_id` (partition) and `subscription_id` (sort), so a
//! source's subscriptions are one `Query`.

use aws_sdk_dynamodb::Client;
use std::time::SystemTime;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{from_item, sdk_error, to_item};
use crate::clock::rfc3339;
use crate::source::SourceId;
use crate::store::{StoreError, SubscriptionStore};
use crate::subscription::Subscription;

/// The subscriptions table.
#[derive(Debug, Clone)]
pub struct DynamoSubscriptions {
    client: Client,
    table: String,
}

impl DynamoSubscriptions {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub async fn put(&self, subscription: &Subscription) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item("PutItem", subscription)?))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// Every subscription of every source.
    pub async fn list_all(&self) -> Result<Vec<Subscription>, StoreError> {
        let items: Vec<_> = self
            .client
            .scan()
            .table_name(&self.table)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk_error("Scan", e))?;
        items.into_iter().map(|i| from_item("Scan", i)).collect()
    }

    /// Finds a subscription by id alone (ids are unique across sources).
    pub async fn find(&self, subscription_id: &str) -> Result<Option<Subscription>, StoreError> {
        Ok(self
            .list_all()
            .await?
            .into_iter()
            .find(|s| s.subscription_id == subscription_id))
    }

    /// Sets a subscription's state; re-enabling clears the recorded reason and the failure streak,
    /// so the subscription gets the full period again before it can be disabled for failing.
    pub async fn set_enabled(
        &self,
        source: &SourceId,
        subscription_id: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("source_id", AttributeValue::S(source.as_str().to_owned()))
            .key(
                "subscription_id",
                AttributeValue::S(subscription_id.to_owned()),
            )
            .condition_expression("attribute_exists(subscription_id)")
            .expression_attribute_values(":enabled", AttributeValue::Bool(enabled));
        update = match (enabled, reason) {
            (false, Some(reason)) => update
                .update_expression(
                    "SET enabled = :enabled, disabled_reason = :reason, disabled_at = :at",
                )
                .expression_attribute_values(":reason", AttributeValue::S(reason.to_owned()))
                .expression_attribute_values(":at", AttributeValue::S(rfc3339(SystemTime::now()))),
            (false, None) => update.update_expression("SET enabled = :enabled"),
            (true, _) => update.update_expression(
                "SET enabled = :enabled REMOVE disabled_reason, disabled_at, failing_since",
            ),
        };
        update
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        Ok(())
    }

    /// Deletes a subscription; `Ok(false)` when there was none.
    pub async fn delete(
        &self,
        source: &SourceId,
        subscription_id: &str,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("source_id", AttributeValue::S(source.as_str().to_owned()))
            .key(
                "subscription_id",
                AttributeValue::S(subscription_id.to_owned()),
            )
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}

impl SubscriptionStore for DynamoSubscriptions {
    async fn subscriptions_for(&self, source: &SourceId) -> Result<Vec<Subscription>, StoreError> {
        let items: Vec<_> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("source_id = :s")
            .expression_attribute_values(":s", AttributeValue::S(source.as_str().to_owned()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        items.into_iter().map(|i| from_item("Query", i)).collect()
    }

    async fn disable(
        &self,
        source: &SourceId,
        subscription_id: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.set_enabled(source, subscription_id, false, Some(reason))
            .await
    }

    async fn record_failure(
        &self,
        source: &SourceId,
        subscription_id: &str,
        now: SystemTime,
    ) -> Result<SystemTime, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("source_id", AttributeValue::S(source.as_str().to_owned()))
            .key(
                "subscription_id",
                AttributeValue::S(subscription_id.to_owned()),
            )
            .update_expression("SET failing_since = if_not_exists(failing_since, :now)")
            // Without it, a subscription deleted meanwhile would come back as a stub item.
            .condition_expression("attribute_exists(subscription_id)")
            .expression_attribute_values(":now", AttributeValue::S(rfc3339(now)))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        let since = out
            .attributes
            .as_ref()
            .and_then(|a| a.get("failing_since"))
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::new("UpdateItem", "no failing_since in the answer"))?;
        humantime::parse_rfc3339_weak(since).map_err(|e| {
            StoreError::new(
                "UpdateItem",
                format!("failing_since `{since}` is unreadable: {e}"),
            )
        })
    }

    async fn clear_failure(
        &self,
        source: &SourceId,
        subscription_id: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("source_id", AttributeValue::S(source.as_str().to_owned()))
            .key(
                "subscription_id",
                AttributeValue::S(subscription_id.to_owned()),
            )
            .update_expression("REMOVE failing_since")
            .condition_expression("attribute_exists(subscription_id)")
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        Ok(())
    }
}
