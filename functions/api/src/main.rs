//! The API Lambda: wiring only. The deployment's names are read and checked once at init.

use std::sync::Arc;

use hookpost_api::{Api, HttpApiEvent};
use hookpost_operations::Operations;
use hookpost_shared::aws::destinations::{DESTINATIONS_VARIABLE, arn_list};
use hookpost_shared::aws::load_sdk_config;
use hookpost_shared::config::env;
use hookpost_shared::deployment::StackNames;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    hookpost_shared::telemetry::init();
    let names = StackNames::from_lookup(env)?;
    let receiver_url = env("HOOKPOST_RECEIVER_URL");
    let sdk = load_sdk_config().await;
    let limits = hookpost_shared::intake::Limits::from_env()?;
    let destinations = arn_list(&env(DESTINATIONS_VARIABLE).unwrap_or_default());
    let api = Arc::new(Api::new(
        Operations::new(&sdk, names, receiver_url)
            .with_limits(limits)
            .with_destinations(destinations),
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<HttpApiEvent>| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(api.handle_event(event.payload).await) }
    }))
    .await
}
