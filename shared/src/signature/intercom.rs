//! Intercom: `X-Hub-Signature: sha1=<hex>`, the HMAC-SHA1 of the raw body keyed with the app's
//! client secret (Developer Hub → the app → Basic information).
//!
//! Spec: <https://developers.intercom.com/docs/webhooks> and "Signed notifications"
//! (<https://developers.intercom.com/intercom-api-reference/v1.0/reference/signed-notifications>).
//! SHA-1 is what Intercom signs with; there is no SHA-256 variant to prefer. Intercom signs no
//! timestamp; its retries repeat the notification `id`, which duplicate detection uses.

use serde::Deserialize;

use super::digest::{BodyDigest, hmac, verify_body_digest};
use super::{
    Check, DigestEncoding, EventMeta, HmacAlgorithm, Inbound, SchemeOptions, SignError, VerifyError,
};
use crate::secret::Secret;

pub const SIGNATURE_HEADER: &str = "x-hub-signature";
pub(super) const FORWARDED_HEADERS: &[&str] = &["user-agent"];

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
    verify_body_digest(check, request, &LAYOUT)
}

/// `sha1=` and the hex HMAC-SHA1 of the body, as GitHub's legacy header.
const LAYOUT: BodyDigest = BodyDigest {
    header: SIGNATURE_HEADER,
    prefix: "sha1=",
    expected: "expected `sha1=` followed by a hex digest",
    algorithm: HmacAlgorithm::Sha1,
    encoding: DigestEncoding::Hex,
};

#[derive(Deserialize)]
struct Notification {
    id: Option<String>,
    topic: Option<String>,
}

/// The notification's `id` (`notif_…`) and `topic` (`conversation.user.created`), read from
/// the JSON body.
pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
    serde_json::from_slice::<Notification>(request.body)
        .map(|n| EventMeta {
            delivery_id: n.id,
            event_type: n.topic,
        })
        .unwrap_or_default()
}

/// The `X-Hub-Signature` value Intercom would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mac = hmac(HmacAlgorithm::Sha1, secret.expose().as_bytes(), &[body]);
    format!("sha1={}", hex::encode(mac))
}

/// The headers Intercom would send with `body`.
pub fn sign_request(
    secret: &Secret,
    body: &[u8],
    _now: i64,
    _options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
    Ok(vec![
        (SIGNATURE_HEADER.to_owned(), sign(secret, body)),
        ("content-type".to_owned(), "application/json".to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::super::TimePolicy;
    use super::*;

    // Intercom's documented example notification (compacted); Intercom publishes no secret for
    // it, so the signature was computed independently with Python's hmac module
    // (HMAC-SHA1, hex) under this secret.
    const SECRET: &str = "intercom-client-secret";
    const BODY: &[u8] = br#"{"type":"notification_event","id":"notif_78c122d0-23ba-11e4-9464-79b01267cc2e","topic":"user.created","app_id":"a86dr8yl","data":{"type":"notification_event_data","item":{"type":"user","id":"530370b477ad7120001d","user_id":"25","name":"Hoban Washburne","unsubscribed_from_emails":false,"custom_attributes":{}}}}"#;
    const SIGNATURE: &str = "sha1=34bc24d89c2f51cc04017c19d3c10e54fb9cb163";

    fn headers_with(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(signature).expect("ascii"),
        );
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

    fn run(secrets: &[Secret], headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        let options = SchemeOptions::default();
        verify(
            &check_for(secrets, &options),
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
    fn an_independently_computed_vector_over_intercoms_example_is_accepted() {
        assert_eq!(sign(&Secret::new(SECRET), BODY), SIGNATURE);
        assert_eq!(check(&headers_with(SIGNATURE), BODY), Ok(()));
    }

    #[test]
    fn a_tampered_body_or_wrong_secret_is_rejected() {
        let h = headers_with(SIGNATURE);
        assert_eq!(check(&h, b"{}"), Err(VerifyError::NoMatch));
        assert_eq!(
            run(&[Secret::new("another-app")], &h, BODY),
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
            "34bc24d89c2f51cc04017c19d3c10e54fb9cb163",
            "sha256=34bc24d89c2f51cc04017c19d3c10e54fb9cb163",
            "sha1=34bc24d8",
            "sha1=zzbc24d89c2f51cc04017c19d3c10e54fb9cb163",
        ] {
            assert_eq!(
                check(&headers_with(bad), BODY).map_err(|e| e.code()),
                Err("invalid_signature"),
                "{bad}"
            );
        }
        let mut twice = headers_with(SIGNATURE);
        twice.append(SIGNATURE_HEADER, HeaderValue::from_static("sha1=00"));
        assert!(matches!(
            check(&twice, BODY),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn signed_requests_verify() {
        let secret = Secret::new("round-trip-secret");
        let body = br#"{"type":"notification_event","id":"notif_1","topic":"ping"}"#;
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
    fn the_notification_id_and_topic_come_from_the_body() {
        let options = SchemeOptions::default();
        let check = check_for(&[], &options);
        let h = HeaderMap::new();
        let meta_of = |body: &[u8]| {
            describe(
                &check,
                &Inbound {
                    headers: &h,
                    body,
                    query: None,
                },
            )
        };
        let meta = meta_of(BODY);
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("notif_78c122d0-23ba-11e4-9464-79b01267cc2e")
        );
        assert_eq!(meta.event_type.as_deref(), Some("user.created"));
        assert_eq!(meta_of(b"<html>"), EventMeta::default());
    }
}
