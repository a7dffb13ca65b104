//! The receiver Lambda: wiring only. Configuration is read and checked once at init.

use std::sync::Arc;

use hookpost_receiver::{Config, Receiver};
use hookpost_shared::aws::{DynamoClient, DynamoSources, SqsClient, SqsQueue, load_sdk_config};
use hookpost_shared::clock::SystemClock;
use hookpost_shared::config::required;
use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    hookpost_shared::telemetry::init();
    let sources_table = required("HOOKPOST_SOURCES_TABLE")?;
    let queue_url = required("HOOKPOST_INGEST_QUEUE_URL")?;
    let config = Config::from_env()?;
    let sdk = load_sdk_config().await;
    let receiver = Arc::new(Receiver::new(
        DynamoSources::new(DynamoClient::new(&sdk), sources_table),
        SqsQueue::new(SqsClient::new(&sdk), queue_url),
        Arc::new(SystemClock),
        config,
    ));
    lambda_http::run(service_fn(move |request: Request| {
        let receiver = Arc::clone(&receiver);
        async move { Ok::<_, Error>(receiver.handle(request).await) }
    }))
    .await
}
