//! Secrets that never reach a log: their `Debug` prints `[redacted]`, and nothing else prints them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// A provider secret (or public key) exactly as the provider's dashboard shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's text. Call sites are where the secret is used, never where it is printed.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A fresh secret of 32 random bytes, hex-encoded: fits every provider that lets the user
    /// choose the secret (GitHub, generic HMAC).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(hex::encode(bytes)))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The prefix of a Standard Webhooks signing secret.
pub const WHSEC_PREFIX: &str = "whsec_";

/// A Standard Webhooks signing key: the bytes behind `whsec_<base64>`.
///
/// Spec: <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>
/// ("Signing secrets": base64 of 24 to 64 random bytes, prefixed with `whsec_`).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

/// A signing secret that is not of the `whsec_<base64>` form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningKeyError {
    #[error("the signing secret must start with `whsec_`")]
    MissingPrefix,
    #[error("the signing secret after `whsec_` is not valid base64")]
    NotBase64,
    #[error("the signing secret must decode to 24 to 64 bytes, not {0}")]
    BadLength(usize),
}

impl SigningKey {
    /// Parses `whsec_<base64>`. The prefix is required, so a secret meant for another scheme is
    /// not silently accepted as one.
    pub fn parse(secret: &str) -> Result<Self, SigningKeyError> {
        let encoded = secret
            .trim()
            .strip_prefix(WHSEC_PREFIX)
            .ok_or(SigningKeyError::MissingPrefix)?;
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| SigningKeyError::NotBase64)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SigningKeyError::BadLength(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// Parses the base64 after `whsec_`, or the whole text when the prefix is absent: how
    /// providers' own libraries read a secret on the verifying side.
    pub fn parse_lenient(secret: &str) -> Result<Self, SigningKeyError> {
        let trimmed = secret.trim();
        let encoded = trimmed.strip_prefix(WHSEC_PREFIX).unwrap_or(trimmed);
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| SigningKeyError::NotBase64)?;
        if bytes.is_empty() {
            return Err(SigningKeyError::BadLength(0));
        }
        Ok(Self(bytes))
    }

    /// A fresh key of 32 random bytes.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The key in `whsec_<base64>` form, to show once to the person who created it.
    pub fn to_whsec(&self) -> Secret {
        Secret(format!("{WHSEC_PREFIX}{}", BASE64.encode(&self.0)))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_secret() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        let k = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        assert!(!format!("{k:?}").contains("MfKQ"));
    }

    #[test]
    fn a_signing_key_round_trips_through_whsec_form() {
        let k = SigningKey::generate().expect("rng");
        let again = SigningKey::parse(k.to_whsec().expose()).expect("valid");
        assert_eq!(k.bytes(), again.bytes());
    }

    #[test]
    fn malformed_signing_keys_are_refused_with_the_reason() {
        assert_eq!(
            SigningKey::parse("abc"),
            Err(SigningKeyError::MissingPrefix)
        );
        assert_eq!(
            SigningKey::parse("whsec_***"),
            Err(SigningKeyError::NotBase64)
        );
        assert_eq!(
            SigningKey::parse("whsec_AAAA"),
            Err(SigningKeyError::BadLength(3))
        );
    }
}
