//! Linear: `Linear-Signature: <hex>`, the HMAC-SHA256 of the raw body keyed with the webhook's
//! signing secret; the body's own `webhookTimestamp` (milliseconds since the Unix epoch) must be
//! close to now.
//!
//! Spec: <https://linear.app/developers/webhooks> ("Securing webhooks"). The timestamp lives
//! inside the signed body rather than in a header, so the body is read only after the signature
//! matched, and a body without a numeric `webhookTimestamp` is refused: without it a captured
//! delivery could be replayed for ever. Linear asks for it to be within a minute of the
//! receiver's clock, as its SDK's `LinearWebhooks.verify` checks (either way).

use std::time::Duration;

use serde::Deserialize;

use super::digest::{any_matches, check_timestamp, hex_digest, hmac, text_key};
use super::{
    Check, EventMeta, HmacAlgorithm, Inbound, SchemeOptions, SignError, VerifyError,
    optional_header, single_header,
};
use crate::secret::Secret;

/// One minute either way, as Linear's guide and SDK check.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(60);

pub const SIGNATURE_HEADER: &str = "linear-signature";
/// The delivery's UUID.
pub const DELIVERY_HEADER: &str = "linear-delivery";
/// The entity type (`Issue`, `Comment`, …), the same as the body's `type`.
pub const EVENT_HEADER: &str = "linear-event";
pub(super) const FORWARDED_HEADERS: &[&str] = &[DELIVERY_HEADER, EVENT_HEADER, "user-agent"];

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
    let value = single_header(request.headers, SIGNATURE_HEADER)?;
    let candidate = hex_digest(value, 32, SIGNATURE_HEADER)?;
    let found = any_matches(
        HmacAlgorithm::Sha256,
        check.secrets,
        text_key,
        &[request.body],
        &[candidate],
    )?;
    if !found {
        return Err(VerifyError::NoMatch);
    }
    let millis = webhook_timestamp(request.body).ok_or(VerifyError::MalformedBody(
        "expected a JSON object with a numeric `webhookTimestamp` (milliseconds since the Unix epoch)",
    ))?;
    check_timestamp(millis.div_euclid(1000), &check.policy)
}

#[derive(Deserialize)]
struct TimestampOnly {
    #[serde(rename = "webhookTimestamp")]
    webhook_timestamp: Option<serde_json::Number>,
}

fn webhook_timestamp(body: &[u8]) -> Option<i64> {
    // A JSON array would otherwise fill the struct by position.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice::<TimestampOnly>(body)
        .ok()?
        .webhook_timestamp?
        .as_i64()
}

#[derive(Deserialize)]
struct EventHead {
    #[serde(rename = "type")]
    entity: Option<String>,
    action: Option<String>,
}

/// `Linear-Delivery` as the delivery id. The event type is `{type}.{action}` from the body, e.g.
/// `Issue.create` or `Comment.remove`, so subscriptions can take `Issue.*` or one action; a
/// body without an `action` gives the bare entity type, from the body or `Linear-Event`.
pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
    let head = serde_json::from_slice::<EventHead>(request.body).ok();
    let entity = head
        .as_ref()
        .and_then(|h| h.entity.clone())
        .filter(|e| !e.is_empty())
        .or_else(|| optional_header(request.headers, EVENT_HEADER));
    let action = head.and_then(|h| h.action).filter(|a| !a.is_empty());
    EventMeta {
        delivery_id: optional_header(request.headers, DELIVERY_HEADER),
        event_type: match (entity, action) {
            (Some(entity), Some(action)) => Some(format!("{entity}.{action}")),
            (entity, _) => entity,
        },
    }
}

/// The `Linear-Signature` value Linear would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    hex::encode(hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &[body],
    ))
}

/// The headers Linear would send with `body`. The body must carry its own `webhookTimestamp`,
/// since that is what the receiver checks; it cannot be added here without changing the body.
pub fn sign_request(
    secret: &Secret,
    body: &[u8],
    now: i64,
    _options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
    if webhook_timestamp(body).is_none() {
        return Err(SignError::Invalid(format!(
            "a Linear body carries its own timestamp: add \"webhookTimestamp\": {} (milliseconds \
             since the Unix epoch) to the JSON object",
            now.saturating_mul(1000)
        )));
    }
    let mut headers = vec![
        (SIGNATURE_HEADER.to_owned(), sign(secret, body)),
        (DELIVERY_HEADER.to_owned(), uuid::Uuid::new_v4().to_string()),
        (
            "content-type".to_owned(),
            "application/json; charset=utf-8".to_owned(),
        ),
    ];
    if let Some(entity) = serde_json::from_slice::<EventHead>(body)
        .ok()
        .and_then(|h| h.entity)
    {
        headers.push((EVENT_HEADER.to_owned(), entity));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::super::TimePolicy;
    use super::super::testing::run_verify;
    use super::*;

    // Linear publishes no signed example, so this vector was computed independently with Python's
    // hmac module (HMAC-SHA256, hex) over a body shaped like Linear's documented payload.
    const SECRET: &str = "lin_wh_example_signing_secret";
    const BODY: &[u8] = br#"{"action":"create","actor":{"id":"2e6eea91-1111-0000-9486-acea0603064d","name":"Jane Doe","type":"user"},"createdAt":"2023-02-10T19:22:20.508Z","data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","title":"Webhook test","identifier":"ENG-1"},"url":"https://linear.app/acme/issue/ENG-1/webhook-test","type":"Issue","organizationId":"b5d8e2a4-0000-4b1e-9cde-123456789abc","webhookTimestamp":1676056940508,"webhookId":"000042e3-d123-4980-b49f-8e140eef9329"}"#;
    const SIGNATURE: &str = "cb19968f6c039ac31c599635d4d23b73ad13a8d277b755311c55f2d571c11d7c";
    /// `webhookTimestamp` in whole seconds (it is 1676056940.508).
    const BODY_TS: i64 = 1_676_056_940;

    fn headers_with(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(signature).expect("ascii"),
        );
        h
    }

    fn check_for<'a>(secrets: &'a [Secret], options: &'a SchemeOptions, now: i64) -> Check<'a> {
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
        assert_eq!(sign(&Secret::new(SECRET), BODY), SIGNATURE);
        assert_eq!(check(&headers_with(SIGNATURE), BODY, BODY_TS), Ok(()));
    }

    #[test]
    fn a_tampered_body_or_wrong_secret_is_rejected() {
        let h = headers_with(SIGNATURE);
        let tampered = String::from_utf8(BODY.to_vec())
            .expect("utf-8")
            .replace("1676056940508", "1999999999999");
        assert_eq!(
            check(&h, tampered.as_bytes(), BODY_TS),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            run(&[Secret::new("lin_wh_other")], &h, BODY, BODY_TS),
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
                    check(&h, &tampered, BODY_TS),
                    Err(VerifyError::NoMatch),
                    "byte {i} ^ {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn the_second_of_two_active_secrets_is_accepted_during_rotation() {
        let secrets = [Secret::new("lin_wh_previous"), Secret::new(SECRET)];
        assert_eq!(
            run(&secrets, &headers_with(SIGNATURE), BODY, BODY_TS),
            Ok(())
        );
    }

    #[test]
    fn the_body_timestamp_is_checked_both_ways() {
        let h = headers_with(SIGNATURE);
        assert_eq!(check(&h, BODY, BODY_TS + 60), Ok(()));
        assert_eq!(check(&h, BODY, BODY_TS - 60), Ok(()));
        assert_eq!(
            check(&h, BODY, BODY_TS + 61),
            Err(VerifyError::TimestampOutOfTolerance {
                skew_seconds: 61,
                tolerance_seconds: 60
            })
        );
        assert_eq!(
            check(&h, BODY, BODY_TS - 61),
            Err(VerifyError::TimestampOutOfTolerance {
                skew_seconds: -61,
                tolerance_seconds: 60
            })
        );
    }

    #[test]
    fn a_signed_body_without_a_usable_timestamp_is_malformed() {
        let secret = Secret::new(SECRET);
        for body in [
            &br#"{"type":"Issue","action":"create"}"#[..],
            br#"{"type":"Issue","webhookTimestamp":"1676056940508"}"#,
            br#"{"type":"Issue","webhookTimestamp":1676056940508.5}"#,
            br#"{"type":"Issue","webhookTimestamp":null}"#,
            br#"{"type":"Issue","webhookTimestamp":99999999999999999999999}"#,
            br#"[1676056940508]"#,
            b"webhookTimestamp=1676056940508",
        ] {
            let h = headers_with(&sign(&secret, body));
            assert!(
                matches!(check(&h, body, BODY_TS), Err(VerifyError::MalformedBody(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn an_extreme_but_numeric_timestamp_is_out_of_tolerance_not_a_crash() {
        let secret = Secret::new(SECRET);
        for millis in [i64::MIN, i64::MAX, -1, 0] {
            let body = format!(r#"{{"type":"Issue","webhookTimestamp":{millis}}}"#);
            let h = headers_with(&sign(&secret, body.as_bytes()));
            assert_eq!(
                check(&h, body.as_bytes(), BODY_TS).map_err(|e| e.code()),
                Err("timestamp_out_of_tolerance"),
                "{millis}"
            );
        }
    }

    #[test]
    fn missing_malformed_and_repeated_headers_say_what_is_wrong() {
        assert_eq!(
            check(&HeaderMap::new(), BODY, BODY_TS),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        for bad in [
            "sha256=cb19968f6c039ac31c599635d4d23b73ad13a8d277b755311c55f2d571c11d7c",
            "cb19968f",
            "zz19968f6c039ac31c599635d4d23b73ad13a8d277b755311c55f2d571c11d7c",
            "",
        ] {
            assert_eq!(
                check(&headers_with(bad), BODY, BODY_TS).map_err(|e| e.code()),
                Err("invalid_signature"),
                "{bad:?}"
            );
        }
        let mut twice = headers_with(SIGNATURE);
        twice.append(SIGNATURE_HEADER, HeaderValue::from_static("00"));
        assert!(matches!(
            check(&twice, BODY, BODY_TS),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn signed_requests_verify_and_a_body_without_timestamp_is_not_signed() {
        let secret = Secret::new("lin_wh_round_trip");
        let now = 1_750_000_000;
        let body = format!(
            r#"{{"type":"Comment","action":"remove","webhookTimestamp":{}}}"#,
            now * 1000
        );
        let sent =
            sign_request(&secret, body.as_bytes(), now, &SchemeOptions::default()).expect("signs");
        let mut h = HeaderMap::new();
        for (name, value) in &sent {
            h.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("lower-case name"),
                HeaderValue::from_str(value).expect("ascii"),
            );
        }
        assert!(h.contains_key("content-type"));
        assert_eq!(
            h.get(EVENT_HEADER).map(|v| v.as_bytes()),
            Some(&b"Comment"[..])
        );
        assert_eq!(
            run(std::slice::from_ref(&secret), &h, body.as_bytes(), now + 2),
            Ok(())
        );

        let refused = sign_request(
            &secret,
            br#"{"type":"Issue"}"#,
            now,
            &SchemeOptions::default(),
        );
        assert!(
            matches!(&refused, Err(SignError::Invalid(m)) if m.contains("webhookTimestamp") && m.contains("1750000000000")),
            "{refused:?}"
        );
    }

    #[test]
    fn the_event_type_is_entity_dot_action_and_the_delivery_id_is_the_header() {
        let options = SchemeOptions::default();
        let check = check_for(&[], &options, BODY_TS);
        let mut h = HeaderMap::new();
        h.insert(
            DELIVERY_HEADER,
            HeaderValue::from_static("234d1a4e-b617-4388-90fe-adc3633d6b72"),
        );
        h.insert(EVENT_HEADER, HeaderValue::from_static("Issue"));
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
        assert_eq!(meta.event_type.as_deref(), Some("Issue.create"));
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("234d1a4e-b617-4388-90fe-adc3633d6b72")
        );
        assert_eq!(
            meta_of(br#"{"type":"Project"}"#).event_type.as_deref(),
            Some("Project")
        );
        assert_eq!(meta_of(b"not json").event_type.as_deref(), Some("Issue"));
    }
}
