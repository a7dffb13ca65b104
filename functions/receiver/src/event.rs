//! The API Gateway HTTP API (payload format 2.0) event, read for exactly what the receiver uses.
//!
//! `lambda_http` turns every event into an `http::Request`: it deserialises all of the event's
//! members (request context, identity, authorizer…) into owned strings and maps, builds a URL and
//! parses it back, and copies the headers into a second map. Most of that is thrown away here, and
//! it cost three times the signature check at 1 KiB (docs/benchmarks.md). This type takes the
//! method, the `source` path parameter, the raw query string, the headers and the body, and lets
//! serde skip the rest without allocating; headers go straight into a `HeaderMap`, body text
//! straight into the bytes that are verified.
//!
//! Everything is optional, so an odd event is refused by the receiver with a clear code rather
//! than failing the invocation (which API Gateway turns into a bare 500): a missing method is a
//! 405, a missing path parameter a 404, a body that `isBase64Encoded` marks but that is not
//! base64 a 400 — where `lambda_http` panics (tests/integration/hostile.rs).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// One `POST /webhooks/{source}` invocation, as API Gateway sends it.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_context: Option<RequestContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_parameters: Option<PathParameters>,
    /// The query string as received, without `?`; empty when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_query_string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_base64_encoded: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RequestContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpDescription>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct HttpDescription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct PathParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Why an event's body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body is marked isBase64Encoded but is not valid base64")]
pub struct InvalidBase64;

impl HttpApiEvent {
    /// An event as API Gateway would build it for `method` on `/webhooks/{source}`: what the local
    /// stack hands the receiver, so it runs the deployed path. The headers are put as API Gateway
    /// puts them: a repeated header's values joined with commas, no `cookie` header.
    pub fn new(method: &str, source: &str, query: Option<&str>, headers: HeaderMap) -> Self {
        let headers = as_api_gateway_sends(headers);
        Self {
            request_context: Some(RequestContext {
                http: Some(HttpDescription {
                    method: Some(method.to_owned()),
                }),
            }),
            path_parameters: Some(PathParameters {
                source: Some(source.to_owned()),
            }),
            raw_query_string: query.map(str::to_owned),
            headers: Some(Headers {
                map: headers,
                malformed: false,
            }),
            body: None,
            is_base64_encoded: None,
        }
    }

    /// Sets the body as API Gateway does: text as it is, anything else base64-encoded.
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        match String::from_utf8(body) {
            Ok(text) => {
                self.body = Some(text);
                self.is_base64_encoded = Some(false);
            }
            Err(e) => {
                self.body = Some(BASE64.encode(e.as_bytes()));
                self.is_base64_encoded = Some(true);
            }
        }
        self
    }

    pub fn method(&self) -> Option<&str> {
        self.request_context
            .as_ref()?
            .http
            .as_ref()?
            .method
            .as_deref()
    }

    pub fn source(&self) -> Option<&str> {
        self.path_parameters.as_ref()?.source.as_deref()
    }

    /// The query string, `None` when empty (as `http::Uri::query` would say).
    pub fn query(&self) -> Option<&str> {
        self.raw_query_string.as_deref().filter(|q| !q.is_empty())
    }

    /// The exact bytes the sender signed: the text as it is, or decoded when API Gateway
    /// base64-encoded it. Takes the body out of the event, without copying text.
    pub fn take_body(&mut self) -> Result<Vec<u8>, InvalidBase64> {
        let body = self.body.take().unwrap_or_default();
        if self.is_base64_encoded == Some(true) {
            BASE64.decode(body).map_err(|_| InvalidBase64)
        } else {
            Ok(body.into_bytes())
        }
    }
}

/// `headers` as payload format 2.0 carries them: a repeated header once, its values joined with
/// commas, and no `cookie` header (API Gateway moves cookies to the event's `cookies` member,
/// which the receiver does not read). Names are already lower-case in a `HeaderMap`, as API
/// Gateway sends them.
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>
fn as_api_gateway_sends(mut headers: HeaderMap) -> HeaderMap {
    headers.remove(http::header::COOKIE);
    if headers.len() == headers.keys_len() {
        return headers;
    }
    let mut joined = HeaderMap::with_capacity(headers.keys_len());
    for name in headers.keys() {
        let values: Vec<&[u8]> = headers
            .get_all(name)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        // Valid values joined by a comma are a valid value.
        if let Ok(value) = HeaderValue::from_bytes(&values.join(&b","[..])) {
            joined.insert(name.clone(), value);
        }
    }
    joined
}

/// The request headers, as API Gateway sends them (lower-case names, a repeated header's values
/// joined with commas), read straight into a `HeaderMap`. A name or value that is not a valid
/// HTTP header is remembered rather than failing the whole event, so the receiver can refuse the
/// request with a 400.
#[derive(Debug, Default)]
pub struct Headers {
    map: HeaderMap,
    malformed: bool,
}

impl Headers {
    pub fn map(&self) -> &HeaderMap {
        &self.map
    }

    pub fn into_map(self) -> HeaderMap {
        self.map
    }

    /// Whether some header could not be represented.
    pub fn is_malformed(&self) -> bool {
        self.malformed
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeadersVisitor)
    }
}

impl Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.map.keys_len()))?;
        for name in self.map.keys() {
            let joined = self
                .map
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
                .collect::<Vec<_>>()
                .join(",");
            map.serialize_entry(name.as_str(), &joined)?;
        }
        map.end()
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = Headers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of header names to string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Headers, A::Error> {
        let mut headers = Headers {
            map: HeaderMap::with_capacity(access.size_hint().unwrap_or(16)),
            malformed: false,
        };
        while let Some(Field(name)) = access.next_key::<Field<HeaderName>>()? {
            let Field(value) = access.next_value::<Field<HeaderValue>>()?;
            match (name, value) {
                (Some(name), Some(value)) => {
                    headers.map.append(name, value);
                }
                _ => headers.malformed = true,
            }
        }
        Ok(headers)
    }
}

/// A header name or value parsed from the string serde hands over, without an owned copy first;
/// `None` when it is not valid (or, for a value, not a string).
struct Field<T>(Option<T>);

trait FromHeaderText: Sized {
    fn from_text(text: &str) -> Option<Self>;
}

impl FromHeaderText for HeaderName {
    fn from_text(text: &str) -> Option<Self> {
        HeaderName::from_bytes(text.as_bytes()).ok()
    }
}

impl FromHeaderText for HeaderValue {
    fn from_text(text: &str) -> Option<Self> {
        HeaderValue::from_str(text).ok()
    }
}

impl<'de, T: FromHeaderText> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor(std::marker::PhantomData))
    }
}

struct FieldVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: FromHeaderText> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a header string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Field<T>, E> {
        Ok(Field(T::from_text(text)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Field<T>, E> {
        Ok(Field(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Field<T>, E> {
        Ok(Field(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Field<T>, E> {
        Ok(Field(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Field<T>, E> {
        Ok(Field(None))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field<T>, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Field(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<T>, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Field(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../../events/apigw-github-push.json");

    #[test]
    fn reads_what_the_receiver_uses_from_a_real_event() {
        let mut event: HttpApiEvent = serde_json::from_str(SAMPLE).expect("event");
        assert_eq!(event.method(), Some("POST"));
        assert_eq!(event.source(), Some("github-example"));
        assert_eq!(event.query(), None);
        let headers = event.headers.as_ref().expect("headers");
        assert!(!headers.is_malformed());
        assert_eq!(headers.map()["x-github-event"], "push");
        assert_eq!(headers.map().len(), 6);
        let body = event.take_body().expect("text");
        assert!(body.starts_with(br#"{"ref":"refs/heads/main""#));
    }

    #[test]
    fn a_base64_body_is_decoded_and_a_bad_one_refused() {
        let event = |body: &str| {
            serde_json::from_value::<HttpApiEvent>(serde_json::json!({
                "body": body, "isBase64Encoded": true
            }))
            .expect("event")
        };
        assert_eq!(event("/w==").take_body(), Ok(vec![0xff]));
        assert_eq!(event("not base64!").take_body(), Err(InvalidBase64));
    }

    #[test]
    fn nulls_and_missing_members_are_absent_not_errors() {
        let mut event: HttpApiEvent = serde_json::from_str(
            r#"{"requestContext":null,"pathParameters":null,"headers":null,"body":null,
                "isBase64Encoded":null,"rawQueryString":null}"#,
        )
        .expect("event");
        assert_eq!(event.method(), None);
        assert_eq!(event.source(), None);
        assert_eq!(event.take_body(), Ok(Vec::new()));
        let empty: HttpApiEvent = serde_json::from_str("{}").expect("event");
        assert!(empty.headers.is_none());
    }

    #[test]
    fn invalid_headers_are_flagged_and_repeated_ones_kept() {
        let event: HttpApiEvent = serde_json::from_str(
            r#"{"headers":{"x-a":"1","x-a":"2","bad name":"v","x-b":"bad\u0000value","x-c":7}}"#,
        )
        .expect("event");
        let headers = event.headers.expect("headers");
        assert!(headers.is_malformed());
        let values: Vec<_> = headers.map().get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert!(headers.map().get("x-b").is_none());
    }

    #[test]
    fn an_event_built_for_the_local_stack_joins_repeated_headers_and_drops_cookies() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        headers.append("x-b", HeaderValue::from_static("3"));
        headers.append("cookie", HeaderValue::from_static("session=s"));
        let event = HttpApiEvent::new("POST", "gh", None, headers);
        let map = event.headers.as_ref().expect("headers").map();
        let values: Vec<_> = map.get_all("x-a").iter().collect();
        assert_eq!(values, ["1,2"]);
        assert_eq!(map["x-b"], "3");
        assert!(map.get("cookie").is_none());
    }

    #[test]
    fn an_event_built_for_the_local_stack_reads_back_the_same() {
        let mut headers = HeaderMap::new();
        headers.insert("x-github-event", HeaderValue::from_static("push"));
        let built = HttpApiEvent::new("POST", "gh", Some("a=1"), headers).with_body(vec![0xff, 1]);
        let text = serde_json::to_string(&built).expect("serialises");
        let mut read: HttpApiEvent = serde_json::from_str(&text).expect("reads");
        assert_eq!(read.method(), Some("POST"));
        assert_eq!(read.source(), Some("gh"));
        assert_eq!(read.query(), Some("a=1"));
        assert_eq!(
            read.headers.as_ref().expect("headers").map()["x-github-event"],
            "push"
        );
        assert_eq!(read.take_body(), Ok(vec![0xff, 1]));
    }
}
