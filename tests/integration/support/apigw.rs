//! The receiver as it is deployed: an API Gateway HTTP API (payload format 2.0) event for the
//! `POST /webhooks/{source}` route, built as API Gateway builds it, read as the function reads
//! it (JSON text into `HttpApiEvent`), handed to `Receiver::handle_event`; and its answer, the
//! `ApiGatewayV2httpResponse`, read back.
//!
//! What API Gateway documents about the event, and the builder does
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>):
//! header names are lower-case; a repeated header appears once, its values combined with commas;
//! cookie headers go to the `cookies` member (and, as events captured from AWS show, not to
//! `headers`). What it does not list is which content types count as binary: a binary body is
//! base64-encoded and marked `isBase64Encoded`. The builder sends as text only a UTF-8 body of a `text/*`,
//! `application/json`, `application/xml` or `application/javascript` type, and base64-encodes
//! everything else, including a body without a `Content-Type`: the split ministack checked
//! against AWS (<https://github.com/ministackorg/ministack/pull/766>). The receiver decodes
//! either way, so the split only decides which of its two paths a test takes.
//!
//! API Gateway's own limits (10 KiB of request line and headers, the route's method) are not
//! applied here, so tests can reach the receiver's own checks behind them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hookpost_receiver::{ApiGatewayV2httpResponse, HttpApiEvent, Receiver};
use hookpost_shared::store::{BodyStore, DeliveryIds, EventQueue, SourceStore};
use http::HeaderMap;
use serde_json::{Value, json};

/// Content types API Gateway passes as text (by prefix of the lower-case media type).
const TEXT_TYPES: [&str; 4] = [
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
];

/// One request to the webhook route, as a client sends it.
#[derive(Debug, Clone)]
pub struct ApiEvent {
    method: String,
    source: String,
    raw_query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl ApiEvent {
    /// `POST /webhooks/{source}`, no headers, no body.
    pub fn post(source: &str) -> Self {
        Self {
            method: "POST".to_owned(),
            source: source.to_owned(),
            raw_query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn method(mut self, method: &str) -> Self {
        method.clone_into(&mut self.method);
        self
    }

    /// Adds a header; adding a name again repeats the header, as a client can.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn headers<K: AsRef<str>, V: AsRef<str>>(self, headers: &[(K, V)]) -> Self {
        headers
            .iter()
            .fold(self, |event, (k, v)| event.header(k.as_ref(), v.as_ref()))
    }

    /// The query string as sent, without `?`.
    pub fn query(mut self, raw: &str) -> Self {
        raw.clone_into(&mut self.raw_query);
        self
    }

    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    /// The event as API Gateway hands it to the function.
    pub fn payload(&self) -> Value {
        let mut headers = serde_json::Map::new();
        let mut cookies = Vec::new();
        for (name, value) in &self.headers {
            let name = name.to_ascii_lowercase();
            if name == "cookie" {
                cookies.extend(
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
                continue;
            }
            let value = match headers.remove(&name) {
                Some(Value::String(earlier)) => format!("{earlier},{value}"),
                _ => value.clone(),
            };
            headers.insert(name, Value::String(value));
        }
        let text = headers
            .get("content-type")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .is_some_and(|t| TEXT_TYPES.iter().any(|p| t.trim_start().starts_with(p)));
        let path = format!("/webhooks/{}", self.source);
        let user_agent = headers
            .get("user-agent")
            .cloned()
            .unwrap_or_else(|| Value::from(""));
        let mut payload = json!({
            "version": "2.0",
            "routeKey": "POST /webhooks/{source}",
            "rawPath": path,
            "rawQueryString": self.raw_query,
            "headers": headers,
            // `queryStringParameters` is left out: the receiver reads the raw query string only.
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "hookpost",
                "domainName": "hooks.example.com",
                "domainPrefix": "hooks",
                "http": {
                    "method": self.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.1",
                    "userAgent": user_agent,
                },
                "requestId": "it-request",
                "routeKey": "POST /webhooks/{source}",
                "stage": "$default",
                "time": "14/Nov/2023:22:13:20 +0000",
                "timeEpoch": 1_700_000_000_000_i64,
            },
            "pathParameters": { "source": self.source },
            "isBase64Encoded": false,
        });
        if !cookies.is_empty() {
            payload["cookies"] = json!(cookies);
        }
        if !self.body.is_empty() {
            match std::str::from_utf8(&self.body) {
                Ok(body) if text => payload["body"] = body.into(),
                _ => {
                    payload["body"] = BASE64.encode(&self.body).into();
                    payload["isBase64Encoded"] = true.into();
                }
            }
        }
        payload
    }

    /// The event as the deployed function reads its payload.
    pub fn event(&self) -> HttpApiEvent {
        read(&self.payload())
    }
}

/// `payload` as the deployed function reads it: its JSON text into `HttpApiEvent`, as
/// `lambda_runtime` deserialises the invocation.
pub fn read(payload: &Value) -> HttpApiEvent {
    read_text(&payload.to_string())
}

/// [`read`] from the JSON text itself, for an event a `Value` cannot hold (a repeated key).
pub fn read_text(text: &str) -> HttpApiEvent {
    serde_json::from_str(text).expect("an API Gateway payload 2.0 event")
}

/// What the receiver answered: the response API Gateway turns into the HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON; `Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The refusal code (`{"error": {"code"}}`), empty when there is none.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl From<ApiGatewayV2httpResponse> for Answer {
    fn from(response: ApiGatewayV2httpResponse) -> Self {
        let body = response
            .body
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let body = if response.is_base64_encoded {
            BASE64.decode(body).expect("a base64 answer")
        } else {
            body
        };
        Self {
            status: u16::try_from(response.status_code).expect("an HTTP status"),
            headers: response.headers,
            body,
        }
    }
}

/// Invokes `receiver` with `event`, as Lambda does for the deployed function.
pub async fn invoke<S, Q, D, B>(receiver: &Receiver<S, Q, D, B>, event: HttpApiEvent) -> Answer
where
    S: SourceStore,
    Q: EventQueue,
    D: DeliveryIds,
    B: BodyStore,
{
    receiver.handle_event(event).await.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_is_shaped_as_api_gateway_documents_it() {
        let payload = ApiEvent::post("gh")
            .query("a=1&a=2")
            .header("X-Hub-Signature-256", "sha256=00")
            .header("x-hub-signature-256", "sha256=11")
            .header("Cookie", "a=1; b=2")
            .header("content-type", "application/json; charset=utf-8")
            .body(br#"{"ok":true}"#)
            .payload();
        assert_eq!(
            payload["headers"]["x-hub-signature-256"],
            "sha256=00,sha256=11"
        );
        assert!(payload["headers"].get("cookie").is_none());
        assert_eq!(payload["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(payload["rawQueryString"], "a=1&a=2");
        assert_eq!(payload["pathParameters"]["source"], "gh");
        assert_eq!(payload["requestContext"]["http"]["method"], "POST");
        assert_eq!(payload["body"], r#"{"ok":true}"#);
        assert_eq!(payload["isBase64Encoded"], false);

        let mut event = ApiEvent::post("gh").body(&[0xff, 0x00]).event();
        assert_eq!(event.is_base64_encoded, Some(true));
        assert_eq!(event.take_body(), Ok(vec![0xff, 0x00]));
        let untyped = ApiEvent::post("gh").body(b"{}").payload();
        assert_eq!(
            untyped["isBase64Encoded"], true,
            "no Content-Type is binary"
        );
        let empty = ApiEvent::post("gh").payload();
        assert!(empty.get("body").is_none());
    }
}
