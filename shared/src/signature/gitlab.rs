//! GitLab: `X-Gitlab-Token` carries the webhook's secret token itself; nothing is signed.
//!
//! Spec: <https://docs.gitlab.com/user/project/integrations/webhooks/> ("Secret token" and
//! "Delivery headers"). The token proves only that the sender knows it: the body is not covered
//! and there is no timestamp, so TLS is what keeps a delivery intact. Duplicate detection uses
//! `Idempotency-Key` (GitLab 17.4+, the same on every retry), else `X-Gitlab-Event-UUID`, else
//! `X-Gitlab-Webhook-UUID`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::digest::matched;
use super::{
    Check, EventMeta, Inbound, Scheme, SchemeOptions, SignError, SignedHeaders, VerifyError,
    optional_header, single_header,
};
use crate::secret::Secret;

pub const TOKEN_HEADER: &str = "x-gitlab-token";
/// `Push Hook`, `Merge Request Hook`, …
pub const EVENT_HEADER: &str = "x-gitlab-event";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const EVENT_UUID_HEADER: &str = "x-gitlab-event-uuid";
pub const WEBHOOK_UUID_HEADER: &str = "x-gitlab-webhook-uuid";
const FORWARDED_HEADERS: &[&str] = &[
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    EVENT_UUID_HEADER,
    WEBHOOK_UUID_HEADER,
    "x-gitlab-instance",
    "user-agent",
];

/// GitLab's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Gitlab;

impl Scheme for Gitlab {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        let token = single_header(request.headers, TOKEN_HEADER)?;
        // Comparing SHA-256 digests rather than the texts keeps the comparison constant-time even
        // when the lengths differ, so not even the secret's length leaks; equal digests mean equal
        // tokens.
        let presented = Sha256::digest(token.as_bytes());
        let mut found = false;
        for secret in check.secrets {
            let expected = Sha256::digest(secret.expose().as_bytes());
            found |= bool::from(presented.as_slice().ct_eq(expected.as_slice()));
        }
        matched(found)
    }

    /// `X-Gitlab-Event` as the event type (`Push Hook`), and the most stable delivery id GitLab
    /// sends.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        EventMeta {
            delivery_id: [IDEMPOTENCY_HEADER, EVENT_UUID_HEADER, WEBHOOK_UUID_HEADER]
                .into_iter()
                .find_map(|name| optional_header(request.headers, name)),
            event_type: optional_header(request.headers, EVENT_HEADER),
        }
    }

    /// The token, an `Idempotency-Key`, and the event in `X-Gitlab-Event`.
    fn sign(
        &self,
        secret: &Secret,
        _body: &[u8],
        _now: i64,
        event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        let mut headers = vec![
            (TOKEN_HEADER.to_owned(), secret.expose().to_owned()),
            (
                IDEMPOTENCY_HEADER.to_owned(),
                uuid::Uuid::new_v4().to_string(),
            ),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        if let Some(event) = event_type {
            headers.push((EVENT_HEADER.to_owned(), event.to_owned()));
        }
        Ok(headers)
    }
}
#[cfg(test)]
mod tests {
    use super::super::testing::{Case, headers};
    use super::*;

    // GitLab's documentation uses "my-secret-token" as the example token.
    const TOKEN: &str = "my-secret-token";
    const BODY: &[u8] =
        br#"{"object_kind":"push","ref":"refs/heads/main","total_commits_count":1}"#;

    fn case() -> Case<'static> {
        Case::new(&Gitlab, &[TOKEN], 0)
    }

    #[test]
    fn the_configured_token_is_accepted_whatever_the_body() {
        let h = headers(&[(TOKEN_HEADER, TOKEN)]);
        assert_eq!(case().verify(&h, BODY), Ok(()));
        // Nothing is signed: the token covers no byte of the body.
        assert_eq!(case().verify(&h, b"anything"), Ok(()));
    }

    #[test]
    fn a_wrong_token_is_rejected_whatever_its_length() {
        for wrong in [
            "my-secret-tokeN",
            "my-secret-toke",
            "my-secret-token-and-more",
            "x",
            "",
            " ",
        ] {
            let h = headers(&[(TOKEN_HEADER, wrong)]);
            assert_eq!(
                case().verify(&h, BODY),
                Err(VerifyError::NoMatch),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn the_event_header_and_most_stable_delivery_id_are_described() {
        // Values from the examples in GitLab's "Delivery headers" table.
        let mut h = headers(&[
            (TOKEN_HEADER, TOKEN),
            (EVENT_HEADER, "Push Hook"),
            (WEBHOOK_UUID_HEADER, "02affd2d-2cba-4033-917d-ec22d5dc4b38"),
        ]);
        let meta = case().describe(&h, BODY);
        assert_eq!(meta.event_type.as_deref(), Some("Push Hook"));
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("02affd2d-2cba-4033-917d-ec22d5dc4b38")
        );
        for (name, id) in [
            (EVENT_UUID_HEADER, "13792a34-cac6-4fda-95a8-c58e00a3954e"),
            (IDEMPOTENCY_HEADER, "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"),
        ] {
            h.insert(name, http::HeaderValue::from_static(id));
            assert_eq!(case().describe(&h, BODY).delivery_id.as_deref(), Some(id));
        }
    }
}
