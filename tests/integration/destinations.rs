//! Subscriptions that target an AWS resource instead of a URL, end to end on the emulator: an
//! SQS queue, an SNS topic (read through a queue subscribed to it with raw delivery) and an
//! EventBridge bus (read through a rule that forwards to a queue) each receive every event with
//! its body unchanged and a Standard Webhooks signature that verifies. A target the stack's
//! `DestinationArns` does not list is refused when the subscription is made, naming the parameter.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_eventbridge::types::Target as RuleTarget;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use hookpost_local::{LocalOptions, LocalStack};
use hookpost_operations::subscriptions::NewSubscription;
use hookpost_operations::{OpError, Operations};
use hookpost_shared::signature::Provider;
use hookpost_shared::source::SourceId;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use standardwebhooks::Webhook;

use crate::support;

const SECRET: &str = "destinations-secret";
/// Events sent through each destination.
const EVENTS: usize = 100;

/// A queue on the emulator: its URL and ARN.
struct Queue {
    url: String,
    arn: String,
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Queue {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a URL");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("an ARN");
    Queue { url, arn }
}

/// Receives and deletes messages until `count` have come or the patience runs out.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, count: usize) -> Vec<Message> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    while got.len() < count && tokio::time::Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage");
        for m in out.messages.unwrap_or_default() {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                .send()
                .await
                .expect("DeleteMessage");
            got.push(m);
        }
    }
    got
}

/// The Standard Webhooks headers a message carries as attributes.
fn attribute_headers(message: &Message) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in message.message_attributes.clone().unwrap_or_default() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.string_value.as_deref().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    headers
}

#[tokio::test]
async fn an_sqs_queue_an_sns_topic_and_an_eventbridge_bus_each_get_every_event_signed_and_intact() {
    let emulator = support::emulator();
    let sdk = emulator.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let tag = support::unique("dest");

    // The three destinations, and the queues the test reads the topic and the bus through.
    let direct = queue(&sqs, &format!("{tag}-direct")).await;
    let topic_arn = sns
        .create_topic()
        .name(format!("{tag}-topic"))
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn
        .expect("an ARN");
    let from_topic = queue(&sqs, &format!("{tag}-from-topic")).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&from_topic.arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("Subscribe");
    let bus_arn = events
        .create_event_bus()
        .name(format!("{tag}-bus"))
        .send()
        .await
        .expect("CreateEventBus")
        .event_bus_arn
        .expect("an ARN");
    let from_bus = queue(&sqs, &format!("{tag}-from-bus")).await;
    let rule = format!("{tag}-rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus_arn)
        .event_pattern(r#"{"source": [{"prefix": "hookpost."}]}"#)
        .send()
        .await
        .expect("PutRule");
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus_arn)
        .targets(
            RuleTarget::builder()
                .id("to-queue")
                .arn(&from_bus.arn)
                .build()
                .expect("a target"),
        )
        .send()
        .await
        .expect("PutTargets");

    // Listed, but never created: the dispatcher is told it does not exist.
    let gone = format!("arn:aws:sqs:{}:123456789012:{tag}-gone", emulator.region());
    let allowed = [
        direct.arn.as_str(),
        topic_arn.as_str(),
        bus_arn.as_str(),
        gone.as_str(),
    ]
    .join(",");
    let stack = LocalStack::start(
        emulator,
        LocalOptions {
            port: 0,
            prefix: support::unique("it"),
            parameters: BTreeMap::from([("DestinationArns".to_owned(), allowed)]),
            ..LocalOptions::default()
        },
    )
    .await
    .expect("the local stack starts");
    let names = &stack.state.names;
    let ops = Operations::new(&stack.sdk, names.clone(), None)
        .with_destinations(stack.state.destinations.clone());
    support::add_source(&stack.sdk, names, "gh", Provider::Github, SECRET).await;
    let subscribe = |target: &str| NewSubscription {
        source_id: SourceId::parse("gh").expect("id"),
        url: target.to_owned(),
        event_types: vec!["*".to_owned()],
        filter: None,
        headers: Default::default(),
        timeout_seconds: None,
        rate: None,
        signatures: Default::default(),
    };

    // An ARN the stack does not list is refused, naming the parameter that would allow it.
    let unlisted = format!(
        "arn:aws:sqs:{}:123456789012:{tag}-other",
        stack.state.region
    );
    let refused = ops
        .add_subscription(subscribe(&unlisted))
        .await
        .expect_err("not in DestinationArns");
    assert!(
        matches!(&refused, OpError::Invalid { field, reason } if field == "url" && reason.contains("DestinationArns")),
        "{refused:?}"
    );

    let mut secrets = HashMap::new();
    for target in [&direct.arn, &topic_arn, &bus_arn] {
        let created = ops
            .add_subscription(subscribe(target))
            .await
            .expect("a listed destination");
        assert_eq!(&created.subscription.url, target);
        secrets.insert(
            target.clone(),
            created
                .secret
                .as_ref()
                .expect("a v1 subscription has a whsec_ secret")
                .expose()
                .to_owned(),
        );
    }

    let gone_id = ops
        .add_subscription(subscribe(&gone))
        .await
        .expect("listed")
        .subscription
        .subscription_id;

    let mut sent = BTreeSet::new();
    for i in 0..EVENTS {
        let body = format!(r#"{{"order": {i}, "note": "ünïcode & <markup>"}}"#);
        support::post_github(&stack, "gh", SECRET, "push", &body, "application/json").await;
        sent.insert(body);
    }

    // SQS and SNS: the body as the message, the signature in the attributes.
    for (what, queue_url, target) in [
        ("the SQS queue", &direct.url, &direct.arn),
        ("the SNS topic", &from_topic.url, &topic_arn),
    ] {
        let verifier = Webhook::new(&secrets[target]).expect("a whsec secret");
        let messages = receive(&sqs, queue_url, EVENTS).await;
        let mut bodies = BTreeSet::new();
        for m in &messages {
            let body = m.body.clone().unwrap_or_default();
            let headers = attribute_headers(m);
            verifier
                .verify(body.as_bytes(), &headers)
                .unwrap_or_else(|e| panic!("{what}: the signature verifies: {e:?} {headers:?}"));
            assert_eq!(headers["hookpost-source"], "gh", "{what}");
            assert_eq!(headers["hookpost-event-type"], "push", "{what}");
            assert_eq!(headers["hookpost-body-encoding"], "text", "{what}");
            bodies.insert(body);
        }
        assert_eq!(messages.len(), EVENTS, "{what}: one message per event");
        assert_eq!(bodies, sent, "{what}: every body, unchanged");
    }

    // EventBridge: the event's source and detail-type, the body unchanged in the detail.
    let verifier = Webhook::new(&secrets[&bus_arn]).expect("a whsec secret");
    let messages = receive(&sqs, &from_bus.url, EVENTS).await;
    let mut bodies = BTreeSet::new();
    for m in &messages {
        let event: Value = serde_json::from_str(m.body.as_deref().unwrap_or_default())
            .expect("an EventBridge event");
        assert_eq!(event["source"], "hookpost.gh");
        assert_eq!(event["detail-type"], "push");
        let detail = &event["detail"];
        let body = detail["body"]
            .as_str()
            .expect("the body as text")
            .to_owned();
        let mut headers = HeaderMap::new();
        for (name, key) in [
            ("webhook-id", "id"),
            ("webhook-timestamp", "timestamp"),
            ("webhook-signature", "signature"),
        ] {
            let value = match &detail["webhook"][key] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers.insert(name, HeaderValue::from_str(&value).expect("a header value"));
        }
        verifier
            .verify(body.as_bytes(), &headers)
            .expect("the bus event's signature verifies");
        assert_eq!(
            detail["data"],
            serde_json::from_str::<Value>(&body).expect("JSON"),
            "the JSON body, parsed for rules"
        );
        bodies.insert(body);
    }
    assert_eq!(messages.len(), EVENTS, "the bus: one event per event");
    assert_eq!(bodies, sent, "the bus: every body, unchanged");

    // A destination that does not exist disables its subscription, saying why, as a 410 does.
    let disabled = support::eventually(|| async {
        !ops.get_subscription(&gone_id).await.expect("reads").enabled
    })
    .await;
    assert!(disabled, "the missing queue's subscription is disabled");
    let reason = ops
        .get_subscription(&gone_id)
        .await
        .expect("reads")
        .disabled_reason
        .unwrap_or_default();
    assert!(
        reason.contains(&gone) && reason.contains("refused"),
        "{reason}"
    );
    stack.stop().await;
}
