//! What every integration test stands on: the emulator named by `AWS_ENDPOINT_URL` (the test
//! command starts moto's server), a fresh stack per test (queues and tables from template.yaml
//! under a unique prefix, so tests never share state), and the handlers wired to real SDK clients.

mod apigw;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use hookpost_local::emulator::Endpoints;
use hookpost_local::poller::AwsDispatcher;
use hookpost_local::provision::provision;
use hookpost_local::stack::{AwsReceiver, aws_dispatcher, aws_receiver};
use hookpost_local::{Emulator, LocalOptions, LocalStack, template};
use hookpost_shared::aws::{DynamoClient, DynamoSources};
use hookpost_shared::clock::{Clock, SystemClock, rfc3339};
use hookpost_shared::deployment::StackNames;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_shared::source::{Source, SourceId};
use hookpost_testkit::{Subscriber, start_subscribed};

pub use hookpost_testkit::{drain, queue_depth};

pub use apigw::{Answer, ApiEvent, invoke, read, read_text};

/// How long a test waits for something asynchronous before it fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The emulator(s) the test command started: `AWS_ENDPOINT_URL`, and any
/// `AWS_ENDPOINT_URL_<SERVICE>` beside it (scripts/with-localstack.sh puts DynamoDB on moto).
pub fn emulator() -> Emulator {
    let endpoints = Endpoints::from_env().unwrap_or_else(|| {
        panic!(
            "the integration tests need an AWS-protocol emulator: run `make integration` \
             (it starts moto's server), or set AWS_ENDPOINT_URL"
        )
    });
    Emulator::with_endpoints(endpoints)
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Queues and tables from template.yaml, without running anything.
pub struct Resources {
    pub sdk: SdkConfig,
    pub names: StackNames,
}

pub async fn resources() -> Resources {
    let emulator = emulator();
    let sdk = emulator.sdk_config().await;
    let spec = template::stack_spec(template::BUNDLED, &Default::default()).expect("template");
    let names = provision(&sdk, &spec, &unique("it"))
        .await
        .expect("provisioning on the emulator");
    Resources { sdk, names }
}

/// The whole local stack: receiver on loopback, dispatcher behind the SQS poller.
pub async fn running_stack(
    max_receive_count: Option<u32>,
    retry_delays: Option<&str>,
) -> LocalStack {
    LocalStack::start(
        emulator(),
        LocalOptions {
            port: 0,
            max_receive_count,
            retry_delays: retry_delays.map(str::to_owned),
            prefix: unique("it"),
            ..LocalOptions::default()
        },
    )
    .await
    .expect("the local stack starts")
}

pub async fn add_source(
    sdk: &SdkConfig,
    names: &StackNames,
    id: &str,
    provider: Provider,
    secret: &str,
) {
    let created = DynamoSources::new(DynamoClient::new(sdk), &names.sources_table)
        .create(&Source {
            source_id: SourceId::parse(id).expect("valid id"),
            provider,
            secrets: vec![Secret::new(secret)],
            tolerance_seconds: None,
            options: Default::default(),
            created_at: rfc3339(SystemTime::now()),
        })
        .await
        .expect("PutItem");
    assert!(created, "source {id} is new");
}

/// Starts a verifying subscriber and subscribes it to `source`; returns it and its subscription id.
pub async fn add_subscriber(
    sdk: &SdkConfig,
    names: &StackNames,
    source: &str,
) -> (Subscriber, String) {
    let source = SourceId::parse(source).expect("valid id");
    start_subscribed(sdk, names, &source)
        .await
        .expect("subscriber on 127.0.0.1, subscription stored")
}

pub fn receiver(sdk: &SdkConfig, names: &StackNames, clock: Arc<dyn Clock>) -> AwsReceiver {
    aws_receiver(sdk, names, clock)
}

pub fn dispatcher(sdk: &SdkConfig, names: &StackNames) -> AwsDispatcher {
    let config = hookpost_dispatcher::Config {
        retry: "1s".parse().expect("schedule"),
        targets: hookpost_shared::delivery::TargetPolicy::AllPrivate,
        subscription_cache: Duration::ZERO,
        ..hookpost_dispatcher::Config::default()
    };
    aws_dispatcher(sdk, names, config).expect("dispatcher")
}

/// Waits until `check` holds, polling; false if it never did within [`PATIENCE`].
pub async fn eventually<F, Fut>(check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    hookpost_testkit::eventually(PATIENCE, check).await
}

/// Posts `body` with `headers` to `url`; the status and the JSON answer.
pub async fn post(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().post(url).body(body.to_vec());
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let response = request.send().await.expect("the receiver answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Posts `body` to a GitHub source of `stack` signed with `secret`, as GitHub would send a
/// `event` delivery with `content_type`; insists on 202 and returns the event id.
pub async fn post_github(
    stack: &LocalStack,
    source: &str,
    secret: &str,
    event: &str,
    body: &str,
    content_type: &str,
) -> String {
    let mut headers = hookpost_cli::signing::provider_headers(
        Provider::Github,
        &Secret::new(secret),
        body.as_bytes(),
        Some(event),
        now(),
        &Default::default(),
    )
    .expect("signs");
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
    headers.push(("content-type".to_owned(), content_type.to_owned()));
    let (status, answer) = post(
        &format!("{}{source}", stack.state.receiver_url),
        &headers,
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    answer["event_id"]
        .as_str()
        .expect("the receiver names the event")
        .to_owned()
}

pub fn now() -> i64 {
    SystemClock.unix_seconds()
}

/// Sets a subscription's event-type filters by writing its item straight to the table, as a
/// subscription stored by an earlier version of Hookpost would be.
pub async fn set_event_types(sdk: &SdkConfig, names: &StackNames, id: &str, types: &[&str]) {
    let table = hookpost_shared::aws::DynamoSubscriptions::new(
        DynamoClient::new(sdk),
        &names.subscriptions_table,
    );
    let mut subscription = table
        .find(id)
        .await
        .expect("reads the subscription")
        .expect("the subscription exists");
    subscription.event_types = types.iter().map(|t| t.to_string()).collect();
    table.put(&subscription).await.expect("writes it back");
}
