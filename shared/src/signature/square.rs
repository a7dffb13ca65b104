//! Square: `x-square-hmacsha256-signature` is the base64 HMAC-SHA256, keyed with the
//! subscription's signature key, of the notification URL followed by the raw body.
//!
//! Spec: <https://developer.squareup.com/docs/webhooks/step3validate>. The notification URL is the
//! source's `public_url`, exactly as entered in the subscription: the receiver behind API Gateway
//! cannot see it. Square signs no timestamp; the payload's `event_id` identifies retries. The older
//! `x-square-signature` (HMAC-SHA1 of the same content) is deprecated by Square and checked by none
//! of its current SDKs, so it is ignored here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use super::digest::{any_matches, base64_digest, hmac, matched, text_key};
use super::{
    Check, EventMeta, HmacAlgorithm, Inbound, SchemeOptions, SignError, VerifyError, single_header,
};
use crate::secret::Secret;

pub const SIGNATURE_HEADER: &str = "x-square-hmacsha256-signature";
pub(super) const FORWARDED_HEADERS: &[&str] = &[
    "square-environment",
    "square-version",
    "square-retry-number",
    "square-retry-reason",
    "square-initial-delivery-timestamp",
    "user-agent",
];

const SIGNATURE_LEN: usize = 32;

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
    let url = notification_url(check.options).ok_or(VerifyError::Unconfigured(
        "square needs the source's public URL (the subscription's notification URL)",
    ))?;
    let candidate = base64_digest(
        single_header(request.headers, SIGNATURE_HEADER)?,
        SIGNATURE_LEN,
        SIGNATURE_HEADER,
    )?;
    let found = any_matches(
        HmacAlgorithm::Sha256,
        check.secrets,
        text_key,
        &[url.as_bytes(), request.body],
        &[candidate],
    )?;
    matched(found)
}

fn notification_url(options: &SchemeOptions) -> Option<&str> {
    options.public_url.as_deref().filter(|url| !url.is_empty())
}

/// The `x-square-hmacsha256-signature` value for `body` sent to `url`.
pub fn sign(secret: &Secret, url: &str, body: &[u8]) -> String {
    BASE64.encode(hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &[url.as_bytes(), body],
    ))
}

/// The headers Square would send with `body` to the source's public URL.
pub fn sign_request(
    secret: &Secret,
    body: &[u8],
    _now: i64,
    options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
    let url = notification_url(options).ok_or_else(|| {
        SignError::Invalid("square signs the source's public URL; set --public-url".to_owned())
    })?;
    Ok(vec![
        (SIGNATURE_HEADER.to_owned(), sign(secret, url, body)),
        ("content-type".to_owned(), "application/json".to_owned()),
    ])
}

#[derive(Deserialize)]
struct Notification {
    event_id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// `event_id` (the same on Square's retries) and `type`, e.g. `payment.updated`.
pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
    serde_json::from_slice::<Notification>(request.body)
        .map(|n| EventMeta {
            delivery_id: n.event_id,
            event_type: n.event_type,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{HeaderMap, HeaderValue};

    use super::super::TimePolicy;
    use super::*;

    // Square's SDK test vector: square-python-sdk `tests/utilities/test_webhooks_helper.py`
    // (the same in its `tests/integration/test_webhooks_helper.py`).
    const DOC_KEY: &str = "Ibxx_5AKakO-3qeNVR61Dw";
    const DOC_URL: &str = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9";
    const DOC_BODY: &[u8] = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#;
    const DOC_SIGNATURE: &str = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=";

    // Same source, `test_signature_validation_escaped_pass`: a body with `>` and `<`.
    const ESCAPED_KEY: &str = "signature-key";
    const ESCAPED_URL: &str = "https://webhook.site/webhooks";
    const ESCAPED_BODY: &[u8] = br#"{"data":{"type":"webhooks","id":">id<"}}"#;
    const ESCAPED_SIGNATURE: &str = "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=";

    fn headers(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(signature).expect("ascii"),
        );
        h
    }

    fn options(url: &str) -> SchemeOptions {
        SchemeOptions {
            public_url: Some(url.to_owned()),
            ..SchemeOptions::default()
        }
    }

    fn run(
        secrets: &[Secret],
        url: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let options = url.map(options).unwrap_or_default();
        let check = Check {
            secrets,
            policy: TimePolicy {
                now: 0,
                tolerance: Duration::ZERO,
            },
            options: &options,
        };
        verify(
            &check,
            &Inbound {
                headers,
                body,
                query: None,
            },
        )
    }

    fn check(headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        run(&[Secret::new(DOC_KEY)], Some(DOC_URL), headers, body)
    }

    #[test]
    fn squares_published_sdk_vectors_are_accepted() {
        assert_eq!(
            sign(&Secret::new(DOC_KEY), DOC_URL, DOC_BODY),
            DOC_SIGNATURE
        );
        assert_eq!(check(&headers(DOC_SIGNATURE), DOC_BODY), Ok(()));
        assert_eq!(
            run(
                &[Secret::new(ESCAPED_KEY)],
                Some(ESCAPED_URL),
                &headers(ESCAPED_SIGNATURE),
                ESCAPED_BODY
            ),
            Ok(())
        );
    }

    #[test]
    fn another_url_body_or_key_is_rejected() {
        let h = headers(DOC_SIGNATURE);
        // The SDK's own negative cases: a URL one character shorter, another key.
        assert_eq!(
            run(
                &[Secret::new(DOC_KEY)],
                Some("https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9"),
                &h,
                DOC_BODY
            ),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            run(
                &[Secret::new("MCmhFRxGX82xMwg5FsaoQA")],
                Some(DOC_URL),
                &h,
                DOC_BODY
            ),
            Err(VerifyError::NoMatch)
        );
        let reformatted = serde_json::to_vec_pretty(
            &serde_json::from_slice::<serde_json::Value>(DOC_BODY).expect("json"),
        )
        .expect("json");
        assert_eq!(check(&h, &reformatted), Err(VerifyError::NoMatch));
    }

    #[test]
    fn any_single_byte_change_to_the_body_is_rejected() {
        let h = headers(DOC_SIGNATURE);
        for i in 0..DOC_BODY.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut tampered = DOC_BODY.to_vec();
                tampered[i] ^= flip;
                assert_eq!(
                    check(&h, &tampered),
                    Err(VerifyError::NoMatch),
                    "byte {i} ^ {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn the_second_of_two_active_keys_is_accepted_during_rotation() {
        let keys = [Secret::new("old-key"), Secret::new(DOC_KEY)];
        assert_eq!(
            run(&keys, Some(DOC_URL), &headers(DOC_SIGNATURE), DOC_BODY),
            Ok(())
        );
    }

    #[test]
    fn a_source_without_a_public_url_cannot_verify() {
        for url in [None, Some("")] {
            assert_eq!(
                run(
                    &[Secret::new(DOC_KEY)],
                    url,
                    &headers(DOC_SIGNATURE),
                    DOC_BODY
                )
                .map_err(|e| e.code()),
                Err("source_misconfigured")
            );
        }
    }

    #[test]
    fn missing_malformed_and_repeated_signatures_say_what_is_wrong() {
        assert_eq!(
            check(&HeaderMap::new(), DOC_BODY),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        // The SDK's wrong-length (SHA-1 sized) signature, bad base64, and an empty value.
        for bad in ["1z2n3DEJJiUPKcPzQo1ftvbxGdw=", "%%%", ""] {
            assert_eq!(
                check(&headers(bad), DOC_BODY).map_err(|e| e.code()),
                Err("invalid_signature"),
                "{bad:?}"
            );
        }
        let mut twice = headers(DOC_SIGNATURE);
        twice.append(SIGNATURE_HEADER, HeaderValue::from_static(DOC_SIGNATURE));
        assert!(matches!(
            check(&twice, DOC_BODY),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn signed_requests_round_trip() {
        let secret = Secret::new("sig-key");
        let url = "https://hooks.example/webhooks/square-main";
        let body = br#"{"type":"payment.updated","event_id":"e-1"}"#;
        let signed = sign_request(&secret, body, 0, &options(url)).expect("signs");
        let (name, value) = &signed[0];
        assert_eq!(name, SIGNATURE_HEADER);
        assert_eq!(
            run(
                std::slice::from_ref(&secret),
                Some(url),
                &headers(value),
                body
            ),
            Ok(())
        );
        assert!(sign_request(&secret, body, 0, &SchemeOptions::default()).is_err());
    }

    #[test]
    fn describe_reads_event_id_and_type() {
        let o = SchemeOptions::default();
        let check = Check {
            secrets: &[],
            policy: TimePolicy {
                now: 0,
                tolerance: Duration::ZERO,
            },
            options: &o,
        };
        let h = HeaderMap::new();
        let meta = describe(
            &check,
            &Inbound {
                headers: &h,
                body: DOC_BODY,
                query: None,
            },
        );
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("ac3ac95b-f97d-458c-a6e6-18981597e05f")
        );
        assert_eq!(
            meta.event_type.as_deref(),
            Some("webhooks.test_notification")
        );
        let none = describe(
            &check,
            &Inbound {
                headers: &h,
                body: b"[]",
                query: None,
            },
        );
        assert_eq!(none, EventMeta::default());
    }
}
