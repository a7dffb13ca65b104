//! The HMAC arithmetic every HMAC scheme shares: one MAC over several parts (so the body is never
//! copied into a signed-content buffer), and constant-time matching of candidates against every
//! active secret.

use std::convert::Infallible;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::{Check, DigestEncoding, HmacAlgorithm, Inbound, VerifyError, single_header};
use crate::secret::Secret;

/// HMAC of the concatenation of `parts`, keyed with `key`.
pub(crate) fn hmac(algorithm: HmacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <M as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        HmacAlgorithm::Sha1 => run::<Hmac<Sha1>>(key, parts),
        HmacAlgorithm::Sha256 => run::<Hmac<Sha256>>(key, parts),
        HmacAlgorithm::Sha512 => run::<Hmac<Sha512>>(key, parts),
    }
}

/// Whether any candidate equals the HMAC of `parts` keyed with any secret's text. Every
/// comparison is constant-time; only the number of candidates and secrets (both public) shapes
/// the loop. Nothing is allocated after a secret's first use: the MAC starts from a copy of the
/// keyed state the secret kept ([`KeyedCache`]) and stays on the stack.
pub(crate) fn any_matches(
    algorithm: HmacAlgorithm,
    secrets: &[Secret],
    parts: &[&[u8]],
    candidates: &[Candidate],
) -> bool {
    fn run<M: Keyable>(secrets: &[Secret], parts: &[&[u8]], candidates: &[Candidate]) -> bool {
        let mut found = false;
        for secret in secrets {
            let mut mac: M = keyed(secret, KeyOrigin::Text, || {
                Ok::<_, Infallible>(secret.expose().as_bytes())
            })
            .unwrap_or_else(|never| match never {});
            for part in parts {
                mac.update(part);
            }
            let expected = mac.finalize().into_bytes();
            for candidate in candidates {
                found |= bool::from(candidate.as_bytes().ct_eq(expected.as_slice()));
            }
        }
        found
    }
    match algorithm {
        HmacAlgorithm::Sha1 => run::<Hmac<Sha1>>(secrets, parts, candidates),
        HmacAlgorithm::Sha256 => run::<Hmac<Sha256>>(secrets, parts, candidates),
        HmacAlgorithm::Sha512 => run::<Hmac<Sha512>>(secrets, parts, candidates),
    }
}

/// The HMAC state one secret keyed, kept by the [`Secret`] from its first use.
///
/// Keying an HMAC hashes two blocks (the padded key XORed with ipad, then with opad): as much
/// work as 128 bytes of body for SHA-256, a tenth of a 1 KiB verify. A warm receiver checks the
/// same few secrets over and over, so each keeps its keyed state and every later MAC starts from
/// a copy of it. The state is secret-equivalent: it lives only inside the `Secret` (whose
/// `Debug` is redacted), has no `Debug` of its own, and is never serialized or compared.
#[derive(Clone, Default)]
pub(crate) struct KeyedCache(OnceLock<Box<Keyed>>);

/// What the cached state was keyed with: the secret's text, or the key a `whsec_` secret
/// encodes. The first use of a secret decides; a secret later used another way (the same text
/// checked under another algorithm or encoding) is keyed afresh each time, as before.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyOrigin {
    Text,
    Whsec,
}

#[derive(Clone)]
struct Keyed {
    origin: KeyOrigin,
    mac: KeyedMac,
}

#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

/// An HMAC whose keyed state a [`KeyedCache`] can hold.
pub(crate) trait Keyable: Mac + hmac::digest::KeyInit + Clone {
    fn wrap(self) -> KeyedMac;
    fn find(mac: &KeyedMac) -> Option<&Self>;
}

macro_rules! keyable {
    ($variant:ident, $hash:ty) => {
        impl Keyable for Hmac<$hash> {
            fn wrap(self) -> KeyedMac {
                KeyedMac::$variant(self)
            }

            fn find(mac: &KeyedMac) -> Option<&Self> {
                match mac {
                    KeyedMac::$variant(mac) => Some(mac),
                    _ => None,
                }
            }
        }
    };
}

keyable!(Sha1, Sha1);
keyable!(Sha256, Sha256);
keyable!(Sha512, Sha512);

/// An HMAC keyed with `secret`'s key as `origin` says: a copy of the state the secret kept, or
/// keyed now with the bytes `key` gives (and kept, if this is the secret's first use). `key` is
/// only called on a miss, so a key that takes decoding is decoded once.
pub(crate) fn keyed<M: Keyable, K: AsRef<[u8]>, E>(
    secret: &Secret,
    origin: KeyOrigin,
    key: impl FnOnce() -> Result<K, E>,
) -> Result<M, E> {
    let cache = &secret.keyed().0;
    if let Some(kept) = cache.get() {
        if let Some(mac) = M::find(&kept.mac).filter(|_| kept.origin == origin) {
            return Ok(mac.clone());
        }
        return Ok(new_mac(key()?.as_ref()));
    }
    let mac: M = new_mac(key()?.as_ref());
    // Two threads may key the same secret at once; both states are equal, the first is kept.
    let _ = cache.set(Box::new(Keyed {
        origin,
        mac: mac.clone().wrap(),
    }));
    Ok(mac)
}

fn new_mac<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> M {
    <M as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

/// A digest decoded from a header, held inline: at most 64 bytes (HMAC-SHA512).
#[derive(Clone, Copy)]
pub(crate) struct Candidate {
    bytes: [u8; 64],
    len: usize,
}

impl Candidate {
    fn empty(len: usize) -> Self {
        Self {
            bytes: [0; 64],
            len: len.min(64),
        }
    }

    /// `text` as a hex digest of `len` bytes, if it is one.
    pub(crate) fn from_hex(text: &str, len: usize) -> Option<Self> {
        let mut candidate = Self::empty(len);
        let out = candidate.bytes.get_mut(..len)?;
        (text.len() == 2 * len && hex::decode_to_slice(text, out).is_ok()).then_some(candidate)
    }

    #[cfg(test)]
    fn from_bytes(bytes: &[u8]) -> Self {
        let mut candidate = Self::empty(bytes.len());
        candidate.bytes[..bytes.len()].copy_from_slice(bytes);
        candidate
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// `Ok` when a signature matched, [`VerifyError::NoMatch`] otherwise.
pub(crate) fn matched(found: bool) -> Result<(), VerifyError> {
    if found {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// The most common layout: header `header` holds `prefix` and the encoded HMAC of the body alone,
/// keyed with the secret's text (GitHub, Intercom, Shopify). `expected` describes the layout for
/// the error when the prefix is missing.
pub(crate) struct BodyDigest {
    pub header: &'static str,
    pub prefix: &'static str,
    pub expected: &'static str,
    pub algorithm: HmacAlgorithm,
    pub encoding: DigestEncoding,
}

pub(crate) fn verify_body_digest(
    check: &Check<'_>,
    request: &Inbound<'_>,
    layout: &BodyDigest,
) -> Result<(), VerifyError> {
    let BodyDigest {
        header,
        prefix,
        expected,
        algorithm,
        encoding,
    } = *layout;
    let value = single_header(request.headers, header)?;
    let encoded = value
        .strip_prefix(prefix)
        .ok_or(VerifyError::MalformedHeader {
            header,
            reason: expected,
        })?;
    let len = digest_len(algorithm);
    let candidate = match encoding {
        DigestEncoding::Hex => hex_digest(encoded, len, header)?,
        DigestEncoding::Base64 => base64_digest(encoded, len, header)?,
    };
    matched(any_matches(
        algorithm,
        check.secrets,
        &[request.body],
        &[candidate],
    ))
}

const NOT_HEX: &str = "the digest is not hexadecimal";
const NOT_BASE64: &str = "the digest is not base64";

/// Decodes a hex digest from `header`, refusing any other length than `len` bytes.
pub(crate) fn hex_digest(
    value: &str,
    len: usize,
    header: &'static str,
) -> Result<Candidate, VerifyError> {
    Candidate::from_hex(value, len)
        .ok_or_else(|| wrong_size(hex::decode(value).is_ok(), header, NOT_HEX))
}

/// Decodes a base64 digest from `header`, refusing any other length than `len` bytes.
pub(crate) fn base64_digest(
    value: &str,
    len: usize,
    header: &'static str,
) -> Result<Candidate, VerifyError> {
    let mut candidate = Candidate::empty(len);
    // Room for what any 64-byte digest's text may decode to by base64's estimate (two bytes
    // more); a longer text is told apart by the allocating decode, on the refusal path only.
    let mut scratch = [0u8; 66];
    match BASE64.decode_slice(value, &mut scratch) {
        Ok(decoded) if decoded == len && len <= candidate.bytes.len() => {
            candidate.bytes[..len].copy_from_slice(&scratch[..len]);
            Ok(candidate)
        }
        Ok(_) => Err(wrong_size(true, header, NOT_BASE64)),
        Err(base64::DecodeSliceError::DecodeError(_)) => Err(malformed(header, NOT_BASE64)),
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            Err(wrong_size(BASE64.decode(value).is_ok(), header, NOT_BASE64))
        }
    }
}

/// The refusal of a digest text of the wrong size: its length when it decodes, else its
/// encoding (the order these refusals were always given in).
fn wrong_size(decodes: bool, header: &'static str, not_encoded: &'static str) -> VerifyError {
    malformed(
        header,
        if decodes {
            "the digest has the wrong length"
        } else {
            not_encoded
        },
    )
}

fn malformed(header: &'static str, reason: &'static str) -> VerifyError {
    VerifyError::MalformedHeader { header, reason }
}

/// The digest length of an algorithm, in bytes.
pub(crate) fn digest_len(algorithm: HmacAlgorithm) -> usize {
    match algorithm {
        HmacAlgorithm::Sha1 => 20,
        HmacAlgorithm::Sha256 => 32,
        HmacAlgorithm::Sha512 => 64,
    }
}

/// Checks a signed Unix timestamp against the policy, both ways; overflow-safe.
pub(crate) fn check_timestamp(
    signed_at: i64,
    policy: &super::TimePolicy,
) -> Result<(), VerifyError> {
    let skew = i128::from(policy.now) - i128::from(signed_at);
    if skew.unsigned_abs() > u128::from(policy.tolerance.as_secs()) {
        return Err(VerifyError::TimestampOutOfTolerance {
            skew_seconds: i64::try_from(skew).unwrap_or(if skew < 0 { i64::MIN } else { i64::MAX }),
            tolerance_seconds: policy.tolerance.as_secs(),
        });
    }
    Ok(())
}

/// Parses a header's Unix-seconds timestamp.
pub(crate) fn parse_unix(value: &str, header: &'static str) -> Result<i64, VerifyError> {
    value
        .trim()
        .parse()
        .map_err(|_| VerifyError::MalformedHeader {
            header,
            reason: "expected whole seconds since the Unix epoch",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2 (HMAC-SHA256/512) and RFC 2202 test case 2 (HMAC-SHA1): key "Jefe".
    #[test]
    fn rfc_vectors_for_every_algorithm() {
        let parts: [&[u8]; 2] = [b"what do ya want ", b"for nothing?"];
        assert_eq!(
            hex::encode(hmac(HmacAlgorithm::Sha1, b"Jefe", &parts)),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex::encode(hmac(HmacAlgorithm::Sha256, b"Jefe", &parts)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac(HmacAlgorithm::Sha512, b"Jefe", &parts)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    /// `any_matches` under `secret` for each algorithm in turn, against the RFC vectors: the
    /// first use keeps its keyed state, every later one must still key with the right hash.
    fn matches_every_rfc_vector(secret: &Secret) {
        let parts: [&[u8]; 2] = [b"what do ya want ", b"for nothing?"];
        for algorithm in [
            HmacAlgorithm::Sha256,
            HmacAlgorithm::Sha1,
            HmacAlgorithm::Sha512,
            HmacAlgorithm::Sha256,
        ] {
            let good = Candidate::from_bytes(&hmac(algorithm, b"Jefe", &parts));
            let mut bad = good;
            bad.bytes[0] ^= 1;
            let secrets = std::slice::from_ref(secret);
            assert!(
                any_matches(algorithm, secrets, &parts, &[good]),
                "{algorithm:?}"
            );
            assert!(
                !any_matches(algorithm, secrets, &parts, &[bad]),
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn a_kept_keyed_state_serves_only_the_hash_and_key_it_was_made_with() {
        // Kept as SHA-256 of the text, then asked for SHA-1 and SHA-512, then SHA-256 again.
        matches_every_rfc_vector(&Secret::new("Jefe"));

        // Kept as another key (a `whsec_` secret's decoded bytes), then used as its text: the
        // text-keyed MAC must not start from the decoded key's state.
        let secret = Secret::new("Jefe");
        let other: Hmac<Sha256> = keyed(&secret, KeyOrigin::Whsec, || {
            Ok::<_, Infallible>(b"not Jefe".as_slice())
        })
        .unwrap_or_else(|never| match never {});
        let whsec_again: Hmac<Sha256> = keyed(&secret, KeyOrigin::Whsec, || {
            Err::<&[u8], _>("a kept state is used without deriving the key again")
        })
        .expect("kept");
        assert_eq!(
            other.finalize().into_bytes(),
            whsec_again.finalize().into_bytes()
        );
        matches_every_rfc_vector(&secret);

        // A clone carries the kept state, and equality and serde still see only the text.
        let copy = secret.clone();
        assert_eq!(copy, Secret::new("Jefe"));
        assert_eq!(serde_json::to_string(&copy).expect("json"), r#""Jefe""#);
        matches_every_rfc_vector(&copy);
    }

    #[test]
    fn a_match_under_the_second_secret_is_found() {
        let secrets = [Secret::new("old"), Secret::new("Jefe")];
        let good = Candidate::from_bytes(&hmac(HmacAlgorithm::Sha256, b"Jefe", &[b"x"]));
        let other = Candidate::from_bytes(&[0; 32]);
        assert!(any_matches(
            HmacAlgorithm::Sha256,
            &secrets,
            &[b"x"],
            &[other, good]
        ));
        assert!(!any_matches(
            HmacAlgorithm::Sha256,
            &secrets,
            &[b"y"],
            &[other, good]
        ));
    }

    fn reason(result: Result<Candidate, VerifyError>) -> &'static str {
        match result {
            Ok(_) => "decoded",
            Err(VerifyError::MalformedHeader { reason, .. }) => reason,
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn digests_of_every_size_decode_and_each_misfit_is_refused_for_its_own_reason() {
        for len in [20, 32, 64] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let hex_text = hex::encode(&bytes);
            let base64_text = BASE64.encode(&bytes);
            let decoded = hex_digest(&hex_text, len, "h").expect("hex");
            assert_eq!(decoded.as_bytes(), bytes);
            let decoded = base64_digest(&base64_text, len, "h").expect("base64");
            assert_eq!(decoded.as_bytes(), bytes);
            assert_eq!(
                reason(hex_digest(&hex_text[2..], len, "h")),
                "the digest has the wrong length"
            );
            assert_eq!(
                reason(hex_digest(&format!("{hex_text}00"), len, "h")),
                "the digest has the wrong length"
            );
            assert_eq!(
                reason(hex_digest(&format!("{hex_text}0"), len, "h")),
                NOT_HEX
            );
            assert_eq!(
                reason(hex_digest(&hex_text.replace('0', "g"), len, "h")),
                NOT_HEX
            );
            assert_eq!(reason(hex_digest("zz", len, "h")), NOT_HEX);
            let longer = BASE64.encode([bytes.as_slice(), &[1, 2, 3]].concat());
            assert_eq!(
                reason(base64_digest(&longer, len, "h")),
                "the digest has the wrong length"
            );
            let shorter = BASE64.encode(&bytes[1..]);
            assert_eq!(
                reason(base64_digest(&shorter, len, "h")),
                "the digest has the wrong length"
            );
            assert_eq!(
                reason(base64_digest(&format!("{base64_text}!"), len, "h")),
                NOT_BASE64
            );
            let long_and_broken = format!("{}!", "A".repeat(200));
            assert_eq!(
                reason(base64_digest(&long_and_broken, len, "h")),
                NOT_BASE64
            );
            assert_eq!(
                reason(base64_digest(&"QUFB".repeat(50), len, "h")),
                "the digest has the wrong length"
            );
        }
    }
}
