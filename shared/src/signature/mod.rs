//! The verifier registry: which provider schemes Hookpost verifies, and how a request is checked
//! against a source's secrets. Each scheme lives in its own module and works on the exact raw body
//! bytes; nothing here copies the body.

mod digest;
pub mod discord;
pub mod generic_hmac;
pub mod github;
pub mod gitlab;
pub mod intercom;
pub mod linear;
mod options;
pub mod sendgrid;
pub mod shopify;
pub mod slack;
pub mod square;
pub mod standard_webhooks;
pub mod stripe;
pub mod twilio;
pub mod twitch;
pub mod zoom;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::HeaderMap;
use serde::{Deserialize, Serialize};

pub use options::{DigestEncoding, GenericHmac, HmacAlgorithm, SchemeOptions};

use crate::secret::Secret;

/// A provider's signature scheme. The names are the same in configuration, in the envelope and in
/// the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    Github,
    /// Stripe: `Stripe-Signature: t=…,v1=…` over `{t}.{body}`.
    Stripe,
    /// Slack: `X-Slack-Signature: v0=…` over `v0:{timestamp}:{body}`.
    Slack,
    /// Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the body.
    Shopify,
    /// Standard Webhooks (and Svix, its origin): `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    #[serde(alias = "svix")]
    StandardWebhooks,
    /// Twilio: `X-Twilio-Signature`, HMAC-SHA1 over the URL and the sorted form parameters.
    Twilio,
    /// Twitch EventSub: `Twitch-Eventsub-Message-Signature` over id, timestamp and body.
    Twitch,
    /// Zoom: `x-zm-signature: v0=…` over `v0:{timestamp}:{body}`.
    Zoom,
    /// Square: `x-square-hmacsha256-signature` over the notification URL and the body.
    Square,
    /// Linear: `Linear-Signature`, hex HMAC-SHA256 of the body, and `webhookTimestamp` in it.
    Linear,
    /// Intercom: `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>`.
    Intercom,
    /// GitLab: `X-Gitlab-Token`, the secret token itself.
    Gitlab,
    /// SendGrid Event Webhook: ECDSA P-256 over the timestamp and the body.
    Sendgrid,
    /// Discord interactions: Ed25519 over the timestamp and the body.
    Discord,
    /// Any HMAC scheme described by the source's options.
    GenericHmac,
}

impl Provider {
    /// Every provider, in the order the CLI lists them.
    pub const ALL: &'static [Provider] = &[
        Provider::Github,
        Provider::Stripe,
        Provider::Slack,
        Provider::Shopify,
        Provider::StandardWebhooks,
        Provider::Twilio,
        Provider::Twitch,
        Provider::Zoom,
        Provider::Square,
        Provider::Linear,
        Provider::Intercom,
        Provider::Gitlab,
        Provider::Sendgrid,
        Provider::Discord,
        Provider::GenericHmac,
    ];

    /// The provider's configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Stripe => "stripe",
            Provider::Slack => "slack",
            Provider::Shopify => "shopify",
            Provider::StandardWebhooks => "standard-webhooks",
            Provider::Twilio => "twilio",
            Provider::Twitch => "twitch",
            Provider::Zoom => "zoom",
            Provider::Square => "square",
            Provider::Linear => "linear",
            Provider::Intercom => "intercom",
            Provider::Gitlab => "gitlab",
            Provider::Sendgrid => "sendgrid",
            Provider::Discord => "discord",
            Provider::GenericHmac => "generic-hmac",
        }
    }

    /// How far a signed timestamp may be from now, when the source does not say. Zero for schemes
    /// that sign no timestamp.
    pub fn default_tolerance(self) -> Duration {
        match self {
            Provider::Stripe => stripe::DEFAULT_TOLERANCE,
            Provider::Slack => slack::DEFAULT_TOLERANCE,
            Provider::StandardWebhooks => standard_webhooks::DEFAULT_TOLERANCE,
            Provider::Twitch => twitch::DEFAULT_TOLERANCE,
            Provider::Zoom => zoom::DEFAULT_TOLERANCE,
            Provider::Linear => linear::DEFAULT_TOLERANCE,
            Provider::Sendgrid => sendgrid::DEFAULT_TOLERANCE,
            Provider::Discord => discord::DEFAULT_TOLERANCE,
            Provider::GenericHmac => generic_hmac::DEFAULT_TOLERANCE,
            Provider::Github
            | Provider::Shopify
            | Provider::Twilio
            | Provider::Square
            | Provider::Intercom
            | Provider::Gitlab => Duration::ZERO,
        }
    }

    /// Verifies `request` against any of the check's secrets (several are active during a
    /// rotation).
    pub fn verify(self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        if check.secrets.is_empty() {
            return Err(VerifyError::Unconfigured("the source has no secret"));
        }
        match self {
            Provider::Github => github::verify(check, request),
            Provider::Stripe => stripe::verify(check, request),
            Provider::Slack => slack::verify(check, request),
            Provider::Shopify => shopify::verify(check, request),
            Provider::StandardWebhooks => standard_webhooks::verify(check, request),
            Provider::Twilio => twilio::verify(check, request),
            Provider::Twitch => twitch::verify(check, request),
            Provider::Zoom => zoom::verify(check, request),
            Provider::Square => square::verify(check, request),
            Provider::Linear => linear::verify(check, request),
            Provider::Intercom => intercom::verify(check, request),
            Provider::Gitlab => gitlab::verify(check, request),
            Provider::Sendgrid => sendgrid::verify(check, request),
            Provider::Discord => discord::verify(check, request),
            Provider::GenericHmac => generic_hmac::verify(check, request),
        }
    }

    /// The provider's delivery id and event type, read after the request is verified.
    pub fn describe(self, check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        match self {
            Provider::Github => github::describe(check, request),
            Provider::Stripe => stripe::describe(check, request),
            Provider::Slack => slack::describe(check, request),
            Provider::Shopify => shopify::describe(check, request),
            Provider::StandardWebhooks => standard_webhooks::describe(check, request),
            Provider::Twilio => twilio::describe(check, request),
            Provider::Twitch => twitch::describe(check, request),
            Provider::Zoom => zoom::describe(check, request),
            Provider::Square => square::describe(check, request),
            Provider::Linear => linear::describe(check, request),
            Provider::Intercom => intercom::describe(check, request),
            Provider::Gitlab => gitlab::describe(check, request),
            Provider::Sendgrid => sendgrid::describe(check, request),
            Provider::Discord => discord::describe(check, request),
            Provider::GenericHmac => generic_hmac::describe(check, request),
        }
    }

    /// The answer to a provider's handshake (URL verification, challenge, ping), for a request
    /// that has been verified. Such a request is answered, not queued.
    pub fn handshake(self, check: &Check<'_>, request: &Inbound<'_>) -> Option<Handshake> {
        match self {
            Provider::Slack => slack::handshake(check, request),
            Provider::Twitch => twitch::handshake(check, request),
            Provider::Zoom => zoom::handshake(check, request),
            Provider::Discord => discord::handshake(check, request),
            _ => None,
        }
    }

    /// The answer a provider needs for an event that was queued, where it needs more than the
    /// event id (Discord interactions must be told a response is deferred).
    pub fn queued_reply(self, request: &Inbound<'_>) -> Option<Handshake> {
        match self {
            Provider::Discord => discord::queued_reply(request),
            _ => None,
        }
    }

    /// The request headers worth keeping in the envelope (besides `content-type`).
    pub fn forwarded_headers(self) -> &'static [&'static str] {
        match self {
            Provider::Github => github::FORWARDED_HEADERS,
            Provider::Stripe => stripe::FORWARDED_HEADERS,
            Provider::Slack => slack::FORWARDED_HEADERS,
            Provider::Shopify => shopify::FORWARDED_HEADERS,
            Provider::StandardWebhooks => standard_webhooks::FORWARDED_HEADERS,
            Provider::Twilio => twilio::FORWARDED_HEADERS,
            Provider::Twitch => twitch::FORWARDED_HEADERS,
            Provider::Zoom => zoom::FORWARDED_HEADERS,
            Provider::Square => square::FORWARDED_HEADERS,
            Provider::Linear => linear::FORWARDED_HEADERS,
            Provider::Intercom => intercom::FORWARDED_HEADERS,
            Provider::Gitlab => gitlab::FORWARDED_HEADERS,
            Provider::Sendgrid => sendgrid::FORWARDED_HEADERS,
            Provider::Discord => discord::FORWARDED_HEADERS,
            Provider::GenericHmac => generic_hmac::FORWARDED_HEADERS,
        }
    }

    /// The headers the provider would send with `body` at `now`, for the schemes whose secret
    /// can sign (HMAC and token schemes); asymmetric schemes need the provider's private key.
    pub fn sign(
        self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        options: &SchemeOptions,
    ) -> Result<Vec<(String, String)>, SignError> {
        match self {
            Provider::Github => github::sign_request(secret, body, now, options),
            Provider::Stripe => stripe::sign_request(secret, body, now, options),
            Provider::Slack => slack::sign_request(secret, body, now, options),
            Provider::Shopify => shopify::sign_request(secret, body, now, options),
            Provider::StandardWebhooks => {
                standard_webhooks::sign_request(secret, body, now, options)
            }
            Provider::Twilio => twilio::sign_request(secret, body, now, options),
            Provider::Twitch => twitch::sign_request(secret, body, now, options),
            Provider::Zoom => zoom::sign_request(secret, body, now, options),
            Provider::Square => square::sign_request(secret, body, now, options),
            Provider::Linear => linear::sign_request(secret, body, now, options),
            Provider::Intercom => intercom::sign_request(secret, body, now, options),
            Provider::Gitlab => gitlab::sign_request(secret, body, now, options),
            Provider::GenericHmac => generic_hmac::sign_request(secret, body, now, options),
            Provider::Sendgrid | Provider::Discord => Err(SignError::Asymmetric(self.name())),
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
#[error(
    "unknown provider `{0}`; known providers: github, stripe, slack, shopify, standard-webhooks \
     (alias svix), twilio, twitch, zoom, square, linear, intercom, gitlab, sendgrid, discord, \
     generic-hmac"
)]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        if wanted == "svix" || wanted == "standardwebhooks" {
            return Ok(Provider::StandardWebhooks);
        }
        Provider::ALL
            .iter()
            .copied()
            .find(|p| p.name() == wanted)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// What a scheme checks a request with: the source's active secrets, the clock and tolerance,
/// and the scheme's options.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    pub secrets: &'a [Secret],
    pub policy: TimePolicy,
    pub options: &'a SchemeOptions,
}

/// The answer to a verified handshake request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub content_type: &'static str,
    pub body: String,
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("{0} signs with its own private key; only the provider can produce its signatures")]
    Asymmetric(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// What a verifier sees of a request: its headers and the exact raw body bytes.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The raw query string of the request URL, without `?` (Twilio signs it).
    pub query: Option<&'a str>,
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
    /// The body is not what the scheme signs (e.g. a required field is missing).
    #[error("the body is malformed: {0}")]
    MalformedBody(&'static str),
}

impl VerifyError {
    /// The stable machine-readable code the receiver answers with.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_signature",
            VerifyError::MalformedHeader { .. } | VerifyError::NoMatch => "invalid_signature",
            VerifyError::MalformedBody(_) => "malformed_request",
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

/// [`single_header`] for a header whose name is only known at run time (a `generic-hmac`
/// layout). Errors name `label`, a fixed description such as "generic-hmac signature", because
/// [`VerifyError`] holds only static text; the configured name is in the source's options.
pub(crate) fn single_header_named<'a>(
    headers: &'a HeaderMap,
    name: &str,
    label: &'static str,
) -> Result<&'a str, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(VerifyError::MissingHeader(label))?;
    if values.next().is_some() {
        return Err(VerifyError::MalformedHeader {
            header: label,
            reason: "it appears more than once",
        });
    }
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| VerifyError::MalformedHeader {
            header: label,
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

/// What the schemes' unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    use std::time::Duration;

    use http::HeaderMap;

    use super::{Check, Inbound, SchemeOptions, TimePolicy, VerifyError};
    use crate::secret::Secret;

    /// A scheme's `verify` over `headers` and `body`, with `secrets` and default options, at
    /// `now` with `tolerance`.
    pub(crate) fn run_verify(
        verify: fn(&Check<'_>, &Inbound<'_>) -> Result<(), VerifyError>,
        secrets: &[Secret],
        tolerance: Duration,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let options = SchemeOptions::default();
        let check = Check {
            secrets,
            policy: TimePolicy { now, tolerance },
            options: &options,
        };
        verify(
            &check,
            &Inbound {
                headers,
                body,
                query: None,
            },
        )
    }
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
    fn serde_names_are_the_configuration_names() {
        for p in Provider::ALL {
            let json = serde_json::to_string(p).expect("serialises");
            assert_eq!(json, format!("\"{}\"", p.name()));
            assert_eq!(serde_json::from_str::<Provider>(&json).expect("parses"), *p);
        }
        assert_eq!(
            serde_json::from_str::<Provider>("\"svix\"").expect("alias"),
            Provider::StandardWebhooks
        );
    }

    #[test]
    fn a_source_without_secrets_verifies_nothing() {
        let headers = HeaderMap::new();
        let req = Inbound {
            headers: &headers,
            body: b"{}",
            query: None,
        };
        let options = SchemeOptions::default();
        for provider in Provider::ALL {
            let check = Check {
                secrets: &[],
                policy: TimePolicy {
                    now: 0,
                    tolerance: Duration::ZERO,
                },
                options: &options,
            };
            assert_eq!(
                provider.verify(&check, &req).map_err(|e| e.code()),
                Err("source_misconfigured"),
                "{provider}"
            );
        }
    }
}
