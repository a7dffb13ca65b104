//! The dispatcher Lambda: wiring only. Configuration is read and checked once at init.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use hookpost_dispatcher::{Config, Dispatcher};
use hookpost_shared::aws::{
    DynamoClient, DynamoDeliveries, DynamoEvents, DynamoSubscriptions, S3Bodies, S3Client,
    SqsClient, SqsQueue, load_sdk_config,
};
use hookpost_shared::clock::SystemClock;
use hookpost_shared::config::required;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    hookpost_shared::telemetry::init();
    let subscriptions_table = required("HOOKPOST_SUBSCRIPTIONS_TABLE")?;
    let deliveries_table = required("HOOKPOST_DELIVERIES_TABLE")?;
    let queue_url = required("HOOKPOST_INGEST_QUEUE_URL")?;
    let bodies_bucket = required("HOOKPOST_BODIES_BUCKET")?;
    let events_table = required("HOOKPOST_EVENTS_TABLE")?;
    let config = Config::from_env()?;
    let sdk = load_sdk_config().await;
    let dynamo = DynamoClient::new(&sdk);
    let dispatcher = Arc::new(Dispatcher::new(
        DynamoSubscriptions::new(dynamo.clone(), subscriptions_table),
        DynamoDeliveries::new(dynamo.clone(), deliveries_table),
        SqsQueue::new(SqsClient::new(&sdk), queue_url),
        S3Bodies::new(S3Client::new(&sdk), bodies_bucket),
        DynamoEvents::new(dynamo, events_table),
        Arc::new(SystemClock),
        config,
    )?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let dispatcher = Arc::clone(&dispatcher);
        async move {
            let deadline = event.context.deadline();
            Ok::<_, Error>(dispatcher.handle(event.payload, Some(deadline)).await)
        }
    }))
    .await
}
