//! Secrets never leak: the whole local stack runs with known, distinctive secrets for every
//! provider's source and for two subscribers (one failing into the dead-letter queue), with
//! accepted, refused and misconfigured requests; every log line at every level, every HTTP answer,
//! every delivery record and every dead-lettered message is then searched for those secrets.
//! Logs are captured at TRACE (the most verbose `LogLevel` the template allows) through the
//! functions' own filter, which keeps the AWS SDK and lambda_runtime at DEBUG: at TRACE they print
//! response bodies and raw events, secrets included.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hookpost_cli::signing::provider_headers;
use hookpost_shared::aws::{DynamoClient, DynamoDeliveries};
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::{Check, Provider, SchemeOptions, TimePolicy};
use hookpost_shared::source::{Source, SourceId};
use hookpost_shared::subscription::Subscription;
use hookpost_testkit::Subscriber;

use tracing_subscriber::prelude::*;

use crate::support::{self, PATIENCE};

/// Where the captured log lines go.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// A source secret no other text could contain by chance.
fn source_secret(provider: Provider) -> Secret {
    match provider {
        Provider::StandardWebhooks => SigningKey::parse(&format!(
            "whsec_{}",
            BASE64.encode(b"source-key-standard-webhooks-7f3a")
        ))
        .expect("a whsec key")
        .to_whsec(),
        Provider::Stripe => Secret::new("whsec_LEAKCANARYstripe7f3a9c"),
        p => Secret::new(format!("LEAKCANARY-{}-7f3a9c", p.name())),
    }
}

/// A subscriber's `whsec_` secret, from known bytes.
fn subscriber_key(n: u8) -> SigningKey {
    let mut bytes = *b"subscriber-key-known-bytes-7f3a0";
    bytes[31] = b'0' + n;
    SigningKey::parse(&format!("whsec_{}", BASE64.encode(bytes))).expect("a whsec key")
}

/// Every form a secret could leak in: as configured and, for `whsec_` keys, the base64 after the
/// prefix.
fn leak_forms(secret: &Secret) -> Vec<String> {
    let mut forms = vec![secret.expose().to_owned()];
    if let Some(b64) = secret.expose().strip_prefix("whsec_") {
        forms.push(b64.to_owned());
    }
    forms
}

async fn subscribe(
    sdk: &aws_config::SdkConfig,
    names: &hookpost_shared::deployment::StackNames,
    source: &str,
    key: &SigningKey,
) -> Subscriber {
    let source = SourceId::parse(source).expect("valid");
    hookpost_testkit::start_subscribed_with(sdk, names, &source, key)
        .await
        .expect("subscriber on 127.0.0.1, subscription stored")
        .0
}

/// Every log line of this test binary from the first call on, at TRACE through the functions' own
/// filter. One global subscriber: a thread-local one can miss events whose callsite another test's
/// thread registered at the same moment.
fn captured_logs() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        let logger = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish()
            .with(hookpost_shared::telemetry::secret_safe());
        tracing::subscriber::set_global_default(logger).expect("no other global subscriber");
        capture
    })
}

#[tokio::test]
async fn no_secret_appears_in_any_log_line_answer_delivery_record_or_dead_letter() {
    let capture = captured_logs();
    let stack = support::running_stack(Some(2), Some("1s")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let mut secrets: Vec<Secret> = Vec::new();
    for &provider in Provider::ALL {
        let secret = source_secret(provider);
        support::add_source(sdk, names, provider.name(), provider, secret.expose()).await;
        secrets.push(secret);
    }
    let (healthy_key, failing_key) = (subscriber_key(1), subscriber_key(2));
    secrets.push(healthy_key.to_whsec());
    secrets.push(failing_key.to_whsec());
    let healthy = subscribe(sdk, names, "github", &healthy_key).await;
    let failing = subscribe(sdk, names, "github", &failing_key).await;
    failing.answer_with(500);
    let also = subscribe(sdk, names, "stripe", &healthy_key).await;

    let mut answers = Vec::new();
    let mut event_ids = Vec::new();
    let body = br#"{"id":"evt_leak","type":"invoice.paid","action":"create"}"#;
    for &provider in Provider::ALL {
        let url = format!("{}{}", stack.state.receiver_url, provider.name());
        let secret = source_secret(provider);
        let mut attempts = vec![Vec::new()];
        for key in [&secret, &Secret::new("a-wrong-secret")] {
            if let Ok(headers) = provider_headers(
                provider,
                key,
                body,
                Some("push"),
                support::now(),
                &SchemeOptions::default(),
            ) {
                attempts.push(headers);
            }
        }
        for headers in attempts {
            let (status, json) = support::post(&url, &headers, body).await;
            if let Some(id) = json["event_id"].as_str() {
                event_ids.push(id.to_owned());
            }
            answers.push(format!("{} {status} {json}", provider.name()));
        }
    }
    assert!(
        answers.iter().any(|a| a.starts_with("github 202")),
        "the signed GitHub request is accepted: {answers:#?}"
    );

    assert_eq!(healthy.wait_for(1, PATIENCE).await.len(), 1);
    assert_eq!(also.wait_for(1, PATIENCE).await.len(), 1);
    let dead_lettered = support::eventually(|| async {
        support::queue_depth(sdk, &names.dead_letter_queue_url).await == 1
    })
    .await;
    assert!(
        dead_lettered,
        "the failing subscriber's event is dead-lettered"
    );

    let mut written = Vec::new();
    let deliveries = DynamoDeliveries::new(DynamoClient::new(sdk), &names.deliveries_table);
    for id in &event_ids {
        for record in deliveries.for_event(id).await.expect("Query") {
            written.push(format!(
                "{record:?} {}",
                serde_json::to_string(&record).expect("json")
            ));
        }
    }
    assert!(!written.is_empty(), "delivery records were written");
    written.extend(support::drain(sdk, &names.dead_letter_queue_url).await);
    for subscriber in [&healthy, &failing, &also] {
        for received in subscriber.received() {
            written.push(format!(
                "{:?} {}",
                received.headers,
                String::from_utf8_lossy(&received.body)
            ));
        }
    }
    healthy.stop();
    failing.stop();
    also.stop();
    stack.stop().await;

    let logs = capture.text();
    assert!(
        logs.contains("accepted") && logs.contains("refused"),
        "the logs were captured"
    );
    let mut leaks = Vec::new();
    for secret in &secrets {
        for form in leak_forms(secret) {
            for (place, text) in [
                ("log", &logs),
                ("answers", &answers.join("\n")),
                ("records", &written.join("\n")),
            ] {
                if let Some(at) = text.find(&form) {
                    let from = text[..at]
                        .char_indices()
                        .rev()
                        .nth(120)
                        .map_or(0, |(i, _)| i);
                    leaks.push(format!(
                        "{place}: …{}…",
                        &text[from..(at + form.len()).min(text.len())]
                    ));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

#[test]
fn debug_prints_of_sources_subscriptions_keys_and_checks_hide_the_secret() {
    let secret = Secret::new("LEAKCANARY-debug-7f3a9c");
    let key = subscriber_key(3);
    let source = Source {
        source_id: SourceId::parse("gh").expect("valid"),
        provider: Provider::Github,
        secrets: vec![secret.clone()],
        tolerance_seconds: None,
        options: SchemeOptions::default(),
        created_at: "2026-01-01T00:00:00Z".to_owned(),
    };
    let subscription = Subscription::new(
        SourceId::parse("gh").expect("valid"),
        "sub_1",
        "https://example.com/hook",
        vec![key.to_whsec()],
        "2026-01-01T00:00:00Z",
    );
    let check = Check {
        secrets: std::slice::from_ref(&secret),
        policy: TimePolicy {
            now: 0,
            tolerance: std::time::Duration::ZERO,
        },
        options: &SchemeOptions::default(),
    };
    let printed = [
        format!("{source:?}"),
        format!("{subscription:?}"),
        format!("{key:?}"),
        format!("{:?}", key.to_whsec()),
        format!("{secret:?}"),
        format!("{check:?}"),
        format!("{source:#?} {subscription:#?} {check:#?}"),
    ];
    let forms: Vec<String> = [secret, key.to_whsec()]
        .iter()
        .flat_map(leak_forms)
        .collect();
    for text in &printed {
        for form in &forms {
            assert!(!text.contains(form.as_str()), "{text} shows a secret");
        }
    }
}
