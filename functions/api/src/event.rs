//! The API Gateway HTTP API (payload format 2.0) event, read for what the API uses: the method,
//! the raw path and query string, the headers and the body. Everything is optional, so an odd
//! event is answered with a clear status rather than failing the invocation (which API Gateway
//! turns into a bare 500).
//! <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// One `/v1/…` invocation, as API Gateway sends it.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_context: Option<RequestContext>,
    /// The path as received, percent-encoded; with a named stage it starts with `/{stage}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_path: Option<String>,
    /// The query string as received, without `?`; empty when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_query_string: Option<String>,
    /// Lower-case names; a repeated header once, its values joined with commas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_base64_encoded: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    /// The host the request was sent to (`API_ID.execute-api.REGION.amazonaws.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpDescription>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct HttpDescription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// An event's body marked `isBase64Encoded` that is not base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body is marked isBase64Encoded but is not valid base64")]
pub struct InvalidBase64;

impl HttpApiEvent {
    /// An event as API Gateway builds it on the `$default` stage: `target` is the path with its
    /// query string, if any (`/v1/sources?limit=2`).
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            request_context: Some(RequestContext {
                domain_name: None,
                stage: Some("$default".to_owned()),
                http: Some(HttpDescription {
                    method: Some(method.to_owned()),
                }),
            }),
            raw_path: Some(path.to_owned()),
            raw_query_string: Some(query.to_owned()),
            headers: Some(BTreeMap::new()),
            body: None,
            is_base64_encoded: None,
        }
    }

    /// Adds a header (its name lower-cased, as API Gateway sends it).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .get_or_insert_with(BTreeMap::new)
            .insert(name.to_ascii_lowercase(), value.to_owned());
        self
    }

    /// Sets a JSON body with its `Content-Type`.
    pub fn with_json(self, body: &serde_json::Value) -> Self {
        self.with_header("content-type", "application/json")
            .with_body(body.to_string().into_bytes())
    }

    /// Sets the body as API Gateway does: UTF-8 text as it is, anything else base64-encoded.
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

    pub fn method(&self) -> &str {
        self.request_context
            .as_ref()
            .and_then(|c| c.http.as_ref())
            .and_then(|h| h.method.as_deref())
            .unwrap_or_default()
    }

    /// The path without a named stage's prefix.
    pub fn path(&self) -> &str {
        let path = self.raw_path.as_deref().unwrap_or_default();
        let stage = self
            .request_context
            .as_ref()
            .and_then(|c| c.stage.as_deref())
            .filter(|s| *s != "$default" && !s.is_empty());
        match stage {
            Some(stage) => path
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(stage))
                .filter(|rest| rest.starts_with('/'))
                .unwrap_or(path),
            None => path,
        }
    }

    /// The base URL of the receiver on the same HTTP API: `https://{domain}/webhooks/`.
    pub fn webhook_base(&self) -> Option<String> {
        let domain = self.request_context.as_ref()?.domain_name.as_deref()?;
        // A host only: anything else in it would end up in a URL shown to operators.
        let host = domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
        (host && !domain.is_empty()).then(|| format!("https://{domain}/webhooks/"))
    }

    pub fn query(&self) -> &str {
        self.raw_query_string.as_deref().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.as_ref()?.get(name).map(String::as_str)
    }

    /// The body's bytes: the text as it is, or decoded when API Gateway base64-encoded it.
    pub fn take_body(&mut self) -> Result<Vec<u8>, InvalidBase64> {
        let body = self.body.take().unwrap_or_default();
        if self.is_base64_encoded == Some(true) {
            BASE64.decode(body).map_err(|_| InvalidBase64)
        } else {
            Ok(body.into_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_stage_is_taken_off_the_path() {
        let mut event = HttpApiEvent::new("GET", "/prod/v1/sources");
        if let Some(c) = event.request_context.as_mut() {
            c.stage = Some("prod".to_owned());
        }
        assert_eq!(event.path(), "/v1/sources");
        assert_eq!(
            HttpApiEvent::new("GET", "/v1/sources").path(),
            "/v1/sources"
        );
    }

    #[test]
    fn the_webhook_url_comes_from_a_domain_that_is_a_host_only() {
        let with_domain = |domain: &str| {
            let mut event = HttpApiEvent::new("GET", "/v1/sources");
            if let Some(c) = event.request_context.as_mut() {
                c.domain_name = Some(domain.to_owned());
            }
            event.webhook_base()
        };
        assert_eq!(
            with_domain("abc.execute-api.eu-west-1.amazonaws.com").as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/")
        );
        assert_eq!(with_domain("evil.com/x?"), None);
        assert_eq!(with_domain(""), None);
    }

    #[test]
    fn a_binary_body_round_trips_through_base64() {
        let mut event = HttpApiEvent::new("POST", "/v1/sources").with_body(vec![0xff, 0, 1]);
        assert_eq!(event.is_base64_encoded, Some(true));
        assert_eq!(event.take_body(), Ok(vec![0xff, 0, 1]));
    }
}
