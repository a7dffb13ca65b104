//! A keep-alive HTTPS front for moto on 127.0.0.1. moto's server (werkzeug's) answers every
//! request with `Connection: close`, so a client talking to it directly pays a new TCP connection
//! and TLS handshake on every call, which AWS's endpoints do not make it do. The front terminates
//! TLS with the bench's certificate (rustls, TLS 1.3), keeps each client connection open across
//! requests (HTTP/1.1), and forwards every request to moto over plain HTTP on loopback. So every
//! function pays one handshake per connection its SDK opens, on its first call, and none after, as
//! against AWS. It counts the TLS connections it accepted and notes when each forwarded request
//! went to moto and when moto's answer was in, so each start's handshakes and calls, and the time
//! its invocations spent waiting on moto, are known.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::stack::Tls;

/// What the front has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// TLS connections accepted (one handshake each).
    pub connections: u64,
    /// Requests forwarded to moto.
    pub requests: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    /// Each forwarded request: sent to moto, answer read.
    calls: Mutex<Vec<(Instant, Instant)>>,
}

/// The running front; it stops with the tool.
#[derive(Debug)]
pub struct Front {
    pub port: u16,
    counters: Arc<Counters>,
}

impl Front {
    /// Listens on 127.0.0.1 with `tls`'s certificate and forwards to `upstream`
    /// (`http://127.0.0.1:PORT`, moto).
    pub async fn start(tls: &Tls, upstream: String) -> Result<Self, String> {
        let certs = CertificateDer::pem_file_iter(&tls.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", tls.cert.display()))?;
        let key = PrivateKeyDer::from_pem_file(&tls.key)
            .map_err(|e| format!("{}: {e}", tls.key.display()))?;
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("the front's certificate: {e}"))?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("binding the front: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let counters = Arc::new(Counters::default());
        let state = Arc::new((client, upstream, Arc::clone(&counters)));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    state.2.connections.fetch_add(1, Ordering::SeqCst);
                    let service = service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move {
                            let (client, upstream, counters) = &*state;
                            counters.requests.fetch_add(1, Ordering::SeqCst);
                            let (response, call) = forward(client, upstream, request).await;
                            counters
                                .calls
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(call);
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { port, counters })
    }

    pub fn counts(&self) -> Counts {
        Counts {
            connections: self.counters.connections.load(Ordering::SeqCst),
            requests: self.counters.requests.load(Ordering::SeqCst),
        }
    }

    /// The time moto took over the requests forwarded between `from` and `to` (sent after
    /// `from`, answered before `to`), added up.
    pub fn moto_time(&self, from: Instant, to: Instant) -> std::time::Duration {
        self.counters
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(sent, answered)| *sent >= from && *answered <= to)
            .map(|(sent, answered)| answered.duration_since(*sent))
            .sum()
    }
}

/// The request to moto as it came (its `Host` too, so the URLs moto writes name the front), the
/// answer back without moto's `Connection: close`; and when it was sent and answered.
async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    request: http::Request<Incoming>,
) -> (http::Response<Full<Bytes>>, (Instant, Instant)) {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream_request = client
        .request(parts.method.clone(), format!("{upstream}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !is_hop_header(name) {
            upstream_request = upstream_request.header(name, value);
        }
    }
    let mut response = http::Response::new(Full::new(Bytes::new()));
    let sent = Instant::now();
    match upstream_request.send().await {
        Ok(answer) => {
            *response.status_mut() = answer.status();
            let headers = answer.headers().clone();
            for (name, value) in &headers {
                if !is_hop_header(name) {
                    response.headers_mut().append(name, value.clone());
                }
            }
            *response.body_mut() = Full::new(answer.bytes().await.unwrap_or_default());
        }
        Err(_) => *response.status_mut() = http::StatusCode::BAD_GATEWAY,
    }
    (response, (sent, Instant::now()))
}

/// Headers about one hop's connection or framing, set anew on each side.
fn is_hop_header(name: &http::HeaderName) -> bool {
    [
        http::header::CONTENT_LENGTH,
        http::header::TRANSFER_ENCODING,
        http::header::CONNECTION,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}
