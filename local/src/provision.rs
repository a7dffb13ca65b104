//! A Hookpost stack's queues, tables and bucket, created on an AWS-protocol emulator from the
//! template's [`StackSpec`] and named for the handlers as [`StackNames`].

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use hookpost_shared::deployment::StackNames;

use crate::template::{StackSpec, ids};

/// Creating a resource failed.
#[derive(Debug, thiserror::Error)]
#[error("creating {resource} failed: {message}")]
pub struct ProvisionError {
    pub resource: String,
    pub message: String,
}

fn failed(resource: &str, err: impl std::error::Error) -> ProvisionError {
    ProvisionError {
        resource: resource.to_owned(),
        message: aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
    }
}

/// Creates every queue and table of `spec`, named `{prefix}-{LogicalId}`, and returns the names
/// the handlers are wired to.
pub async fn provision(
    sdk: &SdkConfig,
    spec: &StackSpec,
    prefix: &str,
) -> Result<StackNames, ProvisionError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);

    // logical id → (url, arn)
    let mut queues: BTreeMap<String, (String, String)> = BTreeMap::new();
    for queue in &spec.queues {
        let mut attributes: BTreeMap<QueueAttributeName, String> = queue
            .attributes
            .iter()
            .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone()))
            .collect();
        if let Some(redrive) = &queue.redrive {
            let (_, dlq_arn) =
                queues
                    .get(&redrive.dead_letter_queue)
                    .ok_or_else(|| ProvisionError {
                        resource: queue.logical_id.clone(),
                        message: format!(
                            "its dead-letter queue {} is not a queue",
                            redrive.dead_letter_queue
                        ),
                    })?;
            attributes.insert(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({
                    "deadLetterTargetArn": dlq_arn,
                    "maxReceiveCount": redrive.max_receive_count,
                })
                .to_string(),
            );
        }
        // SQS requires a FIFO queue's name to end in .fifo.
        let suffix = if queue.is_fifo() { ".fifo" } else { "" };
        let name = format!("{prefix}-{}{suffix}", queue.logical_id);
        let created = sqs
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(attributes.into_iter().collect()))
            .send()
            .await
            .map_err(|e| failed(&name, e))?;
        let url = created.queue_url.unwrap_or_default();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| failed(&name, e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .unwrap_or_default();
        queues.insert(queue.logical_id.clone(), (url, arn));
    }

    let mut tables = BTreeMap::new();
    for table in &spec.tables {
        let name = format!("{prefix}-{}", table.logical_id);
        let attributes = table
            .attributes
            .iter()
            .map(|(n, t)| {
                AttributeDefinition::builder()
                    .attribute_name(n)
                    .attribute_type(ScalarAttributeType::from(t.as_str()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(&name, e))?;
        let key_schema = |keys: &[(String, String)]| {
            keys.iter()
                .map(|(n, k)| {
                    KeySchemaElement::builder()
                        .attribute_name(n)
                        .key_type(KeyType::from(k.as_str()))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| failed(&name, e))
        };
        let keys = key_schema(&table.keys)?;
        let indexes = table
            .indexes
            .iter()
            .map(|index| {
                GlobalSecondaryIndex::builder()
                    .index_name(&index.name)
                    .set_key_schema(Some(key_schema(&index.keys)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| failed(&name, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        dynamo
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(keys))
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .send()
            .await
            .map_err(|e| failed(&name, e))?;
        if let Some(ttl) = &table.ttl_attribute {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(ttl)
                .enabled(true)
                .build()
                .map_err(|e| failed(&name, e))?;
            dynamo
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| failed(&name, e))?;
        }
        tables.insert(table.logical_id.clone(), name);
    }

    let s3 = aws_sdk_s3::Client::new(sdk);
    let mut buckets = BTreeMap::new();
    for id in &spec.buckets {
        // Bucket names are lower case.
        let name = format!("{prefix}-{id}").to_ascii_lowercase();
        s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .map_err(|e| failed(&name, e))?;
        buckets.insert(id.clone(), name);
    }

    let table = |id: &str| {
        tables.get(id).cloned().ok_or_else(|| ProvisionError {
            resource: id.to_owned(),
            message: "the template has no such table".to_owned(),
        })
    };
    let queue = |id: &str| {
        queues
            .get(id)
            .map(|(url, _)| url.clone())
            .ok_or_else(|| ProvisionError {
                resource: id.to_owned(),
                message: "the template has no such queue".to_owned(),
            })
    };
    Ok(StackNames {
        sources_table: table(ids::SOURCES_TABLE)?,
        subscriptions_table: table(ids::SUBSCRIPTIONS_TABLE)?,
        deliveries_table: table(ids::DELIVERIES_TABLE)?,
        delivery_ids_table: table(ids::DELIVERY_IDS_TABLE)?,
        events_table: table(ids::EVENTS_TABLE)?,
        bodies_bucket: buckets
            .get(ids::BODIES_BUCKET)
            .cloned()
            .ok_or_else(|| ProvisionError {
                resource: ids::BODIES_BUCKET.to_owned(),
                message: "the template has no such bucket".to_owned(),
            })?,
        ingest_queue_url: queue(ids::INGEST_QUEUE)?,
        dead_letter_queue_url: queue(ids::DEAD_LETTER_QUEUE)?,
    })
}
