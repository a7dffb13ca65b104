//! The verifier registry: which provider schemes Hookpost verifies, and how a request is checked
//! against a source's secrets. Each scheme lives in its own module, implements [`Scheme`] on a unit
//! struct and works on the exact raw body bytes; [`Provider::scheme`] is the one place a provider
//! is matched to its scheme. `conformance` (tests only) runs the same checks on every scheme.

mod digest;
pub(crate) use digest::KeyedCache;
pub mod discord;
pub mod generic_hmac;
pub mod github;
pub mod gitlab;
pub mod intercom;
pub mod linear;
mod options;
mod parsed_keys;
pub mod publish;
pub mod sendgrid;
pub mod shopify;
pub mod slack;
pub mod square;
pub mod standard_webhooks;
pub mod stripe;
mod top_level;
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
    /// No scheme: events published through the API by an IAM-authenticated caller. Not in
    /// [`Provider::ALL`], which lists the schemes the receiver verifies.
    Publish,
}

impl Provider {
    /// Every provider whose signatures the receiver verifies, in the order the CLI lists them.
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

    /// The provider's scheme: the one place a provider is matched to what it does.
    pub fn scheme(self) -> &'static dyn Scheme {
        match self {
            Provider::Github => &github::Github,
            Provider::Stripe => &stripe::Stripe,
            Provider::Slack => &slack::Slack,
            Provider::Shopify => &shopify::Shopify,
            Provider::StandardWebhooks => &standard_webhooks::StandardWebhooks,
            Provider::Twilio => &twilio::Twilio,
            Provider::Twitch => &twitch::Twitch,
            Provider::Zoom => &zoom::Zoom,
            Provider::Square => &square::Square,
            Provider::Linear => &linear::Linear,
            Provider::Intercom => &intercom::Intercom,
            Provider::Gitlab => &gitlab::Gitlab,
            Provider::Sendgrid => &sendgrid::Sendgrid,
            Provider::Discord => &discord::Discord,
            Provider::GenericHmac => &generic_hmac::Generic,
            Provider::Publish => &publish::Publish,
        }
    }

    /// Whether this source takes events through the API's publish route rather than the
    /// receiver's webhook route.
    pub fn is_publish(self) -> bool {
        self == Provider::Publish
    }

    /// The provider's configuration name.
    pub fn name(self) -> &'static str {
        self.scheme().name()
    }

    /// How far a signed timestamp may be from now, when the source does not say. Zero for schemes
    /// that sign no timestamp.
    pub fn default_tolerance(self) -> Duration {
        self.scheme().default_tolerance()
    }

    /// Verifies `request` against any of the check's secrets (several are active during a
    /// rotation).
    pub fn verify(self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        if check.secrets.is_empty() {
            return Err(VerifyError::Unconfigured("the source has no secret"));
        }
        self.scheme().verify(check, request)
    }

    /// The provider's delivery id and event type, read after the request is verified.
    pub fn describe(self, check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        self.scheme().describe(check, request)
    }

    /// The answer to a provider's handshake (URL verification, challenge, ping), for a request
    /// that has been verified. Such a request is answered, not queued.
    pub fn handshake(self, check: &Check<'_>, request: &Inbound<'_>) -> Option<Handshake> {
        self.scheme().handshake(check, request)
    }

    /// The answer a provider needs for an event that was queued, where it needs more than the
    /// event id (Discord interactions must be told a response is deferred).
    pub fn queued_reply(self, request: &Inbound<'_>) -> Option<Handshake> {
        self.scheme().queued_reply(request)
    }

    /// The request headers worth keeping in the envelope (besides `content-type`).
    pub fn forwarded_headers(self) -> &'static [&'static str] {
        self.scheme().forwarded_headers()
    }

    /// The headers the provider would send with `body` at `now`, for the schemes whose secret
    /// can sign (HMAC and token schemes); asymmetric schemes need the provider's private key.
    pub fn sign(
        self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        self.scheme().sign(secret, body, now, None, options)
    }

    /// Whether a source of this provider has the options its scheme needs.
    pub fn check_options(self, options: &SchemeOptions) -> Result<(), OptionsError> {
        self.scheme().check_options(options)
    }

    /// A strong new secret in the form the provider's scheme keys with.
    pub fn new_secret(self) -> Result<Secret, getrandom::Error> {
        self.scheme().new_secret()
    }
}

/// What a provider's signature scheme does. Each provider module implements it on a unit
/// struct, and [`Provider::scheme`] is the one place a provider is mapped to its scheme; callers
/// usually go through [`Provider`]'s methods, which delegate here.
pub trait Scheme: fmt::Debug + Sync {
    /// The provider's configuration name, e.g. `github`.
    fn name(&self) -> &'static str;

    /// How far a signed timestamp may be from now, when the source does not say; zero for a
    /// scheme that signs no timestamp.
    fn default_tolerance(&self) -> Duration {
        Duration::ZERO
    }

    /// Whether a source with `options` has its requests' time signed, so that the tolerance
    /// applies to it.
    fn signs_timestamp(&self, _options: &SchemeOptions) -> bool {
        !self.default_tolerance().is_zero()
    }

    /// The request headers worth keeping in the envelope (besides `content-type`).
    fn forwarded_headers(&self) -> &'static [&'static str];

    /// Verifies `request` against any of the check's secrets. [`Provider::verify`] calls it only
    /// when the source has at least one secret.
    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError>;

    /// The provider's delivery id and event type, read after the request is verified.
    fn describe(&self, check: &Check<'_>, request: &Inbound<'_>) -> EventMeta;

    /// The headers the provider would send with `body` at `now` (Unix seconds), `event_type`
    /// among them where the provider carries it in a header; `content-type` is always one.
    /// Asymmetric schemes cannot sign with the verifying key the source holds.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        event_type: Option<&str>,
        options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError>;

    /// The answer to a verified handshake request, which is answered instead of queued.
    fn handshake(&self, _check: &Check<'_>, _request: &Inbound<'_>) -> Option<Handshake> {
        None
    }

    /// The answer a queued event needs, where the provider needs more than the event id.
    fn queued_reply(&self, _request: &Inbound<'_>) -> Option<Handshake> {
        None
    }

    /// Whether `options` give the scheme what it needs besides the secret.
    fn check_options(&self, _options: &SchemeOptions) -> Result<(), OptionsError> {
        Ok(())
    }

    /// A strong new secret in the form the scheme keys with.
    fn new_secret(&self) -> Result<Secret, getrandom::Error> {
        Secret::generate()
    }
}

/// Header names and values, in the order a provider sends them.
pub type SignedHeaders = Vec<(String, String)>;

/// What a source's options lack for its scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("{0} signs the URL it posts to, so the source needs that URL as its public URL")]
    NoPublicUrl(&'static str),
    #[error("generic-hmac needs its layout: signature header, algorithm and encoding")]
    NoLayout,
    #[error("generic-hmac layout: {0}")]
    BadLayout(&'static str),
    #[error("{0}")]
    NotApplicable(&'static str),
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
     generic-hmac; and publish, for events published through the API"
)]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        if wanted == "svix" || wanted == "standardwebhooks" {
            return Ok(Provider::StandardWebhooks);
        }
        if wanted == Provider::Publish.name() {
            return Ok(Provider::Publish);
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
    use http::{HeaderMap, HeaderName, HeaderValue};

    use super::{
        Check, EventMeta, Handshake, Inbound, Scheme, SchemeOptions, TimePolicy, VerifyError,
    };
    use crate::secret::Secret;

    /// A header map from name and value pairs, repeats kept.
    pub(crate) fn headers<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_ref().as_bytes()).expect("a header name"),
                HeaderValue::from_str(value.as_ref()).expect("a header value"),
            );
        }
        map
    }

    /// One request as a scheme sees it, checked at `now` with the scheme's default tolerance.
    #[derive(Debug, Clone)]
    pub(crate) struct Case<'a> {
        pub scheme: &'a dyn Scheme,
        pub secrets: Vec<Secret>,
        pub options: SchemeOptions,
        pub now: i64,
        pub query: Option<&'a str>,
    }

    impl<'a> Case<'a> {
        pub(crate) fn new(scheme: &'a dyn Scheme, secrets: &[&str], now: i64) -> Self {
            Case {
                scheme,
                secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
                options: SchemeOptions::default(),
                now,
                query: None,
            }
        }

        pub(crate) fn with_options(self, options: SchemeOptions) -> Self {
            Case { options, ..self }
        }

        pub(crate) fn with_query(self, query: Option<&'a str>) -> Self {
            Case { query, ..self }
        }

        pub(crate) fn at(&self, now: i64) -> Self {
            Case {
                now,
                ..self.clone()
            }
        }

        fn run<T>(
            &self,
            headers: &HeaderMap,
            body: &[u8],
            f: impl FnOnce(&Check<'_>, &Inbound<'_>) -> T,
        ) -> T {
            let check = Check {
                secrets: &self.secrets,
                policy: TimePolicy {
                    now: self.now,
                    tolerance: self.scheme.default_tolerance(),
                },
                options: &self.options,
            };
            f(
                &check,
                &Inbound {
                    headers,
                    body,
                    query: self.query,
                },
            )
        }

        pub(crate) fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
            self.run(headers, body, |c, r| self.scheme.verify(c, r))
        }

        /// [`Case::verify`], reduced to the code the receiver answers with.
        pub(crate) fn code(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
            self.verify(headers, body).map_err(|e| e.code())
        }

        pub(crate) fn describe(&self, headers: &HeaderMap, body: &[u8]) -> EventMeta {
            self.run(headers, body, |c, r| self.scheme.describe(c, r))
        }

        pub(crate) fn handshake(&self, headers: &HeaderMap, body: &[u8]) -> Option<Handshake> {
            self.run(headers, body, |c, r| self.scheme.handshake(c, r))
        }
    }
}

#[cfg(test)]
mod conformance;

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
}
