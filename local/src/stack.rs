//! A local stack, started and stopped as one: queues, tables and bucket from template.yaml on the
//! emulator, the receiver and the management API behind the loopback front (the HTTP API's
//! routes), the dispatcher handler behind a poller that behaves like Lambda's SQS event source
//! mapping. Also the wiring of the handlers to the AWS adapters, as the deployed functions wire
//! them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use hookpost_api::Api;
use hookpost_dispatcher::Dispatcher;
use hookpost_operations::Operations;
use hookpost_receiver::Receiver;
use hookpost_shared::aws::destinations::arn_list;
use hookpost_shared::aws::{
    DynamoClient, DynamoDeliveryIds, DynamoSources, S3Bodies, S3Client, SqsClient, SqsQueue,
    is_fifo_url,
};
use hookpost_shared::clock::{Clock, SystemClock};
use hookpost_shared::deployment::StackNames;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::emulator::Emulator;
use crate::error::LocalError;
use crate::front;
use crate::poller::{AwsDispatcher, Poller};
use crate::provision::provision;
use crate::state::LocalState;
use crate::template::{self, StackSpec};

/// How to run the local stack.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The HTTP API's port on 127.0.0.1 (`/webhooks/…` and `/v1/…`); 0 picks a free one.
    pub port: u16,
    /// Overrides the template's `MaxReceiveCount`.
    pub max_receive_count: Option<u32>,
    /// Overrides the template's `RetryDelays`, e.g. `1s,2s,4s`.
    pub retry_delays: Option<String>,
    /// The template's text.
    pub template: String,
    /// Prefix of every queue and table name, so stacks on one emulator never share state.
    pub prefix: String,
    /// Further template parameter overrides, e.g. `AttemptTimeoutSeconds`.
    pub parameters: BTreeMap<String, String>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            port: 3000,
            max_receive_count: None,
            retry_delays: None,
            template: template::BUNDLED.to_owned(),
            prefix: "hookpost-local".to_owned(),
            parameters: BTreeMap::new(),
        }
    }
}

/// A running local stack.
#[derive(Debug)]
pub struct LocalStack {
    pub state: LocalState,
    pub spec: StackSpec,
    pub sdk: SdkConfig,
    emulator: Emulator,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl LocalStack {
    /// Creates the resources on `emulator` and starts the HTTP API (receiver and management API)
    /// and the poller.
    pub async fn start(emulator: Emulator, options: LocalOptions) -> Result<Self, LocalError> {
        let mut overrides = options.parameters.clone();
        if let Some(count) = options.max_receive_count {
            overrides.insert("MaxReceiveCount".to_owned(), count.to_string());
        }
        if let Some(delays) = &options.retry_delays {
            overrides.insert("RetryDelays".to_owned(), delays.clone());
        }
        // The local stack's subscribers are on loopback: private targets are allowed unless the
        // caller says otherwise (which is how the SSRF guard is tested end to end).
        overrides
            .entry("AllowPrivateTargets".to_owned())
            .or_insert_with(|| "true".to_owned());
        let spec = template::stack_spec(&options.template, &overrides)?;
        let sdk = emulator.sdk_config().await;
        let names = provision(&sdk, &spec, &options.prefix).await?;

        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|e| LocalError::Io(format!("binding 127.0.0.1:{}: {e}", options.port)))?;
        let port = listener
            .local_addr()
            .map_err(|e| LocalError::Io(e.to_string()))?
            .port();

        let receiver_url = format!("http://127.0.0.1:{port}{}", front::WEBHOOK_PREFIX);
        let api_url = format!("http://127.0.0.1:{port}{}/", front::API_PREFIX);
        let dispatcher = Arc::new(dispatcher(&sdk, &names, &spec)?);
        let receiver = Arc::new(aws_receiver(&sdk, &names, Arc::new(SystemClock)));
        // The template's DestinationArns (default: none), as the API function and the CLI get it.
        let destinations = overrides
            .get("DestinationArns")
            .map(|list| arn_list(list))
            .unwrap_or_default();
        let api = Arc::new(front::SignedApi::new(
            Api::new(
                Operations::new(&sdk, names.clone(), Some(receiver_url.clone()))
                    .with_destinations(destinations.clone()),
            ),
            emulator.region(),
        ));

        let (shutdown, watcher) = watch::channel(false);
        let poller = Poller::new(
            SqsClient::new(&sdk),
            names.ingest_queue_url.clone(),
            queue_arn(&sdk, &names.ingest_queue_url).await?,
            emulator.region().to_owned(),
            spec.event_source.clone(),
        )
        // Ordered mode runs one invocation at a time: moto hands a message group's later
        // messages to a second poller while an earlier one waits out its retry, which SQS does
        // not (a FIFO group stays blocked while a message of it is in flight).
        .with_concurrency(if is_fifo_url(&names.ingest_queue_url) {
            1
        } else {
            spec.event_source.max_concurrency
        });
        let tasks = vec![
            tokio::spawn(front::serve_with_api(
                listener,
                receiver,
                api,
                watcher.clone(),
            )),
            tokio::spawn(poller.run(dispatcher, watcher)),
        ];
        let state = LocalState {
            endpoint_url: emulator.endpoint_url().to_owned(),
            service_endpoints: emulator.endpoints().services.clone(),
            region: emulator.region().to_owned(),
            receiver_url,
            api_url,
            names,
            destinations,
        };
        Ok(Self {
            state,
            spec,
            sdk,
            emulator,
            shutdown,
            tasks,
        })
    }

    /// Stops the server and the poller (after the batch in hand), then the emulator if it is ours.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.emulator.stop().await;
    }
}

/// The dispatcher as the template configures it, with the local stack's own overrides.
fn dispatcher(
    sdk: &SdkConfig,
    names: &StackNames,
    spec: &StackSpec,
) -> Result<AwsDispatcher, LocalError> {
    let environment = &spec.dispatcher_environment;
    let config = hookpost_dispatcher::Config::from_lookup(|name| environment.get(name).cloned())
        .map_err(|e| LocalError::Option(format!("the template's dispatcher settings: {e}")))?;
    let config = hookpost_dispatcher::Config {
        // Subscriptions created a moment ago are seen by the next batch.
        subscription_cache: Duration::ZERO,
        // The ingest queue as provisioned dead-letters a record after this many receives.
        max_receive_count: spec
            .queues
            .iter()
            .find(|q| q.logical_id == template::ids::INGEST_QUEUE)
            .and_then(|q| q.redrive.as_ref())
            .map(|r| r.max_receive_count),
        // Standard output is the operator's terminal here, not CloudWatch Logs.
        metrics_function: None,
        ..config
    };
    aws_dispatcher(sdk, names, config).map_err(|e| LocalError::Io(e.to_string()))
}

/// The dispatcher on the stack's tables and ingest queue, as the deployed function wires it.
pub fn aws_dispatcher(
    sdk: &SdkConfig,
    names: &StackNames,
    config: hookpost_dispatcher::Config,
) -> Result<AwsDispatcher, hookpost_dispatcher::DispatcherError> {
    let resources = hookpost_dispatcher::Resources {
        subscriptions_table: names.subscriptions_table.clone(),
        deliveries_table: names.deliveries_table.clone(),
        ingest_queue_url: names.ingest_queue_url.clone(),
        bodies_bucket: names.bodies_bucket.clone(),
        events_table: names.events_table.clone(),
        dead_letter_queue_url: Some(names.dead_letter_queue_url.clone()),
    };
    Dispatcher::on_aws(sdk, &resources, config)
}

/// The receiver wired to the AWS adapters, as in the deployed function.
pub type AwsReceiver = Receiver<DynamoSources, SqsQueue, DynamoDeliveryIds, S3Bodies>;

/// The receiver on the stack's tables, queue and bucket, as the deployed function wires it
/// (without the warm-function source cache, so sources created a moment ago are seen).
pub fn aws_receiver(sdk: &SdkConfig, names: &StackNames, clock: Arc<dyn Clock>) -> AwsReceiver {
    Receiver::new(
        DynamoSources::new(DynamoClient::new(sdk), &names.sources_table),
        SqsQueue::new(SqsClient::new(sdk), &names.ingest_queue_url),
        DynamoDeliveryIds::new(DynamoClient::new(sdk), &names.delivery_ids_table),
        S3Bodies::new(S3Client::new(sdk), &names.bodies_bucket),
        clock,
        hookpost_receiver::Config::default(),
    )
}

async fn queue_arn(sdk: &SdkConfig, url: &str) -> Result<String, LocalError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    SqsClient::new(sdk)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| LocalError::Io(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| LocalError::Io(format!("{url} has no QueueArn")))
}
