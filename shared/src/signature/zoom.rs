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

use super::digest::{any_matches, check_timestamp, hex_digest, hmac, matched, parse_unix};
use super::{
    Check, EventMeta, Handshake, HmacAlgorithm, Inbound, Scheme, SchemeOptions, SignError,
    SignedHeaders, VerifyError, optional_header, single_header,
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
const FORWARDED_HEADERS: &[&str] = &[TRACKING_HEADER, TIMESTAMP_HEADER, "user-agent"];

const VERSION: &str = "v0";
const SIGNATURE_LEN: usize = 32;

/// Zoom's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Zoom;

impl Scheme for Zoom {
    fn name(&self) -> &'static str {
        "zoom"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
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
            &signed_parts(timestamp, request.body),
            &[candidate],
        );
        matched(found)
    }

    /// The event type is the payload's `event` (`meeting.started`, …). Zoom sends no event id; the
    /// delivery id is `x-zm-trackingid` when present. Zoom does not document whether a retry keeps
    /// it, so a retry may be queued again.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        EventMeta {
            delivery_id: optional_header(request.headers, TRACKING_HEADER),
            event_type: serde_json::from_slice::<Notification>(request.body)
                .ok()
                .and_then(|n| n.event),
        }
    }

    /// The headers Zoom would send with `body` at `now`.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        _event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        Ok(vec![
            (SIGNATURE_HEADER.to_owned(), sign(secret, now, body)),
            (TIMESTAMP_HEADER.to_owned(), now.to_string()),
            (TRACKING_HEADER.to_owned(), uuid::Uuid::new_v4().to_string()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ])
    }

    /// Answers `endpoint.url_validation` with the plain token and its HMAC, once the request itself
    /// verifies. The HMAC is keyed with the secret that signed the request: during a rotation that is
    /// the token Zoom holds, whichever place it has among the source's secrets.
    fn handshake(&self, check: &Check<'_>, request: &Inbound<'_>) -> Option<Handshake> {
        let notification = serde_json::from_slice::<Notification>(request.body).ok()?;
        if notification.event.as_deref() != Some(URL_VALIDATION_EVENT) {
            return None;
        }
        let secret = check.secrets.iter().find(|secret| {
            let one = Check {
                secrets: std::slice::from_ref(*secret),
                ..*check
            };
            self.verify(&one, request).is_ok()
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

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::testing::{Case, headers};
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

    fn signed(ts: &str, signature: &str) -> HeaderMap {
        headers(&[(TIMESTAMP_HEADER, ts), (SIGNATURE_HEADER, signature)])
    }

    fn doc_headers() -> HeaderMap {
        signed(&TS.to_string(), SIGNATURE)
    }

    fn case() -> Case<'static> {
        Case::new(&Zoom, &[SECRET], TS)
    }

    #[test]
    fn an_independently_computed_vector_is_accepted() {
        assert_eq!(sign(&Secret::new(SECRET), TS, BODY), SIGNATURE);
        assert_eq!(case().verify(&doc_headers(), BODY), Ok(()));
        let shifted = signed(&(TS + 1).to_string(), SIGNATURE);
        assert_eq!(case().verify(&shifted, BODY), Err(VerifyError::NoMatch));
    }

    #[test]
    fn extreme_timestamps_are_out_of_tolerance() {
        for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
            assert_eq!(
                case().code(&signed(&ts, SIGNATURE), BODY),
                Err("timestamp_out_of_tolerance")
            );
        }
    }

    fn answer(secrets: &[&str], headers: &HeaderMap) -> Option<Handshake> {
        Case::new(&Zoom, secrets, TS).handshake(headers, VALIDATION_BODY)
    }

    #[test]
    fn url_validation_is_answered_with_the_encrypted_token_once_verified() {
        let h = signed(&TS.to_string(), VALIDATION_SIGNATURE);
        let answered = answer(&[SECRET], &h).expect("a handshake");
        assert_eq!(answered.content_type, "application/json");
        let json: serde_json::Value = serde_json::from_str(&answered.body).expect("json");
        assert_eq!(json["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
        assert_eq!(json["encryptedToken"], ENCRYPTED_TOKEN);
    }

    #[test]
    fn url_validation_is_not_answered_unless_the_request_verifies() {
        assert_eq!(answer(&[SECRET], &doc_headers()), None);
        assert_eq!(answer(&[SECRET], &HeaderMap::new()), None);
    }

    #[test]
    fn the_handshake_answers_with_the_secret_that_signed_the_request() {
        let h = signed(&TS.to_string(), VALIDATION_SIGNATURE);
        for secrets in [[SECRET, "other"], ["other", SECRET]] {
            let answered = answer(&secrets, &h).expect("a handshake");
            let json: serde_json::Value = serde_json::from_str(&answered.body).expect("json");
            assert_eq!(json["encryptedToken"], ENCRYPTED_TOKEN);
        }
    }

    #[test]
    fn ordinary_events_are_not_handshakes() {
        assert_eq!(case().handshake(&doc_headers(), BODY), None);
    }

    #[test]
    fn describe_reads_the_event_and_the_tracking_id() {
        let mut h = doc_headers();
        h.insert(TRACKING_HEADER, http::HeaderValue::from_static("trk-1"));
        let meta = case().describe(&h, BODY);
        assert_eq!(meta.event_type.as_deref(), Some("meeting.started"));
        assert_eq!(meta.delivery_id.as_deref(), Some("trk-1"));
    }
}
