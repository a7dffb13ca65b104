//! Standard Webhooks, and Svix (its origin, with `svix-*` header names).
//!
//! Spec: <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>.
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the key is the base64 after
//! `whsec_`; `webhook-signature` holds space-separated `v1,<base64>` entries (several during a key
//! rotation, and other versions such as `v1a` are ignored). Hookpost also signs its own deliveries
//! with [`signature_header`].

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::digest::check_timestamp;
use super::{
    Check, EventMeta, Inbound, SchemeOptions, SignError, VerifyError, optional_header,
    single_header,
};
use crate::secret::{Secret, SigningKey};

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

pub(super) const FORWARDED_HEADERS: &[&str] = &["webhook-id", "svix-id", "user-agent"];

type HmacSha256 = Hmac<Sha256>;
const SIGNATURE_LEN: usize = 32;

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
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
        let key = SigningKey::parse_lenient(secret.expose())
            .map_err(|_| VerifyError::Unconfigured("the secret is not a `whsec_` key"))?;
        let expected = mac(&key, id, timestamp, request.body);
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
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key.bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
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

/// The `webhook-signature` value for `body` signed with every key (space-separated, as the
/// standard allows during a rotation).
pub fn signature_header(keys: &[SigningKey], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    keys.iter()
        .map(|key| format!("v1,{}", BASE64.encode(mac(key, id, &ts, body))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The headers a Standard Webhooks sender would send with `body` at `now`.
pub fn sign_request(
    secret: &Secret,
    body: &[u8],
    now: i64,
    _options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
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

#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    event_type: Option<String>,
}

pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
    let names = header_names(request);
    EventMeta {
        delivery_id: optional_header(request.headers, names.id),
        // The standard's payloads carry `type` at the top level.
        event_type: serde_json::from_slice::<TypeOnly>(request.body)
            .ok()
            .and_then(|t| t.event_type),
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::super::TimePolicy;
    use super::super::testing::run_verify;
    use super::*;

    // The example from the Standard Webhooks and Svix documentation ("verifying signatures
    // manually"): this secret, id, timestamp and payload give this signature.
    const DOC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const DOC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const DOC_TS: i64 = 1_614_265_330;
    const DOC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const DOC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(names: HeaderNames, id: &str, ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(names.id, HeaderValue::from_str(id).expect("ascii"));
        h.insert(names.timestamp, HeaderValue::from_str(ts).expect("ascii"));
        h.insert(names.signature, HeaderValue::from_str(sig).expect("ascii"));
        h
    }

    fn at(now: i64) -> TimePolicy {
        TimePolicy {
            now,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    fn verify_with(
        secrets: &[Secret],
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        run_verify(verify, secrets, DEFAULT_TOLERANCE, headers, body, now)
    }

    fn check(headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        verify_with(&[Secret::new(DOC_SECRET)], headers, body, now)
    }

    fn doc_headers() -> HeaderMap {
        headers(STANDARD_HEADERS, DOC_ID, &DOC_TS.to_string(), DOC_SIGNATURE)
    }

    #[test]
    fn the_specs_published_example_is_accepted() {
        let key = SigningKey::parse(DOC_SECRET).expect("valid");
        assert_eq!(sign(&key, DOC_ID, DOC_TS, DOC_BODY), DOC_SIGNATURE);
        assert_eq!(check(&doc_headers(), DOC_BODY, DOC_TS), Ok(()));
    }

    #[test]
    fn svix_header_names_are_accepted_too() {
        let h = headers(SVIX_HEADERS, DOC_ID, &DOC_TS.to_string(), DOC_SIGNATURE);
        assert_eq!(check(&h, DOC_BODY, DOC_TS), Ok(()));
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let sig = format!("v1a,AAAA v1,{} {DOC_SIGNATURE}", BASE64.encode([0u8; 32]));
        let h = headers(STANDARD_HEADERS, DOC_ID, &DOC_TS.to_string(), &sig);
        assert_eq!(check(&h, DOC_BODY, DOC_TS), Ok(()));
    }

    #[test]
    fn timestamps_are_checked_both_ways() {
        let h = doc_headers();
        assert_eq!(check(&h, DOC_BODY, DOC_TS + 300), Ok(()));
        assert_eq!(check(&h, DOC_BODY, DOC_TS - 300), Ok(()));
        assert_eq!(
            check(&h, DOC_BODY, DOC_TS + 301).map_err(|e| e.code()),
            Err("timestamp_out_of_tolerance")
        );
        assert_eq!(
            check(&h, DOC_BODY, DOC_TS - 301).map_err(|e| e.code()),
            Err("timestamp_out_of_tolerance")
        );
    }

    #[test]
    fn overflowing_timestamps_are_refused_cleanly() {
        for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
            let h = headers(STANDARD_HEADERS, DOC_ID, &ts, DOC_SIGNATURE);
            assert_eq!(
                check(&h, DOC_BODY, DOC_TS).map_err(|e| e.code()),
                Err("timestamp_out_of_tolerance")
            );
        }
        let h = headers(
            STANDARD_HEADERS,
            DOC_ID,
            "99999999999999999999999",
            DOC_SIGNATURE,
        );
        assert_eq!(
            check(&h, DOC_BODY, DOC_TS).map_err(|e| e.code()),
            Err("invalid_signature")
        );
    }

    #[test]
    fn tampering_with_body_id_or_secret_is_rejected() {
        assert_eq!(
            check(&doc_headers(), br#"{"test": 2432232315}"#, DOC_TS),
            Err(VerifyError::NoMatch)
        );
        let h = headers(
            STANDARD_HEADERS,
            "msg_other",
            &DOC_TS.to_string(),
            DOC_SIGNATURE,
        );
        assert_eq!(check(&h, DOC_BODY, DOC_TS), Err(VerifyError::NoMatch));
        let other = SigningKey::generate().expect("rng").to_whsec();
        assert_eq!(
            verify_with(&[other], &doc_headers(), DOC_BODY, DOC_TS),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn any_single_byte_change_to_the_body_is_rejected() {
        let key = SigningKey::parse(DOC_SECRET).expect("valid");
        let body = br#"{"type":"invoice.paid","data":{"id":"in_1","amount":1200}}"#;
        let h = headers(
            STANDARD_HEADERS,
            DOC_ID,
            &DOC_TS.to_string(),
            &sign(&key, DOC_ID, DOC_TS, body),
        );
        assert_eq!(check(&h, body, DOC_TS), Ok(()));
        for i in 0..body.len() {
            let mut tampered = body.to_vec();
            tampered[i] ^= 0x20;
            assert_eq!(
                check(&h, &tampered, DOC_TS),
                Err(VerifyError::NoMatch),
                "byte {i}"
            );
        }
    }

    #[test]
    fn missing_and_malformed_headers_say_which_header() {
        let mut h = doc_headers();
        h.remove("webhook-id");
        assert_eq!(
            check(&h, DOC_BODY, DOC_TS),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        assert_eq!(
            check(&HeaderMap::new(), DOC_BODY, DOC_TS),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        for bad in [
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1,%%%",
            "v1,AAAA",
            "",
        ] {
            let h = headers(STANDARD_HEADERS, DOC_ID, &DOC_TS.to_string(), bad);
            assert_eq!(
                check(&h, DOC_BODY, DOC_TS).map_err(|e| e.code()),
                Err("invalid_signature"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn signing_with_two_keys_gives_two_entries_each_verifiable() {
        let a = SigningKey::generate().expect("rng");
        let b = SigningKey::generate().expect("rng");
        let value = signature_header(&[a.clone(), b.clone()], "evt_1", DOC_TS, b"{}");
        assert_eq!(value.split(' ').count(), 2);
        for key in [a, b] {
            let h = headers(STANDARD_HEADERS, "evt_1", &DOC_TS.to_string(), &value);
            let r = verify_with(&[key.to_whsec()], &h, b"{}", DOC_TS);
            assert_eq!(r, Ok(()));
        }
    }

    #[test]
    fn the_event_type_is_read_from_the_payload() {
        let h = doc_headers();
        let options = SchemeOptions::default();
        let check = Check {
            secrets: &[],
            policy: at(DOC_TS),
            options: &options,
        };
        let meta = describe(
            &check,
            &Inbound {
                headers: &h,
                body: br#"{"type":"invoice.paid","data":{}}"#,
                query: None,
            },
        );
        assert_eq!(meta.event_type.as_deref(), Some("invoice.paid"));
        assert_eq!(meta.delivery_id.as_deref(), Some(DOC_ID));
    }
}
