//! What the unit tests share: in-memory ports ([`World`]), a capturing subscriber on
//! 127.0.0.1 ([`Subscriber`]), and builders for subscriptions, envelopes and SQS records.
//! Nothing here ever connects to anything but loopback.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bytes::Bytes;
use hookpost_shared::clock::FixedClock;
use hookpost_shared::envelope::{ENVELOPE_VERSION, EncodedBody, Envelope};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{Check, Inbound, Provider, SchemeOptions, TimePolicy};
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{
    ArchivedEvent, AttemptRecord, BodyStore, DeliveryLog, EventArchive, StoreError,
    SubscriptionStore, Visibility,
};
use hookpost_shared::subscription::{LastDelivery, Subscription};
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use reqwest::header::HeaderMap;
use tokio::net::TcpListener;

use crate::{Config, Dispatcher, GROUP_ATTRIBUTE, RECEIVE_COUNT_ATTRIBUTE};

pub(crate) const NOW: u64 = 1_700_000_000;
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub(crate) const BODY: &str = r#"{"type":"invoice.paid","id":42}"#;

// ---- in-memory ports ----------------------------------------------------------------------------

#[derive(Default)]
pub(crate) struct World {
    pub(crate) subscriptions: Mutex<Vec<Subscription>>,
    pub(crate) fail_subscription_loads: bool,
    pub(crate) subscription_loads: AtomicUsize,
    pub(crate) disabled: Mutex<Vec<(String, String)>>,
    pub(crate) delivered: Mutex<HashMap<String, HashSet<String>>>,
    pub(crate) fail_recording: bool,
    pub(crate) attempts: Mutex<Vec<AttemptRecord>>,
    pub(crate) delays: Mutex<Vec<(String, i32)>>,
    pub(crate) bodies: Mutex<HashMap<String, Vec<u8>>>,
    /// subscription id → failing_since, as the table would hold it.
    pub(crate) streaks: Mutex<HashMap<String, SystemTime>>,
    pub(crate) streak_writes: AtomicUsize,
    /// subscription id → its last delivery, as the table would hold it.
    pub(crate) last_deliveries: Mutex<HashMap<String, LastDelivery>>,
    pub(crate) archived: Mutex<HashMap<String, ArchivedEvent>>,
    pub(crate) fail_archiving: bool,
    pub(crate) dead_lettered: Mutex<Vec<DeadLettered>>,
    pub(crate) fail_dead_letters: bool,
    /// Each rate-limited subscription's limiter time (TAT), as the subscriptions table keeps it.
    pub(crate) rate_next: Mutex<HashMap<String, i64>>,
    /// How many slots each reservation call took, in order.
    pub(crate) reservations: Mutex<Vec<u32>>,
    /// Records queued again with their delay.
    pub(crate) requeued: Mutex<Vec<(String, i32)>>,
    /// How many copies each requeue call carried, in order.
    pub(crate) requeue_calls: Mutex<Vec<usize>>,
    pub(crate) fail_requeues: bool,
}

impl SubscriptionStore for &World {
    async fn subscriptions_for(&self, source: &SourceId) -> Result<Vec<Subscription>, StoreError> {
        self.subscription_loads.fetch_add(1, Ordering::SeqCst);
        if self.fail_subscription_loads {
            return Err(StoreError::new("Query", "ProvisionedThroughputExceeded"));
        }
        Ok(lock(&self.subscriptions)
            .iter()
            .filter(|s| &s.source_id == source)
            .cloned()
            .collect())
    }

    async fn record_last_delivery(
        &self,
        _source: &SourceId,
        subscription_id: &str,
        last: &LastDelivery,
    ) -> Result<(), StoreError> {
        lock(&self.last_deliveries).insert(subscription_id.to_owned(), last.clone());
        Ok(())
    }

    async fn disable(
        &self,
        _source: &SourceId,
        subscription_id: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        lock(&self.disabled).push((subscription_id.to_owned(), reason.to_owned()));
        Ok(())
    }

    async fn record_failure(
        &self,
        _source: &SourceId,
        subscription_id: &str,
        now: SystemTime,
    ) -> Result<SystemTime, StoreError> {
        self.streak_writes.fetch_add(1, Ordering::SeqCst);
        Ok(*lock(&self.streaks)
            .entry(subscription_id.to_owned())
            .or_insert(now))
    }

    async fn reserve_slots(
        &self,
        _source: &SourceId,
        subscription_id: &str,
        now_micros: i64,
        interval_micros: i64,
        count: u32,
    ) -> Result<Option<i64>, StoreError> {
        // A call to the table is in flight for a while: others of the batch can gather.
        tokio::task::yield_now().await;
        lock(&self.reservations).push(count);
        let mut tats = lock(&self.rate_next);
        let tat = tats.entry(subscription_id.to_owned()).or_insert(i64::MIN);
        let before = *tat;
        *tat = before.max(now_micros) + interval_micros * i64::from(count);
        Ok((before > now_micros).then_some(before))
    }

    async fn clear_failure(
        &self,
        _source: &SourceId,
        subscription_id: &str,
    ) -> Result<(), StoreError> {
        self.streak_writes.fetch_add(1, Ordering::SeqCst);
        lock(&self.streaks).remove(subscription_id);
        Ok(())
    }
}

impl EventArchive for &World {
    async fn archive(&self, event: &ArchivedEvent) -> Result<bool, StoreError> {
        if self.fail_archiving {
            return Err(StoreError::new("PutItem", "throttled"));
        }
        let mut archived = lock(&self.archived);
        if archived.contains_key(&event.event_id) {
            return Ok(false);
        }
        archived.insert(event.event_id.clone(), event.clone());
        Ok(true)
    }

    async fn get(&self, event_id: &str) -> Result<Option<ArchivedEvent>, StoreError> {
        Ok(lock(&self.archived).get(event_id).cloned())
    }
}

impl DeliveryLog for &World {
    async fn delivered_subscriptions(&self, event_id: &str) -> Result<HashSet<String>, StoreError> {
        Ok(lock(&self.delivered)
            .get(event_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn record_attempt(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        if self.fail_recording {
            return Err(StoreError::new("UpdateItem", "throttled"));
        }
        if attempt.outcome.is_delivered() {
            lock(&self.delivered)
                .entry(attempt.event_id.clone())
                .or_default()
                .insert(attempt.subscription_id.clone());
        }
        lock(&self.attempts).push(attempt.clone());
        Ok(())
    }
}

impl Visibility for &World {
    async fn delay(&self, receipt_handle: &str, seconds: i32) -> Result<(), StoreError> {
        lock(&self.delays).push((receipt_handle.to_owned(), seconds));
        Ok(())
    }

    async fn requeue(&self, copies: &[(String, i32)]) -> Vec<Result<(), StoreError>> {
        tokio::task::yield_now().await;
        lock(&self.requeue_calls).push(copies.len());
        if self.fail_requeues {
            let refused = StoreError::new("SendMessage", "a FIFO queue cannot delay one message");
            return vec![Err(refused); copies.len()];
        }
        lock(&self.requeued).extend(copies.iter().cloned());
        vec![Ok(()); copies.len()]
    }

    async fn dead_letter(
        &self,
        body: &str,
        message_id: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        if self.fail_dead_letters {
            return Err(StoreError::new(
                "SendMessage",
                "the dead-letter queue is down",
            ));
        }
        lock(&self.dead_lettered).push(DeadLettered {
            body: body.to_owned(),
            message_id: message_id.to_owned(),
            reason: reason.to_owned(),
        });
        Ok(())
    }
}

/// A record the dispatcher sent straight to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeadLettered {
    pub(crate) body: String,
    pub(crate) message_id: String,
    pub(crate) reason: String,
}

impl BodyStore for &World {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        lock(&self.bodies).insert(key.to_owned(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        lock(&self.bodies)
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::new("GetObject", "NoSuchKey"))
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl World {
    pub(crate) fn with(subscriptions: Vec<Subscription>) -> Self {
        Self {
            subscriptions: Mutex::new(subscriptions),
            ..Self::default()
        }
    }

    pub(crate) fn dispatcher(
        &self,
        config: Config,
    ) -> Dispatcher<&World, &World, &World, &World, &World> {
        self.dispatcher_at(config, FixedClock::at_unix(NOW))
    }

    pub(crate) fn dispatcher_at(
        &self,
        config: Config,
        clock: FixedClock,
    ) -> Dispatcher<&World, &World, &World, &World, &World> {
        Dispatcher::new(self, self, self, self, self, Arc::new(clock), config)
            .expect("the client builds")
    }

    pub(crate) fn attempts(&self) -> Vec<AttemptRecord> {
        lock(&self.attempts).clone()
    }

    pub(crate) fn delays(&self) -> Vec<(String, i32)> {
        lock(&self.delays).clone()
    }

    pub(crate) fn dead_lettered(&self) -> Vec<DeadLettered> {
        lock(&self.dead_lettered).clone()
    }
}

/// Loopback subscribers are the only ones tests may use, so the guard is off unless a test is
/// about the guard.
pub(crate) fn local_config() -> Config {
    Config {
        targets: hookpost_shared::delivery::TargetPolicy::AllPrivate,
        ..Config::default()
    }
}

pub(crate) fn subscription(id: &str, url: &str) -> Subscription {
    Subscription::new(
        SourceId::parse("billing").expect("valid"),
        id,
        url,
        vec![Secret::new(SECRET)],
        "2026-01-01T00:00:00Z",
    )
}

pub(crate) fn envelope(event_id: &str, body: EncodedBody) -> Envelope {
    Envelope {
        version: ENVELOPE_VERSION,
        event_id: event_id.to_owned(),
        source_id: SourceId::parse("billing").expect("valid"),
        provider: Provider::StandardWebhooks,
        event_type: Some("invoice.paid".to_owned()),
        delivery_id: None,
        received_at: "2026-01-01T00:00:00.000Z".to_owned(),
        content_type: Some("application/json".to_owned()),
        headers: BTreeMap::new(),
        body,
    }
}

pub(crate) fn message(message_id: &str, body: &str, receive_count: u32) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(message_id.to_owned());
    m.receipt_handle = Some(format!("rh-{message_id}"));
    m.body = Some(body.to_owned());
    m.attributes = HashMap::from([(
        RECEIVE_COUNT_ATTRIBUTE.to_owned(),
        receive_count.to_string(),
    )]);
    m
}

pub(crate) fn record(message_id: &str, event_id: &str) -> SqsMessage {
    message(
        message_id,
        &envelope(event_id, EncodedBody::Utf8(BODY.to_owned())).encode(),
        1,
    )
}

pub(crate) fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages;
    event
}

/// A record of a FIFO queue: `event_id` from `source`, in message group `source`.
pub(crate) fn grouped(message_id: &str, source: &str, event_id: &str) -> SqsMessage {
    let mut envelope = envelope(event_id, EncodedBody::Utf8(BODY.to_owned()));
    envelope.source_id = SourceId::parse(source).expect("valid");
    let mut m = message(message_id, &envelope.encode(), 1);
    m.attributes
        .insert(GROUP_ATTRIBUTE.to_owned(), source.to_owned());
    m
}

pub(crate) fn subscription_of(source: &str, id: &str, url: &str) -> Subscription {
    Subscription {
        source_id: SourceId::parse(source).expect("valid"),
        ..subscription(id, url)
    }
}

pub(crate) fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

// ---- a capturing subscriber on 127.0.0.1:0 ------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Status(u16),
    WithHeaders(u16, Vec<(&'static str, String)>),
    WithBody(u16, String),
    /// Reads the request, never answers.
    Stall,
    /// Answers 204 after a while.
    Slow(Duration),
}

pub(crate) struct Subscriber {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: Arc<Mutex<Vec<Captured>>>,
    /// Requests being answered now, and the most there ever were at once.
    pub(crate) in_flight: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Subscriber {
    pub(crate) async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let captured = Arc::clone(&requests);
        let in_flight = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let counts = Arc::clone(&in_flight);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let captured = Arc::clone(&captured);
                let answer = answer.clone();
                let counts = Arc::clone(&counts);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let captured = Arc::clone(&captured);
                            let answer = answer.clone();
                            let counts = Arc::clone(&counts);
                            async move {
                                let now = counts.0.fetch_add(1, Ordering::SeqCst) + 1;
                                counts.1.fetch_max(now, Ordering::SeqCst);
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                lock(&captured).push(Captured {
                                    headers: parts.headers,
                                    body: body.to_vec(),
                                });
                                let (status, headers, body) = match answer {
                                    Answer::Status(s) => (s, Vec::new(), String::new()),
                                    Answer::WithHeaders(s, h) => (s, h, String::new()),
                                    Answer::WithBody(s, b) => (s, Vec::new(), b),
                                    Answer::Stall => std::future::pending().await,
                                    Answer::Slow(wait) => {
                                        tokio::time::sleep(wait).await;
                                        (204, Vec::new(), String::new())
                                    }
                                };
                                counts.0.fetch_sub(1, Ordering::SeqCst);
                                let mut response = http::Response::builder().status(status);
                                for (k, v) in headers {
                                    response = response.header(k, v);
                                }
                                Ok::<_, Infallible>(
                                    response
                                        .body(Full::new(Bytes::from(body)))
                                        .expect("valid response"),
                                )
                            }
                        },
                    );
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            requests,
            in_flight,
        }
    }

    pub(crate) fn most_at_once(&self) -> usize {
        self.in_flight.1.load(Ordering::SeqCst)
    }

    /// The `webhook-id` (event id) of every request, in arrival order.
    pub(crate) fn event_ids(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|c| header(c, "webhook-id").map(str::to_owned))
            .collect()
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook?token=abc", self.addr)
    }

    pub(crate) fn requests(&self) -> Vec<Captured> {
        lock(&self.requests).clone()
    }
}

pub(crate) fn verify(
    captured: &Captured,
    secret: &str,
) -> Result<(), hookpost_shared::signature::VerifyError> {
    let secrets = [Secret::new(secret)];
    let options = SchemeOptions::default();
    let check = Check {
        secrets: &secrets,
        policy: TimePolicy {
            now: i64::try_from(NOW).expect("fits"),
            tolerance: Duration::from_secs(300),
        },
        options: &options,
    };
    Provider::StandardWebhooks.verify(
        &check,
        &Inbound {
            headers: &captured.headers,
            body: &captured.body,
            query: None,
        },
    )
}

pub(crate) fn header<'a>(captured: &'a Captured, name: &str) -> Option<&'a str> {
    captured.headers.get(name).and_then(|v| v.to_str().ok())
}
