//! The event archive in DynamoDB: one item per accepted event, keyed by `event_id`, listed per
//! source by time through the `by_source` index (`source_id`, `received_at`), expiring after the
//! retention period (the table's TTL on `expires_at`).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{conditional, sdk_error};
use crate::source::SourceId;
use crate::store::{ArchivedEvent, EventArchive, StoreError};

/// The index listing a source's events by `received_at`; template.yaml names it the same.
pub const EVENTS_BY_SOURCE_INDEX: &str = "by_source";

/// The events table.
#[derive(Debug, Clone)]
pub struct DynamoEvents {
    client: Client,
    table: String,
}

impl DynamoEvents {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A source's events received in `[from, until]` (RFC 3339; `until` open when absent), oldest
    /// first, that `keep` accepts: the index is read page by page until `want` are kept or the
    /// window is exhausted.
    pub async fn window(
        &self,
        source: &SourceId,
        from: &str,
        until: Option<&str>,
        want: usize,
        keep: impl Fn(&ArchivedEvent) -> bool,
    ) -> Result<Vec<ArchivedEvent>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(EVENTS_BY_SOURCE_INDEX)
            .expression_attribute_values(":s", s(source.as_str()))
            .expression_attribute_values(":from", s(from));
        query = match until {
            Some(until) => query
                .key_condition_expression("source_id = :s AND received_at BETWEEN :from AND :until")
                .expression_attribute_values(":until", s(until)),
            None => query.key_condition_expression("source_id = :s AND received_at >= :from"),
        };
        let page_size = i32::try_from(want.clamp(10, 1000)).unwrap_or(1000);
        let mut kept = Vec::new();
        let mut start = None;
        loop {
            let out = query
                .clone()
                .limit(page_size)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            for item in out.items() {
                let event: ArchivedEvent = from_item("Query", item)?;
                if keep(&event) {
                    kept.push(event);
                    if kept.len() >= want {
                        return Ok(kept);
                    }
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(kept);
            }
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn to_item(event: &ArchivedEvent) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("event_id".to_owned(), s(&event.event_id)),
        ("source_id".to_owned(), s(event.source_id.as_str())),
        ("received_at".to_owned(), s(&event.received_at)),
        ("envelope".to_owned(), s(&event.envelope)),
        (
            "expires_at".to_owned(),
            AttributeValue::N(event.expires_at.to_string()),
        ),
    ]);
    if let Some(event_type) = &event.event_type {
        item.insert("event_type".to_owned(), s(event_type));
    }
    item
}

fn from_item(
    operation: &'static str,
    item: &HashMap<String, AttributeValue>,
) -> Result<ArchivedEvent, StoreError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let required = |name: &'static str| {
        text(name).ok_or_else(|| StoreError::new(operation, format!("an event has no {name}")))
    };
    let source = required("source_id")?;
    Ok(ArchivedEvent {
        event_id: required("event_id")?,
        source_id: SourceId::parse(&source).map_err(|e| {
            StoreError::new(
                operation,
                format!("an event's source_id is unreadable: {e}"),
            )
        })?,
        event_type: text("event_type"),
        received_at: required("received_at")?,
        envelope: required("envelope")?,
        expires_at: item
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default(),
    })
}

impl EventArchive for DynamoEvents {
    async fn archive(&self, event: &ArchivedEvent) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(event)))
            .condition_expression("attribute_not_exists(event_id)")
            .send()
            .await;
        conditional("PutItem", put)
    }

    async fn get(&self, event_id: &str) -> Result<Option<ArchivedEvent>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("event_id", s(event_id))
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item
            .as_ref()
            .map(|i| from_item("GetItem", i))
            .transpose()
    }
}
