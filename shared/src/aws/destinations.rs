//! Subscriptions whose target is an AWS resource named by ARN rather than a URL: an SQS queue, an
//! SNS topic or an EventBridge event bus.
//!
//! What is sent: the body unchanged (as text, or base64 when it is not UTF-8, which the message
//! says), with the Standard Webhooks headers and the event's metadata as message attributes (SQS,
//! SNS) or in the event's `detail` (EventBridge: `source` is `hookpost.{source_id}`,
//! `detail-type` the event type). The signature is over the body's original bytes, as for HTTP.
//!
//! An answer that says the dispatcher may never send there (access denied, no such resource) is
//! [`SendError::Refused`], which disables the subscription as a 410 does; throttling and other
//! failures are retried on the schedule.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::MessageAttributeValue as SqsAttribute;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

/// The AWS services a subscription may deliver to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Sqs,
    Sns,
    EventBridge,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Sqs => "sqs",
            Service::Sns => "sns",
            Service::EventBridge => "events",
        }
    }
}

/// A destination's ARN, checked: `arn:aws:sqs:REGION:ACCOUNT:QUEUE`,
/// `arn:aws:sns:REGION:ACCOUNT:TOPIC` or `arn:aws:events:REGION:ACCOUNT:event-bus/BUS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationArn {
    pub service: Service,
    pub region: String,
    pub account: String,
    /// The queue's, topic's or bus's name.
    pub name: String,
    arn: String,
}

impl DestinationArn {
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// FIFO queues and topics need a message group (and a deduplication id).
    pub fn is_fifo(&self) -> bool {
        self.service != Service::EventBridge && self.name.ends_with(".fifo")
    }
}

impl fmt::Display for DestinationArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// The variable that carries the stack's `DestinationArns` to the API function and the CLI.
pub const DESTINATIONS_VARIABLE: &str = "HOOKPOST_DESTINATION_ARNS";

/// A comma-separated `DestinationArns` value as a list (blanks dropped).
pub fn arn_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether a subscription's target names an AWS destination rather than a URL.
pub fn is_arn(target: &str) -> bool {
    target.starts_with("arn:")
}

impl FromStr for DestinationArn {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let shape = "an ARN of an SQS queue (arn:aws:sqs:REGION:ACCOUNT:NAME), an SNS topic \
                     (arn:aws:sns:REGION:ACCOUNT:NAME) or an EventBridge bus \
                     (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)";
        let bad = || format!("`{text}` is not {shape}");
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(bad());
        };
        if arn != "arn" || !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
            return Err(bad());
        }
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("`{text}`: `{region}` is not a region"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{text}`: `{account}` is not a 12-digit account id"
            ));
        }
        let name_ok = |name: &str, max: usize| {
            !name.is_empty()
                && name.len() <= max
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        let (service, name) = match service {
            "sqs" if name_ok(resource, 80) => (Service::Sqs, resource),
            "sns" if name_ok(resource, 256) => (Service::Sns, resource),
            "events" => match resource.strip_prefix("event-bus/") {
                Some(bus) if name_ok(bus, 256) => (Service::EventBridge, bus),
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        };
        Ok(Self {
            service,
            region: region.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
            arn: text.to_owned(),
        })
    }
}

/// One event as a destination receives it.
#[derive(Debug, Clone)]
pub struct DestinationMessage<'a> {
    pub event_id: &'a str,
    pub source_id: &'a str,
    pub event_type: Option<&'a str>,
    pub received_at: &'a str,
    pub content_type: &'a str,
    /// The Standard Webhooks headers, as an HTTP delivery carries them.
    pub webhook_id: &'a str,
    pub webhook_timestamp: i64,
    pub webhook_signature: &'a str,
    pub body: &'a [u8],
}

/// The body as a message carries it: the text, or base64 when it is not UTF-8.
fn body_text(body: &[u8]) -> (String, &'static str) {
    match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), "text"),
        Err(_) => (BASE64.encode(body), "base64"),
    }
}

impl DestinationMessage<'_> {
    /// Name, SQS/SNS data type and value of each message attribute (both allow 10).
    fn attributes(&self, encoding: &'static str) -> Vec<(&'static str, &'static str, String)> {
        let mut attributes = vec![
            ("webhook-id", "String", self.webhook_id.to_owned()),
            (
                "webhook-timestamp",
                "Number",
                self.webhook_timestamp.to_string(),
            ),
            (
                "webhook-signature",
                "String",
                self.webhook_signature.to_owned(),
            ),
            ("content-type", "String", self.content_type.to_owned()),
            ("hookpost-source", "String", self.source_id.to_owned()),
            ("hookpost-body-encoding", "String", encoding.to_owned()),
        ];
        if let Some(event_type) = self.event_type {
            attributes.push(("hookpost-event-type", "String", event_type.to_owned()));
        }
        attributes
    }

    /// EventBridge's `detail`: the metadata, the body unchanged, and, when the body is JSON, the
    /// same parsed as `data`, so that rules can match on its fields.
    fn detail(&self) -> serde_json::Value {
        let (body, encoding) = body_text(self.body);
        let mut detail = json!({
            "event_id": self.event_id,
            "source_id": self.source_id,
            "event_type": self.event_type,
            "received_at": self.received_at,
            "content_type": self.content_type,
            "webhook": {
                "id": self.webhook_id,
                "timestamp": self.webhook_timestamp,
                "signature": self.webhook_signature,
            },
            "body": body,
            "body_encoding": encoding,
        });
        if let Ok(data) = serde_json::from_slice::<serde_json::Value>(self.body) {
            detail["data"] = data;
        }
        detail
    }
}

/// Why a destination did not take an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The dispatcher may never send there: access denied, or no such queue, topic or bus.
    #[error("{arn} refused the event: {code}: {message}")]
    Refused {
        arn: String,
        code: String,
        message: String,
        status: Option<u16>,
    },
    /// Slow down: retried on the schedule.
    #[error("{arn} throttled the event: {code}")]
    Throttled {
        arn: String,
        code: String,
        status: Option<u16>,
    },
    /// Anything else: retried on the schedule.
    #[error("{arn}: {reason}")]
    Failed {
        arn: String,
        reason: String,
        status: Option<u16>,
    },
}

const REFUSED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "NotFound",
    "NotFoundException",
    "ResourceNotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "KMSAccessDenied",
    "KMS.AccessDeniedException",
];

const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "KMSThrottling",
    "KMS.ThrottlingException",
];

impl SendError {
    /// What an error code the service answered with (`reason` its message) says about sending
    /// to `arn` again: one reading for the SDK's errors and PutEvents' per-entry failures.
    fn from_code(arn: &DestinationArn, code: &str, reason: &str, status: Option<u16>) -> Self {
        let arn = arn.to_string();
        let code = code.to_owned();
        if REFUSED.contains(&code.as_str()) {
            Self::Refused {
                arn,
                code,
                message: reason.to_owned(),
                status,
            }
        } else if THROTTLED.contains(&code.as_str()) {
            Self::Throttled { arn, code, status }
        } else {
            Self::Failed {
                arn,
                reason: format!("{code}: {reason}"),
                status,
            }
        }
    }

    /// A message attribute the SDK would not build.
    fn unbuildable(arn: &DestinationArn, err: impl fmt::Display) -> Self {
        Self::Failed {
            arn: arn.to_string(),
            reason: err.to_string(),
            status: None,
        }
    }
}

/// What an SDK error says about sending to `arn` again.
fn classify<E>(arn: &DestinationArn, err: SdkError<E, HttpResponse>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match err.as_service_error().and_then(|e| e.code()) {
        Some(code) => SendError::from_code(
            arn,
            code,
            err.as_service_error()
                .and_then(|e| e.message())
                .unwrap_or("no message"),
            status,
        ),
        // No answer from the service (a connection or timeout): the SDK's own rendering of the
        // error and its causes.
        None => SendError::Failed {
            arn: arn.to_string(),
            reason: DisplayErrorContext(&err).to_string(),
            status,
        },
    }
}

/// The clients that send to destinations, and the queue URLs found so far.
#[derive(Debug)]
pub struct AwsDestinations {
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    events: aws_sdk_eventbridge::Client,
    queue_urls: Mutex<HashMap<String, String>>,
}

impl AwsDestinations {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            sqs: aws_sdk_sqs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            queue_urls: Mutex::default(),
        }
    }

    /// Sends one event; `Ok` once the service has accepted it.
    pub async fn send(
        &self,
        arn: &DestinationArn,
        message: &DestinationMessage<'_>,
    ) -> Result<(), SendError> {
        match arn.service {
            Service::Sqs => self.send_sqs(arn, message).await,
            Service::Sns => self.send_sns(arn, message).await,
            Service::EventBridge => self.send_event(arn, message).await,
        }
    }

    /// The queue's URL, from `GetQueueUrl` by name and account (the endpoint decides its form).
    async fn queue_url(&self, arn: &DestinationArn) -> Result<String, SendError> {
        if let Some(url) = self
            .queue_urls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(arn.as_str())
        {
            return Ok(url.clone());
        }
        let found = self
            .sqs
            .get_queue_url()
            .queue_name(&arn.name)
            .queue_owner_aws_account_id(&arn.account)
            .send()
            .await
            .map_err(|e| classify(arn, e))?;
        let url = found.queue_url.ok_or_else(|| SendError::Failed {
            arn: arn.to_string(),
            reason: "GetQueueUrl answered without a URL".to_owned(),
            status: None,
        })?;
        self.queue_urls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(arn.to_string(), url.clone());
        Ok(url)
    }

    async fn send_sqs(
        &self,
        arn: &DestinationArn,
        message: &DestinationMessage<'_>,
    ) -> Result<(), SendError> {
        let url = self.queue_url(arn).await?;
        let (body, encoding) = body_text(message.body);
        let mut send = self.sqs.send_message().queue_url(url).message_body(body);
        for (name, kind, value) in message.attributes(encoding) {
            let attribute = SqsAttribute::builder()
                .data_type(kind)
                .string_value(value)
                .build()
                .map_err(|e| SendError::unbuildable(arn, e))?;
            send = send.message_attributes(name, attribute);
        }
        if arn.is_fifo() {
            send = send
                .message_group_id(message.source_id)
                .message_deduplication_id(message.webhook_id);
        }
        send.send().await.map_err(|e| classify(arn, e))?;
        Ok(())
    }

    async fn send_sns(
        &self,
        arn: &DestinationArn,
        message: &DestinationMessage<'_>,
    ) -> Result<(), SendError> {
        use aws_sdk_sns::types::MessageAttributeValue as SnsAttribute;
        let (body, encoding) = body_text(message.body);
        let mut publish = self.sns.publish().topic_arn(arn.as_str()).message(body);
        for (name, kind, value) in message.attributes(encoding) {
            let attribute = SnsAttribute::builder()
                .data_type(kind)
                .string_value(value)
                .build()
                .map_err(|e| SendError::unbuildable(arn, e))?;
            publish = publish.message_attributes(name, attribute);
        }
        if arn.is_fifo() {
            publish = publish
                .message_group_id(message.source_id)
                .message_deduplication_id(message.webhook_id);
        }
        publish.send().await.map_err(|e| classify(arn, e))?;
        Ok(())
    }

    async fn send_event(
        &self,
        arn: &DestinationArn,
        message: &DestinationMessage<'_>,
    ) -> Result<(), SendError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(arn.as_str())
            .source(format!("hookpost.{}", message.source_id))
            .detail_type(message.event_type.unwrap_or("webhook"))
            .detail(message.detail().to_string())
            .build();
        let out = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| classify(arn, e))?;
        // PutEvents answers 200 with per-entry failures.
        if out.failed_entry_count > 0 {
            let failed = out.entries().first();
            return Err(SendError::from_code(
                arn,
                failed.and_then(|e| e.error_code()).unwrap_or("unknown"),
                failed
                    .and_then(|e| e.error_message())
                    .unwrap_or("no message"),
                Some(200),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_kinds_of_arn_are_read_and_anything_else_is_refused_saying_what_is_expected() {
        let queue: DestinationArn = "arn:aws:sqs:eu-west-1:123456789012:orders.fifo"
            .parse()
            .expect("a queue");
        assert_eq!(
            (queue.service, queue.name.as_str(), queue.is_fifo()),
            (Service::Sqs, "orders.fifo", true)
        );
        let topic: DestinationArn = "arn:aws:sns:us-east-1:123456789012:alerts"
            .parse()
            .expect("a topic");
        assert_eq!((topic.service, topic.is_fifo()), (Service::Sns, false));
        let bus: DestinationArn = "arn:aws:events:us-east-1:123456789012:event-bus/default"
            .parse()
            .expect("a bus");
        assert_eq!(
            (bus.service, bus.name.as_str()),
            (Service::EventBridge, "default")
        );
        for bad in [
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:aws:sqs:us-east-1:12345:q",
            "arn:aws:sqs:US-EAST-1:123456789012:q",
            "arn:aws:sqs:us-east-1:123456789012:",
            "arn:aws:sqs:us-east-1:123456789012:a/b",
            "arn:aws:events:us-east-1:123456789012:rule/r",
            "arn:other:sqs:us-east-1:123456789012:q",
            "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        ] {
            let err = bad.parse::<DestinationArn>().expect_err(bad);
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    fn message(body: &[u8]) -> DestinationMessage<'_> {
        DestinationMessage {
            event_id: "evt_1",
            source_id: "shop",
            event_type: Some("order.paid"),
            received_at: "2026-12-03T00:00:00Z",
            content_type: "application/json",
            webhook_id: "evt_1",
            webhook_timestamp: 1_800_000_000,
            webhook_signature: "v1,abc",
            body,
        }
    }

    #[test]
    fn a_service_error_code_is_read_one_way_wherever_it_comes_from() {
        let arn: DestinationArn = "arn:aws:sqs:us-east-1:123456789012:q".parse().expect("arn");
        assert!(matches!(
            SendError::from_code(&arn, "AWS.SimpleQueueService.NonExistentQueue", "gone", Some(400)),
            SendError::Refused { ref message, status: Some(400), .. } if message == "gone"
        ));
        assert!(matches!(
            SendError::from_code(&arn, "ThrottlingException", "slow", Some(200)),
            SendError::Throttled { .. }
        ));
        let other = SendError::from_code(&arn, "InternalFailure", "oops", Some(500));
        assert_eq!(other.to_string(), format!("{arn}: InternalFailure: oops"));
    }

    #[test]
    fn a_body_that_is_not_utf8_travels_as_base64_and_says_so() {
        let raw = [0xff, 0x00, 0x41];
        let m = message(&raw);
        let (body, encoding) = body_text(m.body);
        assert_eq!((body.as_str(), encoding), ("/wBB", "base64"));
        assert!(m.attributes(encoding).contains(&(
            "hookpost-body-encoding",
            "String",
            "base64".to_owned()
        )));
        let detail = m.detail();
        assert_eq!(detail["body_encoding"], "base64");
        assert!(detail.get("data").is_none(), "not JSON, no data");
    }

    #[test]
    fn the_detail_keeps_the_body_unchanged_and_parses_json_beside_it() {
        let body = br#"{"amount": 5,  "x": [1]}"#;
        let detail = message(body).detail();
        assert_eq!(detail["body"], r#"{"amount": 5,  "x": [1]}"#);
        assert_eq!(detail["data"]["amount"], 5);
        assert_eq!(detail["webhook"]["signature"], "v1,abc");
        assert_eq!(detail["event_type"], "order.paid");
        let attributes = message(body).attributes("text");
        assert_eq!(attributes.len(), 7, "within SQS's and SNS's 10");
        assert!(attributes.contains(&("webhook-timestamp", "Number", "1800000000".to_owned())));
    }
}
