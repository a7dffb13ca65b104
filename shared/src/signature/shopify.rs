//! Shopify: `X-Shopify-Hmac-Sha256: <base64>`, the HMAC-SHA256 of the raw body keyed with the
//! app's client secret (the "API secret key"), or, for a webhook made in the store admin, the
//! secret shown under Settings → Notifications → Webhooks.
//!
//! Spec: <https://shopify.dev/docs/apps/build/webhooks/subscribe/https>
//! ("Verify the webhook").
//! Shopify signs no timestamp; duplicates are recognised by `X-Shopify-Webhook-Id`, which stays
//! the same when Shopify retries a delivery. After a client secret is rotated Shopify may sign
//! with the old one for up to an hour, so keep both active for that long.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::digest::{BodyDigest, hmac, verify_body_digest};
use super::{
    Check, DigestEncoding, EventMeta, HmacAlgorithm, Inbound, Scheme, SchemeOptions, SignError,
    SignedHeaders, VerifyError, optional_header,
};
use crate::secret::Secret;

pub const SIGNATURE_HEADER: &str = "x-shopify-hmac-sha256";
pub const TOPIC_HEADER: &str = "x-shopify-topic";
/// The same on every retry of one delivery.
pub const WEBHOOK_ID_HEADER: &str = "x-shopify-webhook-id";
/// Names the event; several subscriptions to one event share it.
pub const EVENT_ID_HEADER: &str = "x-shopify-event-id";
const FORWARDED_HEADERS: &[&str] = &[
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    EVENT_ID_HEADER,
    "x-shopify-shop-domain",
    "x-shopify-api-version",
    "x-shopify-triggered-at",
    "x-shopify-sub-topic",
    "user-agent",
];

/// Shopify's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Shopify;

impl Scheme for Shopify {
    fn name(&self) -> &'static str {
        "shopify"
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        verify_body_digest(check, request, &LAYOUT)
    }

    /// The topic (`orders/create`) from `X-Shopify-Topic`, and `X-Shopify-Webhook-Id` (else
    /// `X-Shopify-Event-Id`) as the delivery id.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        EventMeta {
            delivery_id: optional_header(request.headers, WEBHOOK_ID_HEADER)
                .or_else(|| optional_header(request.headers, EVENT_ID_HEADER)),
            event_type: optional_header(request.headers, TOPIC_HEADER),
        }
    }

    /// The signature, a fresh webhook id and the topic in `X-Shopify-Topic`.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        _now: i64,
        event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        let mut headers = vec![
            (SIGNATURE_HEADER.to_owned(), sign(secret, body)),
            (
                WEBHOOK_ID_HEADER.to_owned(),
                uuid::Uuid::new_v4().to_string(),
            ),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        if let Some(topic) = event_type {
            headers.push((TOPIC_HEADER.to_owned(), topic.to_owned()));
        }
        Ok(headers)
    }
}
/// The base64 HMAC-SHA256 of the body, with no prefix.
const LAYOUT: BodyDigest = BodyDigest {
    header: SIGNATURE_HEADER,
    prefix: "",
    expected: "expected the base64 HMAC-SHA256 of the body",
    algorithm: HmacAlgorithm::Sha256,
    encoding: DigestEncoding::Base64,
};

/// The `X-Shopify-Hmac-Sha256` value Shopify would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    BASE64.encode(hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &[body],
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Case, headers};
    use super::*;

    // Shopify publishes no signed example, so this vector was computed independently with
    // Python's hmac and base64 modules: HMAC-SHA256 of this body under this secret, base64.
    const SECRET: &str = "hush";
    const BODY: &[u8] =
        br#"{"id":820982911946154508,"email":"jon@example.com","total_price":"199.00"}"#;
    const SIGNATURE: &str = "19sb4TQ53/TxxyK6YcMtX+aMrJyVgshiuMO90SUSl08=";

    fn case() -> Case<'static> {
        Case::new(&Shopify, &[SECRET], 0)
    }

    #[test]
    fn an_independently_computed_vector_is_accepted() {
        assert_eq!(sign(&Secret::new(SECRET), BODY), SIGNATURE);
        let h = headers(&[(SIGNATURE_HEADER, SIGNATURE)]);
        assert_eq!(case().verify(&h, BODY), Ok(()));
    }

    #[test]
    fn the_topic_and_webhook_id_come_from_the_headers() {
        let mut h = headers(&[
            (TOPIC_HEADER, "orders/create"),
            (EVENT_ID_HEADER, "98880550-7158-44d4-b7cd-2c97c8a091b5"),
        ]);
        let meta = case().describe(&h, BODY);
        assert_eq!(meta.event_type.as_deref(), Some("orders/create"));
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("98880550-7158-44d4-b7cd-2c97c8a091b5")
        );
        h.insert(
            WEBHOOK_ID_HEADER,
            http::HeaderValue::from_static("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        );
        assert_eq!(
            case().describe(&h, BODY).delivery_id.as_deref(),
            Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
        );
    }
}
