//! A mock of the Lambda Runtime API on 127.0.0.1, enough for one cold start at a time: it notes
//! when the function first asks for an invocation (the end of its init), hands out the run's
//! events one per `next` (the cold one, then a warm one), and notes each answer. A `next` after
//! the last event waits until the run is over, as a frozen function would.
//!
//! Paths and headers: <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

const PREFIX: &str = "/2018-06-01/runtime";
/// The invocation's deadline, as Lambda sends it in `Lambda-Runtime-Deadline-Ms`.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What the function did, when.
#[derive(Debug)]
pub enum Seen {
    /// `GET /invocation/next`; `served` the index of the run's event this request got (none
    /// when they were all handed out), `cpu` the process's CPU time then.
    Next {
        at: Instant,
        served: Option<usize>,
        cpu: Option<Duration>,
    },
    /// `POST /invocation/{id}/response`, and the process's CPU time then.
    Response {
        at: Instant,
        request_id: String,
        body: Bytes,
        cpu: Option<Duration>,
    },
    /// `POST /invocation/{id}/error` or `/init/error`.
    Error { body: Bytes },
}

/// One event handed out in a run.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub function_arn: String,
    pub payload: Bytes,
}

#[derive(Debug, Default)]
struct Run {
    /// The events not handed out yet, and how many were.
    invocations: VecDeque<Invocation>,
    served: usize,
    seen: Option<mpsc::UnboundedSender<Seen>>,
    /// The function's process, whose CPU time is read while it waits for an answer.
    pid: Option<u32>,
}

/// The running mock; one run (one function process) at a time.
#[derive(Debug)]
pub struct RuntimeApi {
    pub addr: SocketAddr,
    run: Arc<Mutex<Run>>,
    /// Bumped when a run ends: `next` requests still waiting are answered then.
    generation: watch::Sender<u64>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let run = Arc::new(Mutex::new(Run::default()));
        let (generation, _) = watch::channel(0u64);
        let shared = (Arc::clone(&run), generation.subscribe());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                // Small requests and answers: send them at once.
                let _ = stream.set_nodelay(true);
                let (run, generation) = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: http::Request<Incoming>| {
                        handle(request, Arc::clone(&run), generation.clone())
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            run,
            generation,
        })
    }

    /// Arms the next run: `invocations` go to the first `next` requests, in order; what the
    /// function does arrives on the returned channel.
    pub fn arm(&self, invocations: Vec<Invocation>) -> mpsc::UnboundedReceiver<Seen> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut run = self.run.lock().unwrap_or_else(PoisonError::into_inner);
        *run = Run {
            invocations: invocations.into(),
            served: 0,
            seen: Some(tx),
            pid: None,
        };
        rx
    }

    /// The process of the armed run.
    pub fn set_pid(&self, pid: Option<u32>) {
        self.run.lock().unwrap_or_else(PoisonError::into_inner).pid = pid;
    }

    /// Ends the run: waiting `next` requests are answered, later reports are dropped.
    pub fn disarm(&self) {
        *self.run.lock().unwrap_or_else(PoisonError::into_inner) = Run::default();
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn handle(
    request: http::Request<Incoming>,
    run: Arc<Mutex<Run>>,
    mut generation: watch::Receiver<u64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(status(StatusCode::NOT_FOUND));
    };
    if request.method() == Method::GET && rest == "/invocation/next" {
        let (invocation, served, seen, pid) = {
            let mut run = run.lock().unwrap_or_else(PoisonError::into_inner);
            let invocation = run.invocations.pop_front();
            let served = invocation.as_ref().map(|_| run.served);
            run.served += usize::from(invocation.is_some());
            (invocation, served, run.seen.clone(), run.pid)
        };
        if let Some(seen) = &seen {
            let _ = seen.send(Seen::Next {
                at,
                served,
                cpu: pid.and_then(cpu_time),
            });
        }
        return Ok(match invocation {
            Some(invocation) => event(&invocation),
            None => {
                // A function asking for an event after the run's last waits, frozen, until it is
                // killed.
                generation.borrow_and_update();
                let _ = generation.changed().await;
                status(StatusCode::GONE)
            }
        });
    }
    if request.method() != Method::POST {
        return Ok(status(StatusCode::METHOD_NOT_ALLOWED));
    }
    // `Some(request id)` for a response, `None` for an error.
    let report = if rest == "/init/error" {
        Some(None)
    } else if let Some(tail) = rest.strip_prefix("/invocation/") {
        if let Some(id) = tail.strip_suffix("/response") {
            Some(Some(id.to_owned()))
        } else if tail.ends_with("/error") {
            Some(None)
        } else {
            None
        }
    } else {
        None
    };
    let Some(response_to) = report else {
        return Ok(status(StatusCode::NOT_FOUND));
    };
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let at = Instant::now();
    let (seen, pid) = {
        let run = run.lock().unwrap_or_else(PoisonError::into_inner);
        (run.seen.clone(), run.pid)
    };
    if let Some(seen) = seen {
        let _ = seen.send(match response_to {
            Some(request_id) => Seen::Response {
                at,
                request_id,
                body,
                cpu: pid.and_then(cpu_time),
            },
            None => Seen::Error { body },
        });
    }
    Ok(status(StatusCode::ACCEPTED))
}

/// CPU time the process has used so far, its threads' together (the first field of each
/// /proc/PID/task/TID/schedstat, in nanoseconds). Read while the process waits on this API, so it
/// is not running; unlike wall time it hardly depends on what else the machine runs.
fn cpu_time(pid: u32) -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn event(invocation: &Invocation) -> Response<Full<Bytes>> {
    let deadline = SystemTime::now()
        .checked_add(INVOCATION_TIMEOUT)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_millis();
    let trace_id = format!(
        "Root=1-{:08x}-{:0>24};Parent={:0>16};Sampled=0",
        deadline / 1000,
        invocation
            .request_id
            .replace('-', "")
            .get(..24)
            .unwrap_or("0"),
        "0"
    );
    let mut response = Response::new(Full::new(invocation.payload.clone()));
    let headers = response.headers_mut();
    let pairs = [
        ("content-type", "application/json".to_owned()),
        (
            "lambda-runtime-aws-request-id",
            invocation.request_id.clone(),
        ),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            invocation.function_arn.clone(),
        ),
        ("lambda-runtime-trace-id", trace_id),
    ];
    for (name, value) in pairs {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
