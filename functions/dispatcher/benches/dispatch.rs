//! `dispatch`: the dispatcher's batch handler delivering to a local HTTP sink, beside a bare hyper
//! client doing the same requests (the reference `bench/report.py` states the goals against).
//!
//! - `dispatch/handler/16-conn`: one SQS batch of [`RECORDS`] records, each wanted by one
//!   subscription, with `max_in_flight` 16, to a sink that answers 204 at once. The time of one
//!   iteration is the time of [`RECORDS`] deliveries, so criterion's element throughput is
//!   deliveries per second. `dispatch/raw-hyper/16-conn` POSTs the same body the same number of
//!   times with hyper-util's legacy client, 16 at once. Both keep their 16 connections alive
//!   across iterations; the sink counts the connections it accepted, and the check before timing
//!   asserts they were reused.
//! - `dispatch-20ms/handler/10x20ms`: the wall time of a 10-record batch to a subscriber that
//!   sleeps 20 ms before answering; goal ≤ 1.25 × 20 ms, i.e. the records are delivered at once.
//!   `raw-hyper` sends the same 10 requests at once for comparison.
//!
//! Every port is in memory and does nothing (no earlier deliveries, records and archive writes
//! dropped, subscriptions served from the warm cache), so what is timed is the handler's own work
//! (decoding each envelope, filtering subscriptions, signing, recording), reqwest and the
//! loopback HTTP exchange. No tracing subscriber is installed, so log lines cost next to nothing.
//!
//! The sinks run on their own one-worker runtime (their own thread), the clients on a
//! current-thread runtime on criterion's thread: on 2 cores each side has one. Loopback only.
//!
//! Run with `make bench`, or `cargo bench -p hookpost-dispatcher --bench dispatch`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use bytes::Bytes;
use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use futures_util::StreamExt as _;
use futures_util::stream;
use hookpost_dispatcher::{Config, Dispatcher, RECEIVE_COUNT_ATTRIBUTE};
use hookpost_shared::clock::FixedClock;
use hookpost_shared::envelope::{ENVELOPE_VERSION, EncodedBody, Envelope};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{
    ArchivedEvent, AttemptRecord, BodyStore, DeliveryLog, EventArchive, StoreError,
    SubscriptionStore, Visibility,
};
use hookpost_shared::subscription::{LastDelivery, Subscription};
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// Records in the throughput batch: 16 rounds of 16 concurrent deliveries.
const RECORDS: usize = 256;
/// Concurrent deliveries (the dispatcher's `max_in_flight`) and bare hyper requests.
const CONNECTIONS: usize = 16;
/// The slow subscriber's batch and its delay.
const SLOW_RECORDS: usize = 10;
const SLOW_DELAY: Duration = Duration::from_millis(20);
/// The body of every delivery.
const BODY_BYTES: usize = 1024;

const NOW: u64 = 1_700_000_000;
const SOURCE_ID: &str = "billing";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// ---- in-memory ports that keep nothing ------------------------------------------------------------

/// The subscription store, delivery log, queue visibility, bodies bucket and event archive, all
/// answering at once. Only attempts are counted, so the check can see every delivery recorded.
struct Fakes {
    subscriptions: Vec<Subscription>,
    recorded: AtomicUsize,
}

impl SubscriptionStore for &Fakes {
    async fn subscriptions_for(&self, source: &SourceId) -> Result<Vec<Subscription>, StoreError> {
        Ok(self
            .subscriptions
            .iter()
            .filter(|s| &s.source_id == source)
            .cloned()
            .collect())
    }

    async fn disable(&self, _: &SourceId, _: &str, _: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn record_failure(
        &self,
        _: &SourceId,
        _: &str,
        now: SystemTime,
    ) -> Result<SystemTime, StoreError> {
        Ok(now)
    }

    async fn clear_failure(&self, _: &SourceId, _: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn reserve_slots(
        &self,
        _: &SourceId,
        _: &str,
        _: i64,
        _: i64,
        _: u32,
    ) -> Result<Option<i64>, StoreError> {
        // The benched subscriptions have no rate limit.
        Ok(None)
    }

    async fn record_last_delivery(
        &self,
        _: &SourceId,
        _: &str,
        _: &LastDelivery,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

impl DeliveryLog for &Fakes {
    async fn delivered_subscriptions(&self, _: &str) -> Result<HashSet<String>, StoreError> {
        // Every iteration delivers the same events again: none has been delivered before.
        Ok(HashSet::new())
    }

    async fn record_attempt(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        if attempt.outcome.is_delivered() {
            self.recorded.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Visibility for &Fakes {
    async fn delay(&self, _: &str, _: i32) -> Result<(), StoreError> {
        Ok(())
    }

    async fn requeue(&self, copies: &[(String, i32)]) -> Vec<Result<(), StoreError>> {
        vec![Ok(()); copies.len()]
    }

    async fn dead_letter(&self, _: &str, _: &str, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

impl BodyStore for &Fakes {
    async fn put(&self, _: &str, _: Vec<u8>) -> Result<(), StoreError> {
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        Err(StoreError::new("GetObject", format!("no body {key}")))
    }
}

impl EventArchive for &Fakes {
    async fn archive(&self, _: &ArchivedEvent) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn get(&self, _: &str) -> Result<Option<ArchivedEvent>, StoreError> {
        Ok(None)
    }
}

// ---- the sink: hyper on 127.0.0.1:0 ---------------------------------------------------------------

/// What a sink has seen: connections accepted, requests answered, and of those the ones that
/// carried a Standard Webhooks signature.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    requests: AtomicUsize,
    signed: AtomicUsize,
}

/// A keep-alive HTTP/1.1 server that reads each request's body, waits `delay` if any, and answers
/// 204. It runs on `runtime` until the process ends.
fn start_sink(runtime: &Runtime, delay: Option<Duration>) -> (SocketAddr, Arc<Seen>) {
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("the sink's address");
    let seen = Arc::new(Seen::default());
    let counts = Arc::clone(&seen);
    runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            counts.connections.fetch_add(1, Ordering::Relaxed);
            let counts = Arc::clone(&counts);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let counts = Arc::clone(&counts);
                        async move {
                            let signed = req.headers().contains_key("webhook-signature");
                            let _ = req.into_body().collect().await;
                            if let Some(delay) = delay {
                                tokio::time::sleep(delay).await;
                            }
                            counts.requests.fetch_add(1, Ordering::Relaxed);
                            if signed {
                                counts.signed.fetch_add(1, Ordering::Relaxed);
                            }
                            let response = http::Response::builder()
                                .status(204)
                                .body(Full::new(Bytes::new()))
                                .expect("a valid response");
                            Ok::<_, Infallible>(response)
                        }
                    });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

// ---- the batch ------------------------------------------------------------------------------------

/// A JSON event of exactly [`BODY_BYTES`] bytes.
fn body() -> String {
    let head = r#"{"type":"invoice.paid","data":{"id":"in_1MtHbELkdIwHu7ixl4OzzPMv","padding":""#;
    let tail = r#""}}"#;
    let mut body = head.to_owned();
    body.extend(std::iter::repeat_n(
        'x',
        BODY_BYTES - head.len() - tail.len(),
    ));
    body.push_str(tail);
    body
}

fn subscription(url: String) -> Subscription {
    Subscription::new(
        SourceId::parse(SOURCE_ID).expect("valid id"),
        "sub_sink",
        url,
        vec![Secret::new(SECRET)],
        "2026-01-01T00:00:00Z",
    )
}

/// An SQS batch of `records` envelopes of one source, each its own event, as Lambda hands it over.
fn batch(records: usize, body: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = (0..records)
        .map(|i| {
            let envelope = Envelope {
                version: ENVELOPE_VERSION,
                event_id: format!("evt_bench_{i:06}"),
                source_id: SourceId::parse(SOURCE_ID).expect("valid id"),
                provider: Provider::StandardWebhooks,
                event_type: Some("invoice.paid".to_owned()),
                delivery_id: None,
                received_at: "2026-01-01T00:00:00.000Z".to_owned(),
                content_type: Some("application/json".to_owned()),
                headers: BTreeMap::new(),
                body: EncodedBody::Utf8(body.to_owned()),
            };
            let mut message = SqsMessage::default();
            message.message_id = Some(format!("msg-{i:06}"));
            message.receipt_handle = Some(format!("rh-{i:06}"));
            message.body = Some(envelope.encode());
            message.attributes = HashMap::from([(RECEIVE_COUNT_ATTRIBUTE.to_owned(), "1".into())]);
            message
        })
        .collect();
    event
}

type BenchDispatcher<'a> = Dispatcher<&'a Fakes, &'a Fakes, &'a Fakes, &'a Fakes, &'a Fakes>;

fn build_dispatcher(fakes: &Fakes) -> BenchDispatcher<'_> {
    let config = Config {
        // The sinks are on loopback.
        targets: hookpost_shared::delivery::TargetPolicy::AllPrivate,
        max_in_flight: CONNECTIONS,
        metrics_function: None,
        ..Config::default()
    };
    Dispatcher::new(
        fakes,
        fakes,
        fakes,
        fakes,
        fakes,
        Arc::new(FixedClock::at_unix(NOW)),
        config,
    )
    .expect("the HTTP client builds")
}

/// What a bare hyper client sends: the same body and content type, `concurrency` at once.
async fn bare_hyper(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    uri: &http::Uri,
    body: &Bytes,
    requests: usize,
    concurrency: usize,
) -> usize {
    stream::iter(0..requests)
        .map(|_| async {
            let request = http::Request::post(uri.clone())
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::USER_AGENT, hookpost_shared::USER_AGENT)
                .body(Full::new(body.clone()))
                .expect("a valid request");
            let response = client.request(request).await.expect("the sink answers");
            let ok = response.status() == 204;
            // Read to the end, as the dispatcher does, so the connection goes back to the pool.
            let _ = response.into_body().collect().await;
            usize::from(ok)
        })
        .buffer_unordered(concurrency)
        .fold(0, |n, ok| async move { n + ok })
        .await
}

/// Runs the dispatcher and the bare client a few times before timing them: every delivery
/// succeeds, signed, and the connections are reused (at most one per concurrent request).
fn check(
    runtime: &Runtime,
    dispatcher: &BenchDispatcher<'_>,
    fakes: &Fakes,
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    sink: (&http::Uri, &Seen),
    event: &SqsEvent,
    concurrency: usize,
) {
    let (uri, seen) = sink;
    let records = event.records.len();
    let body = Bytes::from(body());
    for _ in 0..3 {
        let (response, metrics) = runtime.block_on(dispatcher.handle_measured(event.clone(), None));
        assert!(
            response.batch_item_failures.is_empty(),
            "every record is delivered: {metrics:?}"
        );
    }
    assert_eq!(fakes.recorded.load(Ordering::Relaxed), 3 * records);
    assert_eq!(seen.signed.load(Ordering::Relaxed), 3 * records);
    let by_dispatcher = seen.connections.load(Ordering::Relaxed);
    assert!(
        by_dispatcher <= concurrency,
        "the dispatcher keeps its connections alive: {by_dispatcher} for {} requests",
        3 * records
    );
    for _ in 0..3 {
        let ok = runtime.block_on(bare_hyper(client, uri, &body, records, concurrency));
        assert_eq!(ok, records, "every bare request is answered 204");
    }
    let by_hyper = seen.connections.load(Ordering::Relaxed) - by_dispatcher;
    assert!(
        by_hyper <= concurrency,
        "the bare client keeps its connections alive: {by_hyper} for {} requests",
        3 * records
    );
}

fn dispatch(c: &mut Criterion) {
    let sinks = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the sinks' runtime");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the clients' runtime");
    let body = body();
    let payload = Bytes::from(body.clone());
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    // Deliveries per second at 16 connections.
    let (addr, seen) = start_sink(&sinks, None);
    let uri: http::Uri = format!("http://{addr}/hook").parse().expect("a valid URI");
    let fakes = Fakes {
        subscriptions: vec![subscription(format!("http://{addr}/hook"))],
        recorded: AtomicUsize::new(0),
    };
    let dispatcher = build_dispatcher(&fakes);
    let event = batch(RECORDS, &body);
    check(
        &runtime,
        &dispatcher,
        &fakes,
        &client,
        (&uri, &seen),
        &event,
        CONNECTIONS,
    );

    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(RECORDS as u64));
    let label = format!("{CONNECTIONS}-conn");
    group.bench_function(BenchmarkId::new("handler", &label), |b| {
        b.to_async(&runtime).iter_batched(
            || event.clone(),
            |event| dispatcher.handle_measured(black_box(event), None),
            BatchSize::SmallInput,
        )
    });
    group.bench_function(BenchmarkId::new("raw-hyper", &label), |b| {
        b.to_async(&runtime)
            .iter(|| bare_hyper(&client, &uri, &payload, RECORDS, CONNECTIONS))
    });
    group.finish();
    eprintln!(
        "dispatch: the sink accepted {} connections for {} requests",
        seen.connections.load(Ordering::Relaxed),
        seen.requests.load(Ordering::Relaxed)
    );

    // A 10-record batch to a subscriber that takes 20 ms.
    let (slow_addr, slow_seen) = start_sink(&sinks, Some(SLOW_DELAY));
    let slow_uri: http::Uri = format!("http://{slow_addr}/hook")
        .parse()
        .expect("a valid URI");
    let slow_fakes = Fakes {
        subscriptions: vec![subscription(format!("http://{slow_addr}/hook"))],
        recorded: AtomicUsize::new(0),
    };
    let slow_dispatcher = build_dispatcher(&slow_fakes);
    let slow_event = batch(SLOW_RECORDS, &body);
    check(
        &runtime,
        &slow_dispatcher,
        &slow_fakes,
        &client,
        (&slow_uri, &slow_seen),
        &slow_event,
        SLOW_RECORDS,
    );

    let mut group = c.benchmark_group("dispatch-20ms");
    // Every iteration lasts at least 20 ms: equal samples of a few iterations each.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    let label = format!("{SLOW_RECORDS}x{}ms", SLOW_DELAY.as_millis());
    group.bench_function(BenchmarkId::new("handler", &label), |b| {
        b.to_async(&runtime).iter_batched(
            || slow_event.clone(),
            |event| slow_dispatcher.handle_measured(black_box(event), None),
            BatchSize::SmallInput,
        )
    });
    group.bench_function(BenchmarkId::new("raw-hyper", &label), |b| {
        b.to_async(&runtime)
            .iter(|| bare_hyper(&client, &slow_uri, &payload, SLOW_RECORDS, SLOW_RECORDS))
    });
    group.finish();
    eprintln!(
        "dispatch-20ms: the sink accepted {} connections for {} requests",
        slow_seen.connections.load(Ordering::Relaxed),
        slow_seen.requests.load(Ordering::Relaxed)
    );
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
