//! `hookpost demo` (`make demo`): the main job end to end on this machine, with its trace.
//!
//! Starts the local stack, registers a GitHub source and a subscriber on 127.0.0.1 that verifies
//! the Standard Webhooks signature independently, sends the signed sample `events/apigw-github-push.json`
//! and prints: accepted → queued → delivered → signature verified by the subscriber.

use std::time::{Duration, Instant, SystemTime};

use hookpost_local::subscriber::start_subscribed;
use hookpost_local::{Emulator, LocalOptions, LocalStack};
use hookpost_receiver::HttpApiEvent;
use hookpost_shared::aws::{DynamoClient, DynamoDeliveries, DynamoSources};
use hookpost_shared::clock::rfc3339;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_shared::source::{Source, SourceId};

use crate::CliError;

/// The signed sample, an API Gateway HTTP API request as `cargo lambda invoke` takes it.
pub const GITHUB_SAMPLE: &str = include_str!("../../events/apigw-github-push.json");
/// The secret the samples in `events/` are signed with (see events/README.md).
pub const SAMPLE_GITHUB_SECRET: &str = "hookpost-example-secret";
/// The source id the samples are addressed to.
pub const SAMPLE_GITHUB_SOURCE: &str = "github-example";

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run() -> Result<(), CliError> {
    let started = Instant::now();
    let step = |n: u8, what: &str, detail: &str| {
        println!(
            "[{:>6.2}s] {n} {what:<10} {detail}",
            started.elapsed().as_secs_f64()
        );
    };

    let emulator = Emulator::from_env_or_spawn().await?;
    step(0, "emulator", emulator.endpoint_url());
    let prefix = format!(
        "hookpost-demo-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let stack = LocalStack::start(
        emulator,
        LocalOptions {
            port: 0,
            prefix,
            ..LocalOptions::default()
        },
    )
    .await?;
    let result = trace(&stack, &step).await;
    stack.stop().await;
    result
}

async fn trace(stack: &LocalStack, step: &impl Fn(u8, &str, &str)) -> Result<(), CliError> {
    let names = &stack.state.names;
    step(
        0,
        "stack",
        &format!(
            "queues and tables from template.yaml; receiver at {}",
            stack.state.receiver_url
        ),
    );

    let source_id =
        SourceId::parse(SAMPLE_GITHUB_SOURCE).map_err(|e| CliError::Failed(e.to_string()))?;
    DynamoSources::new(DynamoClient::new(&stack.sdk), &names.sources_table)
        .create(&Source {
            source_id: source_id.clone(),
            provider: Provider::Github,
            secrets: vec![Secret::new(SAMPLE_GITHUB_SECRET)],
            tolerance_seconds: None,
            options: Default::default(),
            created_at: rfc3339(SystemTime::now()),
        })
        .await?;
    step(0, "source", &format!("{SAMPLE_GITHUB_SOURCE} (github)"));

    let (subscriber, subscription_id) = start_subscribed(&stack.sdk, names, &source_id).await?;
    step(
        0,
        "subscriber",
        &format!("{subscription_id} → {}", subscriber.url),
    );

    let unreadable =
        |e: &dyn std::fmt::Display| CliError::Failed(format!("events/apigw-github-push.json: {e}"));
    let mut sample: HttpApiEvent =
        serde_json::from_str(GITHUB_SAMPLE).map_err(|e| unreadable(&e))?;
    let body = sample.take_body().map_err(|e| unreadable(&e))?;
    let headers: Vec<(String, String)> = sample
        .headers
        .iter()
        .flat_map(|h| h.map().iter())
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let url = format!("{}{SAMPLE_GITHUB_SOURCE}", stack.state.receiver_url);
    let (status, text) = crate::commands::post(&url, &headers, body.clone()).await?;
    if status != 202 {
        return Err(CliError::Failed(format!(
            "the receiver answered {status}: {text}"
        )));
    }
    let event_id = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["event_id"].as_str().map(str::to_owned))
        .ok_or_else(|| CliError::Failed(format!("no event id in {text}")))?;
    step(1, "accepted", &format!("POST {url} → 202 {text}"));
    step(
        2,
        "queued",
        &format!(
            "{event_id} is on {} (SQS acknowledged before the 202)",
            names.ingest_queue_url
        ),
    );

    let received = subscriber.wait_for(1, DELIVERY_TIMEOUT).await;
    let Some(delivery) = received.first() else {
        return Err(CliError::Failed(format!(
            "the subscriber got nothing within {}s",
            DELIVERY_TIMEOUT.as_secs()
        )));
    };
    let attempt = recorded_attempt(stack, &event_id, &subscription_id).await;
    step(
        3,
        "delivered",
        &format!(
            "POST {} → {} (webhook-id {}){attempt}",
            subscriber.url,
            delivery.answered,
            delivery
                .headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
        ),
    );
    if !delivery.verified || delivery.body.as_ref() != body.as_slice() {
        return Err(CliError::Failed(
            "the subscriber could not verify the delivery's signature or body".to_owned(),
        ));
    }
    step(
        4,
        "verified",
        "the subscriber checked webhook-signature with the standardwebhooks crate: valid, body identical",
    );
    subscriber.stop();
    println!("demo passed: accepted → queued → delivered → signature verified by the subscriber");
    Ok(())
}

/// The delivery record's summary, once the dispatcher has written it. Reads are retried: moto
/// applies an `UpdateItem` clause by clause, so a read can see a half-written item.
async fn recorded_attempt(stack: &LocalStack, event_id: &str, subscription_id: &str) -> String {
    let deliveries = DynamoDeliveries::new(
        DynamoClient::new(&stack.sdk),
        &stack.state.names.deliveries_table,
    );
    for _ in 0..50 {
        if let Ok(records) = deliveries.for_event(event_id).await
            && let Some(r) = records
                .iter()
                .find(|r| r.subscription_id == subscription_id)
        {
            return format!(", {} attempt(s), recorded as {}", r.attempts, r.status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ", no delivery record yet".to_owned()
}
