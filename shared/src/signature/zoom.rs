//! Zoom: `x-zm-signature: v0=<hex>` where the digest is HMAC-SHA256, keyed with the app's secret
//! token, of `v0:{x-zm-request-timestamp}:{body}`; the timestamp is Unix seconds.
//!
//! Spec: <https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events>, and for the
//! handshake <https://developers.zoom.us/docs/api/webhooks/#validate-your-webhook-endpoint>: Zoom
//! posts `{"event":"endpoint.url_validation","payload":{"plainToken":"…"}}` when the endpoint is
//! added and every 72 hours, and expects `{"plainToken","encryptedToken"}` back, the second being
//! the hex HMAC-SHA256 of the plain token under the secret token. The validation request is signed
//! like any other, so it is answered only once verified. The older verification token (a
//! plain header) is sunset and not accepted.

use std::time::Duration;

use serde::Deserialize;

use super::digest::{
    any_matches, check_timestamp, hex_digest, hmac, matched, parse_unix, text_key,
};
use super::{
    Check, EventMeta, Handshake, HmacAlgorithm, Inbound, SchemeOptions, SignError, VerifyError,
    optional_header, single_header,
};
use crate::secret::Secret;

/// Five minutes either way, the window of Zoom's own verification sample. Zoom signs each
/// delivery attempt afresh, and its retries come 5, 20 and 60 minutes apart.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

pub const SIGNATURE_HEADER: &str = "x-zm-signature";
pub const TIMESTAMP_HEADER: &str = "x-zm-request-timestamp";
/// Zoom's id for the request, the closest to a delivery id it sends.
pub const TRACKING_HEADER: &str = "x-zm-trackingid";
pub const URL_VALIDATION_EVENT: &str = "endpoint.url_validation";
pub(super) const FORWARDED_HEADERS: &[&str] = &[TRACKING_HEADER, TIMESTAMP_HEADER, "user-agent"];

const VERSION: &str = "v0";
const SIGNATURE_LEN: usize = 32;

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
    let timestamp = single_header(request.headers, TIMESTAMP_HEADER)?;
    let value = single_header(request.headers, SIGNATURE_HEADER)?;
    check_timestamp(parse_unix(timestamp, TIMESTAMP_HEADER)?, &check.policy)?;
    let digest = value
        .strip_prefix("v0=")
        .ok_or(VerifyError::MalformedHeader {
            header: SIGNATURE_HEADER,
            reason: "expected `v0=` followed by a hex digest",
        })?;
    let candidate = hex_digest(digest, SIGNATURE_LEN, SIGNATURE_HEADER)?;
    let found = any_matches(
        HmacAlgorithm::Sha256,
        check.secrets,
        text_key,
        &signed_parts(timestamp, request.body),
        &[candidate],
    )?;
    matched(found)
}

fn signed_parts<'a>(timestamp: &'a str, body: &'a [u8]) -> [&'a [u8]; 5] {
    [VERSION.as_bytes(), b":", timestamp.as_bytes(), b":", body]
}

/// The `x-zm-signature` value for `body` sent at `timestamp`.
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let mac = hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &signed_parts(&ts, body),
    );
    format!("{VERSION}={}", hex::encode(mac))
}

/// The headers Zoom would send with `body` at `now`.
pub fn sign_request(
    secret: &Secret,
    body: &[u8],
    now: i64,
    _options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
    Ok(vec![
        (SIGNATURE_HEADER.to_owned(), sign(secret, now, body)),
        (TIMESTAMP_HEADER.to_owned(), now.to_string()),
        (TRACKING_HEADER.to_owned(), uuid::Uuid::new_v4().to_string()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ])
}

#[derive(Deserialize)]
struct Notification {
    event: Option<String>,
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "plainToken")]
    plain_token: Option<String>,
}

/// The event type is the payload's `event` (`meeting.started`, …). Zoom sends no event id; the
/// delivery id is `x-zm-trackingid` when present. Zoom does not document whether a retry keeps
/// it, so a retry may be queued again.
pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
    EventMeta {
        delivery_id: optional_header(request.headers, TRACKING_HEADER),
        event_type: serde_json::from_slice::<Notification>(request.body)
            .ok()
            .and_then(|n| n.event),
    }
}

/// Answers `endpoint.url_validation` with the plain token and its HMAC, once the request itself
/// verifies. The HMAC is keyed with the secret that signed the request: during a rotation that is
/// the token Zoom holds, whichever place it has among the source's secrets.
pub(super) fn handshake(check: &Check<'_>, request: &Inbound<'_>) -> Option<Handshake> {
    let notification = serde_json::from_slice::<Notification>(request.body).ok()?;
    if notification.event.as_deref() != Some(URL_VALIDATION_EVENT) {
        return None;
    }
    let secret = check.secrets.iter().find(|secret| {
        let one = Check {
            secrets: std::slice::from_ref(*secret),
            ..*check
        };
        verify(&one, request).is_ok()
    })?;
    let plain_token = notification.payload?.plain_token?;
    let encrypted = hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &[plain_token.as_bytes()],
    );
    Some(Handshake {
        content_type: "application/json",
        body: serde_json::json!({
            "plainToken": plain_token,
            "encryptedToken": hex::encode(encrypted),
        })
        .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::super::TimePolicy;
    use super::super::testing::run_verify;
    use super::*;

    // Zoom publishes no signature vector. These were computed independently with Python's
    // `hmac` module: HMAC-SHA256 under SECRET of `v0:1658940994:{BODY}`, and of PLAIN_TOKEN.
    const SECRET: &str = "hookpost-zoom-secret-token";
    const TS: i64 = 1_658_940_994;
    const BODY: &[u8] = br#"{"event":"meeting.started","payload":{"account_id":"AAAAAA","object":{"id":"85746065432"}},"event_ts":1658940994000}"#;
    const SIGNATURE: &str = "v0=381799d60db44585ddd1ac9ade223491f3bfc23b936332953a90cae28fa6a4fa";
    // The validation request from Zoom's docs, signed the same way.
    const VALIDATION_BODY: &[u8] = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    const VALIDATION_SIGNATURE: &str =
        "v0=c3956a7999e0e7959e861ab3127bd4e6b9674c690d1f9ce4c0bac7037e7cd1f4";
    const ENCRYPTED_TOKEN: &str =
        "37433eb819083add9243be78ced261da3fce7ee5462c13857cb43ad93ad77d6b";

    fn headers(ts: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(ts).expect("ascii"));
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(signature).expect("ascii"),
        );
        h
    }

    fn doc_headers() -> HeaderMap {
        headers(&TS.to_string(), SIGNATURE)
    }

    fn check_of<'a>(secrets: &'a [Secret], options: &'a SchemeOptions, now: i64) -> Check<'a> {
        Check {
            secrets,
            policy: TimePolicy {
                now,
                tolerance: DEFAULT_TOLERANCE,
            },
            options,
        }
    }

    fn run(
        secrets: &[Secret],
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        run_verify(verify, secrets, DEFAULT_TOLERANCE, headers, body, now)
    }

    fn check(headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        run(&[Secret::new(SECRET)], headers, body, now)
    }

    #[test]
    fn an_independently_computed_vector_is_accepted() {
        assert_eq!(sign(&Secret::new(SECRET), TS, BODY), SIGNATURE);
        assert_eq!(check(&doc_headers(), BODY, TS), Ok(()));
    }

    #[test]
    fn a_tampered_body_timestamp_or_secret_is_rejected() {
        assert_eq!(
            check(&doc_headers(), &BODY[..BODY.len() - 1], TS),
            Err(VerifyError::NoMatch)
        );
        let h = headers(&(TS + 1).to_string(), SIGNATURE);
        assert_eq!(check(&h, BODY, TS), Err(VerifyError::NoMatch));
        assert_eq!(
            run(&[Secret::new("wrong")], &doc_headers(), BODY, TS),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn any_single_byte_change_to_the_body_is_rejected() {
        let h = doc_headers();
        for i in 0..BODY.len() {
            let mut tampered = BODY.to_vec();
            tampered[i] ^= 0x01;
            assert_eq!(
                check(&h, &tampered, TS),
                Err(VerifyError::NoMatch),
                "byte {i}"
            );
        }
    }

    #[test]
    fn the_second_of_two_active_secrets_is_accepted_during_rotation() {
        let secrets = [Secret::new("new-token"), Secret::new(SECRET)];
        assert_eq!(run(&secrets, &doc_headers(), BODY, TS), Ok(()));
    }

    #[test]
    fn timestamps_are_checked_both_ways() {
        let h = doc_headers();
        assert_eq!(check(&h, BODY, TS + 300), Ok(()));
        assert_eq!(check(&h, BODY, TS - 300), Ok(()));
        for now in [TS + 301, TS - 301] {
            assert_eq!(
                check(&h, BODY, now).map_err(|e| e.code()),
                Err("timestamp_out_of_tolerance"),
                "{now}"
            );
        }
        for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
            assert_eq!(
                check(&headers(&ts, SIGNATURE), BODY, TS).map_err(|e| e.code()),
                Err("timestamp_out_of_tolerance")
            );
        }
    }

    #[test]
    fn missing_malformed_and_repeated_headers_say_which_header() {
        let mut h = doc_headers();
        h.remove(SIGNATURE_HEADER);
        assert_eq!(
            check(&h, BODY, TS),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        let mut h = doc_headers();
        h.remove(TIMESTAMP_HEADER);
        assert_eq!(
            check(&h, BODY, TS),
            Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
        );
        for bad in [
            "381799d60db44585ddd1ac9ade223491f3bfc23b936332953a90cae28fa6a4fa",
            "v1=381799d60db44585ddd1ac9ade223491f3bfc23b936332953a90cae28fa6a4fa",
            "v0=3817",
            "v0=zz1799d60db44585ddd1ac9ade223491f3bfc23b936332953a90cae28fa6a4fa",
        ] {
            assert_eq!(
                check(&headers(&TS.to_string(), bad), BODY, TS).map_err(|e| e.code()),
                Err("invalid_signature"),
                "{bad}"
            );
        }
        for bad_ts in ["", "1658940994.5", "soon"] {
            assert!(matches!(
                check(&headers(bad_ts, SIGNATURE), BODY, TS),
                Err(VerifyError::MalformedHeader {
                    header: TIMESTAMP_HEADER,
                    ..
                })
            ));
        }
        let mut twice = doc_headers();
        twice.append(SIGNATURE_HEADER, HeaderValue::from_static(SIGNATURE));
        assert!(matches!(
            check(&twice, BODY, TS),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn signed_requests_round_trip() {
        let secret = Secret::new("round-trip");
        let mut h = HeaderMap::new();
        for (name, value) in
            sign_request(&secret, BODY, TS, &SchemeOptions::default()).expect("signs")
        {
            h.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(&value).expect("value"),
            );
        }
        assert_eq!(run(&[secret], &h, BODY, TS), Ok(()));
    }

    fn answer(secrets: &[Secret], headers: &HeaderMap, body: &[u8]) -> Option<Handshake> {
        let options = SchemeOptions::default();
        handshake(
            &check_of(secrets, &options, TS),
            &Inbound {
                headers,
                body,
                query: None,
            },
        )
    }

    #[test]
    fn url_validation_is_answered_with_the_encrypted_token_once_verified() {
        let h = headers(&TS.to_string(), VALIDATION_SIGNATURE);
        let answered = answer(&[Secret::new(SECRET)], &h, VALIDATION_BODY).expect("a handshake");
        assert_eq!(answered.content_type, "application/json");
        let json: serde_json::Value = serde_json::from_str(&answered.body).expect("json");
        assert_eq!(json["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
        assert_eq!(json["encryptedToken"], ENCRYPTED_TOKEN);
    }

    #[test]
    fn url_validation_is_not_answered_unless_the_request_verifies() {
        let unsigned = headers(&TS.to_string(), SIGNATURE);
        assert_eq!(
            answer(&[Secret::new(SECRET)], &unsigned, VALIDATION_BODY),
            None
        );
        assert_eq!(
            answer(&[Secret::new(SECRET)], &HeaderMap::new(), VALIDATION_BODY),
            None
        );
    }

    #[test]
    fn the_handshake_answers_with_the_secret_that_signed_the_request() {
        let h = headers(&TS.to_string(), VALIDATION_SIGNATURE);
        for secrets in [
            [Secret::new("other"), Secret::new(SECRET)],
            [Secret::new(SECRET), Secret::new("other")],
        ] {
            let answered = answer(&secrets, &h, VALIDATION_BODY).expect("a handshake");
            let json: serde_json::Value = serde_json::from_str(&answered.body).expect("json");
            assert_eq!(json["encryptedToken"], ENCRYPTED_TOKEN);
        }
    }

    #[test]
    fn ordinary_events_are_not_handshakes() {
        assert_eq!(answer(&[Secret::new(SECRET)], &doc_headers(), BODY), None);
    }

    #[test]
    fn describe_reads_the_event_and_the_tracking_id() {
        let mut h = doc_headers();
        h.insert(TRACKING_HEADER, HeaderValue::from_static("trk-1"));
        let options = SchemeOptions::default();
        let meta = describe(
            &check_of(&[], &options, TS),
            &Inbound {
                headers: &h,
                body: BODY,
                query: None,
            },
        );
        assert_eq!(meta.event_type.as_deref(), Some("meeting.started"));
        assert_eq!(meta.delivery_id.as_deref(), Some("trk-1"));
    }
}
