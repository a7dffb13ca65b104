//! Every way the API says no, mapped to HTTP in one place: `{"error": {"code", "message"}}` with
//! a stable code and a message that says what to fix.
//!
//! One rule for bad input: every request the caller must change is a 400 (`invalid` for a value,
//! `invalid_json` for a body that does not parse), whether the JSON parsed or not; the code and the
//! message name the field. A store that cannot be reached is a 503 whose message says nothing of
//! internals; the cause is logged once, here.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use hookpost_operations::OpError;
use http::{HeaderValue, StatusCode};
use serde::Serialize;

/// Seconds a caller is asked to wait after a 503.
const RETRY_AFTER_SECONDS: &str = "5";

/// Every refusal's body: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": {"code": "invalid", "message": "limit: must be from 1 to 500, not 0"}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What was refused and what to fix.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable; see the response's status for the codes it carries.
    #[schema(value_type = String, example = "invalid")]
    pub code: &'static str,
    /// What to fix; for `invalid`, starts with the field (`limit:`, `body:`).
    pub message: String,
}

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The operation refused (or the store failed).
    #[error(transparent)]
    Op(#[from] OpError),
    #[error("no route {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("{path} takes {}", allow.join(", "))]
    MethodNotAllowed {
        path: String,
        allow: &'static [&'static str],
    },
    #[error("the body must be JSON: send Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the body is larger than the {limit}-byte limit")]
    PayloadTooLarge { limit: usize },
    /// The body is not JSON (the message names the line and column).
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// The request cannot be read at all (a body marked base64 that is not).
    #[error("{0}")]
    Malformed(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Op(OpError::invalid(field, reason))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Op(OpError::NotFound { .. }) | ApiError::NoRoute { .. } => {
                StatusCode::NOT_FOUND
            }
            ApiError::Op(OpError::Invalid { .. })
            | ApiError::InvalidJson(_)
            | ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Op(OpError::Conflict(_)) => StatusCode::CONFLICT,
            ApiError::Op(OpError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The stable code in `{"error": {"code": …}}`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Op(e) => e.code(),
            ApiError::NoRoute { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::Malformed(_) => "malformed_request",
        }
    }

    /// What the caller is told: for a store failure, nothing of the store.
    fn message(&self) -> String {
        match self {
            ApiError::Op(OpError::Unavailable(_)) => {
                "the deployment's stores cannot be reached right now; retry later".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The answer API Gateway sends back; a store failure is logged here, once.
    pub fn into_response(self) -> ApiGatewayV2httpResponse {
        if let ApiError::Op(OpError::Unavailable(cause)) = &self {
            tracing::error!(error = %cause, "a store call failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.message(),
            },
        };
        let value = serde_json::to_value(&body).unwrap_or(serde_json::Value::Null);
        let mut response = json_response(self.status(), &value);
        match self {
            ApiError::MethodNotAllowed { allow, .. } => {
                if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                    response.headers.insert(http::header::ALLOW, value);
                }
            }
            ApiError::Op(OpError::Unavailable(_)) => {
                response.headers.insert(
                    http::header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            _ => {}
        }
        response
    }
}

/// A JSON answer with the given status, in the form API Gateway's payload format 2.0 expects.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status.as_u16());
    response.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.body = Some(Body::Text(body.to_string()));
    response
}

#[cfg(test)]
mod tests {
    use hookpost_operations::Kind;
    use hookpost_shared::store::StoreError;

    use super::*;

    fn body(response: &ApiGatewayV2httpResponse) -> serde_json::Value {
        match &response.body {
            Some(Body::Text(text)) => serde_json::from_str(text).expect("json"),
            other => panic!("not a text body: {other:?}"),
        }
    }

    #[test]
    fn each_operation_error_has_its_status_and_code() {
        let cases = [
            (
                ApiError::from(OpError::not_found(Kind::Source, "gh")),
                404,
                "not_found",
            ),
            (
                ApiError::invalid("limit", "must be from 1 to 500"),
                400,
                "invalid",
            ),
            (
                ApiError::from(OpError::Conflict("taken".into())),
                409,
                "conflict",
            ),
            (
                ApiError::from(OpError::Unavailable(StoreError::new("GetItem", "boom"))),
                503,
                "unavailable",
            ),
        ];
        for (error, status, code) in cases {
            let response = error.into_response();
            assert_eq!(response.status_code, status);
            assert_eq!(body(&response)["error"]["code"], code);
        }
    }

    #[test]
    fn a_store_failure_says_nothing_of_the_store() {
        let error = OpError::Unavailable(StoreError::new(
            "GetItem",
            "arn:aws:dynamodb:eu-west-1:123:table/hookpost-sources throttled",
        ));
        let response = ApiError::from(error).into_response();
        let text = body(&response).to_string();
        assert!(
            !text.contains("dynamodb") && !text.contains("GetItem"),
            "{text}"
        );
        assert_eq!(
            response.headers.get(http::header::RETRY_AFTER),
            Some(&HeaderValue::from_static("5"))
        );
    }

    #[test]
    fn a_refusal_names_the_field_to_fix() {
        let response =
            ApiError::invalid("cursor", "not a cursor this list returned").into_response();
        let message = body(&response)["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.starts_with("cursor:"), "{message}");
    }

    #[test]
    fn a_wrong_method_lists_the_allowed_ones() {
        let response = ApiError::MethodNotAllowed {
            path: "/v1/dead-letters/redrive".into(),
            allow: &["POST"],
        }
        .into_response();
        assert_eq!(response.status_code, 405);
        assert_eq!(
            response.headers.get(http::header::ALLOW),
            Some(&HeaderValue::from_static("POST"))
        );
        assert_eq!(body(&response)["error"]["code"], "method_not_allowed");
    }

    #[test]
    fn body_problems_have_their_own_statuses() {
        let cases = [
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (
                ApiError::PayloadTooLarge { limit: 10 },
                413,
                "payload_too_large",
            ),
            (ApiError::InvalidJson("x".into()), 400, "invalid_json"),
            (
                ApiError::NoRoute {
                    method: "GET".into(),
                    path: "/v2".into(),
                },
                404,
                "not_found",
            ),
        ];
        for (error, status, code) in cases {
            let response = error.into_response();
            assert_eq!(response.status_code, status, "{code}");
            assert_eq!(body(&response)["error"]["code"], code);
        }
    }
}
