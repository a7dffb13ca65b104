//! The chaos run's subscribers: real HTTP servers on 127.0.0.1 that verify each delivery's
//! Standard Webhooks signature with the `standardwebhooks` crate and count, per event (the
//! `chaos_id` in the payload), how often they were called and how often they acknowledged it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use hookpost_testkit::proxy::random_unit;

/// How a subscriber answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 204, always.
    Healthy,
    /// 500 for [`FLAKY_FAILURES`] of the calls, at random; 204 otherwise.
    Flaky,
    /// 204 after up to [`SLOW_DELAY`]; [`SLOW_LATE_SHARE`] of the calls only after
    /// [`SLOW_LATE_DELAY`], past the dispatcher's attempt timeout.
    Slow,
    /// 500, always, until fixed.
    Dead,
    /// 204 for its first [`GONE_AFTER`] calls, then 410.
    Gone,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Healthy => "healthy",
            Kind::Flaky => "flaky",
            Kind::Slow => "slow",
            Kind::Dead => "dead",
            Kind::Gone => "410",
        }
    }

    /// Whether every matching event must reach it (or be dead-lettered).
    pub fn must_receive(self) -> bool {
        matches!(self, Kind::Healthy | Kind::Flaky | Kind::Slow)
    }
}

pub const FLAKY_FAILURES: f64 = 0.3;
pub const SLOW_DELAY: Duration = Duration::from_millis(250);
pub const SLOW_LATE_SHARE: f64 = 0.03;
pub const GONE_AFTER: u64 = 5;

/// What one subscriber saw of one event.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Seen {
    pub calls: u32,
    /// 2xx answers given in time (the dispatcher saw them).
    pub acks: u32,
    /// Calls after the first ack: what at-least-once allows only when the ack was not recorded.
    pub after_ack: u32,
    /// 2xx answers given after the attempt timeout (the dispatcher had given up).
    pub late: u32,
}

#[derive(Debug, Default)]
struct Tally {
    seen: HashMap<String, Seen>,
    unverified: u64,
}

/// A running subscriber.
#[derive(Debug)]
pub struct ChaosSubscriber {
    pub kind: Kind,
    pub url: String,
    tally: Arc<Mutex<Tally>>,
    fixed: Arc<AtomicBool>,
    shutdown: watch::Sender<bool>,
}

impl ChaosSubscriber {
    /// Serves on a free 127.0.0.1 port, verifying with `whsec`; a slow one's late answers come
    /// after `late_delay`.
    pub async fn start(kind: Kind, whsec: &str, late_delay: Duration) -> std::io::Result<Self> {
        let hook = standardwebhooks::Webhook::new(whsec).map_err(std::io::Error::other)?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let tally = Arc::new(Mutex::new(Tally::default()));
        let fixed = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let (shutdown, mut watcher) = watch::channel(false);
        let state = Arc::new((hook, Arc::clone(&tally), Arc::clone(&fixed), calls));
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = watcher.changed() => return,
                };
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            let state = Arc::clone(&state);
                            async move {
                                let (hook, tally, fixed, calls) = &*state;
                                let (parts, body) = request.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let status = if hook.verify(&body, &parts.headers).is_err() {
                                    lock(tally).unverified += 1;
                                    401
                                } else {
                                    let n = calls.fetch_add(1, Ordering::SeqCst);
                                    answer(
                                        kind,
                                        fixed.load(Ordering::SeqCst),
                                        n,
                                        late_delay,
                                        &body,
                                        tally,
                                    )
                                    .await
                                };
                                let mut response = http::Response::new(Full::new(Bytes::new()));
                                *response.status_mut() = http::StatusCode::from_u16(status)
                                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            kind,
            url,
            tally,
            fixed,
            shutdown,
        })
    }

    /// From now on a dead subscriber answers 204.
    pub fn fix(&self) {
        self.fixed.store(true, Ordering::SeqCst);
    }

    /// What it saw, per chaos id.
    pub fn seen(&self) -> HashMap<String, Seen> {
        lock(&self.tally).seen.clone()
    }

    /// Deliveries whose signature did not verify.
    pub fn unverified(&self) -> u64 {
        lock(&self.tally).unverified
    }

    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

fn lock(tally: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Decides the answer to the `n`th verified call and counts it under the payload's chaos id.
async fn answer(
    kind: Kind,
    fixed: bool,
    n: u64,
    late_delay: Duration,
    body: &[u8],
    tally: &Mutex<Tally>,
) -> u16 {
    let id = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["chaos_id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let (status, delay, late) = match kind {
        Kind::Healthy => (204, Duration::ZERO, false),
        Kind::Flaky if random_unit() < FLAKY_FAILURES => (500, Duration::ZERO, false),
        Kind::Flaky => (204, Duration::ZERO, false),
        Kind::Slow if random_unit() < SLOW_LATE_SHARE => (204, late_delay, true),
        Kind::Slow => (204, SLOW_DELAY.mul_f64(random_unit()), false),
        Kind::Dead if fixed => (204, Duration::ZERO, false),
        Kind::Dead => (500, Duration::ZERO, false),
        Kind::Gone if n < GONE_AFTER => (204, Duration::ZERO, false),
        Kind::Gone => (410, Duration::ZERO, false),
    };
    {
        let mut tally = lock(tally);
        let seen = tally.seen.entry(id).or_default();
        seen.calls += 1;
        if seen.acks > 0 {
            seen.after_ack += 1;
        }
        if (200..300).contains(&status) {
            if late {
                seen.late += 1;
            } else {
                seen.acks += 1;
            }
        }
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    status
}
