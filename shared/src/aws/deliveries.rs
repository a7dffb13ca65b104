//! Delivery records in DynamoDB: one item per (event, subscription) with the latest state and the
//! full attempt history, expiring after the retention period (the table's TTL on `expires_at`).

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{from_item, sdk_error};
use crate::delivery::AttemptOutcome;
use crate::store::{AttemptRecord, DeliveryLog, StoreError};

/// Set with `status` on a successful attempt and never changed after: a later failed attempt
/// writes `status = if_not_exists(delivered_mark, "failing")`, so a delivered record stays
/// delivered in one atomic update.
const DELIVERED_MARK: &str = "delivered_mark";

/// The deliveries table.
#[derive(Debug, Clone)]
pub struct DynamoDeliveries {
    client: Client,
    table: String,
}

/// A delivery record as the CLI reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryRecord {
    pub event_id: String,
    pub subscription_id: String,
    pub source_id: String,
    #[serde(default)]
    pub event_type: Option<String>,
    /// `delivered`, `gone` or `failing`.
    pub status: String,
    pub attempts: u32,
    #[serde(default)]
    pub last_status_code: Option<u16>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub last_response: Option<String>,
    pub first_attempt_at: String,
    pub last_attempt_at: String,
    #[serde(default)]
    pub history: Vec<AttemptEntry>,
}

/// One attempt in a record's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptEntry {
    pub at: String,
    pub outcome: String,
    #[serde(default)]
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    #[serde(default)]
    pub error: Option<String>,
}

impl DynamoDeliveries {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Every delivery record of an event.
    pub async fn for_event(&self, event_id: &str) -> Result<Vec<DeliveryRecord>, StoreError> {
        let items = self.query_event(event_id, None).await?;
        items.into_iter().map(|i| from_item("Query", i)).collect()
    }

    async fn query_event(
        &self,
        event_id: &str,
        projection: Option<&str>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("event_id = :e")
            .expression_attribute_values(":e", AttributeValue::S(event_id.to_owned()));
        if let Some(p) = projection {
            query = query
                .projection_expression(p)
                .expression_attribute_names("#status", "status");
        }
        query
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk_error("Query", e))
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl DeliveryLog for DynamoDeliveries {
    async fn delivered_subscriptions(&self, event_id: &str) -> Result<HashSet<String>, StoreError> {
        let items = self
            .query_event(event_id, Some("subscription_id, #status"))
            .await?;
        Ok(items
            .into_iter()
            .filter(|item| {
                item.get("status")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == "delivered")
            })
            .filter_map(|mut item| match item.remove("subscription_id") {
                Some(AttributeValue::S(id)) => Some(id),
                _ => None,
            })
            .collect())
    }

    async fn record_attempt(&self, a: &AttemptRecord) -> Result<(), StoreError> {
        let status = AttemptOutcome::record_status(&a.outcome);
        let outcome = a.outcome.label();
        let status_code = a.outcome.status();
        let mut entry = HashMap::from([
            ("at".to_owned(), s(&a.attempted_at)),
            ("outcome".to_owned(), s(outcome)),
            ("duration_ms".to_owned(), n(a.duration_ms)),
        ]);
        if let Some(code) = status_code {
            entry.insert("status_code".to_owned(), n(code));
        }
        if let Some(error) = &a.error {
            entry.insert("error".to_owned(), s(error));
        }
        let mut update = Update::default();
        update.set("source_id", s(a.source_id.as_str()));
        if a.outcome.is_delivered() {
            update.set("#status", s(status));
            update.set(DELIVERED_MARK, s(status));
        } else {
            // A failed attempt that lands after a success (SQS handed the message to two
            // invocations at once: at-least-once) must not hide the success from the next read.
            update.raw(
                &format!("#status = if_not_exists({DELIVERED_MARK}, :status)"),
                ":status",
                s(status),
            );
        }
        update.set("last_outcome", s(outcome));
        update.set("last_duration_ms", n(a.duration_ms));
        update.set("last_attempt_at", s(&a.attempted_at));
        update.set("expires_at", n(a.expires_at));
        update.set_or_remove("last_status_code", status_code.map(n));
        update.set_or_remove("last_error", a.error.as_deref().map(s));
        update.set_or_remove("last_response", a.response_snippet.as_deref().map(s));
        if let Some(event_type) = &a.event_type {
            update.set("event_type", s(event_type));
        }
        update.raw(
            "first_attempt_at = if_not_exists(first_attempt_at, :first)",
            ":first",
            s(&a.attempted_at),
        );
        update
            .values
            .insert(":empty".to_owned(), AttributeValue::L(Vec::new()));
        update.raw(
            "history = list_append(if_not_exists(history, :empty), :entry)",
            ":entry",
            AttributeValue::L(vec![AttributeValue::M(entry)]),
        );
        update.values.insert(":one".to_owned(), n(1));
        let mut expression = format!("SET {} ADD attempts :one", update.set.join(", "));
        if !update.remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", update.remove.join(", ")));
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("event_id", s(&a.event_id))
            .key("subscription_id", s(&a.subscription_id))
            .update_expression(expression)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        Ok(())
    }
}

/// An `UpdateItem` expression being assembled: `SET` clauses, `REMOVE`d attributes and values.
#[derive(Default)]
struct Update {
    set: Vec<String>,
    remove: Vec<&'static str>,
    values: HashMap<String, AttributeValue>,
}

impl Update {
    fn set(&mut self, attribute: &'static str, value: AttributeValue) {
        let placeholder = format!(":{}", attribute.trim_start_matches('#'));
        self.set.push(format!("{attribute} = {placeholder}"));
        self.values.insert(placeholder, value);
    }

    /// Sets the attribute, or removes it so a stale value from an earlier attempt does not linger.
    fn set_or_remove(&mut self, attribute: &'static str, value: Option<AttributeValue>) {
        match value {
            Some(v) => self.set(attribute, v),
            None => self.remove.push(attribute),
        }
    }

    fn raw(&mut self, clause: &str, placeholder: &str, value: AttributeValue) {
        self.set.push(clause.to_owned());
        self.values.insert(placeholder.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{RetryReason, classify_status};

    #[test]
    fn a_records_status_is_delivered_gone_or_failing() {
        assert_eq!(
            AttemptOutcome::record_status(&classify_status(204, None)),
            "delivered"
        );
        assert_eq!(
            AttemptOutcome::record_status(&classify_status(410, None)),
            "gone"
        );
        assert_eq!(
            AttemptOutcome::record_status(&classify_status(500, None)),
            "failing"
        );
        assert_eq!(
            AttemptOutcome::record_status(&AttemptOutcome::unsent(RetryReason::Misconfigured)),
            "failing"
        );
    }
}
