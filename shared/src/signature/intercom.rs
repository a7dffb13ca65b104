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
    Check, DigestEncoding, EventMeta, HmacAlgorithm, Inbound, Scheme, SchemeOptions, SignError,
    SignedHeaders, VerifyError,
};
use crate::secret::Secret;

pub const SIGNATURE_HEADER: &str = "x-hub-signature";
const FORWARDED_HEADERS: &[&str] = &["user-agent"];

/// Intercom's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Intercom;

impl Scheme for Intercom {
    fn name(&self) -> &'static str {
        "intercom"
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        verify_body_digest(check, request, &LAYOUT)
    }

    /// The notification's `id` (`notif_…`) and `topic` (`conversation.user.created`), read from
    /// the JSON body.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        serde_json::from_slice::<Notification>(request.body)
            .map(|n| EventMeta {
                delivery_id: n.id,
                event_type: n.topic,
            })
            .unwrap_or_default()
    }

    /// The headers Intercom would send with `body`.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        _now: i64,
        _event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        Ok(vec![
            (SIGNATURE_HEADER.to_owned(), sign(secret, body)),
            ("content-type".to_owned(), "application/json".to_owned()),
        ])
    }
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

/// The `X-Hub-Signature` value Intercom would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mac = hmac(HmacAlgorithm::Sha1, secret.expose().as_bytes(), &[body]);
    format!("sha1={}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::testing::{Case, headers};
    use super::*;

    // Intercom's documented example notification (compacted); Intercom publishes no secret for
    // it, so the signature was computed independently with Python's hmac module
    // (HMAC-SHA1, hex) under this secret.
    const SECRET: &str = "intercom-client-secret";
    const BODY: &[u8] = br#"{"type":"notification_event","id":"notif_78c122d0-23ba-11e4-9464-79b01267cc2e","topic":"user.created","app_id":"a86dr8yl","data":{"type":"notification_event_data","item":{"type":"user","id":"530370b477ad7120001d","user_id":"25","name":"Hoban Washburne","unsubscribed_from_emails":false,"custom_attributes":{}}}}"#;
    const SIGNATURE: &str = "sha1=34bc24d89c2f51cc04017c19d3c10e54fb9cb163";

    fn case() -> Case<'static> {
        Case::new(&Intercom, &[SECRET], 0)
    }

    #[test]
    fn an_independently_computed_vector_over_intercoms_example_is_accepted() {
        assert_eq!(sign(&Secret::new(SECRET), BODY), SIGNATURE);
        let h = headers(&[(SIGNATURE_HEADER, SIGNATURE)]);
        assert_eq!(case().verify(&h, BODY), Ok(()));
    }

    #[test]
    fn the_notification_id_and_topic_come_from_the_body() {
        let meta = case().describe(&HeaderMap::new(), BODY);
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("notif_78c122d0-23ba-11e4-9464-79b01267cc2e")
        );
        assert_eq!(meta.event_type.as_deref(), Some("user.created"));
        assert_eq!(
            case().describe(&HeaderMap::new(), b"<html>"),
            EventMeta::default()
        );
    }
}
