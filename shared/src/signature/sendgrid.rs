//! SendGrid's signed Event Webhook: `X-Twilio-Email-Event-Webhook-Signature` is a base64 DER
//! ECDSA P-256 signature, with SHA-256, of `{X-Twilio-Email-Event-Webhook-Timestamp}{body}`; the
//! timestamp is Unix seconds.
//!
//! Spec: <https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features>.
//! The source's secret is the verification key SendGrid's dashboard shows: a base64 DER
//! SubjectPublicKeyInfo (PEM armour around it is tolerated). Only SendGrid holds the private key,
//! so Hookpost cannot sign SendGrid requests. The body is a JSON array of events, batched.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use p256::ecdsa::signature::DigestVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::digest::{check_timestamp, matched, parse_unix};
use super::parsed_keys::ParsedKeys;
use super::{
    Check, EventMeta, Inbound, Scheme, SchemeOptions, SignError, SignedHeaders, VerifyError,
    single_header,
};
use crate::secret::Secret;

/// Five minutes either way. SendGrid documents no window; five minutes is the common choice for
/// signed timestamps (Standard Webhooks, Slack, Zoom), and it holds as long as SendGrid signs each
/// delivery attempt when it sends it. A source whose retries arrive with older timestamps can set
/// a larger tolerance.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";
const FORWARDED_HEADERS: &[&str] = &[TIMESTAMP_HEADER, "user-agent"];

const UNCONFIGURED: VerifyError = VerifyError::Unconfigured(
    "the secret is not a SendGrid verification key (a base64 DER P-256 public key)",
);

/// SendGrid's signed Event Webhook.
#[derive(Debug, Clone, Copy)]
pub struct Sendgrid;

impl Scheme for Sendgrid {
    fn name(&self) -> &'static str {
        "sendgrid"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        // Every key must parse, so a misconfigured source fails whichever key would have matched.
        let keys = check
            .secrets
            .iter()
            .map(verifying_key)
            .collect::<Result<Vec<_>, _>>()?;
        let timestamp = single_header(request.headers, TIMESTAMP_HEADER)?;
        let value = single_header(request.headers, SIGNATURE_HEADER)?;
        check_timestamp(parse_unix(timestamp, TIMESTAMP_HEADER)?, &check.policy)?;
        let der = BASE64
            .decode(value)
            .map_err(|_| VerifyError::MalformedHeader {
                header: SIGNATURE_HEADER,
                reason: "the signature is not base64",
            })?;
        let signature = Signature::from_der(&der).map_err(|_| VerifyError::MalformedHeader {
            header: SIGNATURE_HEADER,
            reason: "the signature is not a DER ECDSA P-256 signature",
        })?;
        // One digest over both parts, so the body is never copied.
        let digest = Sha256::new()
            .chain_update(timestamp.as_bytes())
            .chain_update(request.body);
        let mut found = false;
        for key in &keys {
            found |= key.verify_digest(digest.clone(), &signature).is_ok();
        }
        matched(found)
    }

    /// The event type is the first event's `event` (`delivered`, `open`, …): a batch can mix types,
    /// so a subscription that must see every event should use `*`. The delivery id is the event's
    /// `sg_event_id` for a batch of one, and for a larger batch `batch-` and a SHA-256 of all its
    /// `sg_event_id`s, so that a resent batch is a duplicate but a batch that only shares its first
    /// event is not.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        let Ok(events) = serde_json::from_slice::<Vec<Event>>(request.body) else {
            return EventMeta::default();
        };
        let ids: Option<Vec<&str>> = events.iter().map(|e| e.sg_event_id.as_deref()).collect();
        let delivery_id = match ids.as_deref() {
            Some([one]) => Some((*one).to_owned()),
            Some(many) if many.len() > 1 => {
                let mut hash = Sha256::new();
                for id in many {
                    hash.update(id.as_bytes());
                    hash.update(b"\n");
                }
                Some(format!("batch-{}", hex::encode(hash.finalize())))
            }
            _ => None,
        };
        EventMeta {
            delivery_id,
            event_type: events.into_iter().next().and_then(|e| e.event),
        }
    }

    fn sign(
        &self,
        _secret: &Secret,
        _body: &[u8],
        _now: i64,
        _event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        Err(SignError::Asymmetric(self.name()))
    }
}

/// The keys this process decoded: a SubjectPublicKeyInfo is parsed once per source, not per
/// request.
static KEYS: ParsedKeys<VerifyingKey> = ParsedKeys::new();

fn verifying_key(secret: &Secret) -> Result<VerifyingKey, VerifyError> {
    KEYS.get(secret.expose(), decode_key)
}

/// The verification key in a secret: base64 DER SubjectPublicKeyInfo, with or without PEM lines.
fn decode_key(text: &str) -> Result<VerifyingKey, VerifyError> {
    let base64: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("-----"))
        .flat_map(str::split_whitespace)
        .collect();
    let der = BASE64.decode(base64).map_err(|_| UNCONFIGURED)?;
    VerifyingKey::from_public_key_der(&der).map_err(|_| UNCONFIGURED)
}

#[derive(Deserialize)]
struct Event {
    event: Option<String>,
    sg_event_id: Option<String>,
}

/// Requests signed as SendGrid signs them, with a key pair of the tests' own: only SendGrid holds
/// the real private key.
#[cfg(test)]
pub(super) mod test_key {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use p256::ecdsa::signature::DigestSigner;
    use p256::ecdsa::{Signature, SigningKey};
    use sha2::{Digest, Sha256};

    use super::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
    use crate::secret::Secret;
    use crate::signature::SignedHeaders;

    /// The fixed DER prefix of a P-256 SubjectPublicKeyInfo, before the uncompressed point.
    const SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

    /// The key pair made from `seed`, and its public key in the dashboard's form as a source's
    /// secret.
    pub(crate) fn keypair(seed: u8) -> (SigningKey, Secret) {
        let key = SigningKey::from_bytes(&[seed; 32].into()).expect("a valid scalar");
        let point = key.verifying_key().to_encoded_point(false);
        let mut spki = hex::decode(SPKI_PREFIX).expect("hex");
        spki.extend_from_slice(point.as_bytes());
        (key, Secret::new(BASE64.encode(spki)))
    }

    /// The headers SendGrid would send with `body` at `now`.
    pub(crate) fn sign(key: &SigningKey, now: i64, body: &[u8]) -> SignedHeaders {
        let ts = now.to_string();
        let digest = Sha256::new().chain_update(ts.as_bytes()).chain_update(body);
        let signature: Signature = key.sign_digest(digest);
        vec![
            (
                SIGNATURE_HEADER.to_owned(),
                BASE64.encode(signature.to_der().as_bytes()),
            ),
            (TIMESTAMP_HEADER.to_owned(), ts),
            ("content-type".to_owned(), "application/json".to_owned()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::testing::{Case, headers};
    use super::*;

    // SendGrid's published vectors.
    //
    // sendgrid-python `test/unit/test_eventwebhook.py`: a `dropped` event, serialised with sorted
    // keys and no spaces, followed by CRLF.
    const PY_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    const PY_SIGNATURE: &str = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
    const PY_TIMESTAMP: i64 = 1_600_112_502;
    const PY_BODY: &[u8] = b"[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";
    //
    // sendgrid-nodejs `packages/eventwebhook/src/eventwebhook.spec.js` (and sendgrid-python's
    // older `test/test_eventwebhook.py`), with its wrong-key and one-character-off signature.
    const NODE_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
    const NODE_SIGNATURE: &str = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=";
    const NODE_BAD_SIGNATURE: &str = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0=";
    const NODE_OTHER_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==";
    const NODE_TIMESTAMP: i64 = 1_588_788_367;
    const NODE_BODY: &[u8] =
        br#"{"category":"example_payload","event":"test_event","message_id":"message_id"}"#;

    fn signed(ts: &str, signature: &str) -> HeaderMap {
        headers(&[(TIMESTAMP_HEADER, ts), (SIGNATURE_HEADER, signature)])
    }

    fn node(key: &str) -> Case<'static> {
        Case::new(&Sendgrid, &[key], NODE_TIMESTAMP)
    }

    fn node_headers() -> HeaderMap {
        signed(&NODE_TIMESTAMP.to_string(), NODE_SIGNATURE)
    }

    #[test]
    fn sendgrids_published_vectors_are_accepted() {
        let py = Case::new(&Sendgrid, &[PY_KEY], PY_TIMESTAMP);
        let h = signed(&PY_TIMESTAMP.to_string(), PY_SIGNATURE);
        assert_eq!(py.verify(&h, PY_BODY), Ok(()));
        // The body without its trailing CRLF is a different body.
        assert_eq!(
            py.verify(&h, &PY_BODY[..PY_BODY.len() - 2]),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(node(NODE_KEY).verify(&node_headers(), NODE_BODY), Ok(()));
    }

    #[test]
    fn sendgrids_published_negative_cases_are_rejected() {
        let h = node_headers();
        assert_eq!(
            node(NODE_OTHER_KEY).verify(&h, NODE_BODY),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            node(NODE_KEY).verify(&h, b"payload"),
            Err(VerifyError::NoMatch)
        );
        let bad = signed(&NODE_TIMESTAMP.to_string(), NODE_BAD_SIGNATURE);
        assert_eq!(
            node(NODE_KEY).verify(&bad, NODE_BODY),
            Err(VerifyError::NoMatch)
        );
        // The published "bad timestamp" case.
        let bad_ts = signed("timestamp", NODE_SIGNATURE);
        assert!(matches!(
            node(NODE_KEY).verify(&bad_ts, NODE_BODY),
            Err(VerifyError::MalformedHeader {
                header: TIMESTAMP_HEADER,
                ..
            })
        ));
    }

    #[test]
    fn a_key_in_pem_armour_is_accepted_and_a_malformed_key_is_a_configuration_error() {
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{NODE_KEY}\n-----END PUBLIC KEY-----\n");
        assert_eq!(node(&pem).verify(&node_headers(), NODE_BODY), Ok(()));
        for bad in [
            "not base64 at all!",
            "AAAA",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
        ] {
            let both = Case::new(&Sendgrid, &[NODE_KEY, bad], NODE_TIMESTAMP);
            assert_eq!(
                both.code(&node_headers(), NODE_BODY),
                Err("source_misconfigured"),
                "{bad}"
            );
        }
    }

    fn meta(body: &[u8]) -> EventMeta {
        node(NODE_KEY).describe(&HeaderMap::new(), body)
    }

    #[test]
    fn describe_reads_the_first_event_type_and_identifies_the_batch() {
        let one = meta(PY_BODY);
        assert_eq!(one.event_type.as_deref(), Some("dropped"));
        assert_eq!(
            one.delivery_id.as_deref(),
            Some("ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA")
        );

        let batch =
            meta(br#"[{"event":"open","sg_event_id":"a"},{"event":"click","sg_event_id":"b"}]"#);
        assert_eq!(batch.event_type.as_deref(), Some("open"));
        let id = batch.delivery_id.expect("a batch id");
        assert!(id.starts_with("batch-"), "{id}");
        let rebatched =
            meta(br#"[{"event":"open","sg_event_id":"a"},{"event":"click","sg_event_id":"c"}]"#);
        assert_ne!(rebatched.delivery_id, Some(id));

        let unidentified = meta(br#"[{"event":"open"},{"event":"click","sg_event_id":"b"}]"#);
        assert_eq!(unidentified.delivery_id, None);
        assert_eq!(meta(NODE_BODY), EventMeta::default());
        assert_eq!(meta(b"[]"), EventMeta::default());
    }
}
