//! The AWS-protocol emulator the local stack talks to: the one at `AWS_ENDPOINT_URL` (LocalStack, or
//! a moto server someone else started), or moto's server started here from the project's venv.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
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

/// A running emulator. A server started here stops when this is dropped.
#[derive(Debug)]
pub struct Emulator {
    endpoint_url: String,
    region: String,
    child: Option<Child>,
}

impl Emulator {
    /// Uses `AWS_ENDPOINT_URL` when it is set, otherwise starts moto's server on a free loopback port.
    pub async fn from_env_or_spawn() -> Result<Self, LocalError> {
        match std::env::var("AWS_ENDPOINT_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(Self::at(url.trim())),
            _ => Self::spawn_moto().await,
        }
    }

    /// An emulator someone else runs at `endpoint_url`.
    pub fn at(endpoint_url: &str) -> Self {
        Self {
            endpoint_url: endpoint_url.trim_end_matches('/').to_owned(),
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
            endpoint_url: format!("http://127.0.0.1:{port}"),
            region: region_from_env(),
            child: Some(child),
        })
    }

    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
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
        sdk_config_for(&self.endpoint_url, &self.region).await
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
/// ones (and never asks an instance metadata endpoint).
pub async fn sdk_config_for(endpoint_url: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "hookpost-local",
        ))
        .load()
        .await
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
