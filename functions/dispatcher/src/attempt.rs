//! One attempt at a subscriber. Over HTTP: the request (the subscription's custom headers, then
//! Hookpost's signed Standard Webhooks headers), the call on the shared client, and the start of
//! the answer. At an AWS destination (the subscription's target is an ARN): the same signature,
//! sent through [`AwsDestinations`](hookpost_shared::aws::destinations::AwsDestinations). Never
//! panics on a subscription's contents: what cannot be sent as configured is a
//! [`RetryReason::Misconfigured`] outcome.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookpost_shared::aws::destinations::{DestinationArn, DestinationMessage, SendError, is_arn};
use hookpost_shared::delivery::{AttemptOutcome, RetryReason, classify_status};
use hookpost_shared::envelope::Envelope;
use hookpost_shared::signature::standard_webhooks::{STANDARD_HEADERS, signature_header};
use hookpost_shared::store::{BodyStore, DeliveryLog, EventArchive, SubscriptionStore, Visibility};
use hookpost_shared::subscription::{Subscription, parse_target_url};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use tracing::debug;

use crate::{Config, Dispatcher, guard};

/// How much of a subscriber's answer is kept in the delivery record.
pub const RESPONSE_SNIPPET_BYTES: usize = 2048;

const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// Headers a subscription's custom headers may not set: the signature, the framing and the
/// identity of the request are Hookpost's.
const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "host",
    "user-agent",
];

/// The result of one attempt, before it is recorded.
pub(crate) struct Attempt {
    pub(crate) outcome: AttemptOutcome,
    pub(crate) error: Option<String>,
    pub(crate) snippet: Option<String>,
}

impl Attempt {
    fn misconfigured(reason: impl Into<String>) -> Self {
        Self::failed(RetryReason::Misconfigured, reason.into())
    }

    fn failed(reason: RetryReason, error: String) -> Self {
        Self {
            outcome: AttemptOutcome::unsent(reason),
            error: Some(error),
            snippet: None,
        }
    }

    fn from_error(err: reqwest::Error) -> Self {
        // The URL may carry a token in its query: it is left out of what is logged and stored.
        let err = err.without_url();
        if let Some(blocked) = guard::find_blocked(&err) {
            return Self::failed(RetryReason::Blocked, blocked.to_string());
        }
        let reason = if err.is_timeout() {
            RetryReason::Timeout
        } else {
            RetryReason::Connection
        };
        Self::failed(reason, error_chain(&err))
    }
}

impl<S, L, V, B, E> Dispatcher<S, L, V, B, E>
where
    S: SubscriptionStore,
    L: DeliveryLog,
    V: Visibility,
    B: BodyStore,
    E: EventArchive,
{
    /// Signs and sends the request.
    pub(crate) async fn attempt(
        &self,
        envelope: &Envelope,
        payload: &Bytes,
        subscription: &Subscription,
        timeout: Duration,
    ) -> Attempt {
        if is_arn(&subscription.url) {
            return self
                .attempt_destination(envelope, payload, subscription, timeout)
                .await;
        }
        let url = match parse_target_url(&subscription.url) {
            Ok(url) => url,
            // The parser's message quotes the URL, which may hold a token in its query.
            Err(_) => {
                return Attempt::misconfigured(
                    "the subscription's URL is not a usable http(s) URL",
                );
            }
        };
        if let Some(blocked) = guard::blocked_literal(&url, &self.config.targets) {
            return Attempt::failed(RetryReason::Blocked, blocked.to_string());
        }
        let headers = match self.request_headers(envelope, payload, subscription) {
            Ok(headers) => headers,
            Err(reason) => return Attempt::misconfigured(reason),
        };

        let sent = self
            .http
            .post(url)
            .headers(headers)
            .body(payload.clone())
            .timeout(timeout)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Attempt::from_error(e),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let snippet = read_snippet(response).await;
        Attempt {
            outcome: classify_status(status, retry_after.as_deref()),
            error: None,
            snippet,
        }
    }

    /// One attempt at an SQS queue, SNS topic or EventBridge bus: the same signature as over
    /// HTTP, carried as message attributes or in the event's detail. Custom headers are for HTTP
    /// subscribers and are not sent.
    async fn attempt_destination(
        &self,
        envelope: &Envelope,
        payload: &[u8],
        subscription: &Subscription,
        timeout: Duration,
    ) -> Attempt {
        let Some(destinations) = &self.destinations else {
            return Attempt::misconfigured("this dispatcher sends to no AWS destination");
        };
        let arn: DestinationArn = match subscription.url.parse() {
            Ok(arn) => arn,
            Err(reason) => return Attempt::misconfigured(reason),
        };
        let (timestamp, signature) = match self.sign(envelope, payload, subscription) {
            Ok(signed) => signed,
            Err(reason) => return Attempt::misconfigured(reason),
        };
        let message = DestinationMessage {
            event_id: &envelope.event_id,
            source_id: envelope.source_id.as_str(),
            event_type: envelope.event_type.as_deref(),
            received_at: &envelope.received_at,
            content_type: envelope
                .content_type
                .as_deref()
                .unwrap_or(DEFAULT_CONTENT_TYPE),
            webhook_id: &envelope.event_id,
            webhook_timestamp: timestamp,
            webhook_signature: &signature,
            body: payload,
        };
        let sent = tokio::time::timeout(timeout, destinations.send(&arn, &message)).await;
        let (outcome, error) = match sent {
            Err(_) => (
                AttemptOutcome::unsent(RetryReason::Timeout),
                Some(format!("{arn} did not answer within {timeout:?}")),
            ),
            Ok(Ok(())) => (AttemptOutcome::Delivered { status: 200 }, None),
            Ok(Err(e)) => {
                let outcome = match &e {
                    SendError::Refused { status, .. } => AttemptOutcome::Gone {
                        status: status.unwrap_or(403),
                    },
                    SendError::Throttled { status, .. } => AttemptOutcome::Retry {
                        status: *status,
                        reason: RetryReason::Throttled,
                        retry_after: None,
                    },
                    SendError::Failed { status, .. } => AttemptOutcome::Retry {
                        status: *status,
                        reason: match status {
                            Some(500..=599) => RetryReason::ServerError,
                            Some(_) => RetryReason::ClientError,
                            None => RetryReason::Connection,
                        },
                        retry_after: None,
                    },
                };
                (outcome, Some(e.to_string()))
            }
        };
        Attempt {
            outcome,
            error,
            snippet: None,
        }
    }

    /// The Standard Webhooks timestamp and `webhook-signature` value for this delivery.
    fn sign(
        &self,
        envelope: &Envelope,
        payload: &[u8],
        subscription: &Subscription,
    ) -> Result<(i64, String), String> {
        let keys = subscription
            .signing_keys()
            .map_err(|e| format!("the subscription's signing secret is unusable: {e}"))?;
        if keys.is_empty() {
            return Err("the subscription has no signing secret".to_owned());
        }
        let timestamp = self.clock.unix_seconds();
        Ok((
            timestamp,
            signature_header(&keys, &envelope.event_id, timestamp, payload),
        ))
    }

    /// The subscription's custom headers, then Hookpost's, which always win.
    fn request_headers(
        &self,
        envelope: &Envelope,
        payload: &[u8],
        subscription: &Subscription,
    ) -> Result<HeaderMap, String> {
        let (timestamp, signature) = self.sign(envelope, payload, subscription)?;
        let mut headers = custom_headers(&subscription.headers)?;
        let content_type = envelope
            .content_type
            .as_deref()
            .and_then(|ct| HeaderValue::from_str(ct).ok())
            .unwrap_or_else(|| HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
        headers.insert(CONTENT_TYPE, content_type);
        headers.insert(
            STANDARD_HEADERS.id,
            HeaderValue::from_str(&envelope.event_id)
                .map_err(|_| "the event id is not a valid header value".to_owned())?,
        );
        headers.insert(STANDARD_HEADERS.timestamp, HeaderValue::from(timestamp));
        headers.insert(
            STANDARD_HEADERS.signature,
            HeaderValue::from_str(&signature)
                .map_err(|_| "the signature is not a valid header value".to_owned())?,
        );
        Ok(headers)
    }
}

/// The shared client: no redirects (a 3xx is an answer, not a delivery), no proxies (they would
/// resolve names past the SSRF guard), and the guard's resolver with the deployment's policy.
pub(crate) fn http_client(config: &Config) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(hookpost_shared::USER_AGENT)
        .no_proxy()
        .connect_timeout(config.attempt_timeout)
        .dns_resolver(Arc::new(guard::GuardedResolver::new(
            config.targets.clone(),
        )))
        .build()
}

fn custom_headers(custom: &BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in custom {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("custom header `{name}` is not a valid header name"))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            debug!(header = %header, "custom header ignored: Hookpost sets it");
            continue;
        }
        // The value is not quoted: custom headers often carry credentials.
        let value = HeaderValue::from_str(value).map_err(|_| {
            format!("the value of custom header `{name}` is not a valid header value")
        })?;
        headers.append(header, value);
    }
    Ok(headers)
}

/// The start of the response body, read no further than [`RESPONSE_SNIPPET_BYTES`].
async fn read_snippet(mut response: reqwest::Response) -> Option<String> {
    let mut body: Vec<u8> = Vec::new();
    while body.len() < RESPONSE_SNIPPET_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(RESPONSE_SNIPPET_BYTES);
    (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned())
}

/// An error and its causes, `: `-separated.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use hookpost_shared::delivery::{AttemptOutcome, RetryReason, classify_status};
    use hookpost_shared::envelope::EncodedBody;
    use hookpost_shared::secret::{Secret, SigningKey};
    use tokio::net::TcpListener;

    use super::RESPONSE_SNIPPET_BYTES;
    use crate::Config;
    use crate::test_support::*;

    /// The delivery of one event to a subscription signed with [`SECRET`] and `key` too.
    async fn delivered_with_another_key(key: Secret) -> Captured {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let mut sub = subscription("sub_a", &subscriber.url());
        sub.secrets.push(key);
        let world = World::with(vec![sub]);
        world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;
        subscriber.requests().remove(0)
    }

    #[tokio::test]
    async fn every_active_secret_signs_the_delivery_during_a_rotation() {
        let new_secret = SigningKey::generate().expect("rng").to_whsec();
        let got = &delivered_with_another_key(new_secret.clone()).await;
        let signatures = header(got, "webhook-signature").expect("signed");
        assert_eq!(
            signatures
                .split(' ')
                .filter(|s| s.starts_with("v1,"))
                .count(),
            2
        );
        assert_eq!(verify(got, SECRET), Ok(()));
        assert_eq!(verify(got, new_secret.expose()), Ok(()));
    }

    #[tokio::test]
    async fn a_v1a_key_signs_with_ed25519_beside_v1_and_the_public_key_verifies_it() {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD as BASE64;
        use hookpost_shared::secret::Ed25519Key;

        let key = Ed25519Key::generate().expect("rng");
        let got = &delivered_with_another_key(key.to_whsk()).await;
        assert_eq!(verify(got, SECRET), Ok(()), "the v1 entry still verifies");
        let signatures = header(got, "webhook-signature").expect("signed");
        let entries: Vec<&str> = signatures.split(' ').collect();
        assert_eq!(entries.len(), 2, "{signatures}");
        let v1a: [u8; 64] = BASE64
            .decode(entries[1].strip_prefix("v1a,").expect("a v1a entry"))
            .expect("base64")
            .try_into()
            .expect("64 bytes");
        let signed = |body: &[u8]| {
            [
                format!(
                    "{}.{}.",
                    header(got, "webhook-id").expect("id"),
                    header(got, "webhook-timestamp").expect("timestamp")
                )
                .as_bytes(),
                body,
            ]
            .concat()
        };
        let signature = ed25519_dalek::Signature::from_bytes(&v1a);
        let public = key.verifying_key();
        assert!(public.verify_strict(&signed(&got.body), &signature).is_ok());
        let mut tampered = got.body.clone();
        tampered.push(b' ');
        assert!(
            public
                .verify_strict(&signed(&tampered), &signature)
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_binary_body_is_delivered_byte_for_byte_with_its_content_type() {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let raw = vec![0xff, 0x00, 0x80, 0x7f];
        let mut env = envelope("evt_bin", EncodedBody::from_bytes(raw.clone()));
        env.content_type = Some("application/octet-stream".to_owned());

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![message("m-1", &env.encode(), 1)]), None)
            .await;

        assert!(failed_ids(&response).is_empty());
        let got = &subscriber.requests()[0];
        assert_eq!(got.body, raw);
        assert_eq!(
            header(got, "content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(verify(got, SECRET), Ok(()));
    }

    #[tokio::test]
    async fn custom_headers_are_sent_but_cannot_override_hookpost_headers() {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let mut sub = subscription("sub_a", &subscriber.url());
        sub.headers = BTreeMap::from([
            ("Authorization".to_owned(), "Bearer s3cret".to_owned()),
            ("x-tenant".to_owned(), "acme".to_owned()),
            ("webhook-signature".to_owned(), "v1,forged".to_owned()),
            ("webhook-id".to_owned(), "forged".to_owned()),
        ]);
        let world = World::with(vec![sub]);

        world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        let got = &subscriber.requests()[0];
        assert_eq!(header(got, "authorization"), Some("Bearer s3cret"));
        assert_eq!(header(got, "x-tenant"), Some("acme"));
        assert_eq!(header(got, "webhook-id"), Some("evt_1"));
        assert_eq!(got.headers.get_all("webhook-signature").iter().count(), 1);
        assert_eq!(verify(got, SECRET), Ok(()));
    }

    #[tokio::test]
    async fn a_subscription_with_an_unusable_secret_is_a_recorded_failure() {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let mut sub = subscription("sub_bad", &subscriber.url());
        sub.secrets = vec![Secret::new("not-a-whsec-secret")];
        let world = World::with(vec![sub]);

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert!(subscriber.requests().is_empty());
        let attempts = world.attempts();
        assert_eq!(
            attempts[0].outcome,
            AttemptOutcome::unsent(RetryReason::Misconfigured)
        );
        assert_eq!(attempts[0].outcome.label(), "misconfigured");
        let error = attempts[0].error.as_deref().unwrap_or_default();
        assert!(error.contains("whsec_"), "{error}");
        assert!(!error.contains("not-a-whsec-secret"), "{error}");
    }

    #[tokio::test]
    async fn a_failing_subscribers_answer_is_kept_up_to_the_snippet_size() {
        let subscriber = Subscriber::start(Answer::WithBody(500, "x".repeat(5000))).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);

        world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        let attempts = world.attempts();
        assert_eq!(attempts[0].outcome, classify_status(500, None));
        assert_eq!(attempts[0].outcome.label(), "server_error");
        assert_eq!(
            attempts[0].response_snippet.as_deref().map(str::len),
            Some(RESPONSE_SNIPPET_BYTES)
        );
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let target = Subscriber::start(Answer::Status(200)).await;
        let redirector =
            Subscriber::start(Answer::WithHeaders(307, vec![("location", target.url())])).await;
        let world = World::with(vec![subscription("sub_a", &redirector.url())]);

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert_eq!(redirector.requests().len(), 1);
        assert!(target.requests().is_empty());
        assert_eq!(world.attempts()[0].outcome.label(), "redirect");
        assert_eq!(world.attempts()[0].outcome.status(), Some(307));
    }

    #[tokio::test]
    async fn a_loopback_target_is_blocked_when_private_targets_are_not_allowed() {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let by_name = format!("http://localhost:{}/hook", subscriber.addr.port());
        let world = World::with(vec![
            subscription("sub_literal", &subscriber.url()),
            subscription("sub_name", &by_name),
        ]);

        let response = world
            .dispatcher(Config::default())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert!(subscriber.requests().is_empty());
        let attempts = world.attempts();
        assert_eq!(attempts.len(), 2);
        for a in &attempts {
            assert_eq!(
                a.outcome,
                AttemptOutcome::unsent(RetryReason::Blocked),
                "{a:?}"
            );
            assert_eq!(a.outcome.label(), "blocked_target");
            let error = a.error.as_deref().unwrap_or_default();
            assert!(error.contains("loopback"), "{error}");
            assert!(!error.contains("token=abc"), "{error}");
        }
    }

    #[tokio::test]
    async fn a_loopback_target_is_delivered_to_when_private_targets_are_allowed() {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let by_name = format!("http://localhost:{}/hook", subscriber.addr.port());
        let world = World::with(vec![
            subscription("sub_literal", &subscriber.url()),
            subscription("sub_name", &by_name),
        ]);

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert!(failed_ids(&response).is_empty(), "{:?}", world.attempts());
        assert_eq!(subscriber.requests().len(), 2);
    }

    #[tokio::test]
    async fn a_subscriber_that_does_not_answer_in_time_is_retried_as_a_timeout() {
        let subscriber = Subscriber::start(Answer::Stall).await;
        let world = World::with(vec![subscription("sub_slow", &subscriber.url())]);
        let config = Config {
            attempt_timeout: Duration::from_millis(200),
            ..local_config()
        };

        let response = world
            .dispatcher(config)
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert_eq!(world.attempts()[0].outcome.label(), "timeout");
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_as_a_connection_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let world = World::with(vec![subscription("sub_down", &format!("http://{addr}/"))]);

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert_eq!(world.attempts()[0].outcome.label(), "connection_error");
    }
}
