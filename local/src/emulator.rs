//! The AWS-protocol emulator the local stack talks to: the one at `AWS_ENDPOINT_URL` (LocalStack, or
//! a moto server someone else started), or moto's server started here from the project's venv.
//!
//! One emulator need not serve every service: LocalStack without Docker has no DynamoDB, so
//! `scripts/with-localstack.sh` runs it beside moto and names moto for DynamoDB alone with
//! `AWS_ENDPOINT_URL_DYNAMODB`, the SDK's own per-service variable. [`Endpoints`] carries that
//! split wherever the local stack goes (its SDK clients, its state file, the fault proxy).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_types::origin::Origin;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::error::LocalError;

/// The region the local stack uses when the environment names none.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The local stack's credentials: what the SDK clients sign the emulator's calls with, and what a
/// request to the local `/v1` must be signed with.
pub const ACCESS_KEY_ID: &str = "test";
/// The secret half of the local credentials (a well-known placeholder, not a secret).
pub const SECRET_ACCESS_KEY: &str = "test";
/// How long moto's server may take to answer after it is started.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The variable naming the endpoint of every service; `AWS_ENDPOINT_URL_<SERVICE>` names one.
const ENDPOINT_VARIABLE: &str = "AWS_ENDPOINT_URL";

/// Where each AWS service is: one endpoint for all of them, except the services named apart
/// (keyed as the SDK's per-service variables are, `AWS_ENDPOINT_URL_<KEY>`: `DYNAMODB`, `SQS`,
/// `S3`, `SNS`, `EVENTBRIDGE`, `CLOUDFORMATION`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Every service not named in [`Self::services`].
    pub default: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, String>,
}

impl Endpoints {
    /// One endpoint for every service.
    pub fn single(url: &str) -> Self {
        Self {
            default: trim_url(url),
            services: BTreeMap::new(),
        }
    }

    /// `AWS_ENDPOINT_URL` and every `AWS_ENDPOINT_URL_<SERVICE>` beside it; `None` without the
    /// first (a per-service variable alone would leave the other services on AWS).
    pub fn from_env() -> Option<Self> {
        Self::from_vars(std::env::vars())
    }

    fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Option<Self> {
        let mut default = None;
        let mut services = BTreeMap::new();
        for (name, value) in vars {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if name == ENDPOINT_VARIABLE {
                default = Some(trim_url(value));
            } else if let Some(key) = name.strip_prefix("AWS_ENDPOINT_URL_") {
                services.insert(key.to_owned(), trim_url(value));
            }
        }
        default.map(|default| Self { default, services })
    }

    /// The endpoint of the service the SDK calls `service_id` (`DynamoDB`, `SQS`, `EventBridge`).
    pub fn for_service(&self, service_id: &str) -> &str {
        self.services
            .get(&service_key(service_id))
            .unwrap_or(&self.default)
    }

    /// Whether any service is served apart from [`Self::default`].
    pub fn is_split(&self) -> bool {
        self.services.values().any(|url| *url != self.default)
    }

    /// The variables that send another process's SDK clients where these go.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        std::iter::once((ENDPOINT_VARIABLE.to_owned(), self.default.clone()))
            .chain(
                self.services
                    .iter()
                    .map(|(key, url)| (format!("{ENDPOINT_VARIABLE}_{key}"), url.clone())),
            )
            .collect()
    }
}

impl std::fmt::Display for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.default)?;
        for (key, url) in self
            .services
            .iter()
            .filter(|(_, url)| **url != self.default)
        {
            write!(f, " ({key} at {url})")?;
        }
        Ok(())
    }
}

/// The SDK's per-service key: the service id upper-cased, spaces and dashes as underscores
/// (`"DynamoDB"` → `DYNAMODB`), as in `AWS_ENDPOINT_URL_DYNAMODB`.
fn service_key(service_id: &str) -> String {
    service_id
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

fn trim_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// Hands each generated client its service's endpoint from [`Endpoints::services`], the way the
/// SDK's own loader hands it `AWS_ENDPOINT_URL_<SERVICE>` from the environment.
#[derive(Debug)]
struct ServiceEndpoints(BTreeMap<String, String>);

impl LoadServiceConfig for ServiceEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        (key.env() == ENDPOINT_VARIABLE)
            .then(|| self.0.get(&service_key(key.service_id())).cloned())
            .flatten()
    }
}

/// A running emulator. A server started here stops when this is dropped.
#[derive(Debug)]
pub struct Emulator {
    endpoints: Endpoints,
    region: String,
    child: Option<Child>,
}

impl Emulator {
    /// Uses `AWS_ENDPOINT_URL` (and any `AWS_ENDPOINT_URL_<SERVICE>`) when it is set, otherwise
    /// starts moto's server on a free loopback port.
    pub async fn from_env_or_spawn() -> Result<Self, LocalError> {
        match Endpoints::from_env() {
            Some(endpoints) => Ok(Self::with_endpoints(endpoints)),
            None => Self::spawn_moto().await,
        }
    }

    /// An emulator someone else runs at `endpoint_url`, for every service.
    pub fn at(endpoint_url: &str) -> Self {
        Self::with_endpoints(Endpoints::single(endpoint_url))
    }

    /// Emulators someone else runs, per service.
    pub fn with_endpoints(endpoints: Endpoints) -> Self {
        Self {
            endpoints,
            region: region_from_env(),
            child: None,
        }
    }

    /// Starts `moto_server` on 127.0.0.1 and waits until it accepts connections.
    pub async fn spawn_moto() -> Result<Self, LocalError> {
        let program = find_moto_server().ok_or(LocalError::MotoNotFound)?;
        let port = free_port()?;
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| LocalError::Io(format!("starting {}: {e}", program.display())))?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(LocalError::Io(format!(
                    "moto's server did not answer on port {port} within {}s",
                    STARTUP_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            endpoints: Endpoints::single(&format!("http://127.0.0.1:{port}")),
            region: region_from_env(),
            child: Some(child),
        })
    }

    /// Where every service not named apart in [`Self::endpoints`] is.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoints.default
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether this process started the emulator (and so stops it).
    pub fn is_owned(&self) -> bool {
        self.child.is_some()
    }

    /// SDK configuration for this emulator.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoints, &self.region).await
    }

    /// Stops a server started here.
    pub async fn stop(mut self) {
        if let Some(child) = self.child.as_mut() {
            // Already exited is fine.
            let _ = child.kill().await;
        }
    }
}

/// SDK configuration for an emulator: fixed test credentials, so the SDK never looks for real
/// ones (and never asks an instance metadata endpoint), and each service's endpoint.
///
/// An endpoint set in code would win over every per-service one, so the shared endpoint is
/// recorded as coming from the environment (where it came from, or stands in for), and the
/// per-service ones are handed to each client as the SDK hands it `AWS_ENDPOINT_URL_<SERVICE>`.
pub async fn sdk_config_for(endpoints: &Endpoints, region: &str) -> SdkConfig {
    let loaded = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&endpoints.default)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "hookpost-local",
        ))
        .load()
        .await;
    if endpoints.services.is_empty() {
        return loaded;
    }
    let mut builder = loaded.into_builder();
    builder.insert_origin("endpoint_url", Origin::shared_environment_variable());
    builder
        .service_config(ServiceEndpoints(endpoints.services.clone()))
        .build()
}

fn region_from_env() -> String {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_REGION.to_owned())
}

/// `HOOKPOST_MOTO_SERVER`, else `.venv/bin/moto_server` in this folder or a parent, else `PATH`.
fn find_moto_server() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("HOOKPOST_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let cwd = std::env::current_dir().ok()?;
    let in_venv = cwd
        .ancestors()
        .map(|dir| dir.join(".venv/bin/moto_server"))
        .find(|p| p.is_file());
    in_venv.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("moto_server"))
                .find(|p| Path::is_file(p))
        })
    })
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> Result<u16, LocalError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| LocalError::Io(format!("finding a free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| LocalError::Io(format!("finding a free port: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_environment_names_one_endpoint_and_any_per_service_ones() {
        let endpoints = Endpoints::from_vars(vars(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/"),
            ("AWS_ENDPOINT_URL_DYNAMODB", " http://127.0.0.1:5000 "),
            ("AWS_ENDPOINT_URL_S3", ""),
            ("AWS_REGION", "eu-west-1"),
        ]))
        .expect("AWS_ENDPOINT_URL is set");
        assert_eq!(endpoints.default, "http://127.0.0.1:4566");
        assert_eq!(endpoints.for_service("DynamoDB"), "http://127.0.0.1:5000");
        assert_eq!(endpoints.for_service("SQS"), "http://127.0.0.1:4566");
        assert_eq!(endpoints.for_service("S3"), "http://127.0.0.1:4566");
        assert!(endpoints.is_split());
        assert_eq!(
            endpoints.to_string(),
            "http://127.0.0.1:4566 (DYNAMODB at http://127.0.0.1:5000)"
        );
        assert_eq!(
            endpoints.env_vars(),
            vars(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5000"),
            ])
        );
    }

    #[test]
    fn a_per_service_endpoint_alone_is_no_emulator() {
        assert_eq!(
            Endpoints::from_vars(vars(&[("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")])),
            None
        );
        assert_eq!(
            Endpoints::from_vars(vars(&[("AWS_ENDPOINT_URL", "  ")])),
            None
        );
    }

    #[test]
    fn service_ids_are_keyed_as_the_sdk_keys_its_variables() {
        assert_eq!(service_key("DynamoDB"), "DYNAMODB");
        assert_eq!(service_key("EventBridge"), "EVENTBRIDGE");
        assert_eq!(service_key("Secrets Manager"), "SECRETS_MANAGER");
        let loader =
            ServiceEndpoints([("DYNAMODB".to_owned(), "http://127.0.0.1:5000".to_owned())].into());
        let key = |service, env, profile| {
            ServiceConfigKey::builder()
                .service_id(service)
                .env(env)
                .profile(profile)
                .build()
                .expect("a complete key")
        };
        assert_eq!(
            loader
                .load_config(key("DynamoDB", "AWS_ENDPOINT_URL", "endpoint_url"))
                .as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            loader.load_config(key("SQS", "AWS_ENDPOINT_URL", "endpoint_url")),
            None
        );
        assert_eq!(
            loader.load_config(key("DynamoDB", "AWS_MAX_ATTEMPTS", "max_attempts")),
            None
        );
    }

    #[test]
    fn a_single_endpoint_is_not_split_and_keeps_its_one_variable() {
        let endpoints = Endpoints::single("http://127.0.0.1:5000/");
        assert!(!endpoints.is_split());
        assert_eq!(endpoints.to_string(), "http://127.0.0.1:5000");
        assert_eq!(
            endpoints.env_vars(),
            vars(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")])
        );
    }
}
