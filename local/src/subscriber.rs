//! A subscriber on 127.0.0.1 that records every delivery and checks its Standard Webhooks signature
//! with the `standardwebhooks` crate, an implementation independent of Hookpost's signer. The demo
//! uses it; so do the integration tests, which can tell it to fail, fail N times, stall, throttle
//! or redirect.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use bytes::Bytes;
use hookpost_shared::aws::{DynamoClient, DynamoSubscriptions};
use hookpost_shared::clock::rfc3339;
use hookpost_shared::secret::SigningKey;
use hookpost_shared::source::SourceId;
use hookpost_shared::subscription::{Subscription, new_subscription_id};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::CliError;
use crate::stack::StackNames;

/// One delivery as the subscriber saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// Whether the signature verified with the subscriber's secret.
    pub verified: bool,
    /// The status the subscriber answered.
    pub answered: u16,
}

/// One scripted answer to a verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// How long to wait before answering (to stall past the dispatcher's timeout).
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

type Script = Arc<Mutex<VecDeque<Reply>>>;

/// A running subscriber.
#[derive(Debug)]
pub struct Subscriber {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    notify: Arc<Notify>,
    status: Arc<AtomicU16>,
    script: Script,
    shutdown: watch::Sender<bool>,
}

impl Subscriber {
    /// Binds 127.0.0.1 on a free port; deliveries are checked against `secret` (`whsec_…`) once
    /// [`Subscriber::set_secret`] is called, so the URL can be registered before the secret exists.
    pub async fn start() -> std::io::Result<(Self, SecretSlot)> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let received = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(Notify::new());
        let status = Arc::new(AtomicU16::new(204));
        let secret: SecretSlot = Arc::new(Mutex::new(None));
        let script: Script = Arc::default();
        let (shutdown, mut watcher) = watch::channel(false);
        let state = (
            Arc::clone(&received),
            Arc::clone(&notify),
            Arc::clone(&status),
            Arc::clone(&secret),
            Arc::clone(&script),
        );
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = watcher.changed() => return,
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            let (received, notify, status, secret, script) = state.clone();
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let verified = secret
                                    .lock()
                                    .ok()
                                    .and_then(|s| s.clone())
                                    .and_then(|s| standardwebhooks::Webhook::new(&s).ok())
                                    .is_some_and(|hook| hook.verify(&body, &parts.headers).is_ok());
                                let reply = if verified {
                                    script
                                        .lock()
                                        .ok()
                                        .and_then(|mut s| s.pop_front())
                                        .unwrap_or_else(|| {
                                            Reply::status(status.load(Ordering::SeqCst))
                                        })
                                } else {
                                    Reply::status(401)
                                };
                                let answered = reply.status;
                                if let Ok(mut list) = received.lock() {
                                    list.push(Received {
                                        headers: parts.headers,
                                        body,
                                        verified,
                                        answered,
                                    });
                                }
                                notify.notify_waiters();
                                if !reply.delay.is_zero() {
                                    tokio::time::sleep(reply.delay).await;
                                }
                                let mut response = http::Response::new(Full::new(Bytes::new()));
                                *response.status_mut() = http::StatusCode::from_u16(answered)
                                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
                                for (name, value) in &reply.headers {
                                    if let (Ok(name), Ok(value)) = (
                                        http::HeaderName::from_bytes(name.as_bytes()),
                                        http::HeaderValue::from_str(value),
                                    ) {
                                        response.headers_mut().append(name, value);
                                    }
                                }
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok((
            Self {
                url,
                received,
                notify,
                status,
                script,
                shutdown,
            },
            secret,
        ))
    }

    /// The status verified deliveries get from now on (204 by default).
    pub fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Answers the next verified deliveries with `replies`, in order; then with the
    /// [`Subscriber::answer_with`] status again.
    pub fn then_reply(&self, replies: impl IntoIterator<Item = Reply>) {
        if let Ok(mut script) = self.script.lock() {
            script.extend(replies);
        }
    }

    /// Every delivery so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until at least `count` deliveries arrived, or `timeout` passed; the deliveries so far.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            let now = self.received();
            if now.len() >= count {
                return now;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.received();
            }
        }
    }

    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// Where the subscriber reads the `whsec_` secret it verifies with.
pub type SecretSlot = Arc<Mutex<Option<String>>>;

/// Starts a verifying subscriber and subscribes it to every event of `source`; the subscriber
/// and its subscription id.
pub async fn start_subscribed(
    sdk: &SdkConfig,
    names: &StackNames,
    source: &SourceId,
) -> Result<(Subscriber, String), CliError> {
    let key =
        SigningKey::generate().map_err(|e| CliError::Failed(format!("no randomness: {e}")))?;
    start_subscribed_with(sdk, names, source, &key).await
}

/// [`start_subscribed`] with a signing key of the caller's.
pub async fn start_subscribed_with(
    sdk: &SdkConfig,
    names: &StackNames,
    source: &SourceId,
    key: &SigningKey,
) -> Result<(Subscriber, String), CliError> {
    let (subscriber, slot) = Subscriber::start()
        .await
        .map_err(|e| CliError::Failed(format!("starting the subscriber: {e}")))?;
    if let Ok(mut secret) = slot.lock() {
        *secret = Some(key.to_whsec().expose().to_owned());
    }
    let subscription_id = new_subscription_id();
    DynamoSubscriptions::new(DynamoClient::new(sdk), &names.subscriptions_table)
        .put(&Subscription::new(
            source.clone(),
            subscription_id.clone(),
            subscriber.url.clone(),
            vec![key.to_whsec()],
            rfc3339(std::time::SystemTime::now()),
        ))
        .await?;
    Ok((subscriber, subscription_id))
}
