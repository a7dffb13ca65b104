//! The ports of [`crate::store`] on DynamoDB and SQS, plus the administrative calls the CLI makes.
//!
//! Where the SDK talks is decided by configuration only (`AWS_ENDPOINT_URL`, region, credentials):
//! the same code runs against AWS, LocalStack and moto.

mod bodies;
mod deliveries;
mod delivery_ids;
pub mod destinations;
mod events;
mod queue;
mod sources;
mod subscriptions;

pub use aws_sdk_dynamodb::Client as DynamoClient;
pub use aws_sdk_s3::Client as S3Client;
pub use aws_sdk_sqs::Client as SqsClient;
pub use bodies::S3Bodies;
pub use deliveries::{AttemptEntry, DeliveryRecord, DynamoDeliveries};
pub use delivery_ids::{DynamoDeliveryIds, STALE_CLAIM_SECONDS};
pub use events::{DynamoEvents, EVENTS_BY_SOURCE_INDEX};
pub use queue::{MAX_DELAY_SECONDS, SqsQueue, is_fifo_url};
pub use sources::DynamoSources;
pub use subscriptions::{DynamoSubscriptions, SUBSCRIPTIONS_BY_ID_INDEX};

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;

use crate::store::StoreError;

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`), built
/// for a short cold start (`make bench` measures it: bench/tools/benches/coldstart):
///
/// - Credentials: Lambda puts the execution role's in the environment, and when they are there
///   the environment provider is used alone. The default chain would build, among others, an STS
///   client for web identity that a function never calls, and with it a TLS connector.
/// - The HTTPS client is the SDK's default, except that clients no longer build a TLS connector
///   each as they are constructed, only to check that they can (every CA certificate of the
///   system read and parsed per client); the one connector is built on the first request.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(client) = ConnectOnFirstRequest::default_client() {
        loader = loader.http_client(client);
    }
    if ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    loader.load().await
}

/// The SDK's default HTTP client without its eager connector: `validate_base_client_config`,
/// which every client's construction calls, builds a connector and drops it so that certificates
/// load at init (aws-smithy-http-client `HyperClient`); this keeps the trait's default (nothing to
/// check) and leaves connectors to [`HttpClient::http_connector`], which builds one per connector
/// settings on the first request and caches it.
#[derive(Debug)]
struct ConnectOnFirstRequest(SharedHttpClient);

impl ConnectOnFirstRequest {
    /// The client the SDK would choose itself (`BehaviorVersion::latest()`), wrapped.
    fn default_client() -> Option<Self> {
        let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(
            aws_config::BehaviorVersion::latest(),
        )?;
        let components = plugin.runtime_components(&RuntimeComponentsBuilder::new("hookpost"));
        components.http_client().map(Self)
    }
}

impl HttpClient for ConnectOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
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

/// A conditional write's outcome: `Ok(true)` when it was made, `Ok(false)` when its condition did
/// not hold (`ConditionalCheckFailedException`), any other failure as a [`StoreError`].
pub(crate) fn conditional<T, E, R>(
    operation: &'static str,
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk_error(operation, e)),
    }
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

/// Serialises a value into one DynamoDB attribute.
pub(crate) fn to_attribute<T: serde::Serialize>(
    operation: &'static str,
    value: &T,
) -> Result<aws_sdk_dynamodb::types::AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::new(operation, e.to_string()))
}
