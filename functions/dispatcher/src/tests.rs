//! Unit tests of the batch handler with in-memory ports and real HTTP subscribers on 127.0.0.1.
//! Nothing here ever connects to anything but loopback.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use hookpost_shared::clock::FixedClock;
use hookpost_shared::envelope::{ENVELOPE_VERSION, EncodedBody};
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::{Check, Inbound, Provider, SchemeOptions, TimePolicy};
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;

const NOW: u64 = 1_700_000_000;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &str = r#"{"type":"invoice.paid","id":42}"#;

// ---- in-memory ports ----------------------------------------------------------------------------

#[derive(Default)]
struct World {
    subscriptions: Mutex<Vec<Subscription>>,
    fail_subscription_loads: bool,
    subscription_loads: AtomicUsize,
    disabled: Mutex<Vec<(String, String)>>,
    delivered: Mutex<HashMap<String, HashSet<String>>>,
    fail_recording: bool,
    attempts: Mutex<Vec<AttemptRecord>>,
    delays: Mutex<Vec<(String, i32)>>,
    bodies: Mutex<HashMap<String, Vec<u8>>>,
    /// subscription id → failing_since, as the table would hold it.
    streaks: Mutex<HashMap<String, SystemTime>>,
    streak_writes: AtomicUsize,
    archived: Mutex<HashMap<String, ArchivedEvent>>,
    fail_archiving: bool,
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

    async fn list(
        &self,
        source: &SourceId,
        since: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ArchivedEvent>, StoreError> {
        let mut events: Vec<ArchivedEvent> = lock(&self.archived)
            .values()
            .filter(|e| &e.source_id == source)
            .filter(|e| since.is_none_or(|s| e.received_at.as_str() >= s))
            .cloned()
            .collect();
        events.sort_by(|a, b| a.received_at.cmp(&b.received_at));
        events.truncate(limit);
        Ok(events)
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
        if attempt.delivered {
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl World {
    fn with(subscriptions: Vec<Subscription>) -> Self {
        Self {
            subscriptions: Mutex::new(subscriptions),
            ..Self::default()
        }
    }

    fn dispatcher(&self, config: Config) -> Dispatcher<&World, &World, &World, &World, &World> {
        self.dispatcher_at(config, FixedClock::at_unix(NOW))
    }

    fn dispatcher_at(
        &self,
        config: Config,
        clock: FixedClock,
    ) -> Dispatcher<&World, &World, &World, &World, &World> {
        Dispatcher::new(self, self, self, self, self, Arc::new(clock), config)
            .expect("the client builds")
    }

    fn attempts(&self) -> Vec<AttemptRecord> {
        lock(&self.attempts).clone()
    }

    fn delays(&self) -> Vec<(String, i32)> {
        lock(&self.delays).clone()
    }
}

/// Loopback subscribers are the only ones tests may use, so the guard is off unless a test is
/// about the guard.
fn local_config() -> Config {
    Config {
        allow_private_targets: true,
        ..Config::default()
    }
}

fn subscription(id: &str, url: &str) -> Subscription {
    Subscription::new(
        SourceId::parse("billing").expect("valid"),
        id,
        url,
        vec![Secret::new(SECRET)],
        "2026-01-01T00:00:00Z",
    )
}

fn envelope(event_id: &str, body: EncodedBody) -> Envelope {
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

fn message(message_id: &str, body: &str, receive_count: u32) -> SqsMessage {
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

fn record(message_id: &str, event_id: &str) -> SqsMessage {
    message(
        message_id,
        &envelope(event_id, EncodedBody::Utf8(BODY.to_owned())).encode(),
        1,
    )
}

fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages;
    event
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

// ---- a capturing subscriber on 127.0.0.1:0 ------------------------------------------------------

#[derive(Debug, Clone)]
struct Captured {
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Answer {
    Status(u16),
    WithHeaders(u16, Vec<(&'static str, String)>),
    WithBody(u16, String),
    /// Reads the request, never answers.
    Stall,
    /// Answers 204 after a while.
    Slow(Duration),
}

struct Subscriber {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Captured>>>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Subscriber {
    async fn start(answer: Answer) -> Self {
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

    fn most_at_once(&self) -> usize {
        self.in_flight.1.load(Ordering::SeqCst)
    }

    /// The `webhook-id` (event id) of every request, in arrival order.
    fn event_ids(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|c| header(c, "webhook-id").map(str::to_owned))
            .collect()
    }

    fn url(&self) -> String {
        format!("http://{}/hook?token=abc", self.addr)
    }

    fn requests(&self) -> Vec<Captured> {
        lock(&self.requests).clone()
    }
}

fn verify(
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

fn header<'a>(captured: &'a Captured, name: &str) -> Option<&'a str> {
    captured.headers.get(name).and_then(|v| v.to_str().ok())
}

// ---- tests --------------------------------------------------------------------------------------

#[tokio::test]
async fn a_good_record_is_delivered_with_a_signature_that_verifies() {
    let subscriber = Subscriber::start(Answer::Status(204)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    assert!(failed_ids(&response).is_empty());
    let requests = subscriber.requests();
    assert_eq!(requests.len(), 1);
    let got = &requests[0];
    assert_eq!(got.body, BODY.as_bytes());
    assert_eq!(verify(got, SECRET), Ok(()));
    assert_eq!(header(got, "webhook-id"), Some("evt_1"));
    assert_eq!(
        header(got, "webhook-timestamp"),
        Some(NOW.to_string().as_str())
    );
    assert_eq!(header(got, "content-type"), Some("application/json"));
    assert_eq!(header(got, "user-agent"), Some(hookpost_shared::USER_AGENT));

    let attempts = world.attempts();
    assert_eq!(attempts.len(), 1);
    let a = &attempts[0];
    assert_eq!(
        (
            a.event_id.as_str(),
            a.subscription_id.as_str(),
            a.outcome.as_str()
        ),
        ("evt_1", "sub_a", "delivered")
    );
    assert!(a.delivered);
    assert_eq!(a.status_code, Some(204));
    assert_eq!(a.error, None);
    assert_eq!(a.attempted_at, "2023-11-14T22:13:20.000Z");
    assert_eq!(
        a.expires_at,
        i64::try_from(NOW).expect("fits") + 30 * 24 * 60 * 60
    );
    assert!(world.delays().is_empty());
}

#[tokio::test]
async fn every_active_secret_signs_the_delivery_during_a_rotation() {
    let subscriber = Subscriber::start(Answer::Status(200)).await;
    let new_secret = SigningKey::generate().expect("rng").to_whsec();
    let mut sub = subscription("sub_a", &subscriber.url());
    sub.secrets.push(new_secret.clone());
    let world = World::with(vec![sub]);

    world
        .dispatcher(local_config())
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    let got = &subscriber.requests()[0];
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
async fn a_malformed_record_is_reported_alone_and_the_rest_of_the_batch_is_delivered() {
    let subscriber = Subscriber::start(Answer::Status(200)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let mut future_version = envelope("evt_v2", EncodedBody::Utf8(BODY.to_owned()));
    future_version.version = ENVELOPE_VERSION + 1;

    let response = world
        .dispatcher(local_config())
        .handle(
            batch(vec![
                record("m-1", "evt_1"),
                message("m-bad", "not an envelope", 1),
                message("m-v2", &future_version.encode(), 1),
                record("m-3", "evt_3"),
            ]),
            None,
        )
        .await;

    assert_eq!(failed_ids(&response), vec!["m-bad", "m-v2"]);
    let mut ids: Vec<String> = subscriber
        .requests()
        .iter()
        .filter_map(|r| header(r, "webhook-id").map(str::to_owned))
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["evt_1", "evt_3"]);
    // A malformed record is never going to work: it is left to the queue's own redrive.
    assert!(world.delays().is_empty());
}

#[tokio::test]
async fn a_failing_subscriber_fails_the_record_and_delays_it_by_the_schedule() {
    let subscriber = Subscriber::start(Answer::WithBody(500, "x".repeat(5000))).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let config = Config {
        retry: "10s,100s".parse().expect("valid"),
        ..local_config()
    };
    let body = envelope("evt_1", EncodedBody::Utf8(BODY.to_owned())).encode();

    let response = world
        .dispatcher(config)
        .handle(batch(vec![message("m-1", &body, 2)]), None)
        .await;

    assert_eq!(failed_ids(&response), vec!["m-1"]);
    let delays = world.delays();
    assert_eq!(delays.len(), 1);
    assert_eq!(delays[0].0, "rh-m-1");
    // The second receive waits the second entry, ±20 % jitter.
    assert!((80..=120).contains(&delays[0].1), "{delays:?}");
    let attempts = world.attempts();
    assert_eq!(attempts[0].outcome, "server_error");
    assert_eq!(attempts[0].status_code, Some(500));
    assert!(!attempts[0].delivered);
    assert_eq!(
        attempts[0].response_snippet.as_deref().map(str::len),
        Some(RESPONSE_SNIPPET_BYTES)
    );
}

#[tokio::test]
async fn retry_after_from_the_subscriber_lengthens_the_delay() {
    let subscriber = Subscriber::start(Answer::WithHeaders(
        429,
        vec![("retry-after", "50".to_owned())],
    ))
    .await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let config = Config {
        retry: "1s,100s".parse().expect("valid"),
        ..local_config()
    };

    let response = world
        .dispatcher(config)
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    assert_eq!(failed_ids(&response), vec!["m-1"]);
    assert_eq!(world.delays(), vec![("rh-m-1".to_owned(), 50)]);
    assert_eq!(world.attempts()[0].outcome, "throttled");
}

#[tokio::test]
async fn a_subscriber_that_already_got_the_event_is_not_called_again_on_redrive() {
    let done = Subscriber::start(Answer::Status(200)).await;
    let failing = Subscriber::start(Answer::Status(503)).await;
    let world = World::with(vec![
        subscription("sub_done", &done.url()),
        subscription("sub_failing", &failing.url()),
    ]);
    lock(&world.delivered).insert("evt_1".to_owned(), HashSet::from(["sub_done".to_owned()]));

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    assert_eq!(failed_ids(&response), vec!["m-1"]);
    assert!(done.requests().is_empty());
    assert_eq!(failing.requests().len(), 1);
    let attempts = world.attempts();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].subscription_id, "sub_failing");
}

#[tokio::test]
async fn a_retried_batch_only_calls_the_subscribers_still_missing_the_event() {
    let ok = Subscriber::start(Answer::Status(200)).await;
    let failing = Subscriber::start(Answer::Status(500)).await;
    let world = World::with(vec![
        subscription("sub_ok", &ok.url()),
        subscription("sub_failing", &failing.url()),
    ]);
    let dispatcher = world.dispatcher(local_config());

    for _ in 0..2 {
        let response = dispatcher
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;
        assert_eq!(failed_ids(&response), vec!["m-1"]);
    }

    assert_eq!(ok.requests().len(), 1);
    assert_eq!(failing.requests().len(), 2);
}

#[tokio::test]
async fn a_410_disables_the_subscription_and_is_not_retried() {
    let subscriber = Subscriber::start(Answer::Status(410)).await;
    let world = World::with(vec![subscription("sub_gone", &subscriber.url())]);

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    assert!(failed_ids(&response).is_empty());
    let disabled = lock(&world.disabled).clone();
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].0, "sub_gone");
    assert!(disabled[0].1.contains("410"), "{disabled:?}");
    assert_eq!(world.attempts()[0].outcome, "gone");
    assert!(world.delays().is_empty());
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
        assert_eq!(a.outcome, "blocked_target", "{a:?}");
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
    assert_eq!(world.attempts()[0].outcome, "redirect");
    assert_eq!(world.attempts()[0].status_code, Some(307));
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
    assert_eq!(attempts[0].outcome, "misconfigured");
    let error = attempts[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("whsec_"), "{error}");
    assert!(!error.contains("not-a-whsec-secret"), "{error}");
}

#[tokio::test]
async fn disabled_subscriptions_and_unwanted_event_types_are_skipped() {
    let subscriber = Subscriber::start(Answer::Status(200)).await;
    let mut disabled = subscription("sub_disabled", &subscriber.url());
    disabled.enabled = false;
    let mut other_events = subscription("sub_push_only", &subscriber.url());
    other_events.event_types = vec!["push".to_owned()];
    let mut invoices = subscription("sub_invoices", &subscriber.url());
    invoices.event_types = vec!["invoice.*".to_owned()];
    let world = World::with(vec![disabled, other_events, invoices]);

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(subscriber.requests().len(), 1);
    let attempts = world.attempts();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].subscription_id, "sub_invoices");
}

#[tokio::test]
async fn a_failed_subscription_load_fails_the_records_and_is_tried_once_per_source_and_batch() {
    let world = World {
        fail_subscription_loads: true,
        ..World::default()
    };

    let response = world
        .dispatcher(local_config())
        .handle(
            batch(vec![record("m-1", "evt_1"), record("m-2", "evt_2")]),
            None,
        )
        .await;

    assert_eq!(failed_ids(&response), vec!["m-1", "m-2"]);
    assert_eq!(world.subscription_loads.load(Ordering::SeqCst), 1);
    assert_eq!(world.delays().len(), 2);
    assert!(world.attempts().is_empty());
}

#[tokio::test]
async fn failing_to_record_a_success_does_not_fail_the_record() {
    let subscriber = Subscriber::start(Answer::Status(200)).await;
    let world = World {
        fail_recording: true,
        ..World::with(vec![subscription("sub_a", &subscriber.url())])
    };

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(subscriber.requests().len(), 1);
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
    assert_eq!(world.attempts()[0].outcome, "timeout");
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
    assert_eq!(world.attempts()[0].outcome, "connection_error");
}

#[tokio::test]
async fn nothing_is_attempted_when_the_invocation_is_about_to_time_out() {
    let subscriber = Subscriber::start(Answer::Status(200)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let almost_over = FixedClock::at_unix(NOW).now() + Duration::from_secs(1);

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![record("m-1", "evt_1")]), Some(almost_over))
        .await;

    assert_eq!(failed_ids(&response), vec!["m-1"]);
    assert!(subscriber.requests().is_empty());
    assert!(world.attempts().is_empty());
    assert_eq!(world.delays().len(), 1);
}

#[test]
fn a_batch_can_be_handled_on_a_spawned_task() {
    fn assert_send<T: Send>(_: &T) {}
    let world = World::default();
    let dispatcher = world.dispatcher(local_config());
    let handling = dispatcher.handle(batch(Vec::new()), None);
    assert_send(&handling);
}

#[test]
fn the_attempt_timeout_is_cut_short_by_the_invocation_deadline() {
    let now = FixedClock::at_unix(NOW).now();
    let timeout = Duration::from_secs(15);
    assert_eq!(attempt_budget(now, None, timeout), Some(timeout));
    assert_eq!(
        attempt_budget(now, Some(now + Duration::from_secs(60)), timeout),
        Some(timeout)
    );
    assert_eq!(
        attempt_budget(now, Some(now + Duration::from_secs(7)), timeout),
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        attempt_budget(now, Some(now + Duration::from_secs(2)), timeout),
        None
    );
    assert_eq!(
        attempt_budget(now, Some(now - Duration::from_secs(1)), timeout),
        None
    );
}

#[test]
fn the_receive_count_defaults_to_the_first_receive() {
    let mut m = message("m", "{}", 4);
    assert_eq!(receive_count(&m), 4);
    m.attributes.clear();
    assert_eq!(receive_count(&m), 1);
    m.attributes
        .insert(RECEIVE_COUNT_ATTRIBUTE.to_owned(), "lots".to_owned());
    assert_eq!(receive_count(&m), 1);
}

#[test]
fn visibility_delays_are_rounded_to_whole_seconds_and_jitter_is_in_range() {
    assert_eq!(visibility_seconds(Duration::from_millis(4_400)), 4);
    assert_eq!(visibility_seconds(Duration::from_millis(4_500)), 5);
    assert_eq!(visibility_seconds(Duration::from_secs(43_200)), 43_200);
    for _ in 0..100 {
        let j = jitter();
        assert!((0.0..1.0).contains(&j), "{j}");
    }
}

#[tokio::test]
async fn a_stored_body_is_fetched_and_delivered_byte_for_byte() {
    let subscriber = Subscriber::start(Answer::Status(204)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let large = vec![b'x'; 300 * 1024];
    lock(&world.bodies).insert("bodies/billing/evt_big".to_owned(), large.clone());
    let stored = envelope(
        "evt_big",
        EncodedBody::Stored("bodies/billing/evt_big".to_owned()),
    );

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![message("m-1", &stored.encode(), 1)]), None)
        .await;

    assert!(failed_ids(&response).is_empty());
    let requests = subscriber.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, large);
    assert_eq!(verify(&requests[0], SECRET), Ok(()));
}

#[tokio::test]
async fn a_stored_body_that_cannot_be_read_keeps_the_record_for_a_retry() {
    let subscriber = Subscriber::start(Answer::Status(204)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let missing = envelope(
        "evt_gone",
        EncodedBody::Stored("bodies/billing/nope".to_owned()),
    );

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![message("m-1", &missing.encode(), 1)]), None)
        .await;

    assert_eq!(failed_ids(&response), ["m-1"]);
    assert!(subscriber.requests().is_empty());
    assert_eq!(lock(&world.delays).len(), 1, "retried on the schedule");
}

// ---- warm cache, timeouts, failure streaks, the archive, the last receive, metrics --------------

#[tokio::test]
async fn a_warm_dispatcher_reads_a_sources_subscriptions_once_per_cache_period() {
    let subscriber = Subscriber::start(Answer::Status(204)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let dispatcher = world.dispatcher(Config {
        subscription_cache: Duration::from_secs(60),
        ..local_config()
    });

    for id in ["evt_1", "evt_2", "evt_3"] {
        dispatcher.handle(batch(vec![record("m", id)]), None).await;
    }

    assert_eq!(world.subscription_loads.load(Ordering::SeqCst), 1);
    assert_eq!(subscriber.requests().len(), 3);
}

#[tokio::test]
async fn without_a_cache_every_batch_sees_the_subscriptions_as_they_are_now() {
    let first = Subscriber::start(Answer::Status(204)).await;
    let second = Subscriber::start(Answer::Status(204)).await;
    let world = World::with(vec![subscription("sub_a", &first.url())]);
    let dispatcher = world.dispatcher(Config {
        subscription_cache: Duration::ZERO,
        ..local_config()
    });

    dispatcher
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;
    lock(&world.subscriptions).push(subscription("sub_b", &second.url()));
    dispatcher
        .handle(batch(vec![record("m-2", "evt_2")]), None)
        .await;

    assert_eq!(world.subscription_loads.load(Ordering::SeqCst), 2);
    assert_eq!(first.requests().len(), 2);
    assert_eq!(second.requests().len(), 1);
}

#[tokio::test]
async fn a_subscription_timeout_shorter_than_the_configured_one_cuts_the_attempt_short() {
    let subscriber = Subscriber::start(Answer::Stall).await;
    let mut sub = subscription("sub_slow", &subscriber.url());
    sub.timeout_seconds = Some(1);
    let world = World::with(vec![sub]);

    let response = world
        .dispatcher(Config {
            attempt_timeout: Duration::from_secs(30),
            ..local_config()
        })
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    assert_eq!(failed_ids(&response), vec!["m-1"]);
    assert_eq!(world.attempts()[0].outcome, "timeout");
}

#[test]
fn a_subscription_timeout_never_exceeds_the_configured_one() {
    let configured = Duration::from_secs(15);
    assert_eq!(attempt_limit(configured, None), configured);
    assert_eq!(attempt_limit(configured, Some(5)), Duration::from_secs(5));
    assert_eq!(attempt_limit(configured, Some(60)), configured);
    assert_eq!(attempt_limit(configured, Some(0)), configured);
}

#[tokio::test]
async fn a_failure_starts_a_streak_once_and_a_success_ends_it_once() {
    let subscriber = Subscriber::start(Answer::Status(500)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let dispatcher = world.dispatcher(Config {
        subscription_cache: Duration::from_secs(60),
        ..local_config()
    });

    // Two failing records in one batch and one more in the next: one write starts the streak.
    dispatcher
        .handle(
            batch(vec![record("m-1", "evt_1"), record("m-2", "evt_2")]),
            None,
        )
        .await;
    dispatcher
        .handle(batch(vec![record("m-3", "evt_3")]), None)
        .await;
    assert_eq!(world.streak_writes.load(Ordering::SeqCst), 1);
    assert_eq!(
        lock(&world.streaks).get("sub_a").copied(),
        Some(FixedClock::at_unix(NOW).now())
    );

    // The subscriber recovers: the first success ends the streak, later ones write nothing.
    let healthy = Subscriber::start(Answer::Status(204)).await;
    lock(&world.subscriptions)[0].url = healthy.url();
    let dispatcher = world.dispatcher(local_config());
    lock(&world.subscriptions)[0].failing_since = Some("2023-11-14T22:13:20Z".to_owned());
    for id in ["evt_4", "evt_5"] {
        dispatcher.handle(batch(vec![record("m", id)]), None).await;
    }
    assert_eq!(world.streak_writes.load(Ordering::SeqCst), 2);
    assert!(lock(&world.streaks).is_empty());
    assert!(lock(&world.disabled).is_empty());
}

#[tokio::test]
async fn a_healthy_subscription_costs_no_streak_write() {
    let subscriber = Subscriber::start(Answer::Status(204)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);

    world
        .dispatcher(local_config())
        .handle(
            batch(vec![record("m-1", "evt_1"), record("m-2", "evt_2")]),
            None,
        )
        .await;

    assert_eq!(world.streak_writes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_subscription_failing_for_longer_than_the_period_is_disabled_and_says_why() {
    let subscriber = Subscriber::start(Answer::Status(503)).await;
    let mut sub = subscription("sub_a", &subscriber.url());
    // Failing for five days and one second.
    sub.failing_since = Some("2023-11-09T22:13:19Z".to_owned());
    let world = World::with(vec![sub]);

    let response = world
        .dispatcher(local_config())
        .handle(
            batch(vec![record("m-1", "evt_1"), record("m-2", "evt_2")]),
            None,
        )
        .await;

    // Disabled, so the records are not kept for it.
    assert!(failed_ids(&response).is_empty());
    let disabled = lock(&world.disabled).clone();
    assert_eq!(disabled.len(), 1, "disabled once: {disabled:?}");
    assert_eq!(disabled[0].0, "sub_a");
    assert_eq!(
        disabled[0].1,
        "failing since 2023-11-09T22:13:19.000Z for more than 5 days"
    );
    assert_eq!(world.streak_writes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_subscription_failing_for_less_than_the_period_is_kept_and_retried() {
    let subscriber = Subscriber::start(Answer::Status(503)).await;
    let mut sub = subscription("sub_a", &subscriber.url());
    sub.failing_since = Some("2023-11-10T00:00:00Z".to_owned());
    let world = World::with(vec![sub]);

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    assert_eq!(failed_ids(&response), vec!["m-1"]);
    assert!(lock(&world.disabled).is_empty());
}

#[test]
fn streaks_expire_after_the_period_and_the_period_reads_naturally() {
    let since = FixedClock::at_unix(NOW).now();
    let period = Duration::from_secs(120 * 3600);
    assert!(!streak_expired(since, since + period, period));
    assert!(streak_expired(
        since,
        since + period + Duration::from_secs(1),
        period
    ));
    assert!(!streak_expired(since + period, since, period));
    assert_eq!(describe_period(period), "5 days");
    assert_eq!(describe_period(Duration::from_secs(24 * 3600)), "1 day");
    assert_eq!(describe_period(Duration::from_secs(36 * 3600)), "36 hours");
    assert_eq!(describe_period(Duration::from_secs(3600)), "1 hour");
}

#[tokio::test]
async fn every_event_is_archived_once_with_the_envelope_as_queued() {
    let subscriber = Subscriber::start(Answer::Status(500)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let stored = envelope(
        "evt_big",
        EncodedBody::Stored("bodies/billing/evt_big".to_owned()),
    );
    lock(&world.bodies).insert("bodies/billing/evt_big".to_owned(), b"{}".to_vec());
    let dispatcher = world.dispatcher(local_config());

    for receive in 1..=2 {
        dispatcher
            .handle(batch(vec![message("m-1", &stored.encode(), receive)]), None)
            .await;
    }

    let archived = lock(&world.archived).clone();
    assert_eq!(archived.len(), 1);
    let event = &archived["evt_big"];
    assert_eq!(event.envelope, stored.encode());
    assert_eq!(event.source_id.as_str(), "billing");
    assert_eq!(event.received_at, "2026-01-01T00:00:00.000Z");
    assert_eq!(
        event.expires_at,
        i64::try_from(NOW).expect("fits") + 30 * 24 * 60 * 60
    );
}

#[tokio::test]
async fn failing_to_archive_does_not_keep_the_event_from_its_subscribers() {
    let subscriber = Subscriber::start(Answer::Status(204)).await;
    let world = World {
        fail_archiving: true,
        ..World::with(vec![subscription("sub_a", &subscriber.url())])
    };

    let response = world
        .dispatcher(local_config())
        .handle(batch(vec![record("m-1", "evt_1")]), None)
        .await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(subscriber.requests().len(), 1);
}

#[tokio::test]
async fn the_last_allowed_receive_is_not_delayed_so_it_reaches_the_dead_letter_queue_promptly() {
    let subscriber = Subscriber::start(Answer::Status(500)).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let config = Config {
        retry: "10s,12h".parse().expect("valid"),
        max_receive_count: Some(3),
        ..local_config()
    };
    let body = envelope("evt_1", EncodedBody::Utf8(BODY.to_owned())).encode();

    world
        .dispatcher(config)
        .handle(
            batch(vec![message("m-2", &body, 2), message("m-3", &body, 3)]),
            None,
        )
        .await;

    let mut delays = world.delays();
    delays.sort();
    assert_eq!(delays[1], ("rh-m-3".to_owned(), 0));
    assert_eq!(delays[0].0, "rh-m-2");
    assert!(delays[0].1 > 30_000, "{delays:?}");
}

#[tokio::test]
async fn a_batch_reports_its_outcomes_as_metrics() {
    let ok = Subscriber::start(Answer::Status(204)).await;
    let failing = Subscriber::start(Answer::Status(503)).await;
    let gone = Subscriber::start(Answer::Status(410)).await;
    let world = World::with(vec![
        subscription("sub_ok", &ok.url()),
        subscription("sub_failing", &failing.url()),
        subscription("sub_gone", &gone.url()),
    ]);

    let (response, metrics) = world
        .dispatcher(local_config())
        .handle_measured(
            batch(vec![
                record("m-1", "evt_1"),
                message("m-bad", "not an envelope", 1),
            ]),
            None,
        )
        .await;

    assert_eq!(failed_ids(&response), vec!["m-1", "m-bad"]);
    assert_eq!(
        (
            metrics.delivered,
            metrics.retried,
            metrics.gone,
            metrics.malformed,
            metrics.retries,
            metrics.disabled_subscriptions,
        ),
        (1, 1, 1, 1, 1, 1)
    );
    assert_eq!(metrics.latencies_ms.len(), 3);
}

// ---- ordered mode (FIFO message groups) ---------------------------------------------------------

/// A record of a FIFO queue: `event_id` from `source`, in message group `source`.
fn grouped(message_id: &str, source: &str, event_id: &str) -> SqsMessage {
    let mut envelope = envelope(event_id, EncodedBody::Utf8(BODY.to_owned()));
    envelope.source_id = SourceId::parse(source).expect("valid");
    let mut m = message(message_id, &envelope.encode(), 1);
    m.attributes
        .insert(GROUP_ATTRIBUTE.to_owned(), source.to_owned());
    m
}

fn subscription_of(source: &str, id: &str, url: &str) -> Subscription {
    Subscription {
        source_id: SourceId::parse(source).expect("valid"),
        ..subscription(id, url)
    }
}

#[tokio::test]
async fn a_failed_event_holds_the_later_events_of_its_group_but_not_of_other_groups() {
    let failing = Subscriber::start(Answer::Status(500)).await;
    let healthy = Subscriber::start(Answer::Status(204)).await;
    let world = World::with(vec![
        subscription_of("alpha", "sub_a", &failing.url()),
        subscription_of("bravo", "sub_b", &healthy.url()),
    ]);

    let response = world
        .dispatcher(local_config())
        .handle(
            batch(vec![
                grouped("a-1", "alpha", "evt_a1"),
                grouped("b-1", "bravo", "evt_b1"),
                grouped("a-2", "alpha", "evt_a2"),
                grouped("b-2", "bravo", "evt_b2"),
                grouped("a-3", "alpha", "evt_a3"),
            ]),
            None,
        )
        .await;

    let mut failed = failed_ids(&response);
    failed.sort_unstable();
    assert_eq!(failed, ["a-1", "a-2", "a-3"]);
    // Only the group's first event reached its subscriber; the later ones were never sent.
    assert_eq!(failing.event_ids(), ["evt_a1"]);
    let attempted: Vec<_> = world
        .attempts()
        .iter()
        .map(|a| a.event_id.clone())
        .collect();
    assert!(
        !attempted.iter().any(|e| e == "evt_a2" || e == "evt_a3"),
        "{attempted:?}"
    );
    assert_eq!(healthy.event_ids(), ["evt_b1", "evt_b2"]);
    // The failed event waits its retry delay; the held ones are visible again at once, and SQS
    // gives them out only after the failed one, in order.
    let delays: HashMap<String, i32> = world.delays().into_iter().collect();
    assert!(delays["rh-a-1"] > 0, "{delays:?}");
    assert_eq!(delays["rh-a-2"], 0);
    assert_eq!(delays["rh-a-3"], 0);
    assert!(!delays.contains_key("rh-b-1"));
}

#[tokio::test]
async fn the_events_of_one_group_are_delivered_one_at_a_time_in_batch_order() {
    let subscriber = Subscriber::start(Answer::Slow(Duration::from_millis(30))).await;
    let world = World::with(vec![subscription_of("alpha", "sub_a", &subscriber.url())]);
    let ids: Vec<String> = (1..=5).map(|i| format!("evt_{i}")).collect();
    let records = ids
        .iter()
        .map(|id| grouped(&format!("m-{id}"), "alpha", id))
        .collect();

    let response = world
        .dispatcher(local_config())
        .handle(batch(records), None)
        .await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(subscriber.event_ids(), ids);
    assert_eq!(subscriber.most_at_once(), 1);
}

#[tokio::test]
async fn records_of_a_standard_queue_are_still_delivered_concurrently() {
    let subscriber = Subscriber::start(Answer::Slow(Duration::from_millis(200))).await;
    let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
    let records = (1..=5)
        .map(|i| record(&format!("m-{i}"), &format!("evt_{i}")))
        .collect();

    let response = world
        .dispatcher(local_config())
        .handle(batch(records), None)
        .await;

    assert!(failed_ids(&response).is_empty());
    assert!(subscriber.most_at_once() > 1);
}
