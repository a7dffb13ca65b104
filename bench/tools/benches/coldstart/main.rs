//! `make bench`'s cold-start tool. Starts each bootstrap (receiver, dispatcher, the management
//! API, and a bare `lambda_runtime` hello as the floor) as Lambda would: its production
//! environment, a Runtime API on loopback (a mock), AWS at `AWS_ENDPOINT_URL` (moto on 127.0.0.1
//! over HTTPS, provisioned from template.yaml). Beside them, what users would run instead (issue
//! 19): the same GitHub receiver in Python 3.12 on boto3 under `awslambdaric`, and in Node.js 20
//! on the AWS SDK v3 under `aws-lambda-ric` (bench/baselines/, installed by `make baselines`),
//! given the receiver's environment. Per function it reports:
//!
//! - init: spawn → first `GET /2018-06-01/runtime/invocation/next`, median, p10 and p90 over
//!   `--runs` starts, and the ratio of the medians to the hello's;
//! - first invocation: a representative event handed out → its response (the receiver and the
//!   baselines get the signed sample GitHub push, so they read DynamoDB, claim the delivery id,
//!   send to SQS and confirm the claim; the dispatcher one SQS record it delivers to a subscriber
//!   on loopback; the API the sample publish to a `publish` source, so it reads DynamoDB, claims
//!   the `Idempotency-Key`, sends to SQS and confirms the claim);
//! - a warm invocation: the same kind of event (a new delivery id) handed out at the next `next`;
//! - the CPU time of each (the process's, so waiting on moto is not in it), and the time moto
//!   took over its calls (the part of the wall time no function can remove);
//! - peak RSS (`VmHWM` of /proc/PID/status after the warm response), and its ratio to the hello's;
//! - the calls to AWS and the TLS connections (handshakes) they took, per start, as the HTTPS
//!   front before moto counted them (keep-alive: the warm invocation reuses what the first opened);
//! - the bootstrap's size, alone and zipped with deflate as `sam build` and `cargo lambda` do.
//!
//! Every function that calls AWS reaches moto the same way: HTTPS to one keep-alive front on
//! loopback (rustls, TLS 1.3, a P-256 certificate from the bench's CA; front.rs) that forwards to
//! moto over plain HTTP. moto's own server closes the connection after every answer, so without
//! the front every call would pay a handshake, which AWS does not make a client do.
//!
//! The bootstraps are the ones the same `cargo bench` built beside it, in the bench profile (the
//! release profile: fat LTO, one codegen unit, stripped): cargo builds a package's binaries for
//! its benchmarks and integration tests (the API's, which has no benchmark, for its OpenAPI test;
//! see the Makefile), so `make bench` compiles every dependency once. Their features are unified
//! with the benchmarks' dev-dependencies; docs/benchmarks.md compares them with `cargo build
//! --release`'s.
//!
//! The starts are interleaved (hello, receiver, dispatcher, api, hello, …) so that load from
//! other processes falls on every function alike; beside wall times it reads each function's CPU
//! time (at its first `next`, and at its first response), which a busy machine hardly changes.
//! Figures go to `--out` (target/bench/coldstart.json) for bench/report.py.
//!
//! `make coldstart` runs it alone. To compare a build setting, build the functions elsewhere and
//! add them as a variant, e.g. AWS-LC's jitter entropy (off in .cargo/config.toml):
//!
//! ```sh
//! AWS_LC_SYS_NO_JITTER_ENTROPY=0 CARGO_TARGET_DIR=target/jitter \
//!     cargo build --release -p hookpost-receiver -p hookpost-dispatcher -p hookpost-api
//! make coldstart COLDSTART_ARGS='--runs 21 --variant jitter=target/jitter/release'
//! ```

mod front;
mod runtime_api;
mod stack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use hookpost_shared::source::SourceId;
use serde_json::{Value, json};
use tokio::process::Command;

use front::{Counts, Front};
use runtime_api::{Invocation, RuntimeApi, Seen};
use stack::{Stack, TLS_READY, Tls};

/// How long a start may take before the run counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const RECEIVER_EVENT: &str = include_str!("../../../../events/apigw-github-push.json");
const DISPATCHER_EVENT: &str = include_str!("../../../../events/sqs-batch-one.json");
const API_EVENT: &str = include_str!("../../../../events/apigw-api-publish.json");

#[derive(Debug, Parser)]
#[command(about = "Cold start, peak RSS and artifact size of the release bootstraps")]
struct Args {
    /// Timed starts per function (each function's first start, untimed, warms the page cache).
    #[arg(long, default_value_t = 21)]
    runs: usize,
    /// The folder with the bootstraps (default: the one this benchmark was built into).
    #[arg(long)]
    bins: Option<PathBuf>,
    /// Also measure the receiver, dispatcher and API built elsewhere, as LABEL=DIR
    /// (e.g. `nojitter=target/nojitter/release`); their figures are named `receiver-LABEL`.
    #[arg(long = "variant", value_name = "LABEL=DIR")]
    variants: Vec<String>,
    /// Where the figures go (default: target/bench/coldstart.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Talk plain HTTP to moto (no TLS handshake, no certificate bundle to read).
    #[arg(long)]
    no_tls: bool,
    /// Where `make baselines` installed the Python and Node.js receivers (default: `baselines`
    /// beside the bootstraps' folder, i.e. target/baselines).
    #[arg(long)]
    baselines: Option<PathBuf>,
    /// Measure the Rust functions only.
    #[arg(long)]
    no_baselines: bool,
    /// Passed by `cargo bench` to every benchmark; nothing to do.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Where the bootstraps and the baselines are and where the figures go, absolute.
struct Paths {
    bins: PathBuf,
    baselines: PathBuf,
    out: PathBuf,
}

/// The repository (this file is bench/tools/benches/coldstart/main.rs).
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder this benchmark was built into (`target/release/deps/coldstart-…` → `target/release`):
/// the bootstraps are there.
fn build_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.to_path_buf())
}

/// Which program a measured function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hello,
    Receiver,
    Dispatcher,
    Api,
    /// bench/baselines/python/handler.py under awslambdaric.
    Python,
    /// bench/baselines/node/index.mjs under aws-lambda-ric.
    Node,
}

impl Kind {
    /// The Rust bootstraps, built by cargo beside this tool.
    const BOOTSTRAPS: [Kind; 4] = [Kind::Hello, Kind::Receiver, Kind::Dispatcher, Kind::Api];

    fn name(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::Receiver => "receiver",
            Kind::Dispatcher => "dispatcher",
            Kind::Api => "api",
            Kind::Python => "python",
            Kind::Node => "node",
        }
    }

    /// `MemorySize` in template.yaml (the hello gets Lambda's default, the baselines the
    /// receiver's).
    fn memory_mb(self) -> u32 {
        match self {
            Kind::Hello => 128,
            Kind::Receiver | Kind::Api | Kind::Python | Kind::Node => 256,
            Kind::Dispatcher => 512,
        }
    }
}

/// How a function is started: `program args…` in `cwd`.
#[derive(Debug)]
struct Launch {
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    /// The Rust bootstrap, whose size is reported (the baselines have none).
    bootstrap: Option<PathBuf>,
}

impl Launch {
    fn bootstrap(dir: &Path, kind: Kind) -> Result<Self, String> {
        let name = match kind {
            Kind::Hello => "hookpost-bench-hello",
            Kind::Receiver => "hookpost-receiver",
            Kind::Dispatcher => "hookpost-dispatcher",
            Kind::Api => "hookpost-api",
            Kind::Python | Kind::Node => return Err(format!("{} is no bootstrap", kind.name())),
        };
        let binary = dir.join(name).canonicalize().map_err(|e| {
            format!(
                "{}: {e} (`make coldstart` builds the bootstraps)",
                dir.join(name).display()
            )
        })?;
        Ok(Self {
            program: binary.clone(),
            args: Vec::new(),
            cwd: binary.parent().unwrap_or(dir).to_path_buf(),
            bootstrap: Some(binary),
        })
    }

    /// `python -m awslambdaric handler.lambda_handler` in bench/baselines/python, with the venv's
    /// interpreter; `node …/aws-lambda-ric/bin/index.mjs index.handler` where install.sh put the
    /// handler beside its node_modules.
    fn baseline(baselines: &Path, kind: Kind) -> Result<Self, String> {
        let missing = |path: &Path, e: std::io::Error| {
            format!(
                "{}: {e} (`make baselines` installs the Python and Node.js receivers; \
                 --no-baselines leaves them out)",
                path.display()
            )
        };
        let (program, args, cwd) = match kind {
            Kind::Python => {
                let python = baselines.join("python/venv/bin/python");
                std::fs::metadata(&python).map_err(|e| missing(&python, e))?;
                let cwd = repository().join("bench/baselines/python");
                let args = ["-m", "awslambdaric", "handler.lambda_handler"];
                (python, args.map(str::to_owned).to_vec(), cwd)
            }
            Kind::Node => {
                let dir = baselines.join("node");
                let ric = dir.join("node_modules/aws-lambda-ric/bin/index.mjs");
                std::fs::metadata(&ric).map_err(|e| missing(&ric, e))?;
                let node = on_path("node").ok_or("node is not on PATH")?;
                let args = vec![ric.display().to_string(), "index.handler".to_owned()];
                (node, args, dir)
            }
            _ => return Err(format!("{} is no baseline", kind.name())),
        };
        Ok(Self {
            program,
            args,
            cwd: cwd.canonicalize().map_err(|e| missing(&cwd, e))?,
            bootstrap: None,
        })
    }
}

/// `name`'s path on this tool's PATH (the functions get Lambda's PATH, not ours).
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// One function to measure.
#[derive(Debug)]
struct Function {
    label: String,
    kind: Kind,
    launch: Launch,
    env: Vec<(String, String)>,
    samples: Vec<Sample>,
}

/// One start.
#[derive(Debug, Clone, Copy)]
struct Sample {
    init: Duration,
    first_invoke: Duration,
    warm_invoke: Duration,
    /// CPU time of the process at its first `next`, and at its first response.
    init_cpu: Duration,
    total_cpu: Duration,
    /// CPU time between each event handed out and its response.
    first_invoke_cpu: Duration,
    warm_invoke_cpu: Duration,
    memory: Memory,
    /// What the front saw during the start: TLS connections accepted, requests forwarded.
    aws: Counts,
    /// The time moto took over the calls of each invocation (its own work and the loopback
    /// exchange behind the front): a floor no function can go under.
    first_invoke_moto: Duration,
    warm_invoke_moto: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Absolute paths: cargo runs a benchmark in its package's folder, the functions run in theirs.
    let Some(build) = build_dir() else {
        eprintln!("coldstart: cannot tell where this benchmark was built");
        return ExitCode::FAILURE;
    };
    let here = std::env::current_dir().unwrap_or_default();
    let target = build.parent().unwrap_or(&build).to_path_buf();
    let paths = Paths {
        baselines: here.join(
            args.baselines
                .clone()
                .unwrap_or_else(|| target.join("baselines")),
        ),
        out: here.join(args.out.clone().unwrap_or_else(|| {
            build
                .parent()
                .unwrap_or(&build)
                .join("bench/coldstart.json")
        })),
        bins: here.join(args.bins.clone().unwrap_or(build)),
    };
    let tls_dir = paths
        .out
        .parent()
        .unwrap_or(Path::new("."))
        .join("coldstart-tls");
    let tls = if args.no_tls {
        None
    } else if std::env::var_os(TLS_READY).is_some() {
        Some(Tls::existing(&tls_dir))
    } else {
        // The SDK reads its CA bundle (`SSL_CERT_FILE`) when it starts: this tool's own clients
        // need ours too, so it runs itself again with the bundle set.
        match Tls::make(&tls_dir) {
            Ok(tls) => return rerun_with(&tls),
            Err(e) => {
                eprintln!("coldstart: no certificate ({e}); moto is spoken to over plain HTTP");
                None
            }
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("coldstart: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args, paths, tls)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coldstart: {e}");
            ExitCode::FAILURE
        }
    }
}

fn rerun_with(tls: &Tls) -> ExitCode {
    let status = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("SSL_CERT_FILE", &tls.bundle)
            .env(TLS_READY, "1")
            .status()
    });
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("coldstart: running itself again: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, paths: Paths, tls: Option<Tls>) -> Result<(), String> {
    if args.runs == 0 {
        return Err("--runs must be at least 1".to_owned());
    }
    let started = Instant::now();
    let stack = Stack::start(tls.as_ref(), &publish_source()?).await?;
    let api = RuntimeApi::start()
        .await
        .map_err(|e| format!("starting the Runtime API: {e}"))?;
    let log_dir = paths
        .out
        .parent()
        .unwrap_or(Path::new("."))
        .join("coldstart-logs");
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;

    let mut builds = vec![(String::new(), paths.bins.clone())];
    for variant in &args.variants {
        let (label, dir) = variant
            .split_once('=')
            .ok_or_else(|| format!("--variant {variant}: expected LABEL=DIR"))?;
        builds.push((format!("-{label}"), PathBuf::from(dir)));
    }
    let mut functions = Vec::new();
    for (suffix, dir) in &builds {
        for kind in Kind::BOOTSTRAPS {
            // The hello links no TLS or SDK code: one build of it is the floor for every variant.
            if kind == Kind::Hello && !suffix.is_empty() {
                continue;
            }
            let launch = Launch::bootstrap(dir, kind)?;
            functions.push(Function {
                label: format!("{}{suffix}", kind.name()),
                kind,
                env: environment(kind, &stack, &api, tls.as_ref(), &launch.cwd),
                launch,
                samples: Vec::new(),
            });
        }
    }
    if !args.no_baselines {
        for kind in [Kind::Python, Kind::Node] {
            let launch = Launch::baseline(&paths.baselines, kind)?;
            functions.push(Function {
                label: kind.name().to_owned(),
                kind,
                env: environment(kind, &stack, &api, tls.as_ref(), &launch.cwd),
                launch,
                samples: Vec::new(),
            });
        }
    }

    let ids = Ids::new();
    for function in &functions {
        start_once(&api, function, &ids, &log_dir, stack.front.as_ref()).await?;
    }
    for round in 0..args.runs {
        // A different function goes first each round.
        let count = functions.len();
        for i in 0..count {
            let function = &mut functions[(round + i) % count];
            let sample = start_once(&api, function, &ids, &log_dir, stack.front.as_ref()).await?;
            function.samples.push(sample);
        }
    }
    let took = started.elapsed();

    let report = report(&functions, &args, &paths, tls.is_some(), &stack)?;
    print_table(&report);
    if let Some(dir) = paths.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&paths.out, text + "\n").map_err(|e| format!("{}: {e}", paths.out.display()))?;
    println!(
        "coldstart: {} starts in {:.1}s; figures in {}",
        functions.len() * (args.runs + 1),
        took.as_secs_f64(),
        paths.out.display()
    );
    Ok(())
}

/// What Lambda sets for a function on provided.al2023 (python3.12 and nodejs20.x for the
/// baselines), and what template.yaml gives each of ours, pointed at the mock Runtime API and at
/// moto. The baselines get the receiver's.
fn environment(
    kind: Kind,
    stack: &Stack,
    api: &RuntimeApi,
    tls: Option<&Tls>,
    task_root: &Path,
) -> Vec<(String, String)> {
    let name = format!("hookpost-{}", kind.name());
    let param = |p: &str| stack.parameters.get(p).cloned().unwrap_or_default();
    let names = &stack.names;
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API", api.addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            kind.memory_mb().to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/23/[$LATEST]coldstart".to_owned(),
        ),
        // template.yaml's Globals: LoggingConfig.
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", param("LogLevel")),
        (
            "_HANDLER",
            match kind {
                Kind::Python => "handler.lambda_handler",
                Kind::Node => "index.handler",
                _ => "bootstrap",
            }
            .to_owned(),
        ),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("LAMBDA_RUNTIME_DIR", task_root.display().to_string()),
        ("AWS_REGION", stack.region.clone()),
        ("AWS_DEFAULT_REGION", stack.region.clone()),
        // The execution role's temporary credentials, as Lambda puts them in the environment.
        ("AWS_ACCESS_KEY_ID", "ASIACOLDSTARTBENCH000".to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "coldstart-bench-not-a-secret".to_owned(),
        ),
        ("AWS_SESSION_TOKEN", "coldstart-bench-session".to_owned()),
        ("AWS_ENDPOINT_URL", stack.endpoint_url.clone()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
    ];
    if let Some(tls) = tls {
        // Each language's own way to be given a CA (see stack::Tls).
        match kind {
            Kind::Python => env.push(("AWS_CA_BUNDLE", tls.bundle.display().to_string())),
            Kind::Node => env.push(("NODE_EXTRA_CA_CERTS", tls.ca.display().to_string())),
            _ => env.push(("SSL_CERT_FILE", tls.bundle.display().to_string())),
        }
    }
    let receiver = [
        ("HOOKPOST_SOURCES_TABLE", names.sources_table.clone()),
        (
            "HOOKPOST_DELIVERY_IDS_TABLE",
            names.delivery_ids_table.clone(),
        ),
        ("HOOKPOST_INGEST_QUEUE_URL", names.ingest_queue_url.clone()),
        ("HOOKPOST_BODIES_BUCKET", names.bodies_bucket.clone()),
        ("HOOKPOST_MAX_BODY_BYTES", param("MaxBodyBytes")),
        ("HOOKPOST_DEDUPE_TTL_HOURS", param("DedupeTtlHours")),
    ];
    match kind {
        Kind::Hello => {}
        Kind::Receiver => env.extend(receiver),
        Kind::Python => {
            env.extend(receiver);
            env.push(("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12".to_owned()));
        }
        Kind::Node => {
            env.extend(receiver);
            env.push(("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs20.x".to_owned()));
        }
        Kind::Dispatcher => env.extend([
            (
                "HOOKPOST_SUBSCRIPTIONS_TABLE",
                names.subscriptions_table.clone(),
            ),
            ("HOOKPOST_DELIVERIES_TABLE", names.deliveries_table.clone()),
            ("HOOKPOST_INGEST_QUEUE_URL", names.ingest_queue_url.clone()),
            ("HOOKPOST_RETRY_DELAYS", param("RetryDelays")),
            (
                "HOOKPOST_ATTEMPT_TIMEOUT_SECS",
                param("AttemptTimeoutSeconds"),
            ),
            (
                "HOOKPOST_DELIVERY_RETENTION_DAYS",
                param("DeliveryRetentionDays"),
            ),
            // The bench's subscriber is on loopback, which the deployed default refuses.
            ("HOOKPOST_ALLOW_PRIVATE_TARGETS", "true".to_owned()),
            ("HOOKPOST_BODIES_BUCKET", names.bodies_bucket.clone()),
            ("HOOKPOST_EVENTS_TABLE", names.events_table.clone()),
            (
                "HOOKPOST_SUBSCRIPTION_CACHE_SECS",
                param("SubscriptionCacheSeconds"),
            ),
            ("HOOKPOST_DISABLE_AFTER_HOURS", param("DisableAfterHours")),
            ("HOOKPOST_MAX_RECEIVE_COUNT", param("MaxReceiveCount")),
        ]),
        // No HOOKPOST_RECEIVER_URL, as deployed (template.yaml says why).
        Kind::Api => {
            env.extend(names.to_env());
            env.extend([
                ("HOOKPOST_MAX_BODY_BYTES", param("MaxBodyBytes")),
                ("HOOKPOST_DEDUPE_TTL_HOURS", param("DedupeTtlHours")),
            ]);
        }
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The source the API's sample event publishes to, which the stack creates as a `publish` source.
fn publish_source() -> Result<SourceId, String> {
    let event: Value = serde_json::from_str(API_EVENT).map_err(|e| e.to_string())?;
    let id = event["pathParameters"]["source_id"]
        .as_str()
        .ok_or("events/apigw-api-publish.json: no pathParameters.source_id")?;
    SourceId::parse(id).map_err(|e| format!("events/apigw-api-publish.json: {e}"))
}

/// Fresh ids for every start, so no event is a duplicate of an earlier one.
#[derive(Debug)]
struct Ids {
    base: u128,
    next: std::sync::atomic::AtomicU64,
}

impl Ids {
    fn new() -> Self {
        Self {
            base: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
            next: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// 32 hex digits.
    fn hex(&self) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{:032x}", self.base.wrapping_add(u128::from(n)))
    }

    fn uuid(&self) -> String {
        let h = self.hex();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

/// The run's event: the signed GitHub push with a new delivery id (GitHub signs the body only),
/// one SQS record with a new event id, the sample publish with a new `Idempotency-Key` (the same
/// key would be answered as a duplicate without queueing), or a small object for the hello to
/// echo.
fn invocation(kind: Kind, ids: &Ids, function_arn: String) -> Result<Invocation, String> {
    let payload = match kind {
        Kind::Hello => json!({"hello": "world"}),
        Kind::Receiver | Kind::Python | Kind::Node => {
            let mut event: Value =
                serde_json::from_str(RECEIVER_EVENT).map_err(|e| e.to_string())?;
            event["headers"]["x-github-delivery"] = json!(ids.uuid());
            event["requestContext"]["requestId"] = json!(ids.uuid());
            event
        }
        Kind::Dispatcher => {
            let mut batch: Value =
                serde_json::from_str(DISPATCHER_EVENT).map_err(|e| e.to_string())?;
            let record = &mut batch["Records"][0];
            let mut envelope: Value =
                serde_json::from_str(record["body"].as_str().unwrap_or_default())
                    .map_err(|e| format!("events/sqs-batch-one.json: {e}"))?;
            let delivery = ids.uuid();
            envelope["event_id"] = json!(format!("evt_{}", ids.hex()));
            envelope["delivery_id"] = json!(delivery);
            envelope["headers"]["x-github-delivery"] = json!(delivery);
            record["body"] = json!(envelope.to_string());
            record["messageId"] = json!(ids.uuid());
            batch
        }
        Kind::Api => {
            let mut event: Value = serde_json::from_str(API_EVENT).map_err(|e| e.to_string())?;
            event["headers"]["idempotency-key"] = json!(format!("order-{}", ids.hex()));
            event["requestContext"]["requestId"] = json!(ids.uuid());
            event
        }
    };
    Ok(Invocation {
        request_id: ids.uuid(),
        function_arn,
        payload: Bytes::from(payload.to_string()),
    })
}

/// One figure of a start, read off its sample.
type Measure<T> = fn(&Sample) -> T;

/// Events per start: the first (cold) invocation and a warm one.
const INVOCATIONS: usize = 2;

/// When an event was handed out or answered, and the process's CPU time then.
type Mark = (Instant, Option<Duration>);

/// One start: spawn, wait for the first `next`, serve the cold event and then a warm one, wait
/// for the answers, read the peak RSS, kill; and what it asked of AWS meanwhile.
async fn start_once(
    api: &RuntimeApi,
    function: &Function,
    ids: &Ids,
    log_dir: &Path,
    front: Option<&Front>,
) -> Result<Sample, String> {
    let counts = || front.map(Front::counts).unwrap_or_default();
    let function_arn = format!(
        "arn:aws:lambda:us-east-1:123456789012:function:hookpost-{}",
        function.kind.name()
    );
    let invocations = (0..INVOCATIONS)
        .map(|_| invocation(function.kind, ids, function_arn.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let sent: Vec<(String, Bytes)> = invocations
        .iter()
        .map(|i| (i.request_id.clone(), i.payload.clone()))
        .collect();
    let mut seen = api.arm(invocations);
    let log_path = log_dir.join(format!("{}.log", function.label));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;

    let launch = &function.launch;
    let before = counts();
    let spawned = Instant::now();
    let mut child = Command::new(&launch.program)
        .args(&launch.args)
        .env_clear()
        .envs(function.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", launch.program.display()))?;
    let pid = child.id();
    api.set_pid(pid);

    let outcome = tokio::time::timeout(START_TIMEOUT, async {
        let mut served: Vec<Mark> = Vec::new();
        let mut answered: Vec<Mark> = Vec::new();
        loop {
            let event = tokio::select! {
                event = seen.recv() => event,
                status = child.wait() => {
                    return Err(format!("exited during its invocations: {status:?}"));
                }
            };
            match event {
                Some(Seen::Next {
                    at,
                    served: Some(_),
                    cpu,
                }) => served.push((at, cpu)),
                Some(Seen::Next { .. }) => {}
                Some(Seen::Response {
                    at,
                    request_id,
                    body,
                    cpu,
                }) => {
                    let index = answered.len();
                    let Some((expected_id, payload)) = sent.get(index) else {
                        return Err("answered more events than it was given".to_owned());
                    };
                    if served.len() <= index || request_id != *expected_id {
                        return Err(format!("answered {request_id} out of turn"));
                    }
                    check_response(function.kind, &body, payload)?;
                    answered.push((at, cpu));
                    if answered.len() == INVOCATIONS {
                        return Ok((served, answered));
                    }
                }
                Some(Seen::Error { body, .. }) => {
                    return Err(format!(
                        "reported an error: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                None => return Err("the Runtime API stopped".to_owned()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {}s", START_TIMEOUT.as_secs())));
    let memory = pid.and_then(memory);
    let _ = child.kill().await;
    api.disarm();
    let after = counts();
    let (served, answered) =
        outcome.map_err(|e| format!("{}: {e} (log: {})", function.label, log_path.display()))?;
    let moto_time = |from: &Mark, to: &Mark| {
        front.map_or(Duration::ZERO, |front| front.moto_time(from.0, to.0))
    };
    let cpu_between = |from: &Mark, to: &Mark| {
        to.1.unwrap_or_default()
            .saturating_sub(from.1.unwrap_or_default())
    };
    Ok(Sample {
        init: served[0].0.duration_since(spawned),
        first_invoke: answered[0].0.duration_since(served[0].0),
        warm_invoke: answered[1].0.duration_since(served[1].0),
        init_cpu: served[0].1.unwrap_or_default(),
        total_cpu: answered[0].1.unwrap_or_default(),
        first_invoke_cpu: cpu_between(&served[0], &answered[0]),
        warm_invoke_cpu: cpu_between(&served[1], &answered[1]),
        memory: memory.ok_or_else(|| format!("{}: no VmHWM for pid {pid:?}", function.label))?,
        aws: Counts {
            connections: after.connections - before.connections,
            requests: after.requests - before.requests,
        },
        first_invoke_moto: moto_time(&served[0], &answered[0]),
        warm_invoke_moto: moto_time(&served[1], &answered[1]),
    })
}

/// The function did its job: the receiver (or a baseline) queued the event (202), the dispatcher
/// delivered it
/// (no failed records), the API queued the published event (202 with its `event_id`), the hello
/// echoed.
fn check_response(kind: Kind, body: &[u8], sent: &[u8]) -> Result<(), String> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| format!("answered with something not JSON ({e})"))?;
    let ok = match kind {
        Kind::Hello => serde_json::from_slice::<Value>(sent).is_ok_and(|s| s == answer),
        Kind::Receiver | Kind::Python | Kind::Node => answer["statusCode"] == json!(202),
        Kind::Dispatcher => answer["batchItemFailures"]
            .as_array()
            .is_some_and(Vec::is_empty),
        Kind::Api => {
            answer["statusCode"] == json!(202)
                && answer["body"]
                    .as_str()
                    .and_then(|body| serde_json::from_str::<Value>(body).ok())
                    .is_some_and(|body| body["event_id"].as_str().is_some_and(|id| !id.is_empty()))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected answer {answer}"))
    }
}

/// Memory of a running process, from /proc/PID/status (KiB).
#[derive(Debug, Clone, Copy)]
struct Memory {
    /// `VmHWM`: the peak resident set.
    peak: u64,
    /// `RssAnon` and `RssFile` now: heap and stacks, and the binary's pages in memory.
    anon: u64,
    file: u64,
}

fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        peak: field("VmHWM:")?,
        anon: field("RssAnon:")?,
        file: field("RssFile:")?,
    })
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// Where a figure's runs fall: the median (mean of the middle two for an even count) and the
/// nearest-rank 10th and 90th percentiles.
#[derive(Debug, Clone, Copy, Default)]
struct Spread {
    p10: f64,
    median: f64,
    p90: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return Self::default();
        }
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        let rank = |tenths: usize| (n * tenths).div_ceil(10).max(1);
        Self {
            p10: values[rank(1) - 1],
            median,
            p90: values[rank(9) - 1],
        }
    }
}

fn ratio(value: f64, floor: f64) -> f64 {
    if floor > 0.0 {
        (value / floor * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// The bootstrap zipped alone as `bootstrap`, deflate at zlib's default level: what `sam build`
/// (Python's zipfile) and `cargo lambda build --output-format zip` upload.
fn zipped_size(binary: &Path, zip: &Path) -> Result<u64, String> {
    let script = "import sys, zipfile\n\
                  with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    \
                  z.write(sys.argv[2], 'bootstrap')\n";
    let status = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(zip)
        .arg(binary)
        .status()
        .map_err(|e| format!("python3: {e}"))?;
    if !status.success() {
        return Err(format!("zipping {} failed", binary.display()));
    }
    std::fs::metadata(zip)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", zip.display()))
}

fn report(
    functions: &[Function],
    args: &Args,
    paths: &Paths,
    tls: bool,
    stack: &Stack,
) -> Result<Value, String> {
    let hello = functions
        .iter()
        .find(|f| f.kind == Kind::Hello)
        .ok_or("no hello")?;
    let ms = |f: &Function, field: fn(&Sample) -> Duration| {
        f.samples
            .iter()
            .map(|s| millis(field(s)))
            .collect::<Vec<_>>()
    };
    let peak = |f: &Function| f.samples.iter().map(|s| s.memory.peak).max().unwrap_or(0);
    let hello_median = Spread::of(ms(hello, |s| s.init)).median;
    let hello_init_cpu = Spread::of(ms(hello, |s| s.init_cpu)).median;
    let hello_rss = peak(hello) as f64;
    let zip_dir = paths
        .out
        .parent()
        .unwrap_or(Path::new("."))
        .join("coldstart-zips");
    std::fs::create_dir_all(&zip_dir).map_err(|e| format!("{}: {e}", zip_dir.display()))?;

    let mut figures = Vec::new();
    let mut figure = |name: String, value: f64, unit: &str| {
        figures.push(json!({"name": name, "value": value, "unit": unit}));
    };
    let mut samples = BTreeMap::new();
    for f in functions {
        let label = &f.label;
        let not_hello = f.kind != Kind::Hello;
        // Wall times, with their spread over the runs.
        let timed: [(&str, Measure<Duration>); 3] = [
            ("coldstart", |s| s.init),
            ("first-invoke", |s| s.first_invoke),
            ("warm-invoke", |s| s.warm_invoke),
        ];
        for (what, field) in timed {
            let spread = Spread::of(ms(f, field));
            figure(format!("{what}/{label}/median"), spread.median, "ms");
            figure(format!("{what}/{label}/p10"), spread.p10, "ms");
            figure(format!("{what}/{label}/p90"), spread.p90, "ms");
            if what == "coldstart" && not_hello {
                figure(
                    format!("coldstart/{label}/vs-hello"),
                    ratio(spread.median, hello_median),
                    "x",
                );
            }
        }
        // CPU time rather than wall time: steady on a busy machine, and without the waits on moto.
        let init_cpu = Spread::of(ms(f, |s| s.init_cpu)).median;
        figure(format!("init-cpu/{label}/median"), init_cpu, "ms");
        if not_hello {
            figure(
                format!("init-cpu/{label}/vs-hello"),
                ratio(init_cpu, hello_init_cpu),
                "x",
            );
        }
        let cpu: [(&str, Measure<Duration>); 7] = [
            ("cpu-to-first-response", |s| s.total_cpu),
            ("first-invoke-cpu", |s| s.first_invoke_cpu),
            ("warm-invoke-cpu", |s| s.warm_invoke_cpu),
            ("first-invoke-moto", |s| s.first_invoke_moto),
            ("warm-invoke-moto", |s| s.warm_invoke_moto),
            // The wall time that is the function's own: the invocation less moto's share.
            ("first-invoke-less-moto", |s| {
                s.first_invoke.saturating_sub(s.first_invoke_moto)
            }),
            ("warm-invoke-less-moto", |s| {
                s.warm_invoke.saturating_sub(s.warm_invoke_moto)
            }),
        ];
        for (what, field) in cpu {
            // moto's time is taken at the HTTPS front, which a plain-HTTP run has none of.
            if !tls && what.contains("moto") {
                continue;
            }
            let spread = Spread::of(ms(f, field));
            figure(format!("{what}/{label}/median"), spread.median, "ms");
        }
        let rss = peak(f) as f64;
        let rss_runs: Vec<f64> = f.samples.iter().map(|s| s.memory.peak as f64).collect();
        figure(format!("rss/{label}/peak"), rss, "KiB");
        figure(
            format!("rss/{label}/median"),
            Spread::of(rss_runs).median,
            "KiB",
        );
        if not_hello {
            figure(format!("rss/{label}/vs-hello"), ratio(rss, hello_rss), "x");
        }
        let aws: [(&str, &str, Measure<u64>); 2] = [
            ("aws-calls", "calls", |s| s.aws.requests),
            ("tls-handshakes", "handshakes", |s| s.aws.connections),
        ];
        for (what, unit, field) in aws {
            let runs = f.samples.iter().map(|s| field(s) as f64).collect();
            figure(
                format!("{what}/{label}/median"),
                Spread::of(runs).median,
                unit,
            );
        }
        if let Some(bootstrap) = &f.launch.bootstrap {
            let unzipped = std::fs::metadata(bootstrap)
                .map_err(|e| format!("{}: {e}", bootstrap.display()))?
                .len();
            let zip = zipped_size(bootstrap, &zip_dir.join(format!("{label}.zip")))?;
            figure(format!("artifact/{label}/zip"), zip as f64, "bytes");
            figure(
                format!("artifact/{label}/unzipped"),
                unzipped as f64,
                "bytes",
            );
        }
        samples.insert(
            label.clone(),
            json!({
                "command": std::iter::once(f.launch.program.display().to_string())
                    .chain(f.launch.args.iter().cloned())
                    .collect::<Vec<_>>(),
                "init_ms": ms(f, |s| s.init),
                "first_invoke_ms": ms(f, |s| s.first_invoke),
                "warm_invoke_ms": ms(f, |s| s.warm_invoke),
                "init_cpu_ms": ms(f, |s| s.init_cpu),
                "cpu_to_first_response_ms": ms(f, |s| s.total_cpu),
                "first_invoke_cpu_ms": ms(f, |s| s.first_invoke_cpu),
                "warm_invoke_cpu_ms": ms(f, |s| s.warm_invoke_cpu),
                "first_invoke_moto_ms": ms(f, |s| s.first_invoke_moto),
                "warm_invoke_moto_ms": ms(f, |s| s.warm_invoke_moto),
                "rss_peak_kib": f.samples.iter().map(|s| s.memory.peak).collect::<Vec<_>>(),
                "rss_anon_kib": f.samples.iter().map(|s| s.memory.anon).collect::<Vec<_>>(),
                "rss_file_kib": f.samples.iter().map(|s| s.memory.file).collect::<Vec<_>>(),
                "aws_calls": f.samples.iter().map(|s| s.aws.requests).collect::<Vec<_>>(),
                "tls_handshakes": f.samples.iter().map(|s| s.aws.connections).collect::<Vec<_>>(),
            }),
        );
    }
    // install.sh's record of what it installed, when the baselines ran.
    let baselines = if functions.iter().any(|f| f.launch.bootstrap.is_none()) {
        let path = paths.baselines.join("versions.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        Value::Null
    };
    let memory_mb: BTreeMap<&str, u32> = functions
        .iter()
        .map(|f| (f.kind.name(), f.kind.memory_mb()))
        .collect();
    Ok(json!({
        "figures": figures,
        "context": {
            "tool": "bench/tools/benches/coldstart (make bench, make coldstart)",
            "runs": args.runs,
            "init": "spawn -> the function's first GET /2018-06-01/runtime/invocation/next on a mock Runtime API on 127.0.0.1; median, nearest-rank p10 and p90",
            "first_invoke": "event handed out -> POST .../response; receiver, python, node: signed GitHub push (DynamoDB GetItem + claim PutItem, SQS SendMessage, confirm UpdateItem); dispatcher: one SQS record delivered to a subscriber on 127.0.0.1; api: POST /v1/sources/{id}/events to a publish source with a new Idempotency-Key (DynamoDB GetItem, claim PutItem, SQS SendMessage, confirm UpdateItem)",
            "warm_invoke": "the second event of the same start, of the same kind with new ids, handed out at the function's next GET .../next -> its response; the receivers' source is cached by then (no GetItem)",
            "init_cpu": "CPU time of the function's threads (sum of /proc/PID/task/*/schedstat) at its first next, and at its first response; per invocation, between the event handed out and its response: the work done, whatever else the machine runs",
            "rss": "VmHWM of /proc/PID/status after the warm response; peak = the highest of the runs",
            "moto_time": "per invocation, the time between each request the HTTPS front forwarded to moto and moto's answer, added up (its calls are sequential in every function measured)",
            "aws_calls": "requests the function sent to AWS (moto) during one start, both invocations, and the TLS connections they took, as the HTTPS front counted them; the median of the runs",
            "artifact": "the bootstrap alone, and zipped as bootstrap with deflate (zlib default level, as sam build)",
            "aws": if tls { "moto_server on 127.0.0.1, provisioned from template.yaml, behind one keep-alive HTTPS front on 127.0.0.1 (rustls, TLS 1.3, P-256 certificate from the bench CA; HTTP/1.1 keep-alive; plain HTTP from the front to moto, which closes every connection) that every function calls; CAs: the Rust functions SSL_CERT_FILE = the system CA bundle + the bench CA, Python AWS_CA_BUNDLE = the same bundle, Node.js its built-in roots + NODE_EXTRA_CA_CERTS = the bench CA" } else { "moto_server on 127.0.0.1 over plain HTTP, provisioned from template.yaml" },
            "baselines": baselines,
            "memory_mb": memory_mb,
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "deliveries_received": stack.subscriber.received().len(),
            "samples": samples,
        }
    }))
}

fn print_table(report: &Value) {
    let Some(figures) = report["figures"].as_array() else {
        return;
    };
    for f in figures {
        println!(
            "{:<40} {:>14} {}",
            f["name"].as_str().unwrap_or_default(),
            f["value"],
            f["unit"].as_str().unwrap_or_default()
        );
    }
}
