//! The HTTP API on a loopback server, shaped like the deployed one: `POST /webhooks/{source}` open
//! to anyone, feeding the receiver; `/v1` and everything under it behind API Gateway's `AWS_IAM`
//! check ([`crate::sigv4`]), feeding the management API. Each request becomes the payload format
//! 2.0 event API Gateway would send (raw path and query string, lower-case headers, the body as
//! text or base64) and goes through the deployed function's `handle_event`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use bytes::Bytes;
use hookpost_api::Api;
use hookpost_receiver::{HttpApiEvent, Receiver};
use hookpost_shared::store::{BodyStore, DeliveryIds, EventQueue, SourceStore};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::sigv4::{Received, Verifier};

/// The receiver's route prefix, as in template.yaml.
pub const WEBHOOK_PREFIX: &str = "/webhooks/";
/// The management API's route prefix, as in template.yaml.
pub const API_PREFIX: &str = "/v1";
/// The largest request API Gateway's HTTP APIs accept.
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html>
const MAX_API_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// The `/v1` routes: the management API behind the IAM (SigV4) check.
#[derive(Debug)]
pub struct SignedApi {
    api: Api,
    verifier: Verifier,
}

impl SignedApi {
    /// `api` behind requests signed for the local credentials in `region`.
    pub fn new(api: Api, region: &str) -> Self {
        Self {
            api,
            verifier: Verifier::new(region),
        }
    }
}

/// Serves `receiver` on `listener` until `shutdown` turns true; `/v1` is not served.
pub async fn serve<S, Q, D, B>(
    listener: TcpListener,
    receiver: Arc<Receiver<S, Q, D, B>>,
    shutdown: watch::Receiver<bool>,
) where
    S: SourceStore + 'static,
    Q: EventQueue + 'static,
    D: DeliveryIds + 'static,
    B: BodyStore + 'static,
{
    serve_routes(listener, receiver, None, shutdown).await;
}

/// Serves `receiver` and `api` on `listener`, as one HTTP API, until `shutdown` turns true.
pub async fn serve_with_api<S, Q, D, B>(
    listener: TcpListener,
    receiver: Arc<Receiver<S, Q, D, B>>,
    api: Arc<SignedApi>,
    shutdown: watch::Receiver<bool>,
) where
    S: SourceStore + 'static,
    Q: EventQueue + 'static,
    D: DeliveryIds + 'static,
    B: BodyStore + 'static,
{
    serve_routes(listener, receiver, Some(api), shutdown).await;
}

async fn serve_routes<S, Q, D, B>(
    listener: TcpListener,
    receiver: Arc<Receiver<S, Q, D, B>>,
    api: Option<Arc<SignedApi>>,
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
        let api = api.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let receiver = Arc::clone(&receiver);
                let api = api.clone();
                async move { Ok::<_, Infallible>(route(&receiver, api.as_deref(), request).await) }
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
    api: Option<&SignedApi>,
    request: http::Request<Incoming>,
) -> http::Response<Full<Bytes>>
where
    S: SourceStore,
    Q: EventQueue,
    D: DeliveryIds,
    B: BodyStore,
{
    let path = request.uri().path();
    if path == API_PREFIX || path.starts_with("/v1/") {
        return match api {
            Some(api) => management(api, request).await,
            None => not_found(),
        };
    }
    webhook(receiver, request).await
}

/// `POST /webhooks/{source}`: no authorization, as deployed; the receiver checks the provider's
/// signature itself.
async fn webhook<S, Q, D, B>(
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
    into_http(receiver.handle_event(event).await)
}

/// `/v1/…`: refused as API Gateway refuses a request its IAM check fails, before the function
/// runs; otherwise handed to the management API as the event API Gateway would send.
async fn management(
    api: &SignedApi,
    request: http::Request<Incoming>,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, MAX_API_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return plain(
                http::StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"message":"Request Entity Too Large"}"#,
            );
        }
        Err(e) => {
            warn!(error = %e, "reading the request body failed");
            return plain(http::StatusCode::BAD_REQUEST, "unreadable body");
        }
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let received = Received {
        method: parts.method.as_str(),
        target,
        headers: &parts.headers,
        body: &bytes,
    };
    if let Err(refusal) = api.verifier.verify(&received, SystemTime::now()) {
        info!(method = %parts.method, path = parts.uri.path(), reason = %refusal, "refused: not signed for the local stack");
        return plain(http::StatusCode::FORBIDDEN, r#"{"message":"Forbidden"}"#);
    }
    let event = api_event(&parts, bytes.to_vec());
    into_http(api.api.handle_event(event).await)
}

/// The payload format 2.0 event API Gateway sends the API's function on the `$default` stage:
/// headers lower-cased, a repeated one once with its values joined by commas, cookies apart (the
/// API reads none), and the `Host` as the request context's domain name.
fn api_event(parts: &http::request::Parts, body: Vec<u8>) -> hookpost_api::HttpApiEvent {
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        if name == http::header::COOKIE {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let domain = headers.get("host").cloned();
    let mut event = hookpost_api::HttpApiEvent::new(parts.method.as_str(), target).with_body(body);
    event.headers = Some(headers);
    if let Some(context) = event.request_context.as_mut() {
        context.domain_name = domain;
    }
    event
}

/// A function's answer as the HTTP response API Gateway makes of it.
fn into_http(answer: ApiGatewayV2httpResponse) -> http::Response<Full<Bytes>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(target: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut request = http::Request::builder().method("PATCH").uri(target);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).expect("a valid request").into_parts().0
    }

    #[test]
    fn a_v1_request_becomes_the_event_api_gateway_sends_on_the_default_stage() {
        let parts = parts(
            "/v1/subscriptions/s1?limit=2&source=gh",
            &[
                ("Host", "127.0.0.1:3000"),
                ("X-Custom", "a"),
                ("x-custom", "b"),
                ("Cookie", "session=1"),
            ],
        );
        let event = api_event(&parts, br#"{"events":["push"]}"#.to_vec());
        assert_eq!(event.method(), "PATCH");
        assert_eq!(event.path(), "/v1/subscriptions/s1");
        assert_eq!(event.query(), "limit=2&source=gh");
        assert_eq!(event.header("x-custom"), Some("a,b"));
        assert_eq!(event.header("host"), Some("127.0.0.1:3000"));
        assert_eq!(event.header("cookie"), None);
        let context = event.request_context.as_ref().expect("a request context");
        assert_eq!(context.stage.as_deref(), Some("$default"));
        assert_eq!(context.domain_name.as_deref(), Some("127.0.0.1:3000"));
        assert_eq!(event.body.as_deref(), Some(r#"{"events":["push"]}"#));
        assert_eq!(event.is_base64_encoded, Some(false));
    }

    #[test]
    fn a_body_that_is_not_utf8_reaches_the_api_base64_encoded_and_intact() {
        let mut event = api_event(&parts("/v1/sources", &[]), vec![0xff, 0xfe, 0]);
        assert_eq!(event.is_base64_encoded, Some(true));
        assert_eq!(event.query(), "");
        assert_eq!(event.take_body(), Ok(vec![0xff, 0xfe, 0]));
    }
}
