//! `hookpost demo` (`make demo`): the main job end to end on this machine, with its trace.
//!
//! Starts the local stack, registers a GitHub source and a subscriber on 127.0.0.1 that verifies
//! the Standard Webhooks signature independently, sends the signed sample `events/apigw-github-push.json`
//! and prints: accepted → queued → delivered → signature verified by the subscriber.

use std::time::{Duration, Instant};

use hookpost_local::subscriber::start_subscribed;
use hookpost_local::{Emulator, LocalOptions, LocalStack};
use hookpost_operations::Operations;
use hookpost_operations::sources::NewSource;
use hookpost_receiver::HttpApiEvent;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_shared::source::SourceId;

use crate::CliError;

/// The signed sample, an API Gateway HTTP API request as `cargo lambda invoke` takes it.
pub const GITHUB_SAMPLE: &str = include_str!("../../events/apigw-github-push.json");
/// The secret the samples in `events/` are signed with (see events/README.md).
pub const SAMPLE_GITHUB_SECRET: &str = "hookpost-example-secret";
/// The source id the samples are addressed to.
pub const SAMPLE_GITHUB_SOURCE: &str = "github-example";

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// `hookpost demo [--console [--port N] [--no-open]]`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// After the trace, serve `hookpost console` over the demo's stack until Ctrl+C.
    #[arg(long)]
    console: bool,
    /// With --console: the console's port and whether to open a browser.
    #[command(flatten)]
    console_args: crate::console::ConsoleArgs,
}

/// What the demo's last line tells the operator to run to look at the run in the console.
pub const CONSOLE_HINT: &str = "look at what it did in the console: make demo-console \
     (hookpost demo --console: the same run, then the console over its stack until Ctrl+C)";

pub async fn run(args: DemoArgs) -> Result<(), CliError> {
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
    let mut result = trace(&stack, &step).await;
    if result.is_ok() {
        if args.console {
            let ops = Operations::new(
                &stack.sdk,
                stack.state.names.clone(),
                Some(stack.state.receiver_url.clone()),
            );
            result = crate::console::run(ops, args.console_args).await;
        } else {
            println!("{CONSOLE_HINT}");
        }
    }
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

    let ops = Operations::new(
        &stack.sdk,
        names.clone(),
        Some(stack.state.receiver_url.clone()),
    );
    let source_id =
        SourceId::parse(SAMPLE_GITHUB_SOURCE).map_err(|e| CliError::Failed(e.to_string()))?;
    ops.add_source(NewSource {
        source_id: source_id.clone(),
        provider: Provider::Github,
        secret: Some(Secret::new(SAMPLE_GITHUB_SECRET)),
        tolerance_seconds: None,
        options: Default::default(),
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
    let (status, text) = post(&url, &headers, body.clone()).await?;
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
    let attempt = recorded_attempt(&ops, &event_id, &subscription_id).await;
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
async fn recorded_attempt(ops: &Operations, event_id: &str, subscription_id: &str) -> String {
    for _ in 0..50 {
        if let Ok(records) = ops.deliveries_of(event_id).await
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

/// POSTs the sample as API Gateway received it; the status and the answer's text.
async fn post(
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<(u16, String), CliError> {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| CliError::Failed(format!("posting to {url}: {e}")))?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.unwrap_or_default()))
}
