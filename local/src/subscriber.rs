//! A subscriber on 127.0.0.1 that records every delivery and checks its Standard Webhooks signature
//! with the `standardwebhooks` crate, an implementation independent of Hookpost's signer.
//! `hookpost demo` uses it to show a delivery verified end to end.
//!
//! A delivery that does not verify is answered 401; what a verified one gets is its
//! [`Responder`]'s choice, 204 unless the subscriber was started with another.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use bytes::Bytes;
use hookpost_shared::aws::{DynamoClient, DynamoSubscriptions};
use hookpost_shared::clock::rfc3339;
use hookpost_shared::deployment::StackNames;
use hookpost_shared::secret::SigningKey;
use hookpost_shared::source::SourceId;
use hookpost_shared::store::StoreError;
use hookpost_shared::subscription::{Subscription, new_subscription_id};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use standardwebhooks::Webhook;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// One delivery as the subscriber saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// Whether the signature verified with the subscriber's secret.
    pub verified: bool,
    /// The status the subscriber answered.
    pub answered: u16,
    /// When the request arrived (its body read).
    pub at: std::time::Instant,
}

impl Received {
    /// The delivery's `webhook-id`: the event it carries.
    pub fn event_id(&self) -> Option<&str> {
        self.headers.get("webhook-id")?.to_str().ok()
    }
}

/// The answer to one verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// How long to wait before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Decides the answer to each verified delivery, from its headers and body.
pub trait Responder: Send + Sync + 'static {
    fn reply(&self, headers: &http::HeaderMap, body: &[u8]) -> Reply;
}

impl<F> Responder for F
where
    F: Fn(&http::HeaderMap, &[u8]) -> Reply + Send + Sync + 'static,
{
    fn reply(&self, headers: &http::HeaderMap, body: &[u8]) -> Reply {
        self(headers, body)
    }
}

/// Acknowledges every verified delivery with 204.
#[derive(Debug, Clone, Copy, Default)]
pub struct Acknowledge;

impl Responder for Acknowledge {
    fn reply(&self, _: &http::HeaderMap, _: &[u8]) -> Reply {
        Reply::status(204)
    }
}

/// Why a subscriber could not be started or subscribed.
#[derive(Debug, thiserror::Error)]
pub enum SubscriberError {
    #[error("binding the subscriber on 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    #[error("the subscriber's verifier refused its key: {0}")]
    Key(#[from] standardwebhooks::WebhookError),
    #[error("no randomness for the subscriber's key: {0}")]
    Randomness(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A running subscriber; it stops serving when [`Subscriber::stop`] is called.
#[derive(Debug)]
pub struct Subscriber {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    received: Arc<Record>,
    shutdown: watch::Sender<bool>,
}

/// The deliveries so far, and a wake-up for whoever waits for more.
#[derive(Debug, Default)]
struct Record {
    deliveries: Mutex<Vec<Received>>,
    notify: Notify,
}

impl Record {
    fn lock(&self) -> MutexGuard<'_, Vec<Received>> {
        self.deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// What every connection's service shares.
struct Service<R> {
    verifier: Webhook,
    responder: R,
    record: Arc<Record>,
}

impl<R: Responder> Service<R> {
    async fn answer(&self, request: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let verified = self.verifier.verify(&body, &parts.headers).is_ok();
        let reply = if verified {
            self.responder.reply(&parts.headers, &body)
        } else {
            Reply::status(401)
        };
        self.record.lock().push(Received {
            headers: parts.headers,
            body,
            verified,
            answered: reply.status,
            at: std::time::Instant::now(),
        });
        self.record.notify.notify_waiters();
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        let mut response = http::Response::new(Full::new(Bytes::new()));
        *response.status_mut() = http::StatusCode::from_u16(reply.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in &reply.headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

impl Subscriber {
    /// Binds 127.0.0.1 on a free port and acknowledges every delivery that verifies with `key`.
    pub async fn start(key: &SigningKey) -> Result<Self, SubscriberError> {
        Self::start_with(key, Acknowledge).await
    }

    /// [`Subscriber::start`], with `responder` deciding the answers to verified deliveries.
    pub async fn start_with(
        key: &SigningKey,
        responder: impl Responder,
    ) -> Result<Self, SubscriberError> {
        let verifier = Webhook::new(key.to_whsec().expose())?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let record = Arc::new(Record::default());
        let service = Arc::new(Service {
            verifier,
            responder,
            record: Arc::clone(&record),
        });
        let (shutdown, mut watcher) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = watcher.changed() => return,
                };
                let service = Arc::clone(&service);
                tokio::spawn(async move {
                    let handler = service_fn(move |request| {
                        let service = Arc::clone(&service);
                        async move { Ok::<_, Infallible>(service.answer(request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), handler)
                        .await;
                });
            }
        });
        Ok(Self {
            url,
            received: record,
            shutdown,
        })
    }

    /// Every delivery so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().clone()
    }

    /// Waits until at least `count` deliveries arrived, or `timeout` passed; the deliveries so far.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.received.notify.notified();
            let now = self.received();
            if now.len() >= count {
                return now;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.received();
            }
        }
    }

    /// Stops accepting connections.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// Subscribes `url` to every event of `source`, signed with `key`, by writing the subscription
/// straight to the stack's table; its id.
pub async fn subscribe(
    sdk: &SdkConfig,
    names: &StackNames,
    source: &SourceId,
    url: &str,
    key: &SigningKey,
) -> Result<String, StoreError> {
    let subscription_id = new_subscription_id();
    DynamoSubscriptions::new(DynamoClient::new(sdk), &names.subscriptions_table)
        .put(&Subscription::new(
            source.clone(),
            subscription_id.clone(),
            url.to_owned(),
            vec![key.to_whsec()],
            rfc3339(SystemTime::now()),
        ))
        .await?;
    Ok(subscription_id)
}

/// Starts an acknowledging subscriber with a fresh key and subscribes it to every event of
/// `source`; the subscriber and its subscription id.
pub async fn start_subscribed(
    sdk: &SdkConfig,
    names: &StackNames,
    source: &SourceId,
) -> Result<(Subscriber, String), SubscriberError> {
    let key = SigningKey::generate().map_err(|e| SubscriberError::Randomness(e.to_string()))?;
    let subscriber = Subscriber::start(&key).await?;
    let subscription_id = subscribe(sdk, names, source, &subscriber.url, &key).await?;
    Ok((subscriber, subscription_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &SigningKey, id: &str, body: &[u8]) -> Vec<(String, String)> {
        let verifier = Webhook::new(key.to_whsec().expose()).expect("a whsec key");
        let now = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let timestamp = i64::try_from(now).expect("fits");
        let signature = verifier.sign(id, timestamp, body).expect("signs");
        vec![
            ("webhook-id".to_owned(), id.to_owned()),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            ("webhook-signature".to_owned(), signature),
        ]
    }

    async fn post(
        url: &str,
        headers: &[(String, String)],
        body: &'static [u8],
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new().post(url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send().await.expect("the subscriber answers")
    }

    #[tokio::test]
    async fn a_verified_delivery_is_acknowledged_and_recorded() {
        let key = SigningKey::generate().expect("randomness");
        let subscriber = Subscriber::start(&key).await.expect("binds 127.0.0.1");
        let body = br#"{"n":1}"#;

        let response = post(&subscriber.url, &signed(&key, "msg_1", body), body).await;

        assert_eq!(response.status(), 204);
        let received = subscriber.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(received.len(), 1);
        assert!(received[0].verified);
        assert_eq!(received[0].answered, 204);
        assert_eq!(received[0].body.as_ref(), body);
        subscriber.stop();
    }

    #[tokio::test]
    async fn a_delivery_signed_with_another_key_is_refused_and_recorded_as_unverified() {
        let key = SigningKey::generate().expect("randomness");
        let other = SigningKey::generate().expect("randomness");
        let subscriber = Subscriber::start(&key).await.expect("binds 127.0.0.1");
        let body = br#"{"n":2}"#;

        let response = post(&subscriber.url, &signed(&other, "msg_2", body), body).await;

        assert_eq!(response.status(), 401);
        let received = subscriber.received();
        assert_eq!(received.len(), 1);
        assert!(!received[0].verified);
        assert_eq!(received[0].answered, 401);
        subscriber.stop();
    }

    #[tokio::test]
    async fn the_responder_decides_the_status_and_headers_of_a_verified_delivery() {
        let key = SigningKey::generate().expect("randomness");
        let responder = |headers: &http::HeaderMap, _: &[u8]| {
            let id = headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            Reply::status(if id == "msg_gone" { 410 } else { 202 }).header("x-seen", id)
        };
        let subscriber = Subscriber::start_with(&key, responder)
            .await
            .expect("binds 127.0.0.1");

        let gone = post(&subscriber.url, &signed(&key, "msg_gone", b"{}"), b"{}").await;
        let fine = post(&subscriber.url, &signed(&key, "msg_fine", b"{}"), b"{}").await;

        assert_eq!((gone.status().as_u16(), fine.status().as_u16()), (410, 202));
        assert_eq!(gone.headers()["x-seen"], "msg_gone");
        let answered: Vec<u16> = subscriber.received().iter().map(|r| r.answered).collect();
        assert_eq!(answered, [410, 202]);
        subscriber.stop();
    }
}
