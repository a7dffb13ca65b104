//! A client for a local stack's management API (`/v1`): each request signed with SigV4 by
//! `aws-sigv4`, as the SDKs and `curl --aws-sigv4` sign, with the local credentials by default.
//! Each part of the signing can be set wrong on purpose, and a signed request can be altered
//! before it is sent, to see the front refuse it.

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use hookpost_local::LocalStack;
use hookpost_local::emulator::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use hookpost_local::sigv4::SERVICE;
use http::Method;
use serde_json::Value;

/// Signs and sends requests under `base_url` (`http://127.0.0.1:PORT/v1/`).
#[derive(Clone)]
pub struct SignedClient {
    base_url: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    service: String,
    signed_at: Option<SystemTime>,
    http: reqwest::Client,
}

impl fmt::Debug for SignedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedClient")
            .field("base_url", &self.base_url)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field("service", &self.service)
            .field("signed_at", &self.signed_at)
            .finish()
    }
}

impl SignedClient {
    /// A client signing for the local credentials and `execute-api` in `region`.
    pub fn new(base_url: &str, region: &str) -> Self {
        Self {
            base_url: format!("{}/", base_url.trim_end_matches('/')),
            region: region.to_owned(),
            access_key_id: ACCESS_KEY_ID.to_owned(),
            secret_access_key: SECRET_ACCESS_KEY.to_owned(),
            service: SERVICE.to_owned(),
            signed_at: None,
            http: reqwest::Client::new(),
        }
    }

    /// A client for `stack`'s API, signing as the stack expects.
    pub fn for_stack(stack: &LocalStack) -> Self {
        Self::new(&stack.state.api_url, &stack.state.region)
    }

    /// Signs with these credentials instead of the local ones.
    pub fn with_credentials(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.access_key_id = access_key_id.to_owned();
        self.secret_access_key = secret_access_key.to_owned();
        self
    }

    /// Signs for this region instead.
    pub fn with_region(mut self, region: &str) -> Self {
        self.region = region.to_owned();
        self
    }

    /// Signs for this service instead of `execute-api`.
    pub fn with_service(mut self, service: &str) -> Self {
        self.service = service.to_owned();
        self
    }

    /// Signs as if at `at` rather than now.
    pub fn signed_at(mut self, at: SystemTime) -> Self {
        self.signed_at = Some(at);
        self
    }

    /// The URL of `path`, relative to the API's base (`sources/gh`, with a query if any).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }

    /// `method path`, with `body` as JSON when given, signed and ready to send (or to alter).
    pub fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> http::Request<Vec<u8>> {
        match body {
            Some(body) => self.raw_request(
                method,
                path,
                &[("content-type", "application/json")],
                body.to_string().into_bytes(),
            ),
            None => self.raw_request(method, path, &[], Vec::new()),
        }
    }

    /// `method path` with these headers and this body as is, signed (headers included).
    pub fn raw_request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> http::Request<Vec<u8>> {
        let url = self.url(path);
        let mut request = http::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request
            .body(body)
            .expect("a request to a valid URL with valid headers");

        let identity = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "hookpost-testkit",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.signed_at.unwrap_or_else(SystemTime::now))
            .settings(SigningSettings::default())
            .build()
            .expect("complete signing parameters")
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(request.body()),
        )
        .expect("a signable request");
        let (instructions, _) = sign(signable, &params)
            .expect("aws-sigv4 signs the request")
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);
        request
    }

    /// Sends `request`; its status and JSON answer (`Null` when the answer is not JSON).
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> (u16, Value) {
        let request =
            reqwest::Request::try_from(request).expect("an http request reqwest can send");
        let response = self
            .http
            .execute(request)
            .await
            .expect("the local stack's API answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.request(Method::GET, path, None)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.request(Method::POST, path, Some(body)))
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.request(Method::PATCH, path, Some(body)))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.request(Method::DELETE, path, None)).await
    }
}
