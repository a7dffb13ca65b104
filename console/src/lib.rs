//! `hookpost console`: a web app on 127.0.0.1 for the operator — the overview, the dead-letter
//! queue, the event archive and the subscriptions — drawn from the same operations core
//! (`hookpost-operations`) the CLI and the API use. [`serve`] starts it and returns a
//! [`Console`] with the URL to open (it carries this launch's token) and a way to stop it.
//!
//! - [`guard`]: the security model (Host, token → cookie, CSRF, Origin, headers), every request.
//! - [`launch`]: the per-launch secrets. [`form`]: query and form values, checked by field.
//! - [`pages`]: one module per page, and the layout and assets they share.
//! - [`activity`]: the last 24 hours or 7 days as counts, rates and latencies; [`chart`]: the
//!   SVG charts (deliveries per hour, latency per subscription, dead-letter depth).
//! - [`failure`]: an operation's error as an escaped page with the field named.
//!
//! Crates, and why: `axum` (routing, extractors, middleware; maintained by the tokio team, and
//! on the hyper 1 server the workspace already builds) and `maud` (HTML written in Rust and
//! checked at compile time, escaping every interpolated value unless a call says
//! `PreEscaped`, which this crate never does with data). The CSS and the small script are
//! embedded with `include_str!` and served from the binary: no CDN, no other origin.

pub mod activity;
pub mod chart;
pub mod failure;
pub mod form;
pub mod guard;
pub mod launch;
pub mod pages;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hookpost_operations::Operations;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::guard::{GuardConfig, TOKEN_PARAM};
use crate::launch::LaunchSecrets;

/// How to start the console.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// Where to listen; only `127.0.0.1` is accepted. Port 0 picks a free one.
    pub address: SocketAddr,
}

impl ConsoleOptions {
    /// `127.0.0.1:port` (0: any free port).
    pub fn on_port(port: u16) -> Self {
        Self {
            address: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        }
    }
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        Self::on_port(0)
    }
}

/// Why the console did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The console serves loopback only: anything else would expose the deployment's controls.
    #[error("the console listens on 127.0.0.1 only, not on {0}")]
    NotLoopback(IpAddr),
    #[error("cannot listen on {address}: {reason}")]
    Bind { address: SocketAddr, reason: String },
    #[error("no randomness for the launch token: {0}")]
    Randomness(String),
}

/// What every page handler reads: the operations, this launch's CSRF token, and the
/// dead-letter depth read while the console has been open.
#[derive(Debug)]
pub struct App {
    pub ops: Operations,
    pub csrf: launch::Token,
    pub depth: std::sync::Mutex<chart::depth::DepthSeries>,
}

/// A running console.
#[derive(Debug)]
pub struct Console {
    address: SocketAddr,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Console {
    /// The URL to open, with this launch's token; it is the one credential, so it is printed to
    /// the operator and never logged.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting requests and waits for those in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server ends by itself (an I/O failure); it is not stopped by this
    /// call being dropped, and [`Console::shutdown`] still works after it is.
    pub async fn stopped(&mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Starts the console over `ops` on `options.address` (127.0.0.1 only).
pub async fn serve(ops: Operations, options: ConsoleOptions) -> Result<Console, ServeError> {
    let ip = options.address.ip();
    if ip != IpAddr::V4(Ipv4Addr::LOCALHOST) {
        return Err(ServeError::NotLoopback(ip));
    }
    let secrets = LaunchSecrets::generate().map_err(|e| ServeError::Randomness(e.to_string()))?;
    let listener = TcpListener::bind(options.address)
        .await
        .map_err(|e| ServeError::Bind {
            address: options.address,
            reason: e.to_string(),
        })?;
    let address = listener.local_addr().map_err(|e| ServeError::Bind {
        address: options.address,
        reason: e.to_string(),
    })?;
    let url = format!(
        "http://127.0.0.1:{}/?{TOKEN_PARAM}={}",
        address.port(),
        secrets.url_token.expose()
    );
    let app = Arc::new(App {
        ops,
        csrf: secrets.csrf.clone(),
        depth: Default::default(),
    });
    let guard = Arc::new(GuardConfig {
        port: address.port(),
        secrets,
    });
    let router = pages::router(app, guard);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the console stopped");
        }
    });
    Ok(Console {
        address,
        url,
        shutdown: Some(stop),
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_address_is_loopback_on_any_free_port() {
        let options = ConsoleOptions::default();
        assert_eq!(options.address.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(options.address.port(), 0);
    }
}
