//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`, where each `v1` is the
//! hex HMAC-SHA256 of `{t}.{body}` keyed with the endpoint's signing secret.
//!
//! Spec: <https://docs.stripe.com/webhooks/signatures#verify-manually>.
//! The key is the whole secret text, `whsec_` included (unlike Standard Webhooks, nothing is
//! base64-decoded). Stripe sends one `v1` per active secret while an endpoint's secret is being
//! rolled, so any matching `v1` is enough; `v0` and unknown schemes are ignored. Stripe's SDKs
//! check only that `t` is not too old; Hookpost also refuses a `t` too far in the future.

use std::time::Duration;

use serde::Deserialize;

use super::digest::{Candidate, any_matches, check_timestamp, hmac};
use super::{
    Check, EventMeta, HmacAlgorithm, Inbound, Scheme, SchemeOptions, SignError, SignedHeaders,
    VerifyError, single_header,
};
use crate::secret::Secret;

/// Five minutes, Stripe's documented default (stripe-python: `Webhook.DEFAULT_TOLERANCE = 300`).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

pub const SIGNATURE_HEADER: &str = "stripe-signature";
const FORWARDED_HEADERS: &[&str] = &["user-agent"];

const SIGNATURE_LEN: usize = 32;

/// Stripe's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Stripe;

impl Scheme for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        let value = single_header(request.headers, SIGNATURE_HEADER)?;
        let parsed = parse_header(value)?;
        let found = any_matches(
            HmacAlgorithm::Sha256,
            check.secrets,
            &[parsed.timestamp.as_bytes(), b".", request.body],
            &parsed.signatures,
        );
        if !found {
            return Err(VerifyError::NoMatch);
        }
        // Checked after the signature, so a stale timestamp means a genuine but replayed request.
        check_timestamp(parsed.signed_at, &check.policy)
    }

    /// The event's `id` (`evt_…`, the same on every retry) and its `type` (`invoice.paid`), both
    /// read from the JSON body.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        let head = serde_json::from_slice::<EventHead>(request.body).ok();
        EventMeta {
            delivery_id: head.as_ref().and_then(|h| h.id.clone()),
            event_type: head.and_then(|h| h.event_type),
        }
    }

    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        _event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        // `t=` is digits only (the verifier refuses a sign), so a time before 1970 cannot be sent
        // (found by `make fuzz`, target `signatures`).
        if now < 0 {
            return Err(SignError::Invalid(format!(
                "{now} is before 1970; Stripe timestamps are whole seconds since the Unix epoch"
            )));
        }
        Ok(vec![
            (SIGNATURE_HEADER.to_owned(), sign(secret, body, now)),
            (
                "content-type".to_owned(),
                "application/json; charset=utf-8".to_owned(),
            ),
        ])
    }
}

struct ParsedHeader<'a> {
    /// The `t` value as sent: it is what Stripe signed.
    timestamp: &'a str,
    signed_at: i64,
    signatures: Vec<Candidate>,
}

fn parse_header(value: &str) -> Result<ParsedHeader<'_>, VerifyError> {
    let malformed = |reason| VerifyError::MalformedHeader {
        header: SIGNATURE_HEADER,
        reason,
    };
    let mut timestamp = None;
    let mut v1_seen = false;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        // Items other than `key=value` pairs, and schemes other than `t` and `v1`, are ignored
        // as Stripe's SDKs ignore them.
        let Some((key, val)) = item.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" if timestamp.is_some() => return Err(malformed("`t=` appears more than once")),
            "t" => timestamp = Some(val),
            "v1" => {
                v1_seen = true;
                // A `v1` that is not a SHA-256 hex digest cannot match; another one may.
                signatures.extend(Candidate::from_hex(val, SIGNATURE_LEN));
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(malformed("expected `t=<unix seconds>`"))?;
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("`t=` is not whole seconds since the Unix epoch"));
    }
    let signed_at = timestamp
        .parse()
        .map_err(|_| malformed("`t=` is not whole seconds since the Unix epoch"))?;
    if !v1_seen {
        return Err(malformed("expected at least one `v1=<hex HMAC-SHA256>`"));
    }
    Ok(ParsedHeader {
        timestamp,
        signed_at,
        signatures,
    })
}

#[derive(Deserialize)]
struct EventHead {
    id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// The `Stripe-Signature` value Stripe would send for `body` at `timestamp`.
pub fn sign(secret: &Secret, body: &[u8], timestamp: i64) -> String {
    let t = timestamp.to_string();
    let mac = hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &[t.as_bytes(), b".", body],
    );
    format!("t={t},v1={}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Case, headers};
    use super::*;

    // The payload and secret of stripe-python's own webhook tests (tests/test_webhook.py:
    // DUMMY_WEBHOOK_PAYLOAD, DUMMY_WEBHOOK_SECRET). Stripe publishes no fixed signature, so this
    // one was computed for t = 1700000000 with stripe-python 16.1.0
    // (`stripe.WebhookSignature._compute_signature`, accepted by its `verify_header`) and,
    // independently, with Python's hmac module.
    const SDK_SECRET: &str = "whsec_test_secret";
    const SDK_BODY: &[u8] = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\",\n  \"data\": { \"object\": { \"id\": \"rdr_123\", \"object\": \"terminal.reader\" } }\n}";
    const SDK_TS: i64 = 1_700_000_000;
    const SDK_V1: &str = "3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd";

    fn case() -> Case<'static> {
        Case::new(&Stripe, &[SDK_SECRET], SDK_TS)
    }

    fn signature(value: &str) -> http::HeaderMap {
        headers(&[(SIGNATURE_HEADER, value)])
    }

    fn sdk_header() -> String {
        format!("t={SDK_TS},v1={SDK_V1}")
    }

    #[test]
    fn the_stripe_sdk_test_vector_is_accepted() {
        assert_eq!(
            sign(&Secret::new(SDK_SECRET), SDK_BODY, SDK_TS),
            sdk_header()
        );
        assert_eq!(case().verify(&signature(&sdk_header()), SDK_BODY), Ok(()));
    }

    #[test]
    fn the_whsec_prefix_is_part_of_the_key() {
        let bare = Case::new(&Stripe, &["test_secret"], SDK_TS);
        assert_eq!(
            bare.verify(&signature(&sdk_header()), SDK_BODY),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn a_signature_for_another_timestamp_is_rejected() {
        let h = signature(&format!("t={},v1={SDK_V1}", SDK_TS + 1));
        assert_eq!(case().verify(&h, SDK_BODY), Err(VerifyError::NoMatch));
    }

    #[test]
    fn one_matching_v1_among_several_is_enough_and_v0_is_ignored() {
        // As Stripe sends during a secret roll, plus stripe-python's "bad_signature" case.
        let value = format!(
            "t={SDK_TS},v1={},v1=bad_signature,v1={SDK_V1},v0={}",
            "0".repeat(64),
            "1".repeat(64)
        );
        assert_eq!(case().verify(&signature(&value), SDK_BODY), Ok(()));
        // A v0 alone is not checked, even when it is "right".
        let v0_only = format!("t={SDK_TS},v0={SDK_V1}");
        assert_eq!(
            case().code(&signature(&v0_only), SDK_BODY),
            Err("invalid_signature")
        );
    }

    #[test]
    fn the_event_id_and_type_come_from_the_body() {
        let h = http::HeaderMap::new();
        let meta = case().describe(
            &h,
            br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"invoice.paid"}"#,
        );
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("evt_1NG8Du2eZvKYlo2CUI79vXWy")
        );
        assert_eq!(meta.event_type.as_deref(), Some("invoice.paid"));
        assert_eq!(case().describe(&h, b"not json"), EventMeta::default());
    }

    #[test]
    fn a_time_before_1970_is_refused_when_signing_as_it_could_not_be_verified() {
        let secret = Secret::new("whsec_test");
        let sign_at = |now| Stripe.sign(&secret, b"{}", now, None, &SchemeOptions::default());
        // The clock of the fuzzer's input, then the extremes.
        for now in [i64::from_le_bytes([0xa6; 8]), -1, i64::MIN] {
            assert!(sign_at(now).is_err(), "{now}");
        }
        assert!(sign_at(0).is_ok());
    }
}
