//! The HMAC arithmetic every HMAC scheme shares: one MAC over several parts (so the body is never
//! copied into a signed-content buffer), and constant-time matching of candidates against every
//! active secret.

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

/// Whether any candidate equals the HMAC of `parts` under any secret's key. Every comparison is
/// constant-time; only the number of candidates and secrets (both public) shapes the loop.
pub(crate) fn any_matches(
    algorithm: HmacAlgorithm,
    secrets: &[Secret],
    key_of: impl Fn(&Secret) -> Result<Vec<u8>, VerifyError>,
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> Result<bool, VerifyError> {
    let mut found = false;
    for secret in secrets {
        let expected = hmac(algorithm, &key_of(secret)?, parts);
        for candidate in candidates {
            found |= bool::from(candidate.as_slice().ct_eq(&expected));
        }
    }
    Ok(found)
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
        text_key,
        &[request.body],
        &[candidate],
    )?)
}

/// The secret's text as the key, as most providers use it.
pub(crate) fn text_key(secret: &Secret) -> Result<Vec<u8>, VerifyError> {
    Ok(secret.expose().as_bytes().to_vec())
}

/// Decodes a hex digest from `header`, refusing any other length than `len` bytes.
pub(crate) fn hex_digest(
    value: &str,
    len: usize,
    header: &'static str,
) -> Result<Vec<u8>, VerifyError> {
    let bytes = hex::decode(value).map_err(|_| VerifyError::MalformedHeader {
        header,
        reason: "the digest is not hexadecimal",
    })?;
    if bytes.len() != len {
        return Err(VerifyError::MalformedHeader {
            header,
            reason: "the digest has the wrong length",
        });
    }
    Ok(bytes)
}

/// Decodes a base64 digest from `header`, refusing any other length than `len` bytes.
pub(crate) fn base64_digest(
    value: &str,
    len: usize,
    header: &'static str,
) -> Result<Vec<u8>, VerifyError> {
    let bytes = BASE64
        .decode(value)
        .map_err(|_| VerifyError::MalformedHeader {
            header,
            reason: "the digest is not base64",
        })?;
    if bytes.len() != len {
        return Err(VerifyError::MalformedHeader {
            header,
            reason: "the digest has the wrong length",
        });
    }
    Ok(bytes)
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

    #[test]
    fn a_match_under_the_second_secret_is_found() {
        let secrets = [Secret::new("old"), Secret::new("Jefe")];
        let good = hmac(HmacAlgorithm::Sha256, b"Jefe", &[b"x"]);
        assert_eq!(
            any_matches(
                HmacAlgorithm::Sha256,
                &secrets,
                text_key,
                &[b"x"],
                std::slice::from_ref(&good)
            ),
            Ok(true)
        );
        assert_eq!(
            any_matches(HmacAlgorithm::Sha256, &secrets, text_key, &[b"y"], &[good]),
            Ok(false)
        );
    }
}
