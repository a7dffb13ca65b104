//! The fault proxy: an HTTP server on 127.0.0.1 between the functions' AWS SDK clients and the
//! emulator. It forwards every call, except a configurable share of SQS and DynamoDB calls (told
//! apart by `X-Amz-Target`) that it answers with a throttling error or a 500, drops before
//! forwarding, or forwards and then drops (the caller never learns that the call took effect).
//! During an outage window every SQS `SendMessage` fails. Every fault is counted and kept with the
//! request body, so the harness can say which events a fault touched. With no faults
//! ([`FaultShares::NONE`]) it only counts: which calls a command makes (`calls`).
//!
//! Every service is called through the one proxy URL; it forwards each call to that service's
//! emulator ([`Endpoints`]: DynamoDB may be on moto beside LocalStack).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookpost_local::emulator::Endpoints;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The share of SQS and DynamoDB calls each fault hits, each in 0..1.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FaultShares {
    /// Answered `400 ThrottlingException`: a code every AWS SDK's standard retry classifies as
    /// throttling (smithy's `THROTTLING_ERRORS`), retried with backoff.
    pub throttle: f64,
    /// Answered `500 InternalFailure`: a transient error, retried.
    pub error: f64,
    /// The connection is closed before the call is forwarded: the call never happened.
    pub drop: f64,
    /// Forwarded, then the connection is closed: the call happened, the caller saw an error.
    pub lost: f64,
}

impl FaultShares {
    /// No faults: every call is forwarded and counted.
    pub const NONE: FaultShares = FaultShares {
        throttle: 0.0,
        error: 0.0,
        drop: 0.0,
        lost: 0.0,
    };

    /// `throttle=0.02,error=0.02,drop=0.01,lost=0.005`; kinds left out keep `self`'s share.
    pub fn parse_over(mut self, text: &str) -> Result<Self, String> {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not kind=share"))?;
            let share: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not a number"))?;
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name}: {share} is not in 0..1"));
            }
            match name.trim() {
                "throttle" => self.throttle = share,
                "error" => self.error = share,
                "drop" => self.drop = share,
                "lost" => self.lost = share,
                other => return Err(format!("unknown fault kind {other:?}")),
            }
        }
        Ok(self)
    }
}

/// What the proxy did to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Throttle,
    Error,
    Drop,
    Lost,
    /// `SendMessage` during the outage window (answered 500).
    Outage,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Throttle,
        FaultKind::Error,
        FaultKind::Drop,
        FaultKind::Lost,
        FaultKind::Outage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::Error => "500",
            FaultKind::Drop => "dropped",
            FaultKind::Lost => "response lost",
            FaultKind::Outage => "outage",
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    pub service: &'static str,
    pub operation: String,
    /// The request body, to find the events it carried.
    pub body: String,
}

#[derive(Debug, Default)]
struct Log {
    /// Calls per `service.operation`, faulted or not.
    calls: BTreeMap<String, u64>,
    faults: Vec<Fault>,
}

#[derive(Debug)]
struct State {
    upstream: Endpoints,
    shares: FaultShares,
    outage_until: Mutex<Option<Instant>>,
    log: Mutex<Log>,
    http: reqwest::Client,
}

/// A running fault proxy.
#[derive(Debug)]
pub struct FaultProxy {
    pub url: String,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
}

/// The proxy refuses to answer: hyper closes the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

impl FaultProxy {
    /// Serves on a free 127.0.0.1 port, forwarding each call to its service's emulator.
    pub async fn start(upstream: &Endpoints, shares: FaultShares) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        let state = Arc::new(State {
            upstream: upstream.clone(),
            shares,
            outage_until: Mutex::new(None),
            log: Mutex::default(),
            http,
        });
        let (shutdown, mut watcher) = watch::channel(false);
        let serving = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = watcher.changed() => return,
                };
                let state = Arc::clone(&serving);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { state.handle(request).await }
                    });
                    // A dropped call ends its connection with an error: that is the point.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            url,
            state,
            shutdown,
        })
    }

    /// Every `SendMessage` fails from now for `length`.
    pub fn outage(&self, length: Duration) {
        *self
            .state
            .outage_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + length);
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.state
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .faults
            .clone()
    }

    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.state
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .calls
            .clone()
    }

    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl State {
    async fn handle(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> Result<http::Response<Full<Bytes>>, Dropped> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let (service, operation) = match target.split_once('.') {
            Some(("AmazonSQS", op)) => ("sqs", op.to_owned()),
            Some((prefix, op)) if prefix.starts_with("DynamoDB_") => ("dynamodb", op.to_owned()),
            _ => ("other", parts.method.to_string()),
        };
        let fault = if service == "other" {
            None
        } else {
            self.choose(service, &operation)
        };
        {
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            *log.calls
                .entry(format!("{service}.{operation}"))
                .or_default() += 1;
            if let Some(kind) = fault {
                log.faults.push(Fault {
                    kind,
                    service,
                    operation: operation.clone(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
            }
        }
        match fault {
            Some(FaultKind::Throttle) => Ok(error_response(
                400,
                "ThrottlingException",
                "Rate exceeded (fault proxy)",
            )),
            Some(FaultKind::Error | FaultKind::Outage) => Ok(error_response(
                500,
                "InternalFailure",
                "Internal failure (fault proxy)",
            )),
            Some(FaultKind::Drop) => Err(Dropped),
            Some(FaultKind::Lost) => {
                // The emulator acts on the call; its answer never reaches the caller.
                let _ = self.forward(service, &parts, body).await;
                Err(Dropped)
            }
            None => Ok(self
                .forward(service, &parts, body)
                .await
                .unwrap_or_else(|()| error_response(502, "BadGateway", "upstream unreachable"))),
        }
    }

    fn choose(&self, service: &str, operation: &str) -> Option<FaultKind> {
        let sends = service == "sqs" && operation.starts_with("SendMessage");
        if sends {
            let until = *self
                .outage_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if until.is_some_and(|t| Instant::now() < t) {
                return Some(FaultKind::Outage);
            }
        }
        let s = self.shares;
        let roll = random_unit();
        let mut edge = 0.0;
        for (kind, share) in [
            (FaultKind::Throttle, s.throttle),
            (FaultKind::Error, s.error),
            (FaultKind::Drop, s.drop),
            (FaultKind::Lost, s.lost),
        ] {
            edge += share;
            if roll < edge {
                return Some(kind);
            }
        }
        None
    }

    /// The emulator of the call's service: SQS and DynamoDB as classified, any other by the
    /// service its SigV4 credential scope names.
    fn upstream_for(&self, service: &str, headers: &http::HeaderMap) -> &str {
        let id = match service {
            "sqs" => "SQS",
            "dynamodb" => "DynamoDB",
            _ => match signing_name(headers) {
                Some("events") => "EventBridge",
                Some(name) => name,
                None => return &self.upstream.default,
            },
        };
        self.upstream.for_service(id)
    }

    async fn forward(
        &self,
        service: &str,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<http::Response<Full<Bytes>>, ()> {
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let mut request = self
            .http
            .request(
                parts.method.clone(),
                format!("{}{path}", self.upstream_for(service, &parts.headers)),
            )
            .body(body);
        for (name, value) in &parts.headers {
            if !HOP_HEADERS.contains(&name.as_str()) {
                request = request.header(name, value);
            }
        }
        let upstream = request.send().await.map_err(|_| ())?;
        let mut response = http::Response::builder().status(upstream.status());
        for (name, value) in upstream.headers() {
            if !HOP_HEADERS.contains(&name.as_str()) {
                response = response.header(name, value);
            }
        }
        let bytes = upstream.bytes().await.map_err(|_| ())?;
        response.body(Full::new(bytes)).map_err(|_| ())
    }
}

/// The service of a SigV4-signed call: `Credential=AKID/DATE/REGION/SERVICE/aws4_request`.
fn signing_name(headers: &http::HeaderMap) -> Option<&str> {
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
    scope.split('/').nth(3)
}

/// Headers that belong to one connection, not to the call.
const HOP_HEADERS: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

/// An AWS JSON-protocol error: the code in `x-amzn-errortype` and `__type`, as SQS and DynamoDB
/// send it.
fn error_response(status: u16, code: &str, message: &str) -> http::Response<Full<Bytes>> {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(value) = http::HeaderValue::from_str(code) {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

/// A uniform number in 0..1 from the OS's randomness: the low 62 bits of a v4 UUID, below its
/// fixed variant bits.
pub fn random_unit() -> f64 {
    let low = (uuid::Uuid::new_v4().as_u128() as u64) & ((1u64 << 62) - 1);
    low as f64 / (1u64 << 62) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_call_names_its_service_in_the_credential_scope() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(signing_name(&headers), None);
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=00",
            ),
        );
        assert_eq!(signing_name(&headers), Some("s3"));
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=test/20261204"),
        );
        assert_eq!(signing_name(&headers), None);
    }
}
