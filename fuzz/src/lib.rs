//! What the fuzz targets share: the request text format of the corpus, the secrets every
//! provider is checked with, and scheme options chosen by a flags byte.
//!
//! A `signatures` input is `[provider byte][flags byte][now: 8 bytes, i64 little-endian]`
//! followed by a request as text:
//!
//! ```text
//! ?query=string           (optional first line)
//! header-name: value
//! other-header: value
//!
//! body bytes…
//! ```
//!
//! so seeds can be written by hand or from `hookpost sign` (see `fuzz/seed.py`).

use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{
    DigestEncoding, GenericHmac, HmacAlgorithm, Provider, SchemeOptions,
};
use http::{HeaderMap, HeaderName, HeaderValue};

/// The clock of an API Gateway event without `requestContext.timeEpoch` (2023-11-14T22:13:20Z).
pub const NOW: i64 = 1_700_000_000;

/// The URL Twilio and Square sources are configured with when the flags ask for one.
pub const PUBLIC_URL: &str = "https://hooks.example.com/webhooks/fuzz";

/// SendGrid's published Python-library test key (see `shared/src/signature/sendgrid.rs`).
pub const SENDGRID_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";

/// The secrets a provider's source has in the fuzz targets: the current one first, then one
/// being rotated out, so rotation is exercised too.
pub fn secrets(provider: Provider) -> Vec<Secret> {
    let current = match provider {
        Provider::Github => "fuzz-github-secret",
        Provider::Stripe => "whsec_fuzzstripe",
        Provider::Slack => "fuzz-slack-secret",
        Provider::Shopify => "fuzz-shopify-secret",
        Provider::StandardWebhooks => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        Provider::Twilio => "fuzz-twilio-token",
        Provider::Twitch => "fuzz-twitch-secret",
        Provider::Zoom => "fuzz-zoom-secret",
        Provider::Square => "fuzz-square-key",
        Provider::Linear => "fuzz-linear-secret",
        Provider::Intercom => "fuzz-intercom-secret",
        Provider::Gitlab => "fuzz-gitlab-token",
        Provider::Sendgrid => SENDGRID_KEY,
        // An Ed25519 public key in hex (any 32 bytes that decode to a point will do).
        Provider::Discord => "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        Provider::GenericHmac => "fuzz-generic-secret",
    };
    let mut all = vec![Secret::new(current)];
    if !matches!(provider, Provider::Sendgrid | Provider::Discord) {
        all.push(Secret::new(if provider == Provider::StandardWebhooks {
            "whsec_b2xkLXNlY3JldC1iZWluZy1yb3RhdGVkLW91dA=="
        } else {
            "an-old-secret"
        }));
    }
    all
}

/// Scheme options from the flags byte: bit 0 `allow_sha1`, bit 1 a public URL, bits 2–7 a
/// generic-hmac layout (algorithm, encoding, prefix, timestamp header, template).
pub fn options(flags: u8) -> SchemeOptions {
    let algorithm = match (flags >> 2) & 0b11 {
        0 => HmacAlgorithm::Sha1,
        1 => HmacAlgorithm::Sha256,
        _ => HmacAlgorithm::Sha512,
    };
    let timestamped = flags & 0b0100_0000 != 0;
    SchemeOptions {
        public_url: (flags & 0b10 != 0).then(|| PUBLIC_URL.to_owned()),
        allow_sha1: flags & 0b1 != 0,
        generic: Some(GenericHmac {
            algorithm,
            encoding: if flags & 0b1_0000 != 0 {
                DigestEncoding::Base64
            } else {
                DigestEncoding::Hex
            },
            header: "x-signature".to_owned(),
            prefix: (flags & 0b10_0000 != 0).then(|| "sha256=".to_owned()),
            timestamp_header: timestamped.then(|| "x-timestamp".to_owned()),
            template: (timestamped && flags & 0b1000_0000 != 0)
                .then(|| "{timestamp}.{body}".to_owned()),
            event_type_header: Some("x-event-type".to_owned()),
            delivery_id_header: Some("x-delivery-id".to_owned()),
        }),
    }
}

/// A request decoded from the corpus text format.
#[derive(Debug, Default)]
pub struct TextRequest<'a> {
    pub query: Option<&'a str>,
    pub headers: HeaderMap,
    pub body: &'a [u8],
}

/// Splits `data` into query, headers and body. Lines that are not valid header names or values
/// are skipped: `http` refuses them before any verifier could see them.
pub fn parse_request(data: &[u8]) -> TextRequest<'_> {
    let (head, body) = match find(data, b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut request = TextRequest {
        body,
        ..TextRequest::default()
    };
    for (i, line) in head.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if i == 0
            && let Some(query) = line.strip_prefix(b"?")
        {
            request.query = std::str::from_utf8(query).ok();
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim_ascii()),
            HeaderValue::from_bytes(value),
        ) {
            request.headers.append(name, value);
        }
    }
    request
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The provider a selector byte names.
pub fn provider(selector: u8) -> Provider {
    Provider::ALL[usize::from(selector) % Provider::ALL.len()]
}
