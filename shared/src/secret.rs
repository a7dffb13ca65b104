//! Secrets that never reach a log: their `Debug` prints `[redacted]`, and nothing else prints them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::signature::KeyedCache;

/// A provider secret (or public key) exactly as the provider's dashboard shows it.
///
/// It serializes as its text alone, and two secrets are equal when their texts are; the HMAC
/// state it keeps ([`KeyedCache`]) is derived from the text and never leaves the process.
#[derive(Clone)]
pub struct Secret {
    text: String,
    keyed: KeyedCache,
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            text: value.into(),
            keyed: KeyedCache::default(),
        }
    }

    /// The secret's text. Call sites are where the secret is used, never where it is printed.
    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The HMAC state this secret keyed, kept from its first use (see [`KeyedCache`]).
    pub(crate) fn keyed(&self) -> &KeyedCache {
        &self.keyed
    }

    /// A fresh secret of 32 random bytes, hex-encoded: fits every provider that lets the user
    /// choose the secret (GitHub, generic HMAC).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self::new(hex::encode(bytes)))
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Secret {}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
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
        Secret::new(format!("{WHSEC_PREFIX}{}", BASE64.encode(&self.0)))
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

/// The prefix of a Standard Webhooks asymmetric (ed25519) secret key.
pub const WHSK_PREFIX: &str = "whsk_";
/// The prefix of a Standard Webhooks asymmetric (ed25519) public key.
pub const WHPK_PREFIX: &str = "whpk_";

/// A Standard Webhooks asymmetric signing key: an ed25519 key pair whose secret half is written
/// `whsk_<base64>` and whose public half `whpk_<base64>`.
///
/// Spec: <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>
/// ("Signature scheme" table: asymmetric signatures are `ed25519` over a "standard ed25519 key
/// pair", "base64 encoded, prefixed with `whsk_` for the secret key, and `whpk_` for the public
/// key"; their signature identifier is `v1a`). The spec names no byte layout, so Hookpost writes
/// the RFC 8032 forms: `whsk_` is the 32-byte seed, `whpk_` the 32-byte public key, both in
/// standard padded base64 as `whsec_` is. On reading, a 64-byte `whsk_` (seed then public key,
/// libsodium's and Go's layout) is accepted too when its public half matches its seed.
#[derive(Clone)]
pub struct Ed25519Key(ed25519_dalek::SigningKey);

/// A secret key that is not of the `whsk_<base64>` form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ed25519KeyError {
    #[error("the signing key must start with `whsk_`")]
    MissingPrefix,
    #[error("the signing key after `whsk_` is not valid base64")]
    NotBase64,
    #[error(
        "the signing key must decode to a 32-byte ed25519 seed (or 64 bytes: seed and public key), not {0} bytes"
    )]
    BadLength(usize),
    #[error("the signing key's public half does not belong to its seed")]
    MismatchedPublicKey,
}

/// The length of an ed25519 seed and of an ed25519 public key.
const ED25519_KEY_LEN: usize = 32;

impl Ed25519Key {
    /// Parses `whsk_<base64>` (a 32-byte seed, or the 64-byte seed-and-public-key layout).
    pub fn parse(secret: &str) -> Result<Self, Ed25519KeyError> {
        let encoded = secret
            .trim()
            .strip_prefix(WHSK_PREFIX)
            .ok_or(Ed25519KeyError::MissingPrefix)?;
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| Ed25519KeyError::NotBase64)?;
        let seed: [u8; ED25519_KEY_LEN] = bytes
            .get(..ED25519_KEY_LEN)
            .and_then(|s| s.try_into().ok())
            .filter(|_| matches!(bytes.len(), 32 | 64))
            .ok_or(Ed25519KeyError::BadLength(bytes.len()))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        if bytes.len() == 64 && bytes[ED25519_KEY_LEN..] != key.verifying_key().to_bytes() {
            return Err(Ed25519KeyError::MismatchedPublicKey);
        }
        Ok(Self(key))
    }

    /// A fresh key pair from 32 random bytes.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut seed = [0u8; ED25519_KEY_LEN];
        getrandom::fill(&mut seed)?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The secret key in `whsk_<base64>` form: what Hookpost stores. No subscriber needs it.
    pub fn to_whsk(&self) -> Secret {
        Secret::new(format!("{WHSK_PREFIX}{}", BASE64.encode(self.0.to_bytes())))
    }

    /// The public key in `whpk_<base64>` form: what a subscriber verifies with. Not a secret.
    pub fn public_whpk(&self) -> String {
        format!(
            "{WHPK_PREFIX}{}",
            BASE64.encode(self.0.verifying_key().to_bytes())
        )
    }

    /// The public key, for verifying in tests and tools.
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.0.verifying_key()
    }

    /// The 64-byte ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519Key([redacted])")
    }
}

/// A delivery signature scheme of the Standard Webhooks spec: `v1` (HMAC-SHA256 with a `whsec_`
/// secret) or `v1a` (ed25519 with a `whsk_` key, verified with its `whpk_` public key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SignatureScheme {
    V1,
    V1a,
}

impl SignatureScheme {
    /// The signature identifier that prefixes its entries in `webhook-signature`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V1a => "v1a",
        }
    }

    /// The scheme a stored secret belongs to, read from its prefix: `whsk_` is `v1a`, anything
    /// else `v1` (which then has to parse as `whsec_`).
    pub fn of(secret: &Secret) -> Self {
        if secret.expose().trim_start().starts_with(WHSK_PREFIX) {
            Self::V1a
        } else {
            Self::V1
        }
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The schemes a subscription signs with: `v1`, `v1a` or both (`v1,v1a`), each at most once and
/// in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignatureSchemes {
    v1: bool,
    v1a: bool,
}

/// What [`SignatureSchemes::parse`] accepts, for error messages and help.
pub const SIGNATURE_CHOICES: &str = "`v1`, `v1a` or `v1,v1a`";

impl SignatureSchemes {
    /// `v1` alone: HMAC-SHA256 with a `whsec_` secret, as before asymmetric signatures existed.
    pub const V1: Self = Self {
        v1: true,
        v1a: false,
    };

    /// `v1a` alone: ed25519.
    pub const V1A: Self = Self {
        v1: false,
        v1a: true,
    };

    /// Both, as during a change from one to the other.
    pub const BOTH: Self = Self {
        v1: true,
        v1a: true,
    };

    /// Parses `v1`, `v1a`, `v1,v1a` (or `v1a,v1`; spaces around the comma are allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::from_names(text.split(','))
    }

    /// The schemes named, each once: `["v1", "v1a"]`.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut chosen = Self {
            v1: false,
            v1a: false,
        };
        for name in names {
            let flag = match name.trim() {
                "v1" => &mut chosen.v1,
                "v1a" => &mut chosen.v1a,
                other => {
                    return Err(format!(
                        "`{other}` is not a signature scheme: use {SIGNATURE_CHOICES}"
                    ));
                }
            };
            if *flag {
                return Err(format!(
                    "`{}` is named twice: use {SIGNATURE_CHOICES}",
                    name.trim()
                ));
            }
            *flag = true;
        }
        if !(chosen.v1 || chosen.v1a) {
            return Err(format!("name a signature scheme: {SIGNATURE_CHOICES}"));
        }
        Ok(chosen)
    }

    /// Whether `scheme` is one of them.
    pub fn contains(self, scheme: SignatureScheme) -> bool {
        match scheme {
            SignatureScheme::V1 => self.v1,
            SignatureScheme::V1a => self.v1a,
        }
    }

    /// The schemes, `v1` first.
    pub fn iter(self) -> impl Iterator<Item = SignatureScheme> {
        [SignatureScheme::V1, SignatureScheme::V1a]
            .into_iter()
            .filter(move |s| self.contains(*s))
    }
}

impl Default for SignatureSchemes {
    fn default() -> Self {
        Self::V1
    }
}

impl fmt::Display for SignatureSchemes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(SignatureScheme::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl std::str::FromStr for SignatureSchemes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// One key a delivery is signed with: a `whsec_` key gives a `v1` entry, a `whsk_` key a `v1a`
/// entry.
#[derive(Debug, Clone)]
pub enum DeliveryKey {
    Symmetric(SigningKey),
    Asymmetric(Ed25519Key),
}

/// A stored delivery secret that is neither a valid `whsec_` nor a valid `whsk_` key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryKeyError {
    #[error(transparent)]
    Symmetric(#[from] SigningKeyError),
    #[error(transparent)]
    Asymmetric(#[from] Ed25519KeyError),
}

impl DeliveryKey {
    /// Reads a stored secret by its prefix: `whsk_` as ed25519, anything else as `whsec_`.
    pub fn parse(secret: &Secret) -> Result<Self, DeliveryKeyError> {
        Ok(match SignatureScheme::of(secret) {
            SignatureScheme::V1a => Self::Asymmetric(Ed25519Key::parse(secret.expose())?),
            SignatureScheme::V1 => Self::Symmetric(SigningKey::parse(secret.expose())?),
        })
    }

    /// A fresh key of `scheme`.
    pub fn generate(scheme: SignatureScheme) -> Result<Self, getrandom::Error> {
        Ok(match scheme {
            SignatureScheme::V1 => Self::Symmetric(SigningKey::generate()?),
            SignatureScheme::V1a => Self::Asymmetric(Ed25519Key::generate()?),
        })
    }

    pub fn scheme(&self) -> SignatureScheme {
        match self {
            Self::Symmetric(_) => SignatureScheme::V1,
            Self::Asymmetric(_) => SignatureScheme::V1a,
        }
    }

    /// The key as stored: `whsec_…` or `whsk_…`.
    pub fn to_secret(&self) -> Secret {
        match self {
            Self::Symmetric(k) => k.to_whsec(),
            Self::Asymmetric(k) => k.to_whsk(),
        }
    }

    /// What the subscriber needs and may be shown once: the `whsec_` secret itself for `v1`,
    /// only the `whpk_` public key for `v1a` (the `whsk_` key never leaves Hookpost).
    pub fn for_subscriber(&self) -> Secret {
        match self {
            Self::Symmetric(k) => k.to_whsec(),
            Self::Asymmetric(k) => Secret::new(k.public_whpk()),
        }
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

    // RFC 8032 section 7.1, TEST 1: this seed has this public key, and signs the empty message
    // with this signature.
    const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const RFC8032_EMPTY_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn rfc8032_whsk() -> String {
        format!(
            "whsk_{}",
            BASE64.encode(hex::decode(RFC8032_SEED).expect("hex"))
        )
    }

    #[test]
    fn an_ed25519_key_reads_the_rfc_8032_seed_and_gives_its_public_key() {
        let key = Ed25519Key::parse(&rfc8032_whsk()).expect("valid");
        let public = hex::decode(RFC8032_PUBLIC).expect("hex");
        assert_eq!(
            key.public_whpk(),
            format!("whpk_{}", BASE64.encode(&public))
        );
        assert_eq!(hex::encode(key.sign(b"")), RFC8032_EMPTY_SIG);
        assert_eq!(key.to_whsk().expose(), rfc8032_whsk());
    }

    #[test]
    fn an_ed25519_key_round_trips_through_whsk_form() {
        let k = Ed25519Key::generate().expect("rng");
        let again = Ed25519Key::parse(k.to_whsk().expose()).expect("valid");
        assert_eq!(k.public_whpk(), again.public_whpk());
        assert!(!format!("{k:?}").contains(&k.to_whsk().expose()[5..15]));
        assert_eq!(format!("{k:?}"), "Ed25519Key([redacted])");
    }

    #[test]
    fn a_64_byte_whsk_is_read_only_when_its_public_half_matches() {
        let seed = hex::decode(RFC8032_SEED).expect("hex");
        let public = hex::decode(RFC8032_PUBLIC).expect("hex");
        let pair = [seed.clone(), public].concat();
        let key = Ed25519Key::parse(&format!("whsk_{}", BASE64.encode(&pair))).expect("valid");
        assert_eq!(key.to_whsk().expose(), rfc8032_whsk());
        let wrong = [seed, vec![0u8; 32]].concat();
        assert_eq!(
            Ed25519Key::parse(&format!("whsk_{}", BASE64.encode(wrong))).map(|_| ()),
            Err(Ed25519KeyError::MismatchedPublicKey)
        );
    }

    #[test]
    fn malformed_ed25519_keys_are_refused_with_the_reason() {
        let refused = |s: &str| Ed25519Key::parse(s).map(|_| ());
        assert_eq!(
            refused("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(Ed25519KeyError::MissingPrefix)
        );
        assert_eq!(refused("whsk_***"), Err(Ed25519KeyError::NotBase64));
        assert_eq!(refused("whsk_AAAA"), Err(Ed25519KeyError::BadLength(3)));
        assert_eq!(
            refused(&format!("whsk_{}", BASE64.encode([1u8; 48]))),
            Err(Ed25519KeyError::BadLength(48))
        );
    }

    #[test]
    fn signature_choices_parse_and_print_in_spec_order() {
        assert_eq!(SignatureSchemes::parse("v1"), Ok(SignatureSchemes::V1));
        assert_eq!(SignatureSchemes::parse("v1a"), Ok(SignatureSchemes::V1A));
        assert_eq!(
            SignatureSchemes::parse("v1,v1a"),
            Ok(SignatureSchemes::BOTH)
        );
        assert_eq!(
            SignatureSchemes::parse("v1a, v1"),
            Ok(SignatureSchemes::BOTH)
        );
        assert_eq!(SignatureSchemes::BOTH.to_string(), "v1,v1a");
        for bad in ["", "v2", "v1,v1", "V1", "v1,", "hmac"] {
            let err = SignatureSchemes::parse(bad).expect_err(bad);
            assert!(err.contains("v1,v1a"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_delivery_key_is_read_by_its_prefix_and_shows_the_subscriber_only_what_it_needs() {
        let v1 = DeliveryKey::generate(SignatureScheme::V1).expect("rng");
        let v1a = DeliveryKey::generate(SignatureScheme::V1a).expect("rng");
        for key in [&v1, &v1a] {
            let again = DeliveryKey::parse(&key.to_secret()).expect("valid");
            assert_eq!(again.scheme(), key.scheme());
        }
        assert_eq!(v1.for_subscriber(), v1.to_secret());
        let shown = v1a.for_subscriber();
        assert!(shown.expose().starts_with("whpk_"));
        assert_ne!(shown, v1a.to_secret());
        assert!(DeliveryKey::parse(&Secret::new("whsk_AAAA")).is_err());
        assert!(DeliveryKey::parse(&Secret::new("plain")).is_err());
    }
}
