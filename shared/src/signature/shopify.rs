//! Shopify: `X-Shopify-Hmac-Sha256: <base64>`, the HMAC-SHA256 of the raw body keyed with the
//! app's client secret (the "API secret key"), or, for a webhook made in the store admin, the
//! secret shown under Settings → Notifications → Webhooks.
//!
//! Spec: <https://shopify.dev/docs/apps/build/webhooks/subscribe/https>
//! ("Verify the webhook").
//! Shopify signs no timestamp; duplicates are recognised by `X-Shopify-Webhook-Id`, which stays
//! the same when Shopify retries a delivery. After a client secret is rotated Shopify may sign
//! with the old one for up to an hour, so keep both active for that long.

use super::digest::{BodyDigest, hmac, verify_body_digest};
use super::{
    Check, DigestEncoding, EventMeta, HmacAlgorithm, Inbound, SchemeOptions, SignError,
    VerifyError, optional_header,
};
use crate::secret::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub const SIGNATURE_HEADER: &str = "x-shopify-hmac-sha256";
pub const TOPIC_HEADER: &str = "x-shopify-topic";
/// The same on every retry of one delivery.
pub const WEBHOOK_ID_HEADER: &str = "x-shopify-webhook-id";
/// Names the event; several subscriptions to one event share it.
pub const EVENT_ID_HEADER: &str = "x-shopify-event-id";
pub(super) const FORWARDED_HEADERS: &[&str] = &[
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    EVENT_ID_HEADER,
    "x-shopify-shop-domain",
    "x-shopify-api-version",
    "x-shopify-triggered-at",
    "x-shopify-sub-topic",
    "user-agent",
];

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
    verify_body_digest(check, request, &LAYOUT)
}

/// The base64 HMAC-SHA256 of the body, with no prefix.
const LAYOUT: BodyDigest = BodyDigest {
    header: SIGNATURE_HEADER,
    prefix: "",
    expected: "expected the base64 HMAC-SHA256 of the body",
    algorithm: HmacAlgorithm::Sha256,
    encoding: DigestEncoding::Base64,
};

/// The topic (`orders/create`) from `X-Shopify-Topic`, and `X-Shopify-Webhook-Id` (else
/// `X-Shopify-Event-Id`) as the delivery id.
pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
    EventMeta {
        delivery_id: optional_header(request.headers, WEBHOOK_ID_HEADER)
            .or_else(|| optional_header(request.headers, EVENT_ID_HEADER)),
        event_type: optional_header(request.headers, TOPIC_HEADER),
    }
}

/// The `X-Shopify-Hmac-Sha256` value Shopify would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    BASE64.encode(hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &[body],
    ))
}

/// The headers Shopify would send with `body`.
pub fn sign_request(
    secret: &Secret,
    body: &[u8],
    _now: i64,
    _options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
    Ok(vec![
        (SIGNATURE_HEADER.to_owned(), sign(secret, body)),
        (
            WEBHOOK_ID_HEADER.to_owned(),
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

    // Shopify publishes no signed example, so this vector was computed independently with
    // Python's hmac and base64 modules: HMAC-SHA256 of this body under this secret, base64.
    const SECRET: &str = "hush";
    const BODY: &[u8] =
        br#"{"id":820982911946154508,"email":"jon@example.com","total_price":"199.00"}"#;
    const SIGNATURE: &str = "19sb4TQ53/TxxyK6YcMtX+aMrJyVgshiuMO90SUSl08=";

    fn headers_with(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(signature).expect("ascii"),
        );
        h
    }

    fn run(secrets: &[Secret], headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        let options = SchemeOptions::default();
        let check = Check {
            secrets,
            policy: TimePolicy {
                now: 0,
                tolerance: std::time::Duration::ZERO,
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
        run(&[Secret::new(SECRET)], headers, body)
    }

    #[test]
    fn an_independently_computed_vector_is_accepted() {
        assert_eq!(sign(&Secret::new(SECRET), BODY), SIGNATURE);
        assert_eq!(check(&headers_with(SIGNATURE), BODY), Ok(()));
    }

    #[test]
    fn a_tampered_body_or_wrong_secret_is_rejected() {
        let h = headers_with(SIGNATURE);
        assert_eq!(
            check(
                &h,
                br#"{"id":820982911946154508,"email":"jon@example.com","total_price":"1.00"}"#
            ),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            run(&[Secret::new("hush!")], &h, BODY),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn any_single_byte_change_to_the_body_is_rejected() {
        let h = headers_with(SIGNATURE);
        for i in 0..BODY.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut tampered = BODY.to_vec();
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
    fn the_second_of_two_active_secrets_is_accepted_during_rotation() {
        let secrets = [Secret::new("previous-client-secret"), Secret::new(SECRET)];
        assert_eq!(run(&secrets, &headers_with(SIGNATURE), BODY), Ok(()));
    }

    #[test]
    fn missing_malformed_and_repeated_headers_say_what_is_wrong() {
        assert_eq!(
            check(&HeaderMap::new(), BODY),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        for bad in [
            // hex instead of base64, truncated, not base64, a SHA-1-sized digest
            "c5f80de2ee6d15840b6995092819a7f9ef649789",
            "19sb4TQ53/TxxyK6",
            "19sb4TQ5!!!!",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert_eq!(
                check(&headers_with(bad), BODY).map_err(|e| e.code()),
                Err("invalid_signature"),
                "{bad}"
            );
        }
        let mut twice = headers_with(SIGNATURE);
        twice.append(SIGNATURE_HEADER, HeaderValue::from_static("AAAA"));
        assert!(matches!(
            check(&twice, BODY),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn signed_requests_verify() {
        let secret = Secret::new("shpss_round_trip");
        let body = br##"{"id":1,"name":"#1001"}"##;
        let sent = sign_request(&secret, body, 0, &SchemeOptions::default()).expect("signs");
        let mut h = HeaderMap::new();
        for (name, value) in &sent {
            h.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("lower-case name"),
                HeaderValue::from_str(value).expect("ascii"),
            );
        }
        assert!(h.contains_key("content-type"));
        assert_eq!(run(&[secret], &h, body), Ok(()));
    }

    #[test]
    fn the_topic_and_webhook_id_come_from_the_headers() {
        let mut h = HeaderMap::new();
        h.insert(TOPIC_HEADER, HeaderValue::from_static("orders/create"));
        h.insert(
            EVENT_ID_HEADER,
            HeaderValue::from_static("98880550-7158-44d4-b7cd-2c97c8a091b5"),
        );
        let options = SchemeOptions::default();
        let check = Check {
            secrets: &[],
            policy: TimePolicy {
                now: 0,
                tolerance: std::time::Duration::ZERO,
            },
            options: &options,
        };
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
        assert_eq!(meta.event_type.as_deref(), Some("orders/create"));
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("98880550-7158-44d4-b7cd-2c97c8a091b5")
        );
        h.insert(
            WEBHOOK_ID_HEADER,
            HeaderValue::from_static("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        );
        assert_eq!(
            meta_of(&h).delivery_id.as_deref(),
            Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
        );
    }
}
