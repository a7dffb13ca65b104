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
    Check, EventMeta, Inbound, SchemeOptions, SignError, VerifyError, optional_header,
    single_header,
};
use crate::secret::Secret;

pub const TOKEN_HEADER: &str = "x-gitlab-token";
/// `Push Hook`, `Merge Request Hook`, …
pub const EVENT_HEADER: &str = "x-gitlab-event";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const EVENT_UUID_HEADER: &str = "x-gitlab-event-uuid";
pub const WEBHOOK_UUID_HEADER: &str = "x-gitlab-webhook-uuid";
pub(super) const FORWARDED_HEADERS: &[&str] = &[
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    EVENT_UUID_HEADER,
    WEBHOOK_UUID_HEADER,
    "x-gitlab-instance",
    "user-agent",
];

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
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
pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
    EventMeta {
        delivery_id: [IDEMPOTENCY_HEADER, EVENT_UUID_HEADER, WEBHOOK_UUID_HEADER]
            .into_iter()
            .find_map(|name| optional_header(request.headers, name)),
        event_type: optional_header(request.headers, EVENT_HEADER),
    }
}

/// The headers GitLab would send with `body`: the token, and an `Idempotency-Key`.
pub fn sign_request(
    secret: &Secret,
    _body: &[u8],
    _now: i64,
    _options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
    Ok(vec![
        (TOKEN_HEADER.to_owned(), secret.expose().to_owned()),
        (
            IDEMPOTENCY_HEADER.to_owned(),
            uuid::Uuid::new_v4().to_string(),
        ),
        ("content-type".to_owned(), "application/json".to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::super::TimePolicy;
    use super::*;

    // GitLab's documentation uses "my-secret-token" as the example token.
    const TOKEN: &str = "my-secret-token";
    const BODY: &[u8] =
        br#"{"object_kind":"push","ref":"refs/heads/main","total_commits_count":1}"#;

    fn headers_with(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TOKEN_HEADER, HeaderValue::from_str(token).expect("ascii"));
        h
    }

    fn check_for<'a>(secrets: &'a [Secret], options: &'a SchemeOptions) -> Check<'a> {
        Check {
            secrets,
            policy: TimePolicy {
                now: 0,
                tolerance: std::time::Duration::ZERO,
            },
            options,
        }
    }

    fn run(secrets: &[Secret], headers: &HeaderMap) -> Result<(), VerifyError> {
        let options = SchemeOptions::default();
        verify(
            &check_for(secrets, &options),
            &Inbound {
                headers,
                body: BODY,
                query: None,
            },
        )
    }

    #[test]
    fn the_configured_token_is_accepted() {
        assert_eq!(run(&[Secret::new(TOKEN)], &headers_with(TOKEN)), Ok(()));
    }

    #[test]
    fn a_wrong_token_is_rejected_whatever_its_length() {
        let secret = [Secret::new(TOKEN)];
        for wrong in [
            "my-secret-tokeN",
            "my-secret-toke",
            "my-secret-token-and-more",
            "x",
            "",
            " ",
        ] {
            assert_eq!(
                run(&secret, &headers_with(wrong)),
                Err(VerifyError::NoMatch),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn every_single_byte_change_to_the_token_is_rejected() {
        let secret = [Secret::new(TOKEN)];
        for i in 0..TOKEN.len() {
            for flip in [0x01u8, 0x20] {
                let mut bytes = TOKEN.as_bytes().to_vec();
                bytes[i] ^= flip;
                let Ok(changed) = String::from_utf8(bytes) else {
                    continue;
                };
                let Ok(value) = HeaderValue::from_str(&changed) else {
                    continue;
                };
                let mut h = HeaderMap::new();
                h.insert(TOKEN_HEADER, value);
                assert_eq!(run(&secret, &h), Err(VerifyError::NoMatch), "{changed:?}");
            }
        }
    }

    #[test]
    fn the_second_of_two_active_tokens_is_accepted_during_rotation() {
        let secrets = [Secret::new("old-token"), Secret::new(TOKEN)];
        assert_eq!(run(&secrets, &headers_with(TOKEN)), Ok(()));
        assert_eq!(run(&secrets, &headers_with("old-token")), Ok(()));
    }

    #[test]
    fn a_missing_or_repeated_token_says_what_is_wrong() {
        assert_eq!(
            run(&[Secret::new(TOKEN)], &HeaderMap::new()),
            Err(VerifyError::MissingHeader(TOKEN_HEADER))
        );
        let mut twice = headers_with(TOKEN);
        twice.append(TOKEN_HEADER, HeaderValue::from_static("other"));
        assert!(matches!(
            run(&[Secret::new(TOKEN)], &twice),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn signed_requests_verify() {
        let secret = Secret::new("generated-token");
        let sent = sign_request(&secret, BODY, 0, &SchemeOptions::default()).expect("signs");
        let mut h = HeaderMap::new();
        for (name, value) in &sent {
            h.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("lower-case name"),
                HeaderValue::from_str(value).expect("ascii"),
            );
        }
        assert!(h.contains_key("content-type"));
        assert_eq!(run(std::slice::from_ref(&secret), &h), Ok(()));
        let options = SchemeOptions::default();
        let meta = describe(
            &check_for(&[], &options),
            &Inbound {
                headers: &h,
                body: BODY,
                query: None,
            },
        );
        assert!(meta.delivery_id.is_some());
    }

    #[test]
    fn the_event_header_and_most_stable_delivery_id_are_described() {
        // Values from the examples in GitLab's "Delivery headers" table.
        let mut h = headers_with(TOKEN);
        h.insert(EVENT_HEADER, HeaderValue::from_static("Push Hook"));
        h.insert(
            WEBHOOK_UUID_HEADER,
            HeaderValue::from_static("02affd2d-2cba-4033-917d-ec22d5dc4b38"),
        );
        let options = SchemeOptions::default();
        let check = check_for(&[], &options);
        let meta_of = |h: &HeaderMap| {
            describe(
                &check,
                &Inbound {
                    headers: h,
                    body: BODY,
                    query: None,
                },
            )
        };
        let meta = meta_of(&h);
        assert_eq!(meta.event_type.as_deref(), Some("Push Hook"));
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("02affd2d-2cba-4033-917d-ec22d5dc4b38")
        );
        h.insert(
            EVENT_UUID_HEADER,
            HeaderValue::from_static("13792a34-cac6-4fda-95a8-c58e00a3954e"),
        );
        assert_eq!(
            meta_of(&h).delivery_id.as_deref(),
            Some("13792a34-cac6-4fda-95a8-c58e00a3954e")
        );
        h.insert(
            IDEMPOTENCY_HEADER,
            HeaderValue::from_static("f5e5f430-f57b-4e6e-9fac-d9128cd7232f"),
        );
        assert_eq!(
            meta_of(&h).delivery_id.as_deref(),
            Some("f5e5f430-f57b-4e6e-9fac-d9128cd7232f")
        );
    }
}
