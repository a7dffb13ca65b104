//! Linear: `Linear-Signature: <hex>`, the HMAC-SHA256 of the raw body keyed with the webhook's
//! signing secret; the body's own `webhookTimestamp` (milliseconds since the Unix epoch) must be
//! close to now.
//!
//! Spec: <https://linear.app/developers/webhooks> ("Securing webhooks"). The timestamp lives
//! inside the signed body rather than in a header, so the body is read only after the signature
//! matched (and then without a second full parse where the key's place makes that safe, see
//! [`top_level`]), and a body without a numeric `webhookTimestamp` is refused: without it a
//! captured delivery could be replayed for ever. Linear asks for it to be within a minute of the
//! receiver's clock, as its SDK's `LinearWebhooks.verify` checks (either way).

use std::sync::LazyLock;
use std::time::Duration;

use serde::Deserialize;

use super::digest::{any_matches, check_timestamp, hex_digest, hmac};
use super::top_level;
use super::{
    Check, EventMeta, HmacAlgorithm, Inbound, Scheme, SchemeOptions, SignError, SignedHeaders,
    VerifyError, optional_header, single_header,
};
use crate::secret::Secret;

/// One minute either way, as Linear's guide and SDK check.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(60);

pub const SIGNATURE_HEADER: &str = "linear-signature";
/// The delivery's UUID.
pub const DELIVERY_HEADER: &str = "linear-delivery";
/// The entity type (`Issue`, `Comment`, …), the same as the body's `type`.
pub const EVENT_HEADER: &str = "linear-event";
const FORWARDED_HEADERS: &[&str] = &[DELIVERY_HEADER, EVENT_HEADER, "user-agent"];

/// Linear's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Linear;

impl Scheme for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        let value = single_header(request.headers, SIGNATURE_HEADER)?;
        let candidate = hex_digest(value, 32, SIGNATURE_HEADER)?;
        let found = any_matches(
            HmacAlgorithm::Sha256,
            check.secrets,
            &[request.body],
            &[candidate],
        );
        if !found {
            return Err(VerifyError::NoMatch);
        }
        let millis = webhook_timestamp(request.body).ok_or(VerifyError::MalformedBody(
            "expected a JSON object with a numeric `webhookTimestamp` (milliseconds since the Unix epoch)",
        ))?;
        check_timestamp(millis.div_euclid(1000), &check.policy)
    }

    /// `Linear-Delivery` as the delivery id. The event type is `{type}.{action}` from the body, e.g.
    /// `Issue.create` or `Comment.remove`, so subscriptions can take `Issue.*` or one action; a
    /// body without an `action` gives the bare entity type, from the body or `Linear-Event`.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
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

    /// The headers Linear would send with `body`. The body must carry its own `webhookTimestamp`,
    /// since that is what the receiver checks; it cannot be added here without changing the body.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        _event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        if parsed_webhook_timestamp(body).is_none() {
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
}

#[derive(Deserialize)]
struct TimestampOnly {
    #[serde(rename = "webhookTimestamp")]
    webhook_timestamp: Option<serde_json::Number>,
}

/// The body's top-level `webhookTimestamp`, for a body whose signature matched: found without
/// a full parse when [`top_level::Member`] is sure of it (Linear sends it near the end, so this
/// reads a few dozen bytes), else by [`parsed_webhook_timestamp`].
fn webhook_timestamp(body: &[u8]) -> Option<i64> {
    static TIMESTAMP: LazyLock<top_level::Member> =
        LazyLock::new(|| top_level::Member::new(br#""webhookTimestamp""#));
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    TIMESTAMP
        .integer_in(body)
        .or_else(|| parsed_webhook_timestamp(body))
}

/// The body's top-level `webhookTimestamp` by a full parse, which also refuses a body that is
/// not valid JSON: what signing checks, since the body is not the provider's yet.
fn parsed_webhook_timestamp(body: &[u8]) -> Option<i64> {
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

/// The `Linear-Signature` value Linear would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    hex::encode(hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &[body],
    ))
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::testing::{Case, headers};
    use super::*;

    // Linear publishes no signed example, so this vector was computed independently with Python's
    // hmac module (HMAC-SHA256, hex) over a body shaped like Linear's documented payload.
    const SECRET: &str = "lin_wh_example_signing_secret";
    const BODY: &[u8] = br#"{"action":"create","actor":{"id":"2e6eea91-1111-0000-9486-acea0603064d","name":"Jane Doe","type":"user"},"createdAt":"2023-02-10T19:22:20.508Z","data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","title":"Webhook test","identifier":"ENG-1"},"url":"https://linear.app/acme/issue/ENG-1/webhook-test","type":"Issue","organizationId":"b5d8e2a4-0000-4b1e-9cde-123456789abc","webhookTimestamp":1676056940508,"webhookId":"000042e3-d123-4980-b49f-8e140eef9329"}"#;
    const SIGNATURE: &str = "cb19968f6c039ac31c599635d4d23b73ad13a8d277b755311c55f2d571c11d7c";
    /// `webhookTimestamp` in whole seconds (it is 1676056940.508).
    const BODY_TS: i64 = 1_676_056_940;

    fn signature(value: &str) -> HeaderMap {
        headers(&[(SIGNATURE_HEADER, value)])
    }

    fn case() -> Case<'static> {
        Case::new(&Linear, &[SECRET], BODY_TS)
    }

    #[test]
    fn an_independently_computed_vector_is_accepted() {
        assert_eq!(sign(&Secret::new(SECRET), BODY), SIGNATURE);
        assert_eq!(case().verify(&signature(SIGNATURE), BODY), Ok(()));
    }

    #[test]
    fn the_milliseconds_of_the_body_timestamp_are_dropped() {
        // 1676056940.508 s counts as 1676056940, not 1676056941.
        let h = signature(SIGNATURE);
        assert_eq!(case().at(BODY_TS + 60).verify(&h, BODY), Ok(()));
        assert_eq!(
            case().at(BODY_TS + 61).verify(&h, BODY),
            Err(VerifyError::TimestampOutOfTolerance {
                skew_seconds: 61,
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
            let h = signature(&sign(&secret, body));
            assert!(
                matches!(case().verify(&h, body), Err(VerifyError::MalformedBody(_))),
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
            let h = signature(&sign(&secret, body.as_bytes()));
            assert_eq!(
                case().code(&h, body.as_bytes()),
                Err("timestamp_out_of_tolerance"),
                "{millis}"
            );
        }
    }

    #[test]
    fn a_body_without_timestamp_is_not_signed_and_the_entity_is_sent() {
        let secret = Secret::new("lin_wh_round_trip");
        let now = 1_750_000_000;
        let options = SchemeOptions::default();
        let body = format!(
            r#"{{"type":"Comment","action":"remove","webhookTimestamp":{}}}"#,
            now * 1000
        );
        let sent = Linear
            .sign(&secret, body.as_bytes(), now, None, &options)
            .expect("signs");
        assert!(sent.contains(&(EVENT_HEADER.to_owned(), "Comment".to_owned())));
        let refused = Linear.sign(&secret, br#"{"type":"Issue"}"#, now, None, &options);
        assert!(
            matches!(&refused, Err(SignError::Invalid(m)) if m.contains("webhookTimestamp") && m.contains("1750000000000")),
            "{refused:?}"
        );
    }

    #[test]
    fn the_event_type_is_entity_dot_action_and_the_delivery_id_is_the_header() {
        let h = headers(&[
            (DELIVERY_HEADER, "234d1a4e-b617-4388-90fe-adc3633d6b72"),
            (EVENT_HEADER, "Issue"),
        ]);
        let meta = case().describe(&h, BODY);
        assert_eq!(meta.event_type.as_deref(), Some("Issue.create"));
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("234d1a4e-b617-4388-90fe-adc3633d6b72")
        );
        let event_type = |body: &[u8]| case().describe(&h, body).event_type;
        assert_eq!(
            event_type(br#"{"type":"Project"}"#).as_deref(),
            Some("Project")
        );
        assert_eq!(event_type(b"not json").as_deref(), Some("Issue"));
    }
}
