//! The verifier registry: which provider schemes Hookpost verifies, and how a request is checked
//! against a source's secrets. Each scheme lives in its own module and works on the exact raw body
//! bytes; nothing here copies the body.

pub mod github;
pub mod standard_webhooks;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// A provider's signature scheme. The names are the same in configuration, in the envelope and in
/// the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    Github,
    /// Standard Webhooks (and Svix, its origin): `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    #[serde(alias = "svix")]
    StandardWebhooks,
}

impl Provider {
    /// Every provider, in the order the CLI lists them.
    pub const ALL: &'static [Provider] = &[Provider::Github, Provider::StandardWebhooks];

    /// The provider's configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::StandardWebhooks => "standard-webhooks",
        }
    }

    /// How far a signed timestamp may be from now, when the source does not say.
    pub fn default_tolerance(self) -> Duration {
        match self {
            Provider::Github => Duration::ZERO,
            Provider::StandardWebhooks => standard_webhooks::DEFAULT_TOLERANCE,
        }
    }

    /// Verifies `request` against any of `secrets` (several are active during a rotation).
    pub fn verify(
        self,
        secrets: &[Secret],
        request: &Inbound<'_>,
        policy: &TimePolicy,
    ) -> Result<(), VerifyError> {
        if secrets.is_empty() {
            return Err(VerifyError::Unconfigured("the source has no secret"));
        }
        match self {
            Provider::Github => github::verify(secrets, request),
            Provider::StandardWebhooks => standard_webhooks::verify(secrets, request, policy),
        }
    }

    /// The provider's delivery id and event type, read after the request is verified.
    pub fn describe(self, request: &Inbound<'_>) -> EventMeta {
        match self {
            Provider::Github => github::describe(request),
            Provider::StandardWebhooks => standard_webhooks::describe(request),
        }
    }

    /// The request headers worth keeping in the envelope (besides `content-type`).
    pub fn forwarded_headers(self) -> &'static [&'static str] {
        match self {
            Provider::Github => github::FORWARDED_HEADERS,
            Provider::StandardWebhooks => standard_webhooks::FORWARDED_HEADERS,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A provider name that Hookpost does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider `{0}`; known providers: github, standard-webhooks (alias svix)")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "github" => Ok(Provider::Github),
            "standard-webhooks" | "standardwebhooks" | "svix" => Ok(Provider::StandardWebhooks),
            _ => Err(UnknownProvider(s.to_owned())),
        }
    }
}

/// What a verifier sees of a request: its headers and the exact raw body bytes.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The clock reading and the tolerance a timestamped scheme is checked against.
#[derive(Debug, Clone, Copy)]
pub struct TimePolicy {
    /// Now, in seconds since the Unix epoch.
    pub now: i64,
    /// How far the signed timestamp may be from `now`, in either direction.
    pub tolerance: Duration,
}

/// What the provider says about a verified delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventMeta {
    /// The provider's id for this delivery (the same on its retries).
    pub delivery_id: Option<String>,
    /// The event type subscriptions filter on, e.g. `push` or `invoice.paid`.
    pub event_type: Option<String>,
}

/// Why a request was not accepted as signed by the source's provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the `{0}` header is missing")]
    MissingHeader(&'static str),
    #[error("the `{header}` header is malformed: {reason}")]
    MalformedHeader {
        header: &'static str,
        reason: &'static str,
    },
    #[error("no signature matches the body and the source's secret")]
    NoMatch,
    #[error(
        "the signed timestamp is {skew_seconds} s from the receiver's clock, beyond the {tolerance_seconds} s tolerance"
    )]
    TimestampOutOfTolerance {
        skew_seconds: i64,
        tolerance_seconds: u64,
    },
    /// The source's own configuration cannot verify anything (a server-side problem).
    #[error("the source is misconfigured: {0}")]
    Unconfigured(&'static str),
}

impl VerifyError {
    /// The stable machine-readable code the receiver answers with.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_signature",
            VerifyError::MalformedHeader { .. } | VerifyError::NoMatch => "invalid_signature",
            VerifyError::TimestampOutOfTolerance { .. } => "timestamp_out_of_tolerance",
            VerifyError::Unconfigured(_) => "source_misconfigured",
        }
    }
}

/// The single value of header `name`: missing, repeated or non-ASCII values are errors, so two
/// conflicting signature headers can never be read differently by two parts of the system.
pub(crate) fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<&'a str, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(VerifyError::MissingHeader(name))?;
    if values.next().is_some() {
        return Err(VerifyError::MalformedHeader {
            header: name,
            reason: "it appears more than once",
        });
    }
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| VerifyError::MalformedHeader {
            header: name,
            reason: "it is not printable ASCII",
        })
}

/// The value of an optional, informational header (delivery id, event type).
pub(crate) fn optional_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip_and_svix_is_an_alias() {
        for p in Provider::ALL {
            assert_eq!(p.name().parse::<Provider>(), Ok(*p));
        }
        assert_eq!("svix".parse::<Provider>(), Ok(Provider::StandardWebhooks));
        assert!("gitlab-ish".parse::<Provider>().is_err());
    }

    #[test]
    fn a_source_without_secrets_verifies_nothing() {
        let headers = HeaderMap::new();
        let req = Inbound {
            headers: &headers,
            body: b"{}",
        };
        let policy = TimePolicy {
            now: 0,
            tolerance: Duration::ZERO,
        };
        assert_eq!(
            Provider::Github
                .verify(&[], &req, &policy)
                .map_err(|e| e.code()),
            Err("source_misconfigured")
        );
    }
}
