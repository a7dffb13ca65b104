//! What each command does, against a deployed stack or the local one.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use hookpost_shared::aws::{
    DynamoClient, DynamoDeliveries, DynamoSources, DynamoSubscriptions, SqsClient,
};
use hookpost_shared::clock::{rfc3339, unix_millis, unix_seconds};
use hookpost_shared::envelope::Envelope;
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::{Check, Inbound, TimePolicy};
use hookpost_shared::source::{Source, SourceId};
use hookpost_shared::store::{DeliveryLog, SourceStore};
use hookpost_shared::subscription::{
    Subscription, new_subscription_id, parse_event_filters, parse_target_url,
};
use serde_json::json;

use crate::args::{
    Command, DlqCommand, Global, LocalCommand, Output, SignArgs, SourcesCommand,
    SubscriptionsCommand, VerifyArgs,
};
use crate::local::{Emulator, LocalOptions, LocalStack, LocalState, emulator};
use crate::signing::{Headers, provider_headers};
use crate::stack::StackNames;
use crate::{CliError, demo, template};

/// Where commands send their calls.
#[derive(Debug)]
pub struct Target {
    pub sdk: SdkConfig,
    pub names: StackNames,
    pub receiver_url: Option<String>,
}

impl Target {
    /// The local stack with `--local`; otherwise the environment's AWS account and the names in
    /// `HOOKPOST_*` variables.
    pub async fn resolve(global: &Global) -> Result<Self, CliError> {
        if global.local {
            let state = LocalState::load(&LocalState::path()).map_err(CliError::Failed)?;
            return Ok(Self {
                sdk: emulator::sdk_config_for(&state.endpoint_url, &state.region).await,
                names: state.names,
                receiver_url: Some(state.receiver_url),
            });
        }
        let var = |name: &'static str| {
            std::env::var(name).map_err(|_| {
                CliError::Usage(format!(
                    "{name} is not set: pass --local for the local stack, or export the stack's \
                     outputs (see README, \"Deploying\"; `--stack` arrives with the CLI issue)"
                ))
            })
        };
        Ok(Self {
            sdk: hookpost_shared::aws::load_sdk_config().await,
            names: StackNames {
                sources_table: var("HOOKPOST_SOURCES_TABLE")?,
                subscriptions_table: var("HOOKPOST_SUBSCRIPTIONS_TABLE")?,
                deliveries_table: var("HOOKPOST_DELIVERIES_TABLE")?,
                delivery_ids_table: var("HOOKPOST_DELIVERY_IDS_TABLE")?,
                events_table: var("HOOKPOST_EVENTS_TABLE")?,
                bodies_bucket: var("HOOKPOST_BODIES_BUCKET")?,
                ingest_queue_url: var("HOOKPOST_INGEST_QUEUE_URL")?,
                dead_letter_queue_url: var("HOOKPOST_DEAD_LETTER_QUEUE_URL")?,
            },
            receiver_url: std::env::var("HOOKPOST_RECEIVER_URL").ok(),
        })
    }

    fn sources(&self) -> DynamoSources {
        DynamoSources::new(DynamoClient::new(&self.sdk), &self.names.sources_table)
    }

    fn subscriptions(&self) -> DynamoSubscriptions {
        DynamoSubscriptions::new(
            DynamoClient::new(&self.sdk),
            &self.names.subscriptions_table,
        )
    }

    fn deliveries(&self) -> DynamoDeliveries {
        DynamoDeliveries::new(DynamoClient::new(&self.sdk), &self.names.deliveries_table)
    }

    fn webhook_url(&self, source: &str) -> String {
        match &self.receiver_url {
            Some(base) => format!("{base}{source}"),
            None => format!("<WebhookBaseUrl output>{source}"),
        }
    }
}

/// Runs one command.
pub async fn run(global: &Global, command: Command) -> Result<(), CliError> {
    match command {
        Command::Local(LocalCommand::Up {
            port,
            max_receive_count,
            retry_delays,
            ordered,
            template,
        }) => local_up(port, max_receive_count, retry_delays, ordered, template).await,
        Command::Demo => demo::run().await,
        Command::Sign(args) => sign(global, &args),
        Command::Sources(cmd) => sources(global, cmd).await,
        Command::Subscriptions(cmd) => subscriptions(global, cmd).await,
        Command::Dlq(cmd) => dlq(global, cmd).await,
        Command::Deliveries { event_id } => deliveries(global, &event_id).await,
        Command::Send { source, url, sign } => send(global, &source, url, &sign).await,
        Command::Verify(args) => verify(global, &args),
    }
}

async fn local_up(
    port: u16,
    max_receive_count: Option<u32>,
    retry_delays: Option<String>,
    ordered: bool,
    template_path: Option<std::path::PathBuf>,
) -> Result<(), CliError> {
    let template = match template_path {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?,
        None => template::BUNDLED.to_owned(),
    };
    let emulator = Emulator::from_env_or_spawn().await?;
    let owned = emulator.is_owned();
    let stack = LocalStack::start(
        emulator,
        LocalOptions {
            port,
            max_receive_count,
            retry_delays,
            template,
            parameters: ordered
                .then(|| ("OrderedDelivery".to_owned(), "true".to_owned()))
                .into_iter()
                .collect(),
            ..LocalOptions::default()
        },
    )
    .await?;
    let state_path = LocalState::path();
    stack.state.save(&state_path).map_err(CliError::Failed)?;
    let redrive = stack
        .spec
        .queues
        .iter()
        .find_map(|q| q.redrive.as_ref())
        .map_or(0, |r| r.max_receive_count);
    println!(
        "emulator   {} ({})",
        stack.state.endpoint_url,
        if owned {
            "moto, started here"
        } else {
            "AWS_ENDPOINT_URL"
        }
    );
    println!("receiver   {}{{source}}", stack.state.receiver_url);
    println!(
        "dispatcher batch size {}, max receives {redrive}, retry delays {}{}",
        stack.spec.event_source.batch_size,
        stack.spec.parameters["RetryDelays"],
        if ordered {
            ", ordered per source (FIFO)"
        } else {
            ""
        }
    );
    println!("use it     hookpost --local sources add NAME --provider github");
    println!("Ctrl-C stops.");
    wait_for_signal().await;
    println!("stopping…");
    stack.stop().await;
    let _ = std::fs::remove_file(&state_path);
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The body of `--data-file` and the headers the provider would send with it now.
fn signed_body(args: &SignArgs) -> Result<(Vec<u8>, Headers), CliError> {
    let body = std::fs::read(&args.data_file)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.data_file.display())))?;
    let options = args
        .scheme
        .options(args.provider)
        .map_err(CliError::Usage)?;
    let headers = provider_headers(
        args.provider,
        &Secret::new(args.secret.clone()),
        &body,
        args.event.as_deref(),
        unix_seconds(SystemTime::now()),
        &options,
    )
    .map_err(CliError::Usage)?;
    Ok((body, headers))
}

fn sign(global: &Global, args: &SignArgs) -> Result<(), CliError> {
    let (_, headers) = signed_body(args)?;
    match global.output {
        Output::Json => {
            let map: BTreeMap<_, _> = headers.into_iter().collect();
            println!("{}", json!({ "headers": map }));
        }
        Output::Table => {
            for (name, value) in headers {
                println!("{name}: {value}");
            }
        }
    }
    Ok(())
}

async fn send(
    global: &Global,
    source: &str,
    url: Option<String>,
    args: &SignArgs,
) -> Result<(), CliError> {
    let base = match url {
        Some(url) => url,
        None => Target::resolve(global)
            .await?
            .receiver_url
            .ok_or_else(|| CliError::Usage("pass --url with the receiver's base URL".to_owned()))?,
    };
    let (body, headers) = signed_body(args)?;
    let target = format!("{}/{source}", base.trim_end_matches('/'));
    let (status, text) = post(&target, &headers, body).await?;
    match global.output {
        Output::Json => println!(
            "{}",
            json!({ "status": status, "response": serde_json::from_str::<serde_json::Value>(&text).unwrap_or(json!(text)) })
        ),
        Output::Table => println!("{status} {text}"),
    }
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(CliError::Failed(format!("the receiver answered {status}")))
    }
}

/// POSTs `body` with `headers`; the status and the response text.
pub(crate) async fn post(
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<(u16, String), CliError> {
    let client = reqwest::Client::new();
    let mut request = client.post(url).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| CliError::Failed(format!("posting to {url}: {e}")))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Ok((status, text))
}

/// `hookpost verify`: the receiver's own check, on a request given as flags and a body file.
fn verify(global: &Global, args: &VerifyArgs) -> Result<(), CliError> {
    let body = std::fs::read(&args.body_file)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.body_file.display())))?;
    let mut scheme = args.scheme.clone();
    let mut query = None;
    if let Some(url) = &args.url {
        let parsed = url::Url::parse(url).map_err(|e| CliError::Usage(format!("--url: {e}")))?;
        query = parsed.query().map(str::to_owned);
        let mut base = parsed.clone();
        base.set_query(None);
        scheme.public_url.get_or_insert_with(|| base.to_string());
    }
    let options = scheme.options(args.provider).map_err(CliError::Usage)?;
    let mut headers = http::HeaderMap::new();
    for header in &args.headers {
        let (name, value) = header.split_once(':').ok_or_else(|| {
            CliError::Usage(format!("`{header}`: write headers as `Name: value`"))
        })?;
        let name = http::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| CliError::Usage(format!("`{name}` is not a header name")))?;
        let value = http::HeaderValue::from_str(value.trim())
            .map_err(|_| CliError::Usage(format!("the value of {name} is not printable")))?;
        headers.append(name, value);
    }
    let secrets = [Secret::new(args.secret.clone())];
    let tolerance = args
        .tolerance
        .map(std::time::Duration::from_secs)
        .unwrap_or_else(|| args.provider.default_tolerance());
    let check = Check {
        secrets: &secrets,
        policy: TimePolicy {
            now: args.now.unwrap_or_else(|| unix_seconds(SystemTime::now())),
            tolerance,
        },
        options: &options,
    };
    let inbound = Inbound {
        headers: &headers,
        body: &body,
        query: query.as_deref(),
    };
    let result = args.provider.verify(&check, &inbound);
    let meta = args.provider.describe(&check, &inbound);
    match (&result, global.output) {
        (Ok(()), Output::Json) => println!(
            "{}",
            json!({ "valid": true, "event_type": meta.event_type, "delivery_id": meta.delivery_id })
        ),
        (Ok(()), Output::Table) => println!(
            "valid ({} event {}, delivery {})",
            args.provider,
            meta.event_type.as_deref().unwrap_or("-"),
            meta.delivery_id.as_deref().unwrap_or("-")
        ),
        (Err(e), Output::Json) => {
            println!(
                "{}",
                json!({ "valid": false, "code": e.code(), "message": e.to_string() })
            );
        }
        (Err(e), Output::Table) => println!("invalid: {}: {e}", e.code()),
    }
    result.map_err(|e| CliError::Invalid(e.code().to_owned()))
}

fn parse_source_id(name: &str) -> Result<SourceId, CliError> {
    SourceId::parse(name).map_err(|e| CliError::Usage(format!("`{name}`: {e}")))
}

async fn sources(global: &Global, command: SourcesCommand) -> Result<(), CliError> {
    let target = Target::resolve(global).await?;
    let store = target.sources();
    match command {
        SourcesCommand::Add {
            name,
            provider,
            secret,
            tolerance_seconds,
            scheme,
        } => {
            let source_id = parse_source_id(&name)?;
            let options = scheme.options(provider).map_err(CliError::Usage)?;
            let secret = match secret {
                Some(s) if !s.trim().is_empty() => Secret::new(s.trim()),
                Some(_) => return Err(CliError::Usage("--secret cannot be empty".to_owned())),
                None => match provider {
                    hookpost_shared::signature::Provider::StandardWebhooks => {
                        SigningKey::generate()
                            .map_err(|e| CliError::Failed(format!("no randomness: {e}")))?
                            .to_whsec()
                    }
                    _ => Secret::generate()
                        .map_err(|e| CliError::Failed(format!("no randomness: {e}")))?,
                },
            };
            let source = Source {
                source_id: source_id.clone(),
                provider,
                secrets: vec![secret.clone()],
                tolerance_seconds,
                options,
                created_at: rfc3339(SystemTime::now()),
            };
            if !store.create(&source).await? {
                return Err(CliError::Failed(format!(
                    "a source named {name} already exists; pick another name or remove it first"
                )));
            }
            let url = target.webhook_url(source_id.as_str());
            match global.output {
                Output::Json => println!(
                    "{}",
                    json!({ "source_id": name, "provider": provider.name(), "url": url, "secret": secret.expose() })
                ),
                Output::Table => {
                    println!("source    {name} ({provider})");
                    println!("url       {url}");
                    println!("secret    {}", secret.expose());
                    println!(
                        "Give the provider this URL and secret; the secret is not shown again."
                    );
                }
            }
        }
        SourcesCommand::List => {
            let list = store.list().await?;
            print_sources(global, &list);
        }
        SourcesCommand::Show { name } => {
            let id = parse_source_id(&name)?;
            let source = store
                .get_source(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no source named {name}")))?;
            print_sources(global, std::slice::from_ref(&source));
        }
        SourcesCommand::Remove { name } => {
            let id = parse_source_id(&name)?;
            if !store.delete(&id).await? {
                return Err(CliError::Failed(format!("no source named {name}")));
            }
            println!("removed {name}");
        }
    }
    Ok(())
}

fn print_sources(global: &Global, list: &[Source]) {
    match global.output {
        Output::Json => {
            let rows: Vec<_> = list
                .iter()
                .map(|s| {
                    json!({
                        "source_id": s.source_id.as_str(),
                        "provider": s.provider.name(),
                        "secrets": s.secrets.len(),
                        "tolerance_seconds": s.tolerance().as_secs(),
                        "created_at": s.created_at,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
        Output::Table => {
            println!(
                "{:<24} {:<18} {:>7}  CREATED",
                "SOURCE", "PROVIDER", "SECRETS"
            );
            for s in list {
                println!(
                    "{:<24} {:<18} {:>7}  {}",
                    s.source_id.as_str(),
                    s.provider.name(),
                    s.secrets.len(),
                    s.created_at
                );
            }
        }
    }
}

async fn subscriptions(global: &Global, command: SubscriptionsCommand) -> Result<(), CliError> {
    let target = Target::resolve(global).await?;
    let store = target.subscriptions();
    match command {
        SubscriptionsCommand::Add {
            source,
            url,
            events,
            headers,
            timeout_seconds,
        } => {
            let source_id = parse_source_id(&source)?;
            if target.sources().get_source(&source_id).await?.is_none() {
                return Err(CliError::Failed(format!(
                    "no source named {source}: create it with `hookpost sources add`"
                )));
            }
            let url = parse_target_url(&url).map_err(CliError::Usage)?;
            let event_types = parse_event_filters(&events).map_err(CliError::Usage)?;
            let headers = headers
                .iter()
                .map(|h| parse_header(h))
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            let key = SigningKey::generate()
                .map_err(|e| CliError::Failed(format!("no randomness: {e}")))?;
            let subscription = Subscription {
                source_id,
                subscription_id: new_subscription_id(),
                url: url.to_string(),
                secrets: vec![key.to_whsec()],
                event_types,
                enabled: true,
                disabled_reason: None,
                disabled_at: None,
                failing_since: None,
                timeout_seconds,
                headers,
                created_at: rfc3339(SystemTime::now()),
            };
            store.put(&subscription).await?;
            let secret = key.to_whsec();
            match global.output {
                Output::Json => println!(
                    "{}",
                    json!({ "subscription_id": subscription.subscription_id, "source_id": source, "url": subscription.url, "secret": secret.expose() })
                ),
                Output::Table => {
                    println!("subscription {}", subscription.subscription_id);
                    println!("url          {}", subscription.url);
                    println!("secret       {}", secret.expose());
                    println!(
                        "Verify deliveries with this Standard Webhooks secret; it is not shown again."
                    );
                }
            }
        }
        SubscriptionsCommand::List { source } => {
            let mut list = store.list_all().await?;
            if let Some(source) = source {
                list.retain(|s| s.source_id.as_str() == source);
            }
            match global.output {
                Output::Json => {
                    let rows: Vec<_> = list
                        .iter()
                        .map(|s| {
                            json!({
                                "subscription_id": s.subscription_id,
                                "source_id": s.source_id.as_str(),
                                "url": s.url,
                                "event_types": s.event_types,
                                "enabled": s.enabled,
                                "disabled_reason": s.disabled_reason,
                                "disabled_at": s.disabled_at,
                                "failing_since": s.failing_since,
                                "timeout_seconds": s.timeout_seconds,
                            })
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(rows));
                }
                Output::Table => {
                    println!(
                        "{:<40} {:<20} {:<9} {:<16} URL",
                        "SUBSCRIPTION", "SOURCE", "STATE", "EVENTS"
                    );
                    for s in &list {
                        println!(
                            "{:<40} {:<20} {:<9} {:<16} {}",
                            s.subscription_id,
                            s.source_id.as_str(),
                            if s.enabled { "enabled" } else { "disabled" },
                            s.event_types.join(","),
                            s.url
                        );
                    }
                }
            }
        }
        SubscriptionsCommand::Remove { id } => {
            let found = store
                .find(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no subscription {id}")))?;
            store.delete(&found.source_id, &id).await?;
            println!("removed {id}");
        }
        SubscriptionsCommand::Enable { id } => {
            let found = store
                .find(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no subscription {id}")))?;
            store.set_enabled(&found.source_id, &id, true, None).await?;
            println!("enabled {id}");
        }
        SubscriptionsCommand::Disable { id, reason } => {
            let found = store
                .find(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no subscription {id}")))?;
            store
                .set_enabled(&found.source_id, &id, false, Some(&reason))
                .await?;
            println!("disabled {id}");
        }
    }
    Ok(())
}

fn parse_header(header: &str) -> Result<(String, String), CliError> {
    let (name, value) = header
        .split_once(':')
        .ok_or_else(|| CliError::Usage(format!("`{header}`: write headers as `Name: value`")))?;
    let name = name.trim().to_ascii_lowercase();
    http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| CliError::Usage(format!("`{name}` is not a header name")))?;
    if name.starts_with("webhook-") {
        return Err(CliError::Usage(format!(
            "`{name}`: webhook-* headers are Hookpost's signature headers"
        )));
    }
    Ok((name, value.trim().to_owned()))
}

async fn dlq(global: &Global, command: DlqCommand) -> Result<(), CliError> {
    let target = Target::resolve(global).await?;
    let sqs = SqsClient::new(&target.sdk);
    let dlq_url = &target.names.dead_letter_queue_url;
    match command {
        DlqCommand::List => {
            // Peek: a zero visibility timeout leaves every message where it is.
            let out = sqs
                .receive_message()
                .queue_url(dlq_url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(|e| CliError::Failed(sdk_message(e)))?;
            let deliveries = target.deliveries();
            let mut rows = Vec::new();
            for message in out.messages.unwrap_or_default() {
                let body = message.body.as_deref().unwrap_or_default();
                let receives = message
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .cloned()
                    .unwrap_or_default();
                let row = match Envelope::decode(body) {
                    Ok(envelope) => {
                        let records = deliveries.for_event(&envelope.event_id).await?;
                        let delivered = deliveries
                            .delivered_subscriptions(&envelope.event_id)
                            .await?;
                        let undelivered: Vec<_> = records
                            .iter()
                            .filter(|r| !delivered.contains(&r.subscription_id))
                            .map(|r| {
                                json!({
                                    "subscription_id": r.subscription_id,
                                    "last_error": r.last_error,
                                    "last_status_code": r.last_status_code,
                                })
                            })
                            .collect();
                        json!({
                            "event_id": envelope.event_id,
                            "source_id": envelope.source_id.as_str(),
                            "event_type": envelope.event_type,
                            "received_at": envelope.received_at,
                            "receive_count": receives,
                            "undelivered": undelivered,
                        })
                    }
                    Err(e) => json!({
                        "message_id": message.message_id,
                        "receive_count": receives,
                        "error": e.to_string(),
                    }),
                };
                rows.push(row);
            }
            match global.output {
                Output::Json => println!("{}", serde_json::Value::Array(rows)),
                Output::Table => {
                    println!(
                        "{:<40} {:<16} {:<20} {:>8}  UNDELIVERED",
                        "EVENT", "SOURCE", "TYPE", "RECEIVES"
                    );
                    for r in &rows {
                        let undelivered = r["undelivered"]
                            .as_array()
                            .map(|u| {
                                u.iter()
                                    .map(|d| {
                                        format!(
                                            "{} ({})",
                                            d["subscription_id"].as_str().unwrap_or("?"),
                                            d["last_error"].as_str().unwrap_or("-")
                                        )
                                    })
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_else(|| r["error"].as_str().unwrap_or("").to_owned());
                        println!(
                            "{:<40} {:<16} {:<20} {:>8}  {}",
                            r["event_id"]
                                .as_str()
                                .or(r["message_id"].as_str())
                                .unwrap_or("?"),
                            r["source_id"].as_str().unwrap_or("-"),
                            r["event_type"].as_str().unwrap_or("-"),
                            r["receive_count"].as_str().unwrap_or("?"),
                            undelivered
                        );
                    }
                }
            }
        }
        DlqCommand::Redrive { all: _ } => {
            let moved = redrive_all(&sqs, dlq_url, &target.names.ingest_queue_url).await?;
            println!("redriven {moved} message(s) to the ingest queue");
        }
    }
    Ok(())
}

/// Moves every message from `from` to `to`: sent first, deleted after, so a failure in between
/// leaves a duplicate (which the dispatcher skips per subscription), never a loss.
///
/// Between FIFO queues (ordered mode) each message keeps its group, and so its place in the
/// source's order. It gets a fresh deduplication id: the queue would silently drop a redrive
/// within five minutes of the original send under the old one.
pub async fn redrive_all(sqs: &SqsClient, from: &str, to: &str) -> Result<usize, CliError> {
    let fifo = hookpost_shared::aws::is_fifo_url(to);
    let mut moved = 0;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .map_err(|e| CliError::Failed(sdk_message(e)))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(moved);
        }
        for message in messages {
            let group = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned();
            let dedup = format!(
                "redrive-{}-{}",
                message.message_id.as_deref().unwrap_or_default(),
                unix_millis(SystemTime::now())
            );
            sqs.send_message()
                .queue_url(to)
                .message_body(message.body.unwrap_or_default())
                .set_message_group_id(group.filter(|_| fifo))
                .set_message_deduplication_id(fifo.then_some(dedup))
                .send()
                .await
                .map_err(|e| CliError::Failed(sdk_message(e)))?;
            sqs.delete_message()
                .queue_url(from)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .map_err(|e| CliError::Failed(sdk_message(e)))?;
            moved += 1;
        }
    }
}

async fn deliveries(global: &Global, event_id: &str) -> Result<(), CliError> {
    let target = Target::resolve(global).await?;
    let records = target.deliveries().for_event(event_id).await?;
    match global.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string(&records).map_err(|e| CliError::Failed(e.to_string()))?
        ),
        Output::Table => {
            if records.is_empty() {
                println!("no delivery attempts recorded for {event_id}");
            }
            for r in &records {
                println!(
                    "{}  {}  {} attempt(s)",
                    r.subscription_id, r.status, r.attempts
                );
                for a in &r.history {
                    println!(
                        "  {}  {:<16} {:>4}  {:>6} ms  {}",
                        a.at,
                        a.outcome,
                        a.status_code.map_or("-".to_owned(), |c| c.to_string()),
                        a.duration_ms,
                        a.error.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(())
}

fn sdk_message(e: impl std::error::Error) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(e).to_string()
}
