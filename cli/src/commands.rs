//! What each command does, against a deployed stack or the local one.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_config::SdkConfig;
use hookpost_local::{Emulator, LocalOptions, LocalStack, LocalState, emulator, template};
use hookpost_shared::aws::{
    DeliveryRecord, DynamoClient, DynamoDeliveries, DynamoEvents, DynamoSources,
    DynamoSubscriptions, LatestDelivery, SqsClient,
};
use hookpost_shared::clock::{rfc3339, unix_seconds};
use hookpost_shared::deployment::StackNames;
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::{Check, Inbound, TimePolicy};
use hookpost_shared::source::{Source, SourceId};
use hookpost_shared::store::SourceStore;
use hookpost_shared::subscription::{
    Subscription, new_subscription_id, parse_event_filters, parse_target_url,
};
use serde_json::json;

use crate::args::{
    Command, Global, LocalCommand, Output, SignArgs, SourcesCommand, SubscriptionsCommand,
    VerifyArgs,
};
use crate::signing::{Headers, provider_headers};
use crate::{CliError, demo};

/// Where commands send their calls.
#[derive(Debug)]
pub struct Target {
    pub sdk: SdkConfig,
    pub names: StackNames,
    pub receiver_url: Option<String>,
}

impl Target {
    /// The local stack with `--local`; otherwise the AWS account of the environment (or of
    /// `--profile`, in `--region`) and the names in the outputs of `--stack` / `HOOKPOST_STACK`,
    /// or else in `HOOKPOST_*` variables.
    pub async fn resolve(global: &Global) -> Result<Self, CliError> {
        if global.local {
            let state = LocalState::load(&LocalState::path()).map_err(CliError::Failed)?;
            return Ok(Self {
                sdk: emulator::sdk_config_for(&state.endpoint_url, &state.region).await,
                names: state.names,
                receiver_url: Some(state.receiver_url),
            });
        }
        let sdk = sdk_config(global).await;
        if let Some(stack) = global.stack.as_deref().filter(|s| !s.is_empty()) {
            let deployed = crate::cloudformation::describe(&sdk, stack)
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?;
            return Ok(Self {
                sdk,
                names: deployed.names,
                receiver_url: Some(deployed.webhook_base_url),
            });
        }
        let var = |name: &'static str| {
            std::env::var(name).map_err(|_| {
                CliError::Usage(format!(
                    "{name} is not set: pass --stack NAME (the deployed CloudFormation stack), \
                     --local for the local stack, or export the stack's outputs as HOOKPOST_* \
                     variables (see README, \"Deploying\")"
                ))
            })
        };
        Ok(Self {
            sdk,
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

    pub(crate) fn sources(&self) -> DynamoSources {
        DynamoSources::new(DynamoClient::new(&self.sdk), &self.names.sources_table)
    }

    pub(crate) fn subscriptions(&self) -> DynamoSubscriptions {
        DynamoSubscriptions::new(
            DynamoClient::new(&self.sdk),
            &self.names.subscriptions_table,
        )
    }

    pub(crate) fn deliveries(&self) -> DynamoDeliveries {
        DynamoDeliveries::new(DynamoClient::new(&self.sdk), &self.names.deliveries_table)
    }

    pub(crate) fn events(&self) -> DynamoEvents {
        DynamoEvents::new(DynamoClient::new(&self.sdk), &self.names.events_table)
    }

    fn webhook_url(&self, source: &str) -> String {
        match &self.receiver_url {
            Some(base) => format!("{base}{source}"),
            None => format!("<WebhookBaseUrl output>{source}"),
        }
    }
}

/// The SDK configuration of the environment, with `--region` and `--profile` applied.
async fn sdk_config(global: &Global) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &global.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &global.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
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
        Command::Dlq(cmd) => crate::dlq::run(global, cmd).await,
        Command::Events(cmd) => crate::events::run(global, cmd).await,
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

pub(crate) fn parse_source_id(name: &str) -> Result<SourceId, CliError> {
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
            let secret = source_secret(provider, secret)?;
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
        SourcesCommand::RotateSecret {
            name,
            secret,
            finish,
        } => {
            let id = parse_source_id(&name)?;
            let mut source = store
                .get_source(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no source named {name}")))?;
            let added = if finish {
                let retired = retire_all_but_newest(&mut source.secrets);
                store.put(&source).await?;
                print_rotation(
                    global,
                    "source_id",
                    &name,
                    retired,
                    source.secrets.len(),
                    None,
                );
                return Ok(());
            } else {
                let secret = source_secret(source.provider, secret)?;
                if source.secrets.iter().any(|s| s.expose() == secret.expose()) {
                    return Err(CliError::Usage(format!("{name} already has this secret")));
                }
                source.secrets.push(secret.clone());
                secret
            };
            store.put(&source).await?;
            print_rotation(
                global,
                "source_id",
                &name,
                0,
                source.secrets.len(),
                Some(&added),
            );
        }
        SourcesCommand::Remove { name } => {
            let id = parse_source_id(&name)?;
            if !store.delete(&id).await? {
                return Err(CliError::Failed(format!("no source named {name}")));
            }
            acknowledge(
                global,
                json!({ "source_id": name, "removed": true }),
                || format!("removed {name}"),
            );
        }
    }
    Ok(())
}

/// The secret given with `--secret`, or a strong new one in the provider's format.
fn source_secret(
    provider: hookpost_shared::signature::Provider,
    given: Option<String>,
) -> Result<Secret, CliError> {
    match given {
        Some(s) if !s.trim().is_empty() => Ok(Secret::new(s.trim())),
        Some(_) => Err(CliError::Usage("--secret cannot be empty".to_owned())),
        None => match provider {
            hookpost_shared::signature::Provider::StandardWebhooks => Ok(SigningKey::generate()
                .map_err(|e| CliError::Failed(format!("no randomness: {e}")))?
                .to_whsec()),
            _ => Secret::generate().map_err(|e| CliError::Failed(format!("no randomness: {e}"))),
        },
    }
}

/// Keeps the newest secret (the last one added); how many were retired.
fn retire_all_but_newest(secrets: &mut Vec<Secret>) -> usize {
    let retired = secrets.len().saturating_sub(1);
    secrets.drain(..retired);
    retired
}

/// What a rotation did; the new secret is printed here and nowhere else.
fn print_rotation(
    global: &Global,
    id_field: &str,
    id: &str,
    retired: usize,
    secrets: usize,
    added: Option<&Secret>,
) {
    match global.output {
        Output::Json => {
            let mut row = json!({ id_field: id, "retired": retired, "secrets": secrets });
            if let Some(secret) = added {
                row["secret"] = json!(secret.expose());
            }
            println!("{row}");
        }
        Output::Table => match added {
            Some(secret) => {
                println!("new secret {}", secret.expose());
                println!(
                    "{id} now accepts {secrets} secrets. Configure the new one, check it works, then \
                     run rotate-secret --finish. It is not shown again."
                );
            }
            None => println!("{id}: retired {retired} old secret(s); only the newest is used now"),
        },
    }
}

/// A command's result: `json` for scripts, a line of text for people.
fn acknowledge(global: &Global, json: serde_json::Value, text: impl FnOnce() -> String) {
    match global.output {
        Output::Json => println!("{json}"),
        Output::Table => println!("{}", text()),
    }
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
                event_types,
                timeout_seconds,
                headers,
                ..Subscription::new(
                    source_id,
                    new_subscription_id(),
                    url.to_string(),
                    vec![key.to_whsec()],
                    rfc3339(SystemTime::now()),
                )
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
            let mut last = target.deliveries().latest_by_subscription().await?;
            let rows: Vec<_> = list
                .into_iter()
                .map(|s| {
                    let latest = last.remove(&s.subscription_id);
                    (s, latest)
                })
                .collect();
            print_subscriptions(global, &rows);
        }
        SubscriptionsCommand::Remove { id } => {
            let found = store
                .find(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no subscription {id}")))?;
            store.delete(&found.source_id, &id).await?;
            acknowledge(
                global,
                json!({ "subscription_id": id, "removed": true }),
                || format!("removed {id}"),
            );
        }
        SubscriptionsCommand::Enable { id } => {
            let found = store
                .find(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no subscription {id}")))?;
            store.set_enabled(&found.source_id, &id, true, None).await?;
            acknowledge(
                global,
                json!({ "subscription_id": id, "enabled": true }),
                || format!("enabled {id}"),
            );
        }
        SubscriptionsCommand::Disable { id, reason } => {
            let found = store
                .find(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no subscription {id}")))?;
            store
                .set_enabled(&found.source_id, &id, false, Some(&reason))
                .await?;
            acknowledge(
                global,
                json!({ "subscription_id": id, "enabled": false, "disabled_reason": reason }),
                || format!("disabled {id}"),
            );
        }
        SubscriptionsCommand::Show { id } => {
            let found = store
                .find(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no subscription {id}")))?;
            let last = target
                .deliveries()
                .latest_by_subscription()
                .await?
                .remove(&found.subscription_id);
            print_subscriptions(global, &[(found, last)]);
        }
        SubscriptionsCommand::RotateSecret { id, finish } => {
            let mut found = store
                .find(&id)
                .await?
                .ok_or_else(|| CliError::Failed(format!("no subscription {id}")))?;
            if finish {
                let retired = retire_all_but_newest(&mut found.secrets);
                store.put(&found).await?;
                print_rotation(
                    global,
                    "subscription_id",
                    &id,
                    retired,
                    found.secrets.len(),
                    None,
                );
            } else {
                let secret = SigningKey::generate()
                    .map_err(|e| CliError::Failed(format!("no randomness: {e}")))?
                    .to_whsec();
                found.secrets.push(secret.clone());
                store.put(&found).await?;
                print_rotation(
                    global,
                    "subscription_id",
                    &id,
                    0,
                    found.secrets.len(),
                    Some(&secret),
                );
            }
        }
    }
    Ok(())
}

/// Subscriptions with their latest delivery attempt (secrets are never shown).
fn print_subscriptions(global: &Global, rows: &[(Subscription, Option<LatestDelivery>)]) {
    let now = SystemTime::now();
    match global.output {
        Output::Json => {
            let rows: Vec<_> = rows
                .iter()
                .map(|(s, last)| {
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
                        "secrets": s.secrets.len(),
                        "headers": s.headers.keys().collect::<Vec<_>>(),
                        "created_at": s.created_at,
                        "last_attempt_at": last.as_ref().map(|l| &l.at),
                        "last_status": last.as_ref().map(|l| &l.status),
                        "last_event_id": last.as_ref().map(|l| &l.event_id),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
        Output::Table => {
            println!(
                "{:<40} {:<16} {:<9} {:<14} {:<22} {:<12} URL",
                "SUBSCRIPTION", "SOURCE", "STATE", "EVENTS", "LAST DELIVERY", "FAILING FOR"
            );
            for (s, last) in rows {
                let last = last.as_ref().map_or("-".to_owned(), |l| {
                    format!("{} {}", l.status, ago(&l.at, now))
                });
                let streak = s
                    .failing_since
                    .as_deref()
                    .map_or("-".to_owned(), |t| ago(t, now));
                println!(
                    "{:<40} {:<16} {:<9} {:<14} {:<22} {:<12} {}",
                    s.subscription_id,
                    s.source_id.as_str(),
                    if s.enabled { "enabled" } else { "disabled" },
                    s.event_types.join(","),
                    last,
                    streak,
                    s.url
                );
                if let Some(reason) = &s.disabled_reason {
                    println!("  disabled: {reason}");
                }
            }
        }
    }
}

/// How long ago an RFC 3339 instant was, roughly (`3m`, `2h`, `5d`); the instant itself when
/// unreadable.
pub(crate) fn ago(at: &str, now: SystemTime) -> String {
    let Ok(then) = humantime::parse_rfc3339_weak(at) else {
        return at.to_owned();
    };
    let secs = now.duration_since(then).map_or(0, |d| d.as_secs());
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
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

/// Moves every message from `from` to `to` (see [`crate::dlq::move_messages`]); how many moved.
pub async fn redrive_all(sqs: &SqsClient, from: &str, to: &str) -> Result<usize, CliError> {
    let bar = indicatif::ProgressBar::hidden();
    crate::dlq::move_messages(sqs, from, to, None, None, &bar)
        .await
        .map(|moved| moved.len())
}

async fn deliveries(global: &Global, event_id: &str) -> Result<(), CliError> {
    let target = Target::resolve(global).await?;
    let records = target.deliveries().for_event(event_id).await?;
    match global.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string(&records).map_err(|e| CliError::Failed(e.to_string()))?
        ),
        Output::Table => print_deliveries(event_id, &records),
    }
    Ok(())
}

/// Every attempt of every subscription, for people.
pub(crate) fn print_deliveries(event_id: &str, records: &[DeliveryRecord]) {
    if records.is_empty() {
        println!("no delivery attempts recorded for {event_id}");
    }
    for r in records {
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
        if let Some(snippet) = &r.last_response {
            println!(
                "  last response: {}",
                snippet.chars().take(200).collect::<String>()
            );
        }
    }
}

pub(crate) fn sdk_message(e: impl std::error::Error) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(e).to_string()
}
