//! Every way the receiver says no, mapped to HTTP in one place: a stable machine-readable code and
//! a message that tells the sender what to fix. Internal failures say nothing about internals.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use hookpost_shared::signature::VerifyError;
use serde_json::json;

/// Why a request was not accepted. A refusal enqueues nothing.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no source with this id; check the URL configured at the provider")]
    UnknownSource,
    #[error("webhooks must be sent with POST")]
    MethodNotAllowed,
    #[error("the body is larger than the {limit}-byte limit")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    Verification(VerifyError),
    /// The request itself is not well formed (a header or body that cannot be read).
    #[error("{0}")]
    Malformed(String),
    #[error("the source cannot verify requests; its owner must fix its configuration")]
    Misconfigured,
    #[error("the event could not be queued; retry later")]
    EnqueueFailed,
    #[error("the receiver cannot look up sources right now; retry later")]
    Unavailable,
    #[error("this delivery is being queued by another request; retry later")]
    InFlight,
}

/// Seconds a sender is asked to wait after a 503.
const RETRY_AFTER_SECONDS: &str = "5";

impl Refusal {
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Refusal::UnknownSource => S::NOT_FOUND,
            Refusal::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
            Refusal::PayloadTooLarge { .. } => S::PAYLOAD_TOO_LARGE,
            Refusal::Verification(VerifyError::MalformedBody(_)) | Refusal::Malformed(_) => {
                S::BAD_REQUEST
            }
            Refusal::Verification(_) => S::UNAUTHORIZED,
            Refusal::Misconfigured => S::INTERNAL_SERVER_ERROR,
            Refusal::EnqueueFailed | Refusal::Unavailable => S::SERVICE_UNAVAILABLE,
            Refusal::InFlight => S::CONFLICT,
        }
    }

    /// The stable code in `{"error": {"code": …}}`.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownSource => "unknown_source",
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::PayloadTooLarge { .. } => "payload_too_large",
            Refusal::Verification(e) => e.code(),
            Refusal::Malformed(_) => "malformed_request",
            Refusal::Misconfigured => "source_misconfigured",
            Refusal::EnqueueFailed => "enqueue_failed",
            Refusal::Unavailable => "temporarily_unavailable",
            Refusal::InFlight => "delivery_in_progress",
        }
    }

    /// The answer API Gateway sends back for this refusal.
    pub fn into_response(self) -> ApiGatewayV2httpResponse {
        let mut response = json_response(
            self.status(),
            &json!({ "error": { "code": self.code(), "message": self.to_string() } }),
        );
        let headers = &mut response.headers;
        match self {
            Refusal::EnqueueFailed | Refusal::Unavailable | Refusal::InFlight => {
                headers.insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            Refusal::MethodNotAllowed => {
                headers.insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
            }
            _ => {}
        }
        response
    }
}

/// A JSON response with the given status.
pub(crate) fn json_response(
    status: http::StatusCode,
    body: &serde_json::Value,
) -> ApiGatewayV2httpResponse {
    text_response(status, "application/json", body.to_string())
}

/// A response with a text body, in the form API Gateway's payload format 2.0 expects back.
pub(crate) fn text_response(
    status: http::StatusCode,
    content_type: &'static str,
    body: String,
) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status.as_u16());
    response.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response.body = Some(Body::Text(body));
    response
}
