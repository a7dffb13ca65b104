//! The management API: `/v1` over the operations core, behind the HTTP API with IAM (SigV4)
//! authorization on every route, so no secret or user store of its own exists. One module per
//! resource; routing in [`router`]; every refusal mapped to HTTP in [`error`].

pub mod dead_letters;
pub mod error;
pub mod event;
pub mod events;
mod filters;
pub mod openapi;
pub mod publish;
pub mod request;
pub mod router;
pub mod sources;
pub mod subscriptions;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use hookpost_operations::Operations;
use http::StatusCode;
use serde::Serialize;

pub use error::ApiError;
pub use event::HttpApiEvent;
pub use openapi::openapi;
use request::Request;
use router::{NoRoute, Route};

/// The largest request body accepted: every body the API takes is a small JSON document.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A handler's answer: a status and a JSON body.
pub type Answer = (StatusCode, serde_json::Value);

pub(crate) fn answer(status: StatusCode, value: &impl Serialize) -> Result<Answer, ApiError> {
    // The core's answers are plain structs and maps: they always serialize.
    let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    Ok((status, value))
}

/// The API over one deployment.
#[derive(Debug, Clone)]
pub struct Api {
    ops: Operations,
    max_body_bytes: usize,
}

impl Api {
    pub fn new(ops: Operations) -> Self {
        Self {
            ops,
            max_body_bytes: MAX_BODY_BYTES,
        }
    }

    /// Handles one API Gateway HTTP API invocation: what the deployed function runs.
    pub async fn handle_event(&self, mut event: HttpApiEvent) -> ApiGatewayV2httpResponse {
        let method = event.method().to_owned();
        let path = event.path().to_owned();
        // Boxed: the operations' futures nest deep enough to overflow the compiler's layout
        // query depth in the runtime's service future.
        let result = match Box::pin(self.serve(&method, &path, &mut event)).await {
            Ok((status, value)) => {
                tracing::info!(method = %method, path = %path, status = status.as_u16(), "served");
                return error::json_response(status, &value);
            }
            Err(e) => e,
        };
        tracing::info!(method = %method, path = %path, status = result.status().as_u16(), code = result.code(), "refused");
        result.into_response()
    }

    async fn serve(
        &self,
        method: &str,
        path: &str,
        event: &mut HttpApiEvent,
    ) -> Result<Answer, ApiError> {
        let route = router::route(method, path).map_err(|no| match no {
            NoRoute::NotFound => ApiError::NoRoute {
                method: method.to_owned(),
                path: path.to_owned(),
            },
            NoRoute::MethodNotAllowed { allow } => ApiError::MethodNotAllowed {
                path: path.to_owned(),
                allow,
            },
        })?;
        let body = event
            .take_body()
            .map_err(|e| ApiError::Malformed(e.to_string()))?;
        // A published payload is held to the receiver's limit; every other body is a small
        // JSON document.
        let limit = match route {
            Route::Publish(_) => self.ops.limits().max_body_bytes,
            _ => self.max_body_bytes,
        };
        if body.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let mut request = Request::new(event.query(), event.header("content-type"), body)
            .with_headers(event.headers.take().unwrap_or_default());
        request.webhook_base = event.webhook_base();
        self.dispatch(route, &request).await
    }

    async fn dispatch(&self, route: Route, req: &Request) -> Result<Answer, ApiError> {
        let ops = &self.ops;
        match route {
            Route::ListSources => sources::list(ops, req).await,
            Route::CreateSource => sources::create(ops, req).await,
            Route::GetSource(id) => sources::get(ops, &id, req).await,
            Route::UpdateSource(id) => sources::update(ops, &id, req).await,
            Route::Publish(id) => publish::publish(ops, &id, req).await,
            Route::DeleteSource(id) => sources::delete(ops, &id).await,
            Route::RotateSourceSecret(id) => sources::rotate(ops, &id, req).await,
            Route::ListSubscriptions => subscriptions::list(ops, req).await,
            Route::CreateSubscription => subscriptions::create(ops, req).await,
            Route::GetSubscription(id) => subscriptions::get(ops, &id).await,
            Route::UpdateSubscription(id) => subscriptions::update(ops, &id, req).await,
            Route::DeleteSubscription(id) => subscriptions::delete(ops, &id).await,
            Route::EnableSubscription(id) => subscriptions::enable(ops, &id, req).await,
            Route::DisableSubscription(id) => subscriptions::disable(ops, &id, req).await,
            Route::RotateSubscriptionSecret(id) => subscriptions::rotate(ops, &id, req).await,
            Route::ListEvents => events::list(ops, req).await,
            Route::GetEvent(id) => events::get(ops, &id).await,
            Route::EventDeliveries(id) => events::deliveries(ops, &id).await,
            Route::ReplayEvent(id) => events::replay(ops, &id, req).await,
            Route::Recover => events::recover(ops, req).await,
            Route::ListDeadLetters => dead_letters::list(ops, req).await,
            Route::GetDeadLetter(id) => dead_letters::get(ops, &id).await,
            Route::Redrive => dead_letters::redrive(ops, req).await,
            Route::PurgeDeadLetters => dead_letters::purge(ops, req).await,
            Route::OpenApi => openapi::document_answer(),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use hookpost_shared::deployment::StackNames;

    use super::*;

    /// An API over a deployment nothing can reach: a test that passes made no store call.
    fn unreachable_api() -> Api {
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let names = StackNames {
            sources_table: "t".into(),
            subscriptions_table: "t".into(),
            deliveries_table: "t".into(),
            delivery_ids_table: "t".into(),
            events_table: "t".into(),
            bodies_bucket: "b".into(),
            ingest_queue_url: "http://127.0.0.1:9/q".into(),
            dead_letter_queue_url: "http://127.0.0.1:9/dlq".into(),
        };
        Api::new(Operations::new(&sdk, names, None))
    }

    async fn status_and_code(event: HttpApiEvent) -> (i64, String) {
        let response = unreachable_api().handle_event(event).await;
        let body: serde_json::Value = match &response.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => {
                serde_json::from_str(text).unwrap_or_default()
            }
            _ => serde_json::Value::Null,
        };
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (response.status_code, code)
    }

    /// Log lines, as the function writes them.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut lines) = self.0.lock() {
                lines.extend_from_slice(buf);
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_secret_sent_to_create_a_source_reaches_no_log_line_when_the_store_fails() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let event = HttpApiEvent::new("POST", "/v1/sources").with_json(&serde_json::json!({
            "id": "gh", "provider": "github", "secret": "s3cret-never-logged"
        }));
        let (status, code) = status_and_code(event).await;
        assert_eq!((status, code.as_str()), (503, "unavailable"));
        let logs = captured.0.lock().map(|l| l.clone()).unwrap_or_default();
        let logs = String::from_utf8_lossy(&logs);
        assert!(logs.contains("a store call failed"), "{logs}");
        assert!(!logs.contains("s3cret-never-logged"), "{logs}");
    }

    #[tokio::test]
    async fn the_openapi_document_is_served_as_json_without_a_store() {
        let response = unreachable_api()
            .handle_event(HttpApiEvent::new("GET", "/v1/openapi.json"))
            .await;
        assert_eq!(response.status_code, 200);
        assert_eq!(
            response.headers.get(http::header::CONTENT_TYPE),
            Some(&http::HeaderValue::from_static("application/json"))
        );
        let body: serde_json::Value = match &response.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => {
                serde_json::from_str(text).unwrap_or_default()
            }
            _ => serde_json::Value::Null,
        };
        assert_eq!(body, openapi());
        assert_eq!(body["openapi"], "3.1.0");
    }

    #[tokio::test]
    async fn requests_refused_before_the_core_never_reach_a_store() {
        let json = |target: &str, body: &str| {
            HttpApiEvent::new("POST", target)
                .with_header("Content-Type", "application/json")
                .with_body(body.as_bytes().to_vec())
        };
        let cases = [
            (HttpApiEvent::new("GET", "/v1/nothing"), 404, "not_found"),
            (
                HttpApiEvent::new("GET", "/v1/sources/..%2F"),
                404,
                "not_found",
            ),
            (
                HttpApiEvent::new("PUT", "/v1/sources"),
                405,
                "method_not_allowed",
            ),
            (
                HttpApiEvent::new("POST", "/v1/sources")
                    .with_header("content-type", "text/plain")
                    .with_body(b"{}".to_vec()),
                415,
                "unsupported_media_type",
            ),
            (json("/v1/sources", "{"), 400, "invalid_json"),
            (
                json("/v1/sources", &" ".repeat(MAX_BODY_BYTES + 1)),
                413,
                "payload_too_large",
            ),
            (
                json("/v1/sources", r#"{"id":"a","provider":"github","x":1}"#),
                400,
                "invalid",
            ),
            (
                HttpApiEvent::new("GET", "/v1/sources?limit=0"),
                400,
                "invalid",
            ),
            (
                HttpApiEvent::new("DELETE", "/v1/dead-letters"),
                400,
                "invalid",
            ),
            (json("/v1/sources/gh", "{}"), 405, "method_not_allowed"),
            (
                HttpApiEvent::new("PATCH", "/v1/sources/gh")
                    .with_header("content-type", "application/json")
                    .with_body(b"{}".to_vec()),
                400,
                "invalid",
            ),
            (
                HttpApiEvent::new("PATCH", "/v1/sources/gh")
                    .with_header("content-type", "application/json")
                    .with_body(br#"{"provider":"stripe"}"#.to_vec()),
                400,
                "invalid",
            ),
            (
                HttpApiEvent::new("POST", "/v1/sources/gh/events"),
                400,
                "invalid",
            ),
            (
                json("/v1/sources/gh/events", "{}")
                    .with_header("Idempotency-Key", &"k".repeat(201)),
                400,
                "invalid",
            ),
            (
                json("/v1/sources/gh/events", "{}").with_header("Event-Type", " "),
                400,
                "invalid",
            ),
            (
                // A payload may be anything: the publish route takes it as it is, within the
                // receiver's limit rather than the management routes' 64 KiB.
                HttpApiEvent::new("POST", "/v1/sources/gh/events").with_body(vec![
                    b'x';
                    hookpost_shared::intake::DEFAULT_MAX_BODY_BYTES
                        + 1
                ]),
                413,
                "payload_too_large",
            ),
        ];
        for (event, status, code) in cases {
            let what = format!("{} {}", event.method(), event.path());
            assert_eq!(
                status_and_code(event).await,
                (status, code.to_owned()),
                "{what}"
            );
        }
    }
}
