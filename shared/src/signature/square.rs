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

use super::digest::{any_matches, base64_digest, hmac, matched};
use super::{
    Check, EventMeta, HmacAlgorithm, Inbound, OptionsError, Scheme, SchemeOptions, SignError,
    SignedHeaders, VerifyError, single_header,
};
use crate::secret::Secret;

pub const SIGNATURE_HEADER: &str = "x-square-hmacsha256-signature";
const FORWARDED_HEADERS: &[&str] = &[
    "square-environment",
    "square-version",
    "square-retry-number",
    "square-retry-reason",
    "square-initial-delivery-timestamp",
    "user-agent",
];

const SIGNATURE_LEN: usize = 32;

/// Square's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Square;

impl Scheme for Square {
    fn name(&self) -> &'static str {
        "square"
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
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
            &[url.as_bytes(), request.body],
            &[candidate],
        );
        matched(found)
    }

    /// `event_id` (the same on Square's retries) and `type`, e.g. `payment.updated`.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        serde_json::from_slice::<Notification>(request.body)
            .map(|n| EventMeta {
                delivery_id: n.event_id,
                event_type: n.event_type,
            })
            .unwrap_or_default()
    }

    /// The headers Square would send with `body` to the source's public URL.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        _now: i64,
        _event_type: Option<&str>,
        options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        let url = notification_url(options).ok_or_else(|| {
            SignError::Invalid("square signs the source's public URL; set --public-url".to_owned())
        })?;
        Ok(vec![
            (SIGNATURE_HEADER.to_owned(), sign(secret, url, body)),
            ("content-type".to_owned(), "application/json".to_owned()),
        ])
    }

    fn check_options(&self, options: &SchemeOptions) -> Result<(), OptionsError> {
        notification_url(options)
            .map(|_| ())
            .ok_or(OptionsError::NoPublicUrl("square"))
    }
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

#[derive(Deserialize)]
struct Notification {
    event_id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::testing::{Case, headers};
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

    fn signature(value: &str) -> HeaderMap {
        headers(&[(SIGNATURE_HEADER, value)])
    }

    fn case(key: &str, url: Option<&str>) -> Case<'static> {
        Case::new(&Square, &[key], 0).with_options(SchemeOptions {
            public_url: url.map(str::to_owned),
            ..SchemeOptions::default()
        })
    }

    #[test]
    fn squares_published_sdk_vectors_are_accepted() {
        assert_eq!(
            sign(&Secret::new(DOC_KEY), DOC_URL, DOC_BODY),
            DOC_SIGNATURE
        );
        let doc = case(DOC_KEY, Some(DOC_URL));
        assert_eq!(doc.verify(&signature(DOC_SIGNATURE), DOC_BODY), Ok(()));
        let escaped = case(ESCAPED_KEY, Some(ESCAPED_URL));
        assert_eq!(
            escaped.verify(&signature(ESCAPED_SIGNATURE), ESCAPED_BODY),
            Ok(())
        );
    }

    #[test]
    fn another_url_or_a_reformatted_body_is_rejected() {
        let h = signature(DOC_SIGNATURE);
        // The SDK's own negative case: a URL one character shorter.
        let shorter = case(
            DOC_KEY,
            Some("https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9"),
        );
        assert_eq!(shorter.verify(&h, DOC_BODY), Err(VerifyError::NoMatch));
        let reformatted = serde_json::to_vec_pretty(
            &serde_json::from_slice::<serde_json::Value>(DOC_BODY).expect("json"),
        )
        .expect("json");
        assert_eq!(
            case(DOC_KEY, Some(DOC_URL)).verify(&h, &reformatted),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn a_source_without_a_public_url_cannot_verify_or_sign() {
        for url in [None, Some("")] {
            let without = case(DOC_KEY, url);
            assert_eq!(
                without.code(&signature(DOC_SIGNATURE), DOC_BODY),
                Err("source_misconfigured")
            );
            assert_eq!(
                Square.check_options(&without.options),
                Err(OptionsError::NoPublicUrl("square"))
            );
            let signed = Square.sign(&Secret::new(DOC_KEY), DOC_BODY, 0, None, &without.options);
            assert!(signed.is_err());
        }
    }

    #[test]
    fn describe_reads_event_id_and_type() {
        let doc = case(DOC_KEY, None);
        let meta = doc.describe(&HeaderMap::new(), DOC_BODY);
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("ac3ac95b-f97d-458c-a6e6-18981597e05f")
        );
        assert_eq!(
            meta.event_type.as_deref(),
            Some("webhooks.test_notification")
        );
        assert_eq!(doc.describe(&HeaderMap::new(), b"[]"), EventMeta::default());
    }
}
