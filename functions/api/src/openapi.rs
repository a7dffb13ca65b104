//! The API's OpenAPI 3.1 document, derived from the handlers' own types: each handler carries
//! its `#[utoipa::path]`, the bodies and answers derive their schemas, and the refusals each
//! status carries are read from [`ApiError`]'s own mapping. Served at `GET /v1/openapi.json` and
//! committed at `docs/api/openapi.json` (a test keeps the two equal).
//!
//! A new route is one `#[utoipa::path]` on its handler and one line in [`ApiDoc`]'s `paths(...)`.

use std::sync::LazyLock;

use hookpost_operations::{Kind, OpError};
use hookpost_shared::store::StoreError;
use http::StatusCode;
use serde_json::Value;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToResponse};

use crate::error::ApiError;
use crate::{Answer, dead_letters, events, publish, sources, subscriptions};

/// The name the document's security scheme goes by.
const SIGV4: &str = "sigv4";

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Hookpost management API",
        description = "Sources, subscriptions, the event archive and the dead-letter queue of one \
            Hookpost deployment. Every route is authorized by IAM: sign requests with AWS \
            Signature Version 4 for the service `execute-api`. Every refusal is \
            `{\"error\": {\"code\", \"message\"}}`; see docs/api.md.",
    ),
    servers((
        url = "https://{api_id}.execute-api.{region}.amazonaws.com",
        description = "A deployment's HTTP API (the stack output `ApiBaseUrl` without `/v1/`).",
        variables(
            ("api_id" = (default = "API_ID", description = "The HTTP API's id")),
            ("region" = (default = "us-east-1", description = "The stack's region")),
        )
    )),
    paths(
        sources::list,
        sources::create,
        sources::get,
        sources::update,
        sources::delete,
        publish::publish,
        sources::rotate,
        subscriptions::list,
        subscriptions::create,
        subscriptions::get,
        subscriptions::update,
        subscriptions::delete,
        subscriptions::enable,
        subscriptions::disable,
        subscriptions::rotate,
        events::list,
        events::get,
        events::deliveries,
        events::replay,
        events::recover,
        dead_letters::list,
        dead_letters::get,
        dead_letters::redrive,
        dead_letters::purge,
        document_answer,
    ),
    components(
        schemas(crate::error::ErrorBody),
        responses(
            BadRequest,
            NotFound,
            MethodNotAllowed,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unavailable,
        ),
    ),
    modifiers(&SigV4),
    security(("sigv4" = [])),
    tags(
        (name = "sources", description = "Provider endpoints: one webhook URL and its secrets each."),
        (name = "subscriptions", description = "Where a source's events are delivered."),
        (name = "events", description = "The archive, delivery records, replays and recovery."),
        (name = "dead-letters", description = "The dead-letter queue: list, redrive, purge."),
        (name = "meta", description = "This document."),
    )
)]
pub struct ApiDoc;

/// SigV4 as a security scheme. OpenAPI has no SigV4 type, so it is described as an API key in
/// `Authorization`, with the extension API Gateway's own OpenAPI export uses for IAM-signed
/// routes (<https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authtype.html>).
#[derive(Debug)]
struct SigV4;

impl Modify for SigV4 {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut key = ApiKeyValue::with_description(
            "Authorization",
            "AWS Signature Version 4 for the service `execute-api` (IAM authorization): \
             `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`, with \
             `X-Amz-Date` and, for temporary credentials, `X-Amz-Security-Token`. Callers need \
             `execute-api:Invoke` on the route. Not an API key: sign each request (an AWS SDK, \
             `curl --aws-sigv4`, or `awscurl`).",
        );
        key.extensions = Some(
            ExtensionsBuilder::new()
                .add("x-amazon-apigateway-authtype", "awsSigv4")
                .build(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(SIGV4, SecurityScheme::ApiKey(ApiKey::Header(key)));
    }
}

/// One refusal of each kind [`ApiError`] has, to document what each status carries.
fn every_refusal() -> Vec<ApiError> {
    vec![
        ApiError::invalid("limit", "must be from 1 to 500, not 0"),
        ApiError::InvalidJson("EOF while parsing an object at line 1 column 1".to_owned()),
        ApiError::Malformed("the body is marked base64 and is not".to_owned()),
        ApiError::Op(OpError::not_found(Kind::Source, "orders")),
        ApiError::NoRoute {
            method: "GET".to_owned(),
            path: "/v1/nothing".to_owned(),
        },
        ApiError::MethodNotAllowed {
            path: "/v1/dead-letters/redrive".to_owned(),
            allow: &["POST"],
        },
        ApiError::Op(OpError::Conflict(
            "a source named orders already exists; pick another name or remove it first".to_owned(),
        )),
        ApiError::PayloadTooLarge {
            limit: crate::MAX_BODY_BYTES,
        },
        ApiError::UnsupportedMediaType,
        ApiError::Op(OpError::Unavailable(StoreError::new(
            "GetItem",
            "unreachable",
        ))),
    ]
}

/// The reusable response for `status`: the error body, the codes [`ApiError`] answers with it,
/// and an example exactly as the function writes it.
fn refusal(status: StatusCode, when: &str) -> RefOr<Response> {
    let refusals: Vec<ApiError> = every_refusal()
        .into_iter()
        .filter(|e| e.status() == status)
        .collect();
    let mut codes: Vec<&str> = refusals.iter().map(ApiError::code).collect();
    codes.dedup();
    let codes = codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let example = refusals.into_iter().next().map(|e| {
        let response = e.into_response();
        match response.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => {
                serde_json::from_str(&text).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        }
    });
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .example(example)
        .build();
    let mut response = ResponseBuilder::new()
        .description(format!("{when} Codes: {codes}."))
        .content("application/json", content);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response = response.header(
            "Allow",
            HeaderBuilder::new()
                .description(Some("The methods the path takes."))
                .build(),
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .description(Some("Seconds to wait before retrying."))
                .build(),
        );
    }
    RefOr::T(response.build())
}

/// Reusable refusal responses, one per status `error.rs` maps to, each a `ToResponse` named as
/// the document's `#/components/responses/…`.
macro_rules! refusals {
    ($($name:ident = $status:ident, $when:literal;)*) => {$(
        #[doc = $when]
        #[derive(Debug)]
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), refusal(StatusCode::$status, $when))
            }
        }
    )*};
}

refusals! {
    BadRequest = BAD_REQUEST,
        "The request must change: a value is wrong (the message starts with the field: `limit:`, `cursor:`, `body:` for an unknown or mistyped field), the body is not JSON, or it cannot be read.";
    NotFound = NOT_FOUND,
        "No such source, subscription, event or dead letter (or an id that cannot exist).";
    MethodNotAllowed = METHOD_NOT_ALLOWED,
        "The path exists for other methods, listed in `Allow`. Only the function answers this: API Gateway's routes name their method, so behind it such a request gets the gateway's own 404.";
    Conflict = CONFLICT,
        "The request contradicts what exists (a source id taken, a secret already held, an archived event that cannot be replayed, a move task that failed).";
    PayloadTooLarge = PAYLOAD_TOO_LARGE,
        "The body is over 64 KiB.";
    UnsupportedMediaType = UNSUPPORTED_MEDIA_TYPE,
        "A body without `Content-Type: application/json`.";
    Unavailable = SERVICE_UNAVAILABLE,
        "A table or queue could not be reached; retry after `Retry-After` seconds. The message says nothing of the cause.";
}

/// The document, with its maps in key order: what the route serves and the committed file holds.
pub fn openapi() -> Value {
    // utoipa keeps extensions in a HashMap; going through `Value` (a sorted map) makes every run
    // write the same bytes.
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    optional_bodies_are_objects(&mut doc);
    doc
}

/// An optional body (`request_body = Option<T>`) is written by utoipa as "`T` or `null`", but an
/// absent body reads as `{}` and a JSON `null` is refused: the body, when sent, is a `T`.
fn optional_bodies_are_objects(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let schemas = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.pointer_mut("/requestBody/content"))
        .filter_map(Value::as_object_mut)
        .flat_map(|content| content.values_mut())
        .filter_map(|media| media.get_mut("schema"));
    for schema in schemas {
        let not_null = match schema.get("oneOf").and_then(Value::as_array) {
            Some(options) if options.len() == 2 => options
                .iter()
                .find(|s| s.get("type") != Some(&Value::from("null")))
                .cloned(),
            _ => None,
        };
        if let Some(body) = not_null {
            *schema = body;
        }
    }
}

/// The document as committed at `docs/api/openapi.json`: pretty-printed, with a final newline.
pub fn document() -> String {
    let mut text = serde_json::to_string_pretty(&openapi()).unwrap_or_default();
    text.push('\n');
    text
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(openapi);

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", operation_id = "getOpenApi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object,
            content_type = "application/json"),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
    ))]
pub fn document_answer() -> Result<Answer, ApiError> {
    Ok((StatusCode::OK, DOCUMENT.clone()))
}
