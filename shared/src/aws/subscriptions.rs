//! Subscriptions in DynamoDB: keyed by `source_id` (partition) and `subscription_id` (sort), so a
//! source's subscriptions are one `Query`; the `by_id` index finds one by its id alone.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use std::time::SystemTime;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{conditional, from_item, sdk_error, to_attribute, to_item};
use crate::clock::rfc3339;
use crate::source::SourceId;
use crate::store::{StoreError, SubscriptionStore};
use crate::subscription::Subscription;

/// The subscriptions table's index on `subscription_id` (template.yaml).
pub const SUBSCRIPTIONS_BY_ID_INDEX: &str = "by_id";

/// The subscriptions table.
#[derive(Debug, Clone)]
pub struct DynamoSubscriptions {
    client: Client,
    table: String,
}

impl DynamoSubscriptions {
    /// An `UpdateItem` of one subscription, by its key.
    fn update(&self, source: &SourceId, subscription_id: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("source_id", AttributeValue::S(source.as_str().to_owned()))
            .key(
                "subscription_id",
                AttributeValue::S(subscription_id.to_owned()),
            )
    }

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

    /// Every subscription of one source.
    pub async fn list_for(&self, source: &SourceId) -> Result<Vec<Subscription>, StoreError> {
        self.subscriptions_for(source).await
    }

    /// Finds a subscription by id alone (ids are unique across sources): the `by_id` index gives
    /// its source, then a consistent read gives the item as it is now.
    pub async fn find(&self, subscription_id: &str) -> Result<Option<Subscription>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(SUBSCRIPTIONS_BY_ID_INDEX)
            .key_condition_expression("subscription_id = :id")
            .expression_attribute_values(":id", AttributeValue::S(subscription_id.to_owned()))
            .projection_expression("source_id")
            .limit(1)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let Some(source) = out
            .items()
            .first()
            .and_then(|item| item.get("source_id"))
            .and_then(|v| v.as_s().ok())
        else {
            return Ok(None);
        };
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("source_id", AttributeValue::S(source.clone()))
            .key(
                "subscription_id",
                AttributeValue::S(subscription_id.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item
            .as_ref()
            .map(|i| from_item("GetItem", i.clone()))
            .transpose()
    }

    /// Replaces a subscription's secrets (a rotation) and nothing else, so state the dispatcher
    /// writes meanwhile (failure streak, last delivery) is kept. `Ok(false)` when it is gone.
    pub async fn set_secrets(
        &self,
        source: &SourceId,
        subscription_id: &str,
        secrets: &[crate::secret::Secret],
    ) -> Result<bool, StoreError> {
        let values = secrets
            .iter()
            .map(|s| AttributeValue::S(s.expose().to_owned()))
            .collect();
        self.update_existing(
            source,
            subscription_id,
            "SET secrets = :secrets",
            vec![(":secrets", AttributeValue::L(values))],
        )
        .await
    }

    /// Records a delivery attempt as the subscription's last one, unless a later one is recorded.
    pub async fn set_last_delivery(
        &self,
        source: &SourceId,
        subscription_id: &str,
        last: &crate::subscription::LastDelivery,
    ) -> Result<(), StoreError> {
        let value = to_item("UpdateItem", last)?;
        let result = self
            .update(source, subscription_id)
            .update_expression("SET last_delivery = :last")
            // Attempts of a batch finish in any order: an older one never replaces a newer.
            .condition_expression(
                "attribute_exists(subscription_id) AND \
                 (attribute_not_exists(last_delivery) OR last_delivery.#at <= :at)",
            )
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":last", AttributeValue::M(value))
            .expression_attribute_values(":at", AttributeValue::S(last.at.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    /// Sets what a subscription delivers and how (URL, event types, filter, headers, timeout), keeping
    /// its secrets and state. `Ok(false)` when it is gone.
    pub async fn set_delivery_options(&self, s: &Subscription) -> Result<bool, StoreError> {
        let headers = s
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
            .collect();
        let types = s
            .event_types
            .iter()
            .map(|t| AttributeValue::S(t.clone()))
            .collect();
        let mut values = vec![
            (":url", AttributeValue::S(s.url.clone())),
            (":types", AttributeValue::L(types)),
            (":headers", AttributeValue::M(headers)),
        ];
        let mut set = vec!["#url = :url", "event_types = :types", "headers = :headers"];
        let mut remove = Vec::new();
        match s.timeout_seconds {
            Some(t) => {
                values.push((":timeout", AttributeValue::N(t.to_string())));
                set.push("timeout_seconds = :timeout");
            }
            None => remove.push("timeout_seconds"),
        }
        match &s.filter {
            Some(filter) => {
                values.push((":filter", AttributeValue::S(filter.clone())));
                set.push("#filter = :filter");
            }
            None => remove.push("#filter"),
        }
        match &s.rate {
            Some(rate) => {
                values.push((":rate", to_attribute("UpdateItem", rate)?));
                set.push("rate = :rate");
            }
            // The limiter's state goes with the limit.
            None => remove.extend(["rate", "rate_next"]),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        self.update_existing(&s.source_id, &s.subscription_id, &expression, values)
            .await
    }

    async fn update_existing(
        &self,
        source: &SourceId,
        subscription_id: &str,
        expression: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .update(source, subscription_id)
            .update_expression(expression)
            .condition_expression("attribute_exists(subscription_id)");
        // Both are DynamoDB reserved words.
        if expression.contains("#url") {
            update = update.expression_attribute_names("#url", "url");
        }
        if expression.contains("#filter") {
            update = update.expression_attribute_names("#filter", "filter");
        }
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        conditional("UpdateItem", update.send().await)
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
            .update(source, subscription_id)
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
            .update(source, subscription_id)
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

    async fn record_last_delivery(
        &self,
        source: &SourceId,
        subscription_id: &str,
        last: &crate::subscription::LastDelivery,
    ) -> Result<(), StoreError> {
        self.set_last_delivery(source, subscription_id, last).await
    }

    async fn reserve_slots(
        &self,
        source: &SourceId,
        subscription_id: &str,
        now_micros: i64,
        interval_micros: i64,
        count: u32,
    ) -> Result<Option<i64>, StoreError> {
        let now = AttributeValue::N(now_micros.to_string());
        let advance = interval_micros.saturating_mul(i64::from(count.max(1)));
        let advance_value = AttributeValue::N(advance.to_string());
        // A busy subscription's TAT moves on by `count` intervals; an idle one's starts from now.
        // Exactly one of the two conditions holds at any moment, so a lost race only means
        // taking the other path; the loop ends because each failure means the state changed.
        for _ in 0..4 {
            let busy = self
                .update(source, subscription_id)
                .update_expression("SET rate_next = rate_next + :advance")
                .condition_expression("rate_next > :now")
                .expression_attribute_values(":now", now.clone())
                .expression_attribute_values(":advance", advance_value.clone())
                .return_values(ReturnValue::UpdatedOld)
                .send()
                .await;
            match busy {
                Ok(out) => {
                    let before = out
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get("rate_next"))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse::<i64>().ok())
                        .ok_or_else(|| {
                            StoreError::new("UpdateItem", "no rate_next in the answer")
                        })?;
                    return Ok(Some(before));
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(sdk_error("UpdateItem", e)),
            }
            let idle = self
                .update(source, subscription_id)
                .update_expression("SET rate_next = :next")
                .condition_expression(
                    "attribute_exists(subscription_id) AND \
                     (attribute_not_exists(rate_next) OR rate_next <= :now)",
                )
                .expression_attribute_values(":now", now.clone())
                .expression_attribute_values(
                    ":next",
                    AttributeValue::N(now_micros.saturating_add(advance).to_string()),
                )
                .send()
                .await;
            // A failed condition: busy again, or the subscription is gone (then the loop ends
            // in an error, and the next receive's subscriptions no longer have it).
            if conditional("UpdateItem", idle)? {
                return Ok(None);
            }
        }
        Err(StoreError::new(
            "UpdateItem",
            "the rate limiter's state kept changing under this dispatcher; try again",
        ))
    }

    async fn clear_failure(
        &self,
        source: &SourceId,
        subscription_id: &str,
    ) -> Result<(), StoreError> {
        self.update(source, subscription_id)
            .update_expression("REMOVE failing_since")
            .condition_expression("attribute_exists(subscription_id)")
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        Ok(())
    }
}
