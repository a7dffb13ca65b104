//! The dispatcher Lambda: wiring only. Configuration is read and checked once at init.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use hookpost_dispatcher::{Config, Dispatcher, Resources};
use hookpost_shared::aws::load_sdk_config;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    hookpost_shared::telemetry::init();
    let resources = Resources::from_env()?;
    let config = Config::from_env()?;
    let sdk = load_sdk_config().await;
    let dispatcher = Arc::new(Dispatcher::on_aws(&sdk, &resources, config)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let dispatcher = Arc::clone(&dispatcher);
        async move {
            let deadline = event.context.deadline();
            Ok::<_, Error>(dispatcher.handle(event.payload, Some(deadline)).await)
        }
    }))
    .await
}
