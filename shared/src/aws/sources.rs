//! Sources in DynamoDB: one item per source, keyed by `source_id`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{conditional, from_item, sdk_error, to_item};
use crate::source::{Source, SourceId};
use crate::store::{SourceStore, StoreError};

/// The sources table.
#[derive(Debug, Clone)]
pub struct DynamoSources {
    client: Client,
    table: String,
}

impl DynamoSources {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates a source; `Ok(false)` when one with that id already exists.
    pub async fn create(&self, source: &Source) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item("PutItem", source)?))
            .condition_expression("attribute_not_exists(source_id)")
            .send()
            .await;
        conditional("PutItem", result)
    }

    /// Replaces a source (secret rotation).
    pub async fn put(&self, source: &Source) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item("PutItem", source)?))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// Replaces a source's tolerance and scheme options, leaving its secrets as they are (a
    /// rotation at the same moment is not undone); `Ok(false)` when there is no such source.
    pub async fn set_scheme_settings(&self, source: &Source) -> Result<bool, StoreError> {
        let options = serde_dynamo::to_attribute_value(&source.options)
            .map_err(|e| StoreError::new("UpdateItem", e.to_string()))?;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                "source_id",
                AttributeValue::S(source.source_id.as_str().to_owned()),
            )
            .condition_expression("attribute_exists(source_id)")
            .expression_attribute_values(":options", options);
        update = match source.tolerance_seconds {
            Some(t) => update
                .update_expression("SET #options = :options, tolerance_seconds = :tolerance")
                .expression_attribute_values(":tolerance", AttributeValue::N(t.to_string())),
            None => update.update_expression("SET #options = :options REMOVE tolerance_seconds"),
        };
        let result = update
            .expression_attribute_names("#options", "options")
            .send()
            .await;
        conditional("UpdateItem", result)
    }

    /// Every source, by id.
    pub async fn list(&self) -> Result<Vec<Source>, StoreError> {
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
        let mut sources = items
            .into_iter()
            .map(|item| from_item("Scan", item))
            .collect::<Result<Vec<Source>, _>>()?;
        sources.sort_by(|a, b| a.source_id.cmp(&b.source_id));
        Ok(sources)
    }

    /// Deletes a source; `Ok(false)` when there was none.
    pub async fn delete(&self, id: &SourceId) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("source_id", AttributeValue::S(id.as_str().to_owned()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}

impl SourceStore for DynamoSources {
    async fn get_source(&self, id: &SourceId) -> Result<Option<Source>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("source_id", AttributeValue::S(id.as_str().to_owned()))
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.map(|item| from_item("GetItem", item)).transpose()
    }
}
