//! `pipeline`: the whole local pipeline (`hookpost local up`) under load: events/s accepted and
//! delivered, accepted → delivered latency, and where the time goes.
//!
//! Starts moto's server from `.venv`, puts a counting forward proxy on loopback in front of it,
//! and starts the local stack on the proxy, exactly as `hookpost local up` does (template.yaml,
//! the deployed receiver and dispatcher, the poller standing in for the SQS event source mapping).
//! A GitHub source and a subscriber on 127.0.0.1 that notes when each event arrives are
//! registered; then `HOOKPOST_PIPELINE_EVENTS` (500) signed GitHub push events, each with its own
//! delivery id, are posted by `HOOKPOST_PIPELINE_CONCURRENCY` (8) clients at once. Then
//! `HOOKPOST_PIPELINE_IDLE_EVENTS` (50) more go one at a time, each after the one before was
//! delivered: the latency of the path itself, without queueing (`pipeline/idle/…`).
//!
//! Per event it records when the 202 came back, when SQS acknowledged its `SendMessage` and when
//! the poller's `ReceiveMessage` handed it out (both seen in the proxy), and when the subscriber got
//! it; per emulator call its operation, table or queue, and latency; and the CPU time moto and this
//! process (receiver, dispatcher, poller, and the bench's own clients, proxy and subscriber) used.
//! The figures go to `target/bench/pipeline.json` (`{"figures": [...], "context": {...}}`) and a
//! summary to stdout:
//!
//! - `accepted-per-s`, `delivered-per-s`: events over the time from the first post to the last 202,
//!   and to the last delivery;
//! - `latency-*`: the 202 → the subscriber has it; split into `accept-*` (post → 202),
//!   `queue-wait-*` (`SendMessage` acknowledged → handed to the poller) and
//!   `received-to-delivered-*` (handed to the poller → the subscriber has it);
//! - `moto-calls-per-event`, `moto/<operation>/<table or queue>/{per-event,mean}`: the emulator
//!   calls (empty long polls apart) and their latency as the proxy saw it; `moto-cpu-per-event`
//!   and `process-cpu-per-event` the CPU each side spent;
//! - `poller/*`: batches, their mean size, the pollers running at once (the template's
//!   `MaximumConcurrency`), and, with one poller, its cycle split into `ReceiveMessage`, the
//!   dispatcher's handling of the batch and `DeleteMessageBatch`;
//! - `idle/*`: the same, one event at a time;
//! - `rate/*`: subscriber protection (issue 18). `HOOKPOST_PIPELINE_RATE_EVENTS` (1000) events
//!   posted at once to a source with one subscription limited to 20/s and one without a limit:
//!   the limited subscriber's busiest 5 s (deliveries/s, duplicates counted; the goal is ≤ 22),
//!   distinct events it got and when the last came, the dead-letter queue's depth (goal 0), and
//!   the unlimited subscriber's latency beside its usual p99: the same burst to a source with two
//!   unlimited subscriptions, run before and after (the mean of the two is the reference), and
//!   beside the p99 of a source with only one (what the second delivery costs). Every burst runs
//!   on a new moto: moto slows as its state grows, so a burst run after others would be slower
//!   whatever it measured.
//!
//! - `cost/*`: what an event costs in billed units (issue 19): DynamoDB write and read units, SQS
//!   requests and dispatcher invocations per event, with one subscription and with five, priced
//!   from the bodies of the calls (pipeline/cost.rs).
//!
//! Run with `make bench`, or `cargo bench -p hookpost-bench-tools --bench pipeline`. Loopback only.

#[path = "pipeline/cost.rs"]
mod cost;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hookpost_local::{Emulator, LocalOptions, LocalStack};
use hookpost_shared::aws::{DynamoClient, DynamoSources, DynamoSubscriptions};
use hookpost_shared::clock::rfc3339;
use hookpost_shared::delivery::RateLimit;
use hookpost_shared::deployment::StackNames;
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::{Provider, github};
use hookpost_shared::source::{Source, SourceId};
use hookpost_shared::subscription::{Subscription, new_subscription_id};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

const SOURCE_ID: &str = "github-bench";
const SECRET: &str = "bench-secret-0123456789abcdefghi";
/// The sample event's body (a GitHub push, 317 bytes) is what every event carries.
const SAMPLE_EVENT: &str = include_str!("../../../events/apigw-github-push.json");
/// Events sent (and waited for) before measuring: connections and moto's code paths warm up.
const WARM_UP_EVENTS: usize = 20;
/// How long the last events may take to arrive before the run counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);
/// After the last delivery, the dispatcher still records it and deletes its batch: this long.
const SETTLE: Duration = Duration::from_millis(1500);
const MOTO_STARTUP: Duration = Duration::from_secs(60);
/// Linux reports process CPU time in USER_HZ ticks, 100 a second on every architecture.
const TICKS_PER_SECOND: f64 = 100.0;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pipeline: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipeline: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Settings {
    events: usize,
    concurrency: usize,
    idle_events: usize,
    rate_events: usize,
}

impl Settings {
    fn from_env() -> Result<Self, String> {
        let read = |name: &str, default: usize| -> Result<usize, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name}={v} is not a positive whole number")),
                Err(_) => Ok(default),
            }
        };
        Ok(Self {
            events: read("HOOKPOST_PIPELINE_EVENTS", 500)?,
            concurrency: read("HOOKPOST_PIPELINE_CONCURRENCY", 8)?,
            idle_events: read("HOOKPOST_PIPELINE_IDLE_EVENTS", 50)?,
            rate_events: read("HOOKPOST_PIPELINE_RATE_EVENTS", 1000)?,
        })
    }
}

async fn run() -> Result<(), String> {
    let settings = Settings::from_env()?;
    // bench/tools → the workspace.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .ok_or("bench/tools has no workspace folder above it")?
        .to_path_buf();
    let world = World::start(&root).await?;
    let result = load(&root, &settings, &world).await;
    world.stop().await;
    let mut report = result?;
    // Each rate burst runs in a world of its own, after the loaded one is gone.
    let throttled = throttled_burst(&root, &settings).await?;
    if let Some(figures) = report["figures"].as_array_mut() {
        figures.extend(throttled);
    }
    let out = target_dir(&root).join("bench").join("pipeline.json");
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&out, text + "\n").map_err(|e| format!("{}: {e}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// moto's server with nothing in it, the counting proxy in front of it, and the local stack on
/// the proxy. moto slows as its state grows (the same burst took 338 ms at p99 in a new server
/// and 1,026 ms after four others), so every measurement that is compared with another gets a
/// world of its own.
struct World {
    moto: Moto,
    proxy: Proxy,
    stack: LocalStack,
}

impl World {
    async fn start(root: &Path) -> Result<Self, String> {
        let mut moto = Moto::spawn(root).await?;
        let proxy = Proxy::start(&moto.endpoint_url).await?;
        let stack = LocalStack::start(
            Emulator::at(&proxy.url),
            LocalOptions {
                port: 0,
                prefix: format!(
                    "hookpost-bench-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ),
                ..LocalOptions::default()
            },
        )
        .await;
        match stack {
            Ok(stack) => Ok(Self { moto, proxy, stack }),
            Err(e) => {
                moto.stop().await;
                Err(format!("starting the local stack: {e}"))
            }
        }
    }

    async fn stop(self) {
        let Self {
            mut moto,
            proxy,
            stack,
        } = self;
        stack.stop().await;
        proxy.stop();
        moto.stop().await;
    }

    fn moto_stat(&self) -> String {
        format!("/proc/{}/stat", self.moto.pid)
    }

    /// [`WARM_UP_EVENTS`] events through a source of their own, delivered before anything is
    /// measured: connections and moto's code paths warm up.
    async fn warm_up(&self, settings: &Settings) -> Result<(), String> {
        let source = add_github_source(&self.stack, "github-warm-up").await?;
        let sink = Sink::start().await?;
        subscribe(&self.stack, &source, &sink.url).await?;
        let sent = Poster::new(&self.stack, &source)?
            .send_all(WARM_UP_EVENTS, settings.concurrency)
            .await;
        check_accepted(&sent)?;
        sink.wait_for(WARM_UP_EVENTS, DELIVERY_TIMEOUT).await;
        if sink.count() < WARM_UP_EVENTS {
            return Err("the warm-up events were not delivered".to_owned());
        }
        Ok(())
    }
}

async fn load(root: &Path, settings: &Settings, world: &World) -> Result<Value, String> {
    let World { moto, proxy, stack } = world;
    let names = &stack.state.names;
    world.warm_up(settings).await?;
    let source_id = add_github_source(stack, SOURCE_ID).await?;
    let sink = Sink::start().await?;
    subscribe(stack, &source_id, &sink.url).await?;
    let poster = Poster::new(stack, &source_id)?;

    let moto_cpu = cpu_seconds(&format!("/proc/{}/stat", moto.pid));
    let own_cpu = cpu_seconds("/proc/self/stat");
    let machine = MachineCpu::read();
    proxy.recorder.start();
    let started = Instant::now();
    let sent = poster.send_all(settings.events, settings.concurrency).await;
    let accepted_at = Instant::now();
    check_accepted(&sent)?;
    sink.wait_for(settings.events, DELIVERY_TIMEOUT).await;
    let delivered_at = Instant::now();
    tokio::time::sleep(SETTLE).await;
    let calls = proxy.recorder.stop();
    let moto_cpu = cpu_seconds(&format!("/proc/{}/stat", moto.pid)) - moto_cpu;
    let own_cpu = cpu_seconds("/proc/self/stat") - own_cpu;
    let machine = machine.busy_cores_since();

    let arrivals = sink.arrivals();
    let loaded = Latencies::of(&sent, &arrivals, &calls)?;

    // One event at a time on the idle pipeline: the latency of the path itself, no queueing.
    proxy.recorder.start();
    let mut one_by_one = Vec::with_capacity(settings.idle_events);
    for _ in 0..settings.idle_events {
        let expected = sink.count() + 1;
        let sent = poster.send_one().await;
        check_accepted(std::slice::from_ref(&sent))?;
        one_by_one.push(sent);
        sink.wait_for(expected, DELIVERY_TIMEOUT).await;
    }
    tokio::time::sleep(SETTLE).await;
    let idle_calls = proxy.recorder.stop();
    let idle = Latencies::of(&one_by_one, &sink.arrivals(), &idle_calls)?;

    let cost = cost::measure(stack, proxy).await?;

    let run = Run {
        settings,
        events: sent.len(),
        loaded,
        idle,
        calls: &calls,
        idle_calls: &idle_calls,
        accepted: accepted_at - started,
        delivered: delivered_at - started,
        moto_cpu,
        own_cpu,
        busy_cores: machine,
        names,
    };
    let mut report = run.report(root, stack);
    if let Some(figures) = report["figures"].as_array_mut() {
        figures.extend(cost);
    }
    Ok(report)
}

/// The subscriber-protection run (issue 18): `settings.rate_events` events posted at once to a
/// source whose one subscription allows `RATE_PER_S` a second and whose other has no limit.
/// The same burst also goes to a source with two unlimited subscriptions (the same fan-out,
/// nothing throttled: the second subscription's *usual* latency, which the unlimited neighbour
/// is judged against) and to one with only one (what the fan-out itself costs on moto). Every
/// burst has a new moto of its own, so none inherits another's state; the references run
/// before the limited burst and again after it in the mirrored order (alone, pair, limited,
/// pair, alone), and each reference is the mean of its two runs.
/// Figures: the limited subscriber's busiest 5 s window (deliveries per second, duplicates
/// counted), how many distinct events it got and when the last came, the dead-letter queue's
/// depth, and the unlimited subscriber's latency (202 → delivered) beside the references.
async fn throttled_burst(root: &Path, settings: &Settings) -> Result<Vec<Value>, String> {
    let alone_before = unlimited_burst(root, settings, 1).await?;
    let fanout_before = unlimited_burst(root, settings, 2).await?;
    let limited = limited_burst(root, settings).await?;
    let fanout_after = unlimited_burst(root, settings, 2).await?;
    let alone_after = unlimited_burst(root, settings, 1).await?;

    let events = settings.rate_events;
    let usual_p99_ms = (fanout_before.p99_ms + fanout_after.p99_ms) / 2.0;
    let alone_p99_ms = (alone_before.p99_ms + alone_after.p99_ms) / 2.0;
    let free_p99_ms = limited.free_latency.p(0.99);
    let busiest = limited.busiest_rate();
    let figure = |name: &str, value: f64, unit: &str| json!({ "name": format!("pipeline/rate/{name}"), "value": round(value), "unit": unit });
    println!(
        "rate: {}/{events} events to the {RATE_PER_S}/s subscription, busiest 5 s at {busiest:.1}/s, \
         {} requests, {} dead-lettered; the unlimited one got {} (p99 {free_p99_ms:.0} ms; beside \
         an unlimited neighbour {:.0} ms before, {:.0} ms after; alone {:.0} ms before, {:.0} ms \
         after)",
        limited.got,
        limited.requests.len(),
        limited.dead,
        limited.free_got,
        fanout_before.p99_ms,
        fanout_after.p99_ms,
        alone_before.p99_ms,
        alone_after.p99_ms,
    );
    // Where moto's time went in each burst, until the unlimited subscriber had every event.
    let (alone_ops, fanout_ops, limited_ops) = (
        Ops::of(&alone_before.calls, &alone_before.names),
        Ops::of(&fanout_before.calls, &fanout_before.names),
        Ops::of(&limited.calls, &limited.names),
    );
    let per = |ops: &Ops<'_>, label: &str| {
        ops.by_label.get(label).map_or((0.0, 0.0), |o| {
            (o.calls as f64 / events as f64, o.mean_ms())
        })
    };
    for label in limited_ops.by_label.keys() {
        let [
            (limited, limited_ms),
            (paired, paired_ms),
            (alone, alone_ms),
        ] = [
            per(&limited_ops, label),
            per(&fanout_ops, label),
            per(&alone_ops, label),
        ];
        println!(
            "rate: {label}: calls/event {limited:.2} beside the limited one, {paired:.2} beside an \
             unlimited one, {alone:.2} alone; mean {limited_ms:.1}, {paired_ms:.1}, {alone_ms:.1} ms"
        );
    }
    let per_event = |ops: &Ops<'_>| {
        ops.by_label.values().map(|o| o.calls).sum::<usize>() as f64 / events as f64
    };
    if limited.got < events || limited.free_got < events {
        return Err(format!(
            "the throttled run lost events: the limited subscriber got {} and the unlimited \
             one {} of {events}",
            limited.got, limited.free_got
        ));
    }
    Ok(vec![
        figure("events", events as f64, "events"),
        figure("limit", f64::from(RATE_PER_S), "deliveries/s"),
        figure("busiest-5s-rate", busiest, "deliveries/s"),
        figure("limited-delivered", limited.got as f64, "events"),
        figure(
            "limited-requests",
            limited.requests.len() as f64,
            "requests",
        ),
        figure("limited-all-in", ms(limited.finished) / 1000.0, "s"),
        figure("dead-lettered", limited.dead as f64, "messages"),
        figure("unlimited-delivered", limited.free_got as f64, "events"),
        figure("unlimited-latency-p50", limited.free_latency.p(0.50), "ms"),
        figure("unlimited-latency-p99", free_p99_ms, "ms"),
        // The usual latency: the same fan-out with nothing throttled, the mean of the runs
        // before and after the limited one, and each.
        figure("usual-latency-p99", usual_p99_ms, "ms"),
        figure("usual-latency-p99-before", fanout_before.p99_ms, "ms"),
        figure("usual-latency-p99-after", fanout_after.p99_ms, "ms"),
        // One subscription alone: what the second delivery itself costs on moto.
        figure("alone-latency-p99", alone_p99_ms, "ms"),
        figure("alone-latency-p99-before", alone_before.p99_ms, "ms"),
        figure("alone-latency-p99-after", alone_after.p99_ms, "ms"),
        // moto's calls per event until the unlimited subscriber had every event (empty long
        // polls apart), and moto's CPU meanwhile: one core (one GIL) is where moto stops
        // keeping up.
        figure("alone-moto-calls-per-event", per_event(&alone_ops), "calls"),
        figure(
            "usual-moto-calls-per-event",
            per_event(&fanout_ops),
            "calls",
        ),
        figure("moto-calls-per-event", per_event(&limited_ops), "calls"),
        figure("alone-moto-cpu-share", alone_before.moto_share, "cores"),
        figure("usual-moto-cpu-share", fanout_before.moto_share, "cores"),
        figure("moto-cpu-share", limited.moto_share, "cores"),
    ])
}

/// The limit of the rate burst's limited subscription.
const RATE_PER_S: u32 = 20;
/// The window the limited subscriber's arrival rate is judged over.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// One reference burst: its last subscriber's p99 (202 → delivered), the emulator calls until
/// every subscriber had every event (and the names to read them by), and moto's CPU share
/// meanwhile.
struct Reference {
    p99_ms: f64,
    calls: Vec<Call>,
    names: StackNames,
    moto_share: f64,
}

/// The rate burst, in a new world, to a source with `subscriptions` unlimited subscriptions.
async fn unlimited_burst(
    root: &Path,
    settings: &Settings,
    subscriptions: usize,
) -> Result<Reference, String> {
    let world = World::start(root).await?;
    let result = unlimited_burst_in(&world, settings, subscriptions).await;
    world.stop().await;
    result
}

async fn unlimited_burst_in(
    world: &World,
    settings: &Settings,
    subscriptions: usize,
) -> Result<Reference, String> {
    let events = settings.rate_events;
    world.warm_up(settings).await?;
    let source = add_github_source(&world.stack, "github-unlimited").await?;
    let mut sinks = Vec::with_capacity(subscriptions);
    for _ in 0..subscriptions {
        let sink = Sink::start().await?;
        subscribe(&world.stack, &source, &sink.url).await?;
        sinks.push(sink);
    }
    let poster = Poster::new(&world.stack, &source)?;
    let moto_stat = world.moto_stat();
    let (cpu_before, started) = (cpu_seconds(&moto_stat), Instant::now());
    world.proxy.recorder.start();
    let sent = poster.send_all(events, settings.concurrency).await;
    check_accepted(&sent)?;
    for sink in &sinks {
        sink.wait_for(events, DELIVERY_TIMEOUT).await;
    }
    let calls = world.proxy.recorder.stop();
    let moto_share = (cpu_seconds(&moto_stat) - cpu_before) / started.elapsed().as_secs_f64();
    let last = sinks
        .last()
        .ok_or("a reference burst needs a subscription")?;
    let p99_ms = Latencies::of(&sent, &last.arrivals(), &[])?.latency.p(0.99);
    Ok(Reference {
        p99_ms,
        calls,
        names: world.stack.state.names.clone(),
        moto_share,
    })
}

/// The measured burst: what the limited subscriber and its unlimited neighbour saw.
struct Limited {
    /// Every request to the limited subscriber, duplicates included.
    requests: Vec<Instant>,
    /// Distinct events the limited subscriber got.
    got: usize,
    /// From the first post until the limited subscriber had every event (or gave up waiting).
    finished: Duration,
    dead: usize,
    /// Distinct events the unlimited neighbour got, and their latency (202 → delivered).
    free_got: usize,
    free_latency: Sorted,
    /// The emulator calls until the unlimited neighbour had every event.
    calls: Vec<Call>,
    names: StackNames,
    moto_share: f64,
}

impl Limited {
    /// The limited subscriber's busiest [`RATE_WINDOW`], in deliveries a second.
    fn busiest_rate(&self) -> f64 {
        let mut requests = self.requests.clone();
        requests.sort();
        let busiest = requests
            .iter()
            .enumerate()
            .map(|(i, start)| {
                requests[i..]
                    .iter()
                    .take_while(|t| **t < *start + RATE_WINDOW)
                    .count()
            })
            .max()
            .unwrap_or(0);
        busiest as f64 / RATE_WINDOW.as_secs_f64()
    }
}

/// The rate burst, in a new world, to a source with one subscription limited to
/// [`RATE_PER_S`] and one without a limit.
async fn limited_burst(root: &Path, settings: &Settings) -> Result<Limited, String> {
    let world = World::start(root).await?;
    let result = limited_burst_in(&world, settings).await;
    world.stop().await;
    result
}

async fn limited_burst_in(world: &World, settings: &Settings) -> Result<Limited, String> {
    let events = settings.rate_events;
    let stack = &world.stack;
    world.warm_up(settings).await?;
    let source_id = add_github_source(stack, "github-throttled").await?;
    let limited = Sink::start().await?;
    let free = Sink::start().await?;
    let rate = RateLimit::new(RATE_PER_S, 1, 1)?;
    subscribe_limited(stack, &source_id, &limited.url, Some(rate)).await?;
    subscribe(stack, &source_id, &free.url).await?;
    let poster = Poster::new(stack, &source_id)?;

    let moto_stat = world.moto_stat();
    let (cpu_before, started) = (cpu_seconds(&moto_stat), Instant::now());
    world.proxy.recorder.start();
    let sent = poster.send_all(events, settings.concurrency).await;
    check_accepted(&sent)?;
    free.wait_for(events, DELIVERY_TIMEOUT).await;
    let calls = world.proxy.recorder.stop();
    let moto_share = (cpu_seconds(&moto_stat) - cpu_before) / started.elapsed().as_secs_f64();
    let limit_time = Duration::from_secs_f64(events as f64 / f64::from(RATE_PER_S));
    limited
        .wait_for(events, limit_time * 2 + DELIVERY_TIMEOUT)
        .await;
    let finished = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let dead =
        hookpost_testkit::queue_depth(&stack.sdk, &stack.state.names.dead_letter_queue_url).await;
    Ok(Limited {
        requests: limited.requests(),
        got: limited.count(),
        finished,
        dead,
        free_got: free.count(),
        free_latency: Latencies::of(&sent, &free.arrivals(), &[])?.latency,
        calls,
        names: stack.state.names.clone(),
        moto_share,
    })
}

/// A GitHub source `id` verified with [`SECRET`].
async fn add_github_source(stack: &LocalStack, id: &str) -> Result<SourceId, String> {
    let source_id = SourceId::parse(id).map_err(|e| e.to_string())?;
    DynamoSources::new(
        DynamoClient::new(&stack.sdk),
        &stack.state.names.sources_table,
    )
    .create(&Source {
        source_id: source_id.clone(),
        provider: Provider::Github,
        secrets: vec![Secret::new(SECRET)],
        tolerance_seconds: None,
        options: Default::default(),
        created_at: rfc3339(SystemTime::now()),
    })
    .await
    .map_err(|e| format!("creating the source {id}: {e}"))?;
    Ok(source_id)
}

async fn subscribe(stack: &LocalStack, source: &SourceId, url: &str) -> Result<(), String> {
    subscribe_limited(stack, source, url, None).await
}

async fn subscribe_limited(
    stack: &LocalStack,
    source: &SourceId,
    url: &str,
    rate: Option<RateLimit>,
) -> Result<(), String> {
    let key = SigningKey::generate().map_err(|e| format!("no randomness: {e}"))?;
    DynamoSubscriptions::new(
        DynamoClient::new(&stack.sdk),
        &stack.state.names.subscriptions_table,
    )
    .put(&Subscription {
        rate,
        ..Subscription::new(
            source.clone(),
            new_subscription_id(),
            url,
            vec![key.to_whsec()],
            rfc3339(SystemTime::now()),
        )
    })
    .await
    .map_err(|e| format!("subscribing: {e}"))
}

fn check_accepted(sent: &[Sent]) -> Result<(), String> {
    let refused: Vec<&Sent> = sent.iter().filter(|s| s.event_id.is_none()).collect();
    match refused.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} of {} events were not accepted; the first got: {}",
            refused.len(),
            sent.len(),
            first.answer
        )),
    }
}

/// One posted event.
struct Sent {
    posted: Instant,
    answered: Instant,
    /// The event id of a 202.
    event_id: Option<String>,
    /// Status and body, for the error message when it was not a 202.
    answer: String,
}

struct Poster {
    client: reqwest::Client,
    url: String,
    signature: String,
    body: Bytes,
}

impl Poster {
    /// The sample event, signed with [`SECRET`], posted to `source` on `stack`'s receiver.
    fn new(stack: &LocalStack, source: &SourceId) -> Result<Poster, String> {
        let body = serde_json::from_str::<Value>(SAMPLE_EVENT)
            .ok()
            .and_then(|v| v["body"].as_str().map(str::to_owned))
            .ok_or("events/apigw-github-push.json has no body")?;
        Ok(Poster {
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(|e| e.to_string())?,
            url: format!("{}{}", stack.state.receiver_url, source.as_str()),
            signature: github::sign(&Secret::new(SECRET), body.as_bytes()),
            body: Bytes::from(body),
        })
    }

    /// Posts `count` events from `concurrency` clients at once.
    async fn send_all(&self, count: usize, concurrency: usize) -> Vec<Sent> {
        let next = AtomicUsize::new(0);
        let workers = (0..concurrency.min(count)).map(|_| async {
            let mut sent = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                sent.push(self.send_one().await);
            }
            sent
        });
        futures_util::future::join_all(workers)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn send_one(&self) -> Sent {
        let posted = Instant::now();
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("user-agent", "GitHub-Hookshot/044aadd")
            .header(github::EVENT_HEADER, "push")
            .header(github::DELIVERY_HEADER, uuid::Uuid::new_v4().to_string())
            .header(github::SIGNATURE_HEADER, &self.signature)
            .body(self.body.clone())
            .send()
            .await;
        let (status, text) = match response {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        };
        let event_id = (status == 202)
            .then(|| serde_json::from_str::<Value>(&text).ok())
            .flatten()
            .and_then(|v| v["event_id"].as_str().map(str::to_owned));
        Sent {
            posted,
            answered: Instant::now(),
            event_id,
            answer: format!("{status} {text}"),
        }
    }
}

/// moto's server, started here so its CPU time can be read.
struct Moto {
    endpoint_url: String,
    pid: u32,
    child: Child,
}

impl Moto {
    async fn spawn(root: &Path) -> Result<Self, String> {
        let program = std::env::var_os("HOOKPOST_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/moto_server"));
        if !program.is_file() {
            return Err(format!(
                "{} not found: run `make venv` first",
                program.display()
            ));
        }
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", program.display()))?;
        let pid = child.id().ok_or("moto's server exited at once")?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if started.elapsed() > MOTO_STARTUP {
                return Err(format!("moto's server did not answer on port {port}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            endpoint_url: format!("http://127.0.0.1:{port}"),
            pid,
            child,
        })
    }

    async fn stop(&mut self) {
        // Already exited is fine.
        let _ = self.child.kill().await;
    }
}

/// User + system CPU seconds of the process whose `/proc/<pid>/stat` this is (0 if unreadable).
fn cpu_seconds(stat_path: &str) -> f64 {
    let Ok(text) = std::fs::read_to_string(stat_path) else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are
    // state, ppid, …; utime and stime are fields 14 and 15 of the whole line.
    let after = text.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / TICKS_PER_SECOND,
        _ => 0.0,
    }
}

/// The machine's busy and total CPU time (all cores), from `/proc/stat`.
struct MachineCpu {
    busy: f64,
    total: f64,
    at: Instant,
}

impl MachineCpu {
    fn read() -> Self {
        let line = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| t.lines().next().map(str::to_owned))
            .unwrap_or_default();
        let values: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let total: f64 = values.iter().sum();
        // idle and iowait are the 4th and 5th values.
        let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
        Self {
            busy: total - idle,
            total,
            at: Instant::now(),
        }
    }

    /// How many cores were busy on average since `self` (everything on the machine).
    fn busy_cores_since(&self) -> f64 {
        let now = Self::read();
        let seconds = now.at.duration_since(self.at).as_secs_f64();
        if seconds <= 0.0 || now.total <= self.total {
            return 0.0;
        }
        (now.busy - self.busy) / TICKS_PER_SECOND / seconds
    }
}

/// One emulator call seen by the proxy.
#[derive(Clone)]
struct Call {
    /// `SQS.SendMessage`, `DynamoDB.GetItem`, `S3.PUT`.
    operation: String,
    /// The table or queue name it named, if any.
    target: Option<String>,
    started: Instant,
    took: Duration,
    /// The event ids it carried: queued (`SendMessage`) or handed out (`ReceiveMessage`).
    event_ids: Vec<String>,
    /// A DynamoDB call's request and answer bodies, kept while the recorder captures (the cost
    /// run prices them).
    bodies: Option<(Bytes, Bytes)>,
}

#[derive(Default)]
struct Recorder {
    on: AtomicBool,
    /// Keep DynamoDB bodies too (off in the timed runs).
    capture: AtomicBool,
    calls: Mutex<Vec<Call>>,
}

impl Recorder {
    fn start(&self) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.clear();
        }
        self.on.store(true, Ordering::SeqCst);
    }

    /// Starts recording, DynamoDB bodies included.
    fn start_capturing(&self) {
        self.capture.store(true, Ordering::SeqCst);
        self.start();
    }

    fn capturing(&self) -> bool {
        self.capture.load(Ordering::SeqCst)
    }

    fn stop(&self) -> Vec<Call> {
        self.on.store(false, Ordering::SeqCst);
        self.capture.store(false, Ordering::SeqCst);
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn record(&self, call: Call) {
        if self.on.load(Ordering::SeqCst)
            && let Ok(mut calls) = self.calls.lock()
        {
            calls.push(call);
        }
    }
}

/// A forward proxy on loopback in front of moto: notes each call's operation and latency.
struct Proxy {
    url: String,
    recorder: Arc<Recorder>,
    /// Accepts connections until [`Proxy::stop`].
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: &str) -> Result<Self, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("binding the proxy: {e}"))?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let recorder = Arc::new(Recorder::default());
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let state = Arc::new((client, upstream.to_owned(), Arc::clone(&recorder)));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move {
                            let (client, upstream, recorder) = &*state;
                            Ok::<_, Infallible>(forward(client, upstream, recorder, request).await)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            url,
            recorder,
            task,
        })
    }

    fn stop(&self) {
        self.task.abort();
    }
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    recorder: &Recorder,
    request: http::Request<Incoming>,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (operation, target) = operation(&parts, &body);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let sent = body.clone();
    let mut upstream_request = client
        .request(parts.method.clone(), format!("{upstream}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !is_hop_header(name) {
            upstream_request = upstream_request.header(name, value);
        }
    }
    let started = Instant::now();
    let (status, headers, bytes) = match upstream_request.send().await {
        Ok(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            (status, headers, response.bytes().await.unwrap_or_default())
        }
        Err(_) => (
            http::StatusCode::BAD_GATEWAY,
            http::HeaderMap::new(),
            Bytes::new(),
        ),
    };
    let took = started.elapsed();
    let event_ids = match operation.as_str() {
        "SQS.SendMessage" => sent_event_id(&sent).into_iter().collect(),
        "SQS.ReceiveMessage" => received_event_ids(&bytes),
        _ => Vec::new(),
    };
    let bodies =
        (recorder.capturing() && operation.starts_with("DynamoDB.")).then(|| (sent, bytes.clone()));
    recorder.record(Call {
        operation,
        target,
        started,
        took,
        event_ids,
        bodies,
    });
    let mut response = http::Response::new(Full::new(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !is_hop_header(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

fn is_hop_header(name: &http::HeaderName) -> bool {
    [
        http::header::HOST,
        http::header::CONTENT_LENGTH,
        http::header::TRANSFER_ENCODING,
        http::header::CONNECTION,
    ]
    .contains(name)
}

/// The operation a request is, and the table or queue it names: SQS and DynamoDB speak JSON with
/// the operation in `X-Amz-Target`; S3 is REST, so its method stands in.
fn operation(parts: &http::request::Parts, body: &[u8]) -> (String, Option<String>) {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let Some(target) = target else {
        return (format!("S3.{}", parts.method), None);
    };
    let (service, op) = target.split_once('.').unwrap_or(("?", target));
    let service = if service.starts_with("AmazonSQS") {
        "SQS"
    } else if service.starts_with("DynamoDB") {
        "DynamoDB"
    } else {
        service
    };
    let json = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let named = json["TableName"].as_str().map(str::to_owned).or_else(|| {
        json["QueueUrl"]
            .as_str()
            .and_then(|u| u.rsplit('/').next())
            .map(str::to_owned)
    });
    (format!("{service}.{op}"), named)
}

/// The `event_id` of the envelope a `SendMessage` request queues.
fn sent_event_id(request: &[u8]) -> Option<String> {
    let json = serde_json::from_slice::<Value>(request).ok()?;
    let envelope = serde_json::from_str::<Value>(json["MessageBody"].as_str()?).ok()?;
    envelope["event_id"].as_str().map(str::to_owned)
}

/// The `event_id` of each envelope in a `ReceiveMessage` response.
fn received_event_ids(response: &[u8]) -> Vec<String> {
    let json = serde_json::from_slice::<Value>(response).unwrap_or(Value::Null);
    json["Messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let envelope = serde_json::from_str::<Value>(m["Body"].as_str()?).ok()?;
            envelope["event_id"].as_str().map(str::to_owned)
        })
        .collect()
}

/// The subscriber: answers 204 at once and notes when each event (`webhook-id`) first arrived.
struct Sink {
    url: String,
    arrivals: Arc<Mutex<HashMap<String, Instant>>>,
    /// Every request's arrival, duplicates included.
    requests: Arc<Mutex<Vec<Instant>>>,
    notify: Arc<Notify>,
}

impl Sink {
    async fn start() -> Result<Self, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("binding the subscriber: {e}"))?;
        let url = format!(
            "http://{}/hook",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let state = (
            Arc::clone(&arrivals),
            Arc::clone(&requests),
            Arc::clone(&notify),
        );
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: http::Request<Incoming>| {
                        let (arrivals, requests, notify) = state.clone();
                        async move {
                            let at = Instant::now();
                            let id = request
                                .headers()
                                .get("webhook-id")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let _ = request.into_body().collect().await;
                            if let (Some(id), Ok(mut arrivals)) = (id, arrivals.lock()) {
                                arrivals.entry(id).or_insert(at);
                            }
                            if let Ok(mut requests) = requests.lock() {
                                requests.push(at);
                            }
                            notify.notify_waiters();
                            let mut response = http::Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = http::StatusCode::NO_CONTENT;
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            url,
            arrivals,
            requests,
            notify,
        })
    }

    fn count(&self) -> usize {
        self.arrivals.lock().map(|a| a.len()).unwrap_or(0)
    }

    fn requests(&self) -> Vec<Instant> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn arrivals(&self) -> HashMap<String, Instant> {
        self.arrivals.lock().map(|a| a.clone()).unwrap_or_default()
    }

    async fn wait_for(&self, count: usize, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            if self.count() >= count {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

/// Times per event (ms), each list sorted.
struct Latencies {
    /// The 202 back → the subscriber has it.
    latency: Sorted,
    /// Posted → the 202 back.
    accept: Sorted,
    /// SQS acknowledged the `SendMessage` → `ReceiveMessage` handed it to the poller.
    queued: Sorted,
    /// Handed to the poller → the subscriber has it.
    dispatched: Sorted,
}

impl Latencies {
    fn of(
        sent: &[Sent],
        arrivals: &HashMap<String, Instant>,
        calls: &[Call],
    ) -> Result<Self, String> {
        let mut enqueued: HashMap<&str, Instant> = HashMap::new();
        let mut polled: HashMap<&str, Instant> = HashMap::new();
        for call in calls {
            let seen = if call.operation == "SQS.SendMessage" {
                &mut enqueued
            } else {
                &mut polled
            };
            for id in &call.event_ids {
                seen.entry(id.as_str()).or_insert(call.started + call.took);
            }
        }
        let (mut latency, mut accept, mut queued, mut dispatched) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut missing = 0;
        for sent in sent {
            accept.push(ms(sent.answered - sent.posted));
            let Some(id) = sent.event_id.as_deref() else {
                continue;
            };
            let Some(&arrived) = arrivals.get(id) else {
                missing += 1;
                continue;
            };
            latency.push(signed_ms(sent.answered, arrived));
            if let (Some(&enqueued), Some(&polled)) = (enqueued.get(id), polled.get(id)) {
                queued.push(signed_ms(enqueued, polled));
                dispatched.push(signed_ms(polled, arrived));
            }
        }
        if missing > 0 {
            return Err(format!(
                "{missing} of {} accepted events were not delivered within {}s",
                sent.len(),
                DELIVERY_TIMEOUT.as_secs()
            ));
        }
        Ok(Self {
            latency: Sorted::new(latency),
            accept: Sorted::new(accept),
            queued: Sorted::new(queued),
            dispatched: Sorted::new(dispatched),
        })
    }
}

struct Sorted(Vec<f64>);

impl Sorted {
    fn new(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        Self(values)
    }

    /// Nearest-rank percentile (0 for none).
    fn p(&self, p: f64) -> f64 {
        percentile(&self.0, p)
    }
}

/// Emulator calls by operation and table or queue.
struct Ops<'a> {
    by_label: BTreeMap<String, Op>,
    /// Long polls that came back empty: the poller idling, counted apart.
    empty_polls: Op,
    /// The `ReceiveMessage` calls that handed out messages.
    batches: Vec<&'a Call>,
}

#[derive(Default)]
struct Op {
    calls: usize,
    total: Duration,
}

impl Op {
    fn mean_ms(&self) -> f64 {
        ms(self.total) / self.calls.max(1) as f64
    }
}

impl<'a> Ops<'a> {
    fn of(calls: &'a [Call], names: &StackNames) -> Self {
        let mut ops = Ops {
            by_label: BTreeMap::new(),
            empty_polls: Op::default(),
            batches: Vec::new(),
        };
        for call in calls {
            let receive = call.operation == "SQS.ReceiveMessage";
            let op = if receive && call.event_ids.is_empty() {
                &mut ops.empty_polls
            } else {
                if receive {
                    ops.batches.push(call);
                }
                let label = match call.target.as_deref().map(|t| role(t, names)) {
                    Some(role) => format!("{} {role}", call.operation),
                    None => call.operation.clone(),
                };
                ops.by_label.entry(label).or_default()
            };
            op.calls += 1;
            op.total += call.took;
        }
        ops
    }
}

/// What a table or queue name is in the stack: `sources`, `ingest`, …
fn role(name: &str, names: &StackNames) -> &'static str {
    let tables = [
        (&names.sources_table, "sources"),
        (&names.subscriptions_table, "subscriptions"),
        (&names.deliveries_table, "deliveries"),
        (&names.delivery_ids_table, "delivery-ids"),
        (&names.events_table, "events"),
    ];
    if let Some((_, role)) = tables.iter().find(|(t, _)| t.as_str() == name) {
        role
    } else if names.ingest_queue_url.ends_with(name) {
        "ingest"
    } else if names.dead_letter_queue_url.ends_with(name) {
        "dlq"
    } else {
        "other"
    }
}

/// Everything one measured run saw.
struct Run<'a> {
    settings: &'a Settings,
    events: usize,
    /// The events posted at once.
    loaded: Latencies,
    /// The events posted one at a time, each after the one before was delivered.
    idle: Latencies,
    /// The emulator calls while the loaded events went through.
    calls: &'a [Call],
    /// The emulator calls while the idle events went through.
    idle_calls: &'a [Call],
    /// From the first post to the last 202.
    accepted: Duration,
    /// From the first post to the last delivery.
    delivered: Duration,
    moto_cpu: f64,
    own_cpu: f64,
    busy_cores: f64,
    names: &'a StackNames,
}

impl Run<'_> {
    fn report(&self, root: &Path, stack: &LocalStack) -> Value {
        let events = self.events as f64;
        let mut figures = Vec::new();
        let mut figure = |name: &str, value: f64, unit: &str| {
            figures.push(
                json!({ "name": format!("pipeline/{name}"), "value": round(value), "unit": unit }),
            );
        };

        figure(
            "accepted-per-s",
            events / self.accepted.as_secs_f64(),
            "events/s",
        );
        figure(
            "delivered-per-s",
            events / self.delivered.as_secs_f64(),
            "events/s",
        );
        for (prefix, l) in [("", &self.loaded), ("idle/", &self.idle)] {
            figure(&format!("{prefix}latency-p50"), l.latency.p(0.50), "ms");
            figure(&format!("{prefix}latency-p99"), l.latency.p(0.99), "ms");
            figure(&format!("{prefix}latency-max"), l.latency.p(1.0), "ms");
            figure(&format!("{prefix}accept-p50"), l.accept.p(0.50), "ms");
            figure(&format!("{prefix}accept-p99"), l.accept.p(0.99), "ms");
            figure(&format!("{prefix}queue-wait-p50"), l.queued.p(0.50), "ms");
            figure(&format!("{prefix}queue-wait-p99"), l.queued.p(0.99), "ms");
            figure(
                &format!("{prefix}received-to-delivered-p50"),
                l.dispatched.p(0.50),
                "ms",
            );
            figure(
                &format!("{prefix}received-to-delivered-p99"),
                l.dispatched.p(0.99),
                "ms",
            );
        }

        let Ops {
            by_label: ops,
            empty_polls,
            batches,
        } = Ops::of(self.calls, self.names);
        let busy_calls: usize = ops.values().map(|o| o.calls).sum();
        let busy_time: Duration = ops.values().map(|o| o.total).sum();
        figure("moto-calls-per-event", busy_calls as f64 / events, "calls");
        figure(
            "moto-call-mean",
            ms(busy_time) / busy_calls.max(1) as f64,
            "ms",
        );
        figure("moto-call-time-per-event", ms(busy_time) / events, "ms");
        figure("moto-cpu-per-event", self.moto_cpu * 1e3 / events, "ms");
        figure("process-cpu-per-event", self.own_cpu * 1e3 / events, "ms");
        figure(
            "moto-cpu-share",
            self.moto_cpu / self.delivered.as_secs_f64(),
            "cores",
        );
        figure("machine-busy", self.busy_cores, "cores");
        for (label, op) in &ops {
            let slug = label.replace(' ', "/");
            figure(
                &format!("moto/{slug}/per-event"),
                op.calls as f64 / events,
                "calls",
            );
            figure(&format!("moto/{slug}/mean"), op.mean_ms(), "ms");
        }
        // The same calls one event at a time: how long each takes when moto is not queueing.
        let idle = Ops::of(self.idle_calls, self.names);
        let idle_events = self.settings.idle_events as f64;
        let idle_calls: usize = idle.by_label.values().map(|o| o.calls).sum();
        figure(
            "idle/moto-calls-per-event",
            idle_calls as f64 / idle_events,
            "calls",
        );
        for (label, op) in &idle.by_label {
            let slug = label.replace(' ', "/");
            figure(&format!("idle/moto/{slug}/mean"), op.mean_ms(), "ms");
        }

        // Each poller: one batch at a time, like one concurrent invocation of the mapping. Between
        // two receives it hands the batch to the dispatcher, then deletes what succeeded.
        let deletes: Vec<&Call> = self
            .calls
            .iter()
            .filter(|c| c.operation == "SQS.DeleteMessageBatch")
            .collect();
        let (mut cycle, mut receive, mut handle, mut delete) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for pair in batches.windows(2) {
            let (this, next) = (pair[0], pair[1]);
            let received = this.started + this.took;
            let deleting: f64 = deletes
                .iter()
                .filter(|d| d.started >= received && d.started < next.started)
                .map(|d| ms(d.took))
                .sum();
            cycle.push(signed_ms(this.started, next.started));
            receive.push(ms(this.took));
            handle.push(signed_ms(received, next.started) - deleting);
            delete.push(deleting);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let sizes: Vec<f64> = batches.iter().map(|c| c.event_ids.len() as f64).collect();
        figure("poller/batches", batches.len() as f64, "batches");
        figure("poller/batch-size-mean", mean(&sizes), "messages");
        figure("poller/receive-mean", mean(&receive), "ms");
        // The split of a cycle pairs each receive with the next one, which only means one
        // poller's cycle when there is one poller (the template's MaximumConcurrency runs more).
        let pollers = stack.spec.event_source.max_concurrency;
        figure(
            "poller/concurrent-invocations",
            f64::from(pollers),
            "pollers",
        );
        if pollers <= 1 {
            figure("poller/cycle-mean", mean(&cycle), "ms");
            figure("poller/dispatcher-mean", mean(&handle), "ms");
            figure("poller/delete-mean", mean(&delete), "ms");
        }
        figure("poller/empty-receives", empty_polls.calls as f64, "calls");
        figure("poller/empty-receive-time", ms(empty_polls.total), "ms");

        let context = json!({
            "events": self.events,
            "idle_events": self.settings.idle_events,
            "warm_up_events": WARM_UP_EVENTS,
            "concurrency": self.settings.concurrency,
            "body_bytes": body_len(),
            "batch_size": stack.spec.event_source.batch_size,
            "batching_window_seconds": stack.spec.event_source.batching_window_seconds,
            "accepted_seconds": round(self.accepted.as_secs_f64()),
            "delivered_seconds": round(self.delivered.as_secs_f64()),
            "moto": moto_version(root),
            "loadavg": std::fs::read_to_string("/proc/loadavg")
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "command": "make bench (cargo bench -p hookpost-bench-tools --bench pipeline)",
        });
        print_summary(&figures);
        json!({ "figures": figures, "context": context })
    }
}

fn body_len() -> usize {
    serde_json::from_str::<Value>(SAMPLE_EVENT)
        .ok()
        .and_then(|v| v["body"].as_str().map(str::len))
        .unwrap_or(0)
}

fn print_summary(figures: &[Value]) {
    for f in figures {
        println!(
            "{:<60} {:>12} {}",
            f["name"].as_str().unwrap_or(""),
            f["value"],
            f["unit"].as_str().unwrap_or("")
        );
    }
}

/// moto's version, from its dist-info folder in `.venv`.
fn moto_version(root: &Path) -> String {
    let lib = root.join(".venv/lib");
    let found = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|python| std::fs::read_dir(python.path().join("site-packages")))
        .flatten()
        .flatten()
        .find_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("moto-")
                .and_then(|rest| rest.strip_suffix(".dist-info"))
                .map(str::to_owned)
        });
    found.unwrap_or_else(|| "unknown".to_owned())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `to - from` in ms, negative when `to` came first.
fn signed_ms(from: Instant, to: Instant) -> f64 {
    match to.checked_duration_since(from) {
        Some(d) => ms(d),
        None => -ms(from - to),
    }
}

/// Nearest-rank percentile of sorted values (0 for none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
