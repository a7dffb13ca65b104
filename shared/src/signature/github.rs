//! GitHub: `X-Hub-Signature-256: sha256=<hex>` where the digest is HMAC-SHA256 of the raw body keyed
//! with the webhook secret as typed into GitHub.
//!
//! Spec: <https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries>.
//! GitHub sends no timestamp, so replays are caught by the delivery id (`X-GitHub-Delivery`).
//! The legacy `X-Hub-Signature: sha1=<hex>` is accepted only when the source allows it
//! (`allow_sha1`) and no SHA-256 signature was sent: SHA-1 is kept for old GitHub Enterprise servers.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::digest::{BodyDigest, verify_body_digest};
use super::{
    Check, DigestEncoding, EventMeta, HmacAlgorithm, Inbound, SchemeOptions, SignError,
    VerifyError, optional_header, single_header,
};
use crate::secret::Secret;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The legacy SHA-1 header.
pub const SHA1_HEADER: &str = "x-hub-signature";
pub const EVENT_HEADER: &str = "x-github-event";
pub const DELIVERY_HEADER: &str = "x-github-delivery";
pub(super) const FORWARDED_HEADERS: &[&str] = &[
    EVENT_HEADER,
    DELIVERY_HEADER,
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "user-agent",
];

type HmacSha256 = Hmac<Sha256>;

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
    if check.options.allow_sha1 && !request.headers.contains_key(SIGNATURE_HEADER) {
        return verify_sha1(check, request);
    }
    let value = single_header(request.headers, SIGNATURE_HEADER)?;
    let digest_hex = value
        .strip_prefix("sha256=")
        .ok_or(VerifyError::MalformedHeader {
            header: SIGNATURE_HEADER,
            reason: "expected `sha256=` followed by a hex digest",
        })?;
    let mut expected = [0u8; 32];
    hex::decode_to_slice(digest_hex, &mut expected).map_err(|_| VerifyError::MalformedHeader {
        header: SIGNATURE_HEADER,
        reason: "the digest is not 64 hexadecimal digits",
    })?;
    for secret in check.secrets {
        let mut mac = mac_for(secret);
        mac.update(request.body);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

fn verify_sha1(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
    verify_body_digest(
        check,
        request,
        &BodyDigest {
            header: SHA1_HEADER,
            prefix: "sha1=",
            expected: "expected `sha1=` followed by a hex digest",
            algorithm: HmacAlgorithm::Sha1,
            encoding: DigestEncoding::Hex,
        },
    )
}

pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
    EventMeta {
        delivery_id: optional_header(request.headers, DELIVERY_HEADER),
        event_type: optional_header(request.headers, EVENT_HEADER),
    }
}

/// The `X-Hub-Signature-256` value GitHub would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mut mac = mac_for(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The headers GitHub would send with `body`.
pub fn sign_request(
    secret: &Secret,
    body: &[u8],
    _now: i64,
    _options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
    Ok(vec![
        (SIGNATURE_HEADER.to_owned(), sign(secret, body)),
        (DELIVERY_HEADER.to_owned(), uuid::Uuid::new_v4().to_string()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ])
}

fn mac_for(secret: &Secret) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;

    // GitHub's published example: secret "It's a Secret to Everybody", payload "Hello, World!".
    // Source: docs.github.com, "Validating webhook deliveries" → "Testing the webhook payload validation".
    const DOC_SECRET: &str = "It's a Secret to Everybody";
    const DOC_BODY: &[u8] = b"Hello, World!";
    const DOC_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn headers_with(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(signature).expect("ascii"),
        );
        h
    }

    fn check(secrets: &[Secret], headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        check_with(secrets, &SchemeOptions::default(), headers, body)
    }

    fn check_with(
        secrets: &[Secret],
        options: &SchemeOptions,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let check = Check {
            secrets,
            policy: super::super::TimePolicy {
                now: 0,
                tolerance: std::time::Duration::ZERO,
            },
            options,
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

    #[test]
    fn githubs_published_test_vector_is_accepted() {
        let secret = Secret::new(DOC_SECRET);
        assert_eq!(sign(&secret, DOC_BODY), DOC_SIGNATURE);
        assert_eq!(
            check(&[secret], &headers_with(DOC_SIGNATURE), DOC_BODY),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_or_wrong_secret_is_rejected() {
        let headers = headers_with(DOC_SIGNATURE);
        let secret = Secret::new(DOC_SECRET);
        assert_eq!(
            check(std::slice::from_ref(&secret), &headers, b"Hello, World?"),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check(&[Secret::new("wrong")], &headers, DOC_BODY),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn any_single_byte_change_to_the_body_is_rejected() {
        let secret = Secret::new(DOC_SECRET);
        let body = br#"{"action":"opened","number":1,"zen":"Keep it logically awesome."}"#;
        let headers = headers_with(&sign(&secret, body));
        for i in 0..body.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut tampered = body.to_vec();
                tampered[i] ^= flip;
                assert_eq!(
                    check(std::slice::from_ref(&secret), &headers, &tampered),
                    Err(VerifyError::NoMatch),
                    "byte {i} ^ {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn the_second_of_two_active_secrets_is_accepted_during_rotation() {
        let secrets = [Secret::new("old"), Secret::new(DOC_SECRET)];
        assert_eq!(
            check(&secrets, &headers_with(DOC_SIGNATURE), DOC_BODY),
            Ok(())
        );
    }

    #[test]
    fn missing_and_malformed_headers_say_what_is_wrong() {
        let secret = [Secret::new(DOC_SECRET)];
        assert_eq!(
            check(&secret, &HeaderMap::new(), DOC_BODY),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        for bad in [
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
            "sha256=757107ea",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ] {
            assert_eq!(
                check(&secret, &headers_with(bad), DOC_BODY).map_err(|e| e.code()),
                Err("invalid_signature"),
                "{bad}"
            );
        }
        let mut twice = headers_with(DOC_SIGNATURE);
        twice.append(SIGNATURE_HEADER, HeaderValue::from_static("sha256=00"));
        assert!(matches!(
            check(&secret, &twice, DOC_BODY),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    // The legacy header over GitHub's published example payload; HMAC-SHA1 computed independently
    // (Python's hmac module) for secret "It's a Secret to Everybody" and body "Hello, World!".
    const DOC_SHA1: &str = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";

    #[test]
    fn legacy_sha1_is_accepted_only_when_the_source_allows_it() {
        let secret = [Secret::new(DOC_SECRET)];
        let mut headers = HeaderMap::new();
        headers.insert(SHA1_HEADER, HeaderValue::from_static(DOC_SHA1));
        assert_eq!(
            check(&secret, &headers, DOC_BODY),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        let allow = SchemeOptions {
            allow_sha1: true,
            ..SchemeOptions::default()
        };
        assert_eq!(check_with(&secret, &allow, &headers, DOC_BODY), Ok(()));
        assert_eq!(
            check_with(&secret, &allow, &headers, b"Hello, World?"),
            Err(VerifyError::NoMatch)
        );
        // A SHA-256 signature, when sent, is the one checked.
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_static("sha256=00"));
        assert!(check_with(&secret, &allow, &headers, DOC_BODY).is_err());
    }
}
