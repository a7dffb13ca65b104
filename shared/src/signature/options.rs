//! A source's scheme options: what some schemes need besides the secret.

use serde::{Deserialize, Serialize};

/// Options stored on a source. Each scheme reads only the ones it documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SchemeOptions {
    /// The exact URL configured at the provider, for schemes that sign it (Twilio, Square).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// GitHub: also accept the legacy SHA-1 `X-Hub-Signature` when no SHA-256 one is sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_sha1: bool,
    /// The layout of a `generic-hmac` source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic: Option<GenericHmac>,
}

/// How a provider Hookpost does not list signs its webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenericHmac {
    pub algorithm: HmacAlgorithm,
    pub encoding: DigestEncoding,
    /// The header that carries the signature (any case).
    pub header: String,
    /// Text before the digest in the header, e.g. `sha256=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The header that carries a Unix timestamp, when the provider signs one; checked against
    /// the source's tolerance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// What is signed, with `{body}` and `{timestamp}` placeholders; `{body}` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The header naming the event type, for subscription filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type_header: Option<String>,
    /// The header carrying the provider's delivery id, for duplicate detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id_header: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DigestEncoding {
    Hex,
    Base64,
}
