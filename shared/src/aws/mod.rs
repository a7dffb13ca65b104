//! The ports of [`crate::store`] on DynamoDB and SQS, plus the administrative calls the CLI makes.
//!
//! Where the SDK talks is decided by configuration only (`AWS_ENDPOINT_URL`, region, credentials):
//! the same code runs against AWS, LocalStack and moto.

mod bodies;
mod deliveries;
mod delivery_ids;
mod events;
mod queue;
mod sources;
mod subscriptions;

pub use aws_sdk_dynamodb::Client as DynamoClient;
pub use aws_sdk_s3::Client as S3Client;
pub use aws_sdk_sqs::Client as SqsClient;
pub use bodies::S3Bodies;
pub use deliveries::{AttemptEntry, DeliveryRecord, DynamoDeliveries, LatestDelivery};
pub use delivery_ids::{DynamoDeliveryIds, STALE_CLAIM_SECONDS};
pub use events::{DynamoEvents, EVENTS_BY_SOURCE_INDEX};
pub use queue::{SqsQueue, is_fifo_url};
pub use sources::DynamoSources;
pub use subscriptions::DynamoSubscriptions;

use crate::store::StoreError;

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A [`StoreError`] from an SDK error, with the SDK's whole cause chain.
pub(crate) fn sdk_error<E>(operation: &'static str, err: E) -> StoreError
where
    E: std::error::Error,
{
    StoreError::new(
        operation,
        aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
    )
}

/// Deserialises one DynamoDB item into a record type.
pub(crate) fn from_item<T: serde::de::DeserializeOwned>(
    operation: &'static str,
    item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::new(operation, format!("unreadable item: {e}")))
}

/// Serialises a record type into a DynamoDB item.
pub(crate) fn to_item<T: serde::Serialize>(
    operation: &'static str,
    value: &T,
) -> Result<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, StoreError>
{
    serde_dynamo::to_item(value).map_err(|e| StoreError::new(operation, e.to_string()))
}
