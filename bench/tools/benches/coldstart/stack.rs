//! The emulated AWS the functions start against: moto's server on 127.0.0.1 behind a keep-alive
//! HTTPS front (as DynamoDB and SQS speak HTTPS, so the first invocation pays for its TLS handshake
//! and the first randomness as it would in Lambda, and later calls reuse the connection; see
//! front.rs), with the template's tables, queues and bucket, the sample source `github-example`
//! and a subscriber on loopback, and the `publish` source the API's sample event publishes to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use hookpost_cli::demo::{SAMPLE_GITHUB_SECRET, SAMPLE_GITHUB_SOURCE};
use hookpost_local::Emulator;
use hookpost_local::provision::provision;
use hookpost_local::subscriber::{Subscriber, start_subscribed};
use hookpost_local::template::{self, BUNDLED};
use hookpost_shared::aws::{DynamoClient, DynamoSources};
use hookpost_shared::clock::rfc3339;
use hookpost_shared::deployment::StackNames;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_shared::source::{Source, SourceId};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::front::Front;

/// Set on the re-executed tool: `SSL_CERT_FILE` then names the bundle with the bench's CA.
pub const TLS_READY: &str = "HOOKPOST_BENCH_TLS_READY";
const MOTO_STARTUP: Duration = Duration::from_secs(60);
/// Where the system's CA bundle usually is (Debian/Ubuntu, Amazon Linux/Fedora, Alpine).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// A CA and a certificate for 127.0.0.1 made with `openssl`, and a bundle of the system's CAs
/// plus ours for `SSL_CERT_FILE` (the SDK's rustls client reads it through rustls-native-certs,
/// so the functions parse a full bundle, as they would in Lambda) and botocore's
/// `AWS_CA_BUNDLE` (in place of certifi's bundle, which it would read otherwise). Node.js trusts
/// its compiled-in roots plus `NODE_EXTRA_CA_CERTS`, which gets our CA alone.
#[derive(Debug, Clone)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub bundle: PathBuf,
}

impl Tls {
    /// The files in `dir`, made anew.
    pub fn make(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = |name: &str| dir.join(name);
        std::fs::write(
            path("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(
            dir,
            &format!(
                "req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=hookpost-bench-ca"
            ),
        )?;
        openssl(
            dir,
            &format!("req {ec} -keyout key.pem -out leaf.csr -subj /CN=127.0.0.1"),
        )?;
        openssl(
            dir,
            "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
             -extfile leaf.ext -out cert.pem",
        )?;
        let mut bundle = SYSTEM_BUNDLES
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        bundle.push('\n');
        bundle.push_str(&std::fs::read_to_string(path("ca.pem")).map_err(|e| e.to_string())?);
        std::fs::write(path("bundle.pem"), bundle).map_err(|e| e.to_string())?;
        Ok(Self {
            ca: path("ca.pem"),
            cert: path("cert.pem"),
            key: path("key.pem"),
            bundle: path("bundle.pem"),
        })
    }

    /// The files a parent tool made in `dir`.
    pub fn existing(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            bundle: dir.join("bundle.pem"),
        }
    }
}

/// Runs `openssl` in `dir` with `args` (split on whitespace).
fn openssl(dir: &Path, args: &str) -> Result<(), String> {
    let out = std::process::Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {}: {}",
            args.split_whitespace().collect::<Vec<_>>().join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// moto's server, provisioned; killed when dropped.
#[derive(Debug)]
pub struct Stack {
    /// The front's `https://` URL, or moto's `http://` one without TLS.
    pub endpoint_url: String,
    /// The HTTPS front the functions reach moto through (none without TLS).
    pub front: Option<Front>,
    pub region: String,
    pub names: StackNames,
    /// template.yaml's parameters at their defaults.
    pub parameters: BTreeMap<String, String>,
    pub subscriber: Subscriber,
    _moto: Child,
}

impl Stack {
    /// Starts moto (behind the HTTPS front with `tls`), creates the template's resources, the
    /// sample GitHub source and a subscriber for it, and the `publish` source `publish_source`.
    pub async fn start(tls: Option<&Tls>, publish_source: &SourceId) -> Result<Self, String> {
        let program = moto_server().ok_or(
            "moto_server was not found: run `make venv` (or set HOOKPOST_MOTO_SERVER)".to_owned(),
        )?;
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let moto = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", program.display()))?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if started.elapsed() > MOTO_STARTUP {
                return Err(format!("moto did not answer on port {port}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let moto_url = format!("http://127.0.0.1:{port}");
        let front = match tls {
            Some(tls) => Some(Front::start(tls, moto_url.clone()).await?),
            None => None,
        };
        let emulator = Emulator::at(&match &front {
            Some(front) => format!("https://127.0.0.1:{}", front.port),
            None => moto_url,
        });
        let sdk = emulator.sdk_config().await;
        let spec = template::stack_spec(BUNDLED, &Default::default()).map_err(|e| e.to_string())?;
        let mut names = provision(&sdk, &spec, "hookpost-coldstart")
            .await
            .map_err(|e| e.to_string())?;
        if front.is_some() {
            // moto writes queue URLs with the scheme it was spoken to in, plain HTTP from the
            // front; the AWS SDK for JavaScript sends to a queue URL's own host (its
            // `useQueueUrlAsEndpoint`), so the functions get them as SQS gives them: https.
            for url in [
                &mut names.ingest_queue_url,
                &mut names.dead_letter_queue_url,
            ] {
                if let Some(rest) = url.strip_prefix("http://") {
                    *url = format!("https://{rest}");
                }
            }
        }
        let source_id = SourceId::parse(SAMPLE_GITHUB_SOURCE).map_err(|e| e.to_string())?;
        let sources = DynamoSources::new(DynamoClient::new(&sdk), &names.sources_table);
        let source = |source_id: SourceId, provider, secrets| Source {
            source_id,
            provider,
            secrets,
            tolerance_seconds: None,
            options: Default::default(),
            created_at: rfc3339(SystemTime::now()),
        };
        let github = vec![Secret::new(SAMPLE_GITHUB_SECRET)];
        // A publish source has no secret: its callers are authenticated by IAM.
        for new in [
            source(source_id.clone(), Provider::Github, github),
            source(publish_source.clone(), Provider::Publish, Vec::new()),
        ] {
            sources.create(&new).await.map_err(|e| e.to_string())?;
        }
        let (subscriber, _) = start_subscribed(&sdk, &names, &source_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            endpoint_url: emulator.endpoint_url().to_owned(),
            front,
            region: emulator.region().to_owned(),
            names,
            parameters: spec.parameters,
            subscriber,
            _moto: moto,
        })
    }
}

/// `HOOKPOST_MOTO_SERVER`, else `.venv/bin/moto_server` here or in a parent folder.
fn moto_server() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("HOOKPOST_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    std::env::current_dir().ok()?.ancestors().find_map(|dir| {
        let path = dir.join(".venv/bin/moto_server");
        path.is_file().then_some(path)
    })
}
