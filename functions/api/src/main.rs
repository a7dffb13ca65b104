//! The API Lambda: wiring only. The deployment's names are read and checked once at init.

use std::sync::Arc;

use hookpost_api::{Api, HttpApiEvent};
use hookpost_operations::Operations;
use hookpost_shared::aws::load_sdk_config;
use hookpost_shared::config::{env, required};
use hookpost_shared::deployment::StackNames;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    hookpost_shared::telemetry::init();
    let names = StackNames {
        sources_table: required("HOOKPOST_SOURCES_TABLE")?,
        subscriptions_table: required("HOOKPOST_SUBSCRIPTIONS_TABLE")?,
        deliveries_table: required("HOOKPOST_DELIVERIES_TABLE")?,
        delivery_ids_table: required("HOOKPOST_DELIVERY_IDS_TABLE")?,
        events_table: required("HOOKPOST_EVENTS_TABLE")?,
        bodies_bucket: required("HOOKPOST_BODIES_BUCKET")?,
        ingest_queue_url: required("HOOKPOST_INGEST_QUEUE_URL")?,
        dead_letter_queue_url: required("HOOKPOST_DEAD_LETTER_QUEUE_URL")?,
    };
    let receiver_url = env("HOOKPOST_RECEIVER_URL");
    let sdk = load_sdk_config().await;
    let limits = hookpost_shared::intake::Limits::from_env()?;
    let api = Arc::new(Api::new(
        Operations::new(&sdk, names, receiver_url).with_limits(limits),
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<HttpApiEvent>| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(api.handle_event(event.payload).await) }
    }))
    .await
}
