//! Standard Webhooks, and Svix (its origin, with `svix-*` header names).
//!
//! Spec: <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>.
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the key is the base64 after
//! `whsec_`; `webhook-signature` holds space-separated `v1,<base64>` entries (several during a key
//! rotation, and other versions such as `v1a` are ignored). Hookpost also signs its own deliveries
//! with [`signature_header`]: `v1` entries with `whsec_` secrets and, for subscriptions that ask
//! for asymmetric signatures, `v1a` entries (ed25519 over the same signed content) with `whsk_`
//! keys, whose `whpk_` public keys the subscribers verify with.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::digest::{KeyOrigin, check_timestamp, keyed};
use super::{
    Check, EventMeta, Inbound, Scheme, SchemeOptions, SignError, SignedHeaders, VerifyError,
    optional_header, single_header,
};
use crate::secret::{DeliveryKey, Ed25519Key, Secret, SigningKey};

/// The spec's recommended tolerance: five minutes either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// One set of header names: the standard's, or Svix's.
#[derive(Debug, Clone, Copy)]
pub struct HeaderNames {
    pub id: &'static str,
    pub timestamp: &'static str,
    pub signature: &'static str,
}

pub const STANDARD_HEADERS: HeaderNames = HeaderNames {
    id: "webhook-id",
    timestamp: "webhook-timestamp",
    signature: "webhook-signature",
};

pub const SVIX_HEADERS: HeaderNames = HeaderNames {
    id: "svix-id",
    timestamp: "svix-timestamp",
    signature: "svix-signature",
};

const FORWARDED_HEADERS: &[&str] = &["webhook-id", "svix-id", "user-agent"];

type HmacSha256 = Hmac<Sha256>;
const SIGNATURE_LEN: usize = 32;

/// The Standard Webhooks scheme (Svix's too).
#[derive(Debug, Clone, Copy)]
pub struct StandardWebhooks;

impl Scheme for StandardWebhooks {
    fn name(&self) -> &'static str {
        "standard-webhooks"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        let names = header_names(request);
        let id = single_header(request.headers, names.id)?;
        let timestamp = single_header(request.headers, names.timestamp)?;
        let signatures = single_header(request.headers, names.signature)?;

        let signed_at: i64 = timestamp
            .parse()
            .map_err(|_| VerifyError::MalformedHeader {
                header: names.timestamp,
                reason: "expected whole seconds since the Unix epoch",
            })?;
        check_timestamp(signed_at, &check.policy)?;

        let candidates = parse_signatures(signatures).ok_or(VerifyError::MalformedHeader {
            header: names.signature,
            reason: "expected space-separated `v1,<base64 HMAC-SHA256>` entries",
        })?;

        for secret in check.secrets {
            let keyed = keyed(secret, KeyOrigin::Whsec, || {
                SigningKey::parse_lenient(secret.expose())
                    .map(|key| key.bytes().to_vec())
                    .map_err(|_| VerifyError::Unconfigured("the secret is not a `whsec_` key"))
            })?;
            let expected = mac_from(keyed, id, timestamp, request.body);
            // Every candidate is compared in constant time; the loop's length depends only on the
            // header, which the sender already knows.
            if candidates
                .iter()
                .any(|candidate| bool::from(candidate.ct_eq(&expected)))
            {
                return Ok(());
            }
        }
        Err(VerifyError::NoMatch)
    }

    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        let names = header_names(request);
        EventMeta {
            delivery_id: optional_header(request.headers, names.id),
            // The standard's payloads carry `type` at the top level.
            event_type: serde_json::from_slice::<TypeOnly>(request.body)
                .ok()
                .and_then(|t| t.event_type),
        }
    }

    /// The headers a Standard Webhooks sender would send with `body` at `now`.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        _event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        let key = SigningKey::parse_lenient(secret.expose()).map_err(|e| {
            SignError::Invalid(format!("the secret is not a Standard Webhooks key: {e}"))
        })?;
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        Ok(vec![
            (
                STANDARD_HEADERS.signature.to_owned(),
                sign(&key, &id, now, body),
            ),
            (STANDARD_HEADERS.id.to_owned(), id),
            (STANDARD_HEADERS.timestamp.to_owned(), now.to_string()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ])
    }

    /// A fresh random key in `whsec_` form.
    fn new_secret(&self) -> Result<Secret, getrandom::Error> {
        Ok(SigningKey::generate()?.to_whsec())
    }
}

/// The standard's header names, unless only Svix's are present.
fn header_names(request: &Inbound<'_>) -> HeaderNames {
    if !request.headers.contains_key(STANDARD_HEADERS.signature)
        && request.headers.contains_key(SVIX_HEADERS.signature)
    {
        SVIX_HEADERS
    } else {
        STANDARD_HEADERS
    }
}

/// The `v1` signatures in a `webhook-signature` value; `None` when there is none that decodes.
fn parse_signatures(value: &str) -> Option<Vec<[u8; SIGNATURE_LEN]>> {
    let found: Vec<[u8; SIGNATURE_LEN]> = value
        .split_ascii_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| {
            let mut out = [0u8; SIGNATURE_LEN];
            match BASE64.decode_slice(b64, &mut out) {
                Ok(SIGNATURE_LEN) => Some(out),
                _ => None,
            }
        })
        .collect();
    (!found.is_empty()).then_some(found)
}

fn mac(key: &SigningKey, id: &str, timestamp: &str, body: &[u8]) -> [u8; SIGNATURE_LEN] {
    let keyed = <HmacSha256 as Mac>::new_from_slice(key.bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac_from(keyed, id, timestamp, body)
}

/// [`mac`] from an HMAC already keyed.
fn mac_from(mut mac: HmacSha256, id: &str, timestamp: &str, body: &[u8]) -> [u8; SIGNATURE_LEN] {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// One `v1,<base64>` signature of `body` as message `id` sent at `timestamp`.
pub fn sign(key: &SigningKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        BASE64.encode(mac(key, id, &timestamp.to_string(), body))
    )
}

/// One `v1a,<base64>` signature: ed25519 over the same `{id}.{timestamp}.{body}` as `v1`.
pub fn sign_v1a(key: &Ed25519Key, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1a,{}",
        BASE64.encode(key.sign(&signed_content(id, &timestamp.to_string(), body)))
    )
}

/// `{id}.{timestamp}.{body}`, whole: ed25519 signs a message in one piece (HMAC streams it).
fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// The `webhook-signature` value for `body` signed with every key, in order: `v1,…` for a
/// `whsec_` key, `v1a,…` for a `whsk_` key, space-separated as the standard allows during a
/// rotation or a change of scheme.
pub fn signature_header(keys: &[DeliveryKey], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| match key {
            DeliveryKey::Symmetric(k) => sign(k, id, timestamp, body),
            DeliveryKey::Asymmetric(k) => sign_v1a(k, id, timestamp, body),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    event_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Case, headers};
    use super::*;

    // The example from the Standard Webhooks and Svix documentation ("verifying signatures
    // manually"): this secret, id, timestamp and payload give this signature.
    const DOC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const DOC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const DOC_TS: i64 = 1_614_265_330;
    const DOC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const DOC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn signed(names: HeaderNames, id: &str, ts: &str, sig: &str) -> http::HeaderMap {
        headers(&[
            (names.id, id),
            (names.timestamp, ts),
            (names.signature, sig),
        ])
    }

    fn case() -> Case<'static> {
        Case::new(&StandardWebhooks, &[DOC_SECRET], DOC_TS)
    }

    fn doc_headers() -> http::HeaderMap {
        signed(STANDARD_HEADERS, DOC_ID, &DOC_TS.to_string(), DOC_SIGNATURE)
    }

    #[test]
    fn the_specs_published_example_is_accepted() {
        let key = SigningKey::parse(DOC_SECRET).expect("valid");
        assert_eq!(sign(&key, DOC_ID, DOC_TS, DOC_BODY), DOC_SIGNATURE);
        assert_eq!(case().verify(&doc_headers(), DOC_BODY), Ok(()));
        // The id is signed too.
        let other_id = signed(
            STANDARD_HEADERS,
            "msg_other",
            &DOC_TS.to_string(),
            DOC_SIGNATURE,
        );
        assert_eq!(
            case().verify(&other_id, DOC_BODY),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn svix_header_names_are_accepted_too() {
        let h = signed(SVIX_HEADERS, DOC_ID, &DOC_TS.to_string(), DOC_SIGNATURE);
        assert_eq!(case().verify(&h, DOC_BODY), Ok(()));
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let sig = format!("v1a,AAAA v1,{} {DOC_SIGNATURE}", BASE64.encode([0u8; 32]));
        let h = signed(STANDARD_HEADERS, DOC_ID, &DOC_TS.to_string(), &sig);
        assert_eq!(case().verify(&h, DOC_BODY), Ok(()));
    }

    #[test]
    fn overflowing_timestamps_are_refused_cleanly() {
        for (ts, code) in [
            (i64::MIN.to_string(), "timestamp_out_of_tolerance"),
            (i64::MAX.to_string(), "timestamp_out_of_tolerance"),
            ("99999999999999999999999".to_owned(), "invalid_signature"),
        ] {
            let h = signed(STANDARD_HEADERS, DOC_ID, &ts, DOC_SIGNATURE);
            assert_eq!(case().code(&h, DOC_BODY), Err(code), "{ts}");
        }
    }

    #[test]
    fn a_missing_id_is_named() {
        let mut h = doc_headers();
        h.remove("webhook-id");
        assert_eq!(
            case().verify(&h, DOC_BODY),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
    }

    #[test]
    fn signing_with_two_keys_gives_two_entries_each_verifiable() {
        let a = SigningKey::generate().expect("rng");
        let b = SigningKey::generate().expect("rng");
        let value = signature_header(
            &[
                DeliveryKey::Symmetric(a.clone()),
                DeliveryKey::Symmetric(b.clone()),
            ],
            "evt_1",
            DOC_TS,
            b"{}",
        );
        assert_eq!(value.split(' ').count(), 2);
        let h = signed(STANDARD_HEADERS, "evt_1", &DOC_TS.to_string(), &value);
        for key in [a, b] {
            let one = Case {
                secrets: vec![key.to_whsec()],
                ..case()
            };
            assert_eq!(one.verify(&h, b"{}"), Ok(()));
        }
    }

    // A fixed `whsk_` key (the RFC 8032 section 7.1 TEST 1 seed) signing the spec's example.
    const V1A_SECRET: &str = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
    const V1A_PUBLIC: &str = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    const V1A_DOC_SIGNATURE: &str = "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==";

    fn v1a_entry(value: &str) -> [u8; 64] {
        let b64 = value
            .split(' ')
            .find_map(|e| e.strip_prefix("v1a,"))
            .expect("a v1a entry");
        BASE64
            .decode(b64)
            .expect("base64")
            .try_into()
            .expect("64 bytes")
    }

    fn verifies(public_whpk: &str, content: &[u8], signature: &[u8; 64]) -> bool {
        let public: [u8; 32] = BASE64
            .decode(public_whpk.strip_prefix("whpk_").expect("whpk_"))
            .expect("base64")
            .try_into()
            .expect("32 bytes");
        ed25519_dalek::VerifyingKey::from_bytes(&public)
            .expect("a public key")
            .verify_strict(content, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }

    #[test]
    fn a_v1a_signature_verifies_with_the_public_key_over_the_v1_signed_content() {
        let key = Ed25519Key::parse(V1A_SECRET).expect("valid");
        assert_eq!(key.public_whpk(), V1A_PUBLIC);
        let value = signature_header(
            &[DeliveryKey::Asymmetric(key.clone())],
            DOC_ID,
            DOC_TS,
            DOC_BODY,
        );
        assert!(value.starts_with("v1a,") && !value.contains(' '));
        let signature = v1a_entry(&value);
        let content = [format!("{DOC_ID}.{DOC_TS}.").as_bytes(), DOC_BODY].concat();
        assert!(verifies(V1A_PUBLIC, &content, &signature));
        // ed25519 is deterministic: this is the entry Python's `cryptography` package computes
        // for the same seed and signed content.
        assert_eq!(value, V1A_DOC_SIGNATURE);
        assert_eq!(value, sign_v1a(&key, DOC_ID, DOC_TS, DOC_BODY));

        let tampered = [
            format!("{DOC_ID}.{DOC_TS}.").as_bytes(),
            br#"{"test": 2432232315}"#,
        ]
        .concat();
        assert!(!verifies(V1A_PUBLIC, &tampered, &signature));
        let other_id = [format!("msg_other.{DOC_TS}.").as_bytes(), DOC_BODY].concat();
        assert!(!verifies(V1A_PUBLIC, &other_id, &signature));
        let stranger = Ed25519Key::generate().expect("rng").public_whpk();
        assert!(!verifies(&stranger, &content, &signature));
    }

    #[test]
    fn both_schemes_sign_side_by_side_and_the_v1_entry_still_verifies() {
        let v1 = SigningKey::parse(DOC_SECRET).expect("valid");
        let v1a = Ed25519Key::parse(V1A_SECRET).expect("valid");
        let value = signature_header(
            &[DeliveryKey::Symmetric(v1), DeliveryKey::Asymmetric(v1a)],
            DOC_ID,
            DOC_TS,
            DOC_BODY,
        );
        let entries: Vec<&str> = value.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], DOC_SIGNATURE);
        assert!(entries[1].starts_with("v1a,"));
        // A `v1` verifier skips the `v1a` entry and finds its own.
        let h = signed(STANDARD_HEADERS, DOC_ID, &DOC_TS.to_string(), &value);
        assert_eq!(case().verify(&h, DOC_BODY), Ok(()));
    }

    #[test]
    fn the_event_type_is_read_from_the_payload() {
        let meta = case().describe(&doc_headers(), br#"{"type":"invoice.paid","data":{}}"#);
        assert_eq!(meta.event_type.as_deref(), Some("invoice.paid"));
        assert_eq!(meta.delivery_id.as_deref(), Some(DOC_ID));
    }

    #[test]
    fn new_secrets_are_whsec_keys() {
        let secret = StandardWebhooks.new_secret().expect("rng");
        assert!(SigningKey::parse(secret.expose()).is_ok());
    }
}
