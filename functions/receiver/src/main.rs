//! The receiver Lambda: wiring only. Configuration is read and checked once at init.

use std::sync::Arc;
use std::time::Duration;

use hookpost_receiver::{Config, DEFAULT_SOURCE_CACHE_TTL, HttpApiEvent, Receiver};
use hookpost_shared::aws::{
    DynamoClient, DynamoDeliveryIds, DynamoSources, S3Bodies, S3Client, SqsClient, SqsQueue,
    load_sdk_config,
};
use hookpost_shared::cache::CachedSources;
use hookpost_shared::clock::SystemClock;
use hookpost_shared::config::{optional, required};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    hookpost_shared::telemetry::init();
    let sources_table = required("HOOKPOST_SOURCES_TABLE")?;
    let delivery_ids_table = required("HOOKPOST_DELIVERY_IDS_TABLE")?;
    let queue_url = required("HOOKPOST_INGEST_QUEUE_URL")?;
    let bodies_bucket = required("HOOKPOST_BODIES_BUCKET")?;
    let cache_ttl = Duration::from_secs(optional(
        "HOOKPOST_SOURCE_CACHE_SECS",
        DEFAULT_SOURCE_CACHE_TTL.as_secs(),
    )?);
    let config = Config::from_env()?;
    let sdk = load_sdk_config().await;
    let dynamo = DynamoClient::new(&sdk);
    let receiver = Arc::new(Receiver::new(
        CachedSources::new(DynamoSources::new(dynamo.clone(), sources_table), cache_ttl),
        SqsQueue::new(SqsClient::new(&sdk), queue_url),
        DynamoDeliveryIds::new(dynamo, delivery_ids_table),
        S3Bodies::new(S3Client::new(&sdk), bodies_bucket),
        Arc::new(SystemClock),
        config,
    ));
    // The event is read into `HttpApiEvent` (only what the receiver uses) rather than through
    // `lambda_http::run`'s full `http::Request` conversion: see functions/receiver/src/event.rs.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<HttpApiEvent>| {
        let receiver = Arc::clone(&receiver);
        async move { Ok::<_, Error>(receiver.handle_event(event.payload).await) }
    }))
    .await
}
