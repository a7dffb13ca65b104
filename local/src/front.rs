//! The receiver handler on a loopback HTTP server, shaped like the API Gateway HTTP API route
//! `POST /webhooks/{source}`: each request becomes the payload format 2.0 event API Gateway would
//! send (path parameter, raw query string, headers, the body as text or base64) and goes through
//! `Receiver::handle_event`, the deployed function's path.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use hookpost_receiver::{HttpApiEvent, Receiver};
use hookpost_shared::store::{BodyStore, DeliveryIds, EventQueue, SourceStore};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::warn;

/// The route prefix, as in template.yaml.
pub const WEBHOOK_PREFIX: &str = "/webhooks/";

/// Serves `receiver` on `listener` until `shutdown` turns true.
pub async fn serve<S, Q, D, B>(
    listener: TcpListener,
    receiver: Arc<Receiver<S, Q, D, B>>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: SourceStore + 'static,
    Q: EventQueue + 'static,
    D: DeliveryIds + 'static,
    B: BodyStore + 'static,
{
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let receiver = Arc::clone(&receiver);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let receiver = Arc::clone(&receiver);
                async move { Ok::<_, Infallible>(route(&receiver, request).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                warn!(error = %e, "connection failed");
            }
        });
    }
}

async fn route<S, Q, D, B>(
    receiver: &Receiver<S, Q, D, B>,
    request: http::Request<Incoming>,
) -> http::Response<Full<Bytes>>
where
    S: SourceStore,
    Q: EventQueue,
    D: DeliveryIds,
    B: BodyStore,
{
    let (parts, body) = request.into_parts();
    let source = parts
        .uri
        .path()
        .strip_prefix(WEBHOOK_PREFIX)
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        .map(str::to_owned);
    let Some(source) = source else {
        return not_found();
    };
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            warn!(error = %e, "reading the request body failed");
            return plain(http::StatusCode::BAD_REQUEST, "unreadable body");
        }
    };
    let event = HttpApiEvent::new(
        parts.method.as_str(),
        &source,
        parts.uri.query(),
        parts.headers,
    )
    .with_body(bytes.to_vec());
    let answer = receiver.handle_event(event).await;
    let mut response = http::Response::new(Full::new(match answer.body {
        Some(body) => Bytes::copy_from_slice(body.as_ref()),
        None => Bytes::new(),
    }));
    *response.status_mut() = u16::try_from(answer.status_code)
        .ok()
        .and_then(|code| http::StatusCode::from_u16(code).ok())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = answer.headers;
    response
}

/// What API Gateway answers for a path no route matches.
fn not_found() -> http::Response<Full<Bytes>> {
    plain(http::StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#)
}

fn plain(status: http::StatusCode, body: &'static str) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
