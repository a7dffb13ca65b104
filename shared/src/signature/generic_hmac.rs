//! Generic HMAC: for a provider Hookpost does not list, the source's options describe the scheme
//! ([`GenericHmac`]): which header carries the digest, with what prefix, in hex or base64, made
//! with HMAC-SHA1/256/512 over a template of `{body}` and `{timestamp}` (the body alone when
//! there is no template), keyed with the secret's text.
//!
//! There is no single spec; this covers the common layout that GitHub, Slack and Shopify share,
//! and the tests check it against their published or independently computed vectors. Template
//! literals and the body are fed to the MAC as separate parts, so the body is never copied. A
//! timestamp header, when configured, is checked against the source's tolerance (five minutes by
//! default, like most timestamped schemes); it protects against replays only when the template
//! signs it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::digest::{
    any_matches, base64_digest, check_timestamp, digest_len, hex_digest, hmac, parse_unix,
};
use super::{
    Check, DigestEncoding, EventMeta, GenericHmac, Inbound, OptionsError, Scheme, SchemeOptions,
    SignError, SignedHeaders, VerifyError, optional_header, single_header_named,
};
use crate::secret::Secret;

/// Five minutes either way, the usual window of timestamped HMAC schemes (Stripe, Slack,
/// Standard Webhooks).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Only `user-agent`: the layout's event-type and delivery-id headers are named per source, so
/// they cannot be in this static list; `describe` reads them.
const FORWARDED_HEADERS: &[&str] = &["user-agent"];

/// How errors name the configured headers ([`VerifyError`] holds only static text).
const SIGNATURE_LABEL: &str = "generic-hmac signature";
const TIMESTAMP_LABEL: &str = "generic-hmac timestamp";
const UNCONFIGURED: &str = "generic-hmac needs its layout (header, algorithm, encoding)";
const DEFAULT_TEMPLATE: &str = "{body}";

/// One piece of the signed content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'t> {
    Text(&'t str),
    Body,
    Timestamp,
}

/// Checks a layout before it is stored, so a source is never created that can verify nothing.
pub fn check_layout(layout: &GenericHmac) -> Result<(), &'static str> {
    http::HeaderName::from_bytes(layout.header.trim().as_bytes())
        .map_err(|_| "the generic-hmac signature header is not a valid header name")?;
    if let Some(name) = &layout.timestamp_header {
        http::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| "the generic-hmac timestamp header is not a valid header name")?;
    }
    pieces(layout).map(|_| ())
}

/// The template split into pieces: `{body}` and `{timestamp}` are placeholders, and any other
/// `{word}` is refused rather than signed literally, so a typo such as `{Body}` fails loudly.
fn pieces(layout: &GenericHmac) -> Result<Vec<Piece<'_>>, &'static str> {
    let template = layout.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
    let mut out = Vec::new();
    let mut literal_start = 0;
    let mut at = 0;
    // `{` is ASCII, so every index sliced at below is a character boundary.
    while at < template.len() {
        if template.as_bytes()[at] == b'{' {
            let after = &template[at + 1..];
            let word_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if word_len > 0 && after[word_len..].starts_with('}') {
                let piece = match &after[..word_len] {
                    "body" => Piece::Body,
                    "timestamp" => Piece::Timestamp,
                    _ => {
                        return Err("the generic-hmac template has a placeholder other than \
                                    {body} and {timestamp}");
                    }
                };
                if at > literal_start {
                    out.push(Piece::Text(&template[literal_start..at]));
                }
                out.push(piece);
                at += word_len + 2;
                literal_start = at;
                continue;
            }
        }
        at += 1;
    }
    if literal_start < template.len() {
        out.push(Piece::Text(&template[literal_start..]));
    }
    if !out.contains(&Piece::Body) {
        return Err("the generic-hmac template must sign the {body}");
    }
    if out.contains(&Piece::Timestamp) && layout.timestamp_header.is_none() {
        return Err("the generic-hmac template signs a {timestamp} but names no timestamp header");
    }
    Ok(out)
}

/// The signed content's parts, borrowing the body and the timestamp as sent.
fn parts<'a>(pieces: &[Piece<'a>], body: &'a [u8], timestamp: &'a str) -> Vec<&'a [u8]> {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.as_bytes(),
            Piece::Body => body,
            Piece::Timestamp => timestamp.as_bytes(),
        })
        .collect()
}

/// Any HMAC scheme described by a source's layout.
#[derive(Debug, Clone, Copy)]
pub struct Generic;

impl Scheme for Generic {
    fn name(&self) -> &'static str {
        "generic-hmac"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn signs_timestamp(&self, options: &SchemeOptions) -> bool {
        options
            .generic
            .as_ref()
            .is_some_and(|layout| layout.timestamp_header.is_some())
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        let layout = check
            .options
            .generic
            .as_ref()
            .ok_or(VerifyError::Unconfigured(UNCONFIGURED))?;
        let pieces = pieces(layout).map_err(VerifyError::Unconfigured)?;

        let value = single_header_named(request.headers, layout.header.trim(), SIGNATURE_LABEL)?;
        let encoded = match layout.prefix.as_deref().filter(|p| !p.is_empty()) {
            Some(prefix) => value
                .strip_prefix(prefix)
                .ok_or(VerifyError::MalformedHeader {
                    header: SIGNATURE_LABEL,
                    reason: "it does not start with the configured prefix",
                })?,
            None => value,
        };
        let len = digest_len(layout.algorithm);
        let candidate = match layout.encoding {
            DigestEncoding::Hex => hex_digest(encoded, len, SIGNATURE_LABEL)?,
            DigestEncoding::Base64 => base64_digest(encoded, len, SIGNATURE_LABEL)?,
        };

        let (timestamp, signed_at) = match &layout.timestamp_header {
            Some(name) => {
                let text = single_header_named(request.headers, name.trim(), TIMESTAMP_LABEL)?;
                (text, Some(parse_unix(text, TIMESTAMP_LABEL)?))
            }
            None => ("", None),
        };

        let found = any_matches(
            layout.algorithm,
            check.secrets,
            &parts(&pieces, request.body, timestamp),
            &[candidate],
        );
        if !found {
            return Err(VerifyError::NoMatch);
        }
        match signed_at {
            Some(at) => check_timestamp(at, &check.policy),
            None => Ok(()),
        }
    }

    /// The configured event-type and delivery-id headers, when the layout names them.
    fn describe(&self, check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        let Some(layout) = check.options.generic.as_ref() else {
            return EventMeta::default();
        };
        let read = |name: &Option<String>| {
            name.as_deref()
                .and_then(|n| optional_header(request.headers, n.trim()))
        };
        EventMeta {
            delivery_id: read(&layout.delivery_id_header),
            event_type: read(&layout.event_type_header),
        }
    }

    /// The headers a sender following the layout would send with `body` at `now`: the signature,
    /// the timestamp and a fresh delivery id when the layout has those headers, and `content-type`.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        _event_type: Option<&str>,
        options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        let layout = options
            .generic
            .as_ref()
            .ok_or_else(|| SignError::Invalid(UNCONFIGURED.to_owned()))?;
        check_layout(layout).map_err(|e| SignError::Invalid(e.to_owned()))?;
        let pieces = pieces(layout).map_err(|e| SignError::Invalid(e.to_owned()))?;
        let timestamp = now.to_string();
        let mac = hmac(
            layout.algorithm,
            secret.expose().as_bytes(),
            &parts(&pieces, body, &timestamp),
        );
        let encoded = match layout.encoding {
            DigestEncoding::Hex => hex::encode(mac),
            DigestEncoding::Base64 => BASE64.encode(mac),
        };
        let name = |n: &str| n.trim().to_ascii_lowercase();
        let mut headers = vec![(
            name(&layout.header),
            format!("{}{encoded}", layout.prefix.as_deref().unwrap_or("")),
        )];
        if let Some(ts) = &layout.timestamp_header {
            headers.push((name(ts), timestamp));
        }
        if let Some(id) = &layout.delivery_id_header {
            headers.push((name(id), uuid::Uuid::new_v4().to_string()));
        }
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
        Ok(headers)
    }

    fn check_options(&self, options: &SchemeOptions) -> Result<(), OptionsError> {
        let layout = options.generic.as_ref().ok_or(OptionsError::NoLayout)?;
        check_layout(layout).map_err(OptionsError::BadLayout)
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::HmacAlgorithm;
    use super::super::testing::{Case, headers};
    use super::*;

    fn layout(algorithm: HmacAlgorithm, encoding: DigestEncoding, header: &str) -> GenericHmac {
        GenericHmac {
            algorithm,
            encoding,
            header: header.to_owned(),
            prefix: None,
            timestamp_header: None,
            template: None,
            event_type_header: None,
            delivery_id_header: None,
        }
    }

    /// GitHub's scheme as a layout.
    fn github_layout() -> GenericHmac {
        GenericHmac {
            prefix: Some("sha256=".to_owned()),
            ..layout(
                HmacAlgorithm::Sha256,
                DigestEncoding::Hex,
                "X-Hub-Signature-256",
            )
        }
    }

    /// Slack's scheme as a layout.
    fn slack_layout() -> GenericHmac {
        GenericHmac {
            prefix: Some("v0=".to_owned()),
            timestamp_header: Some("X-Slack-Request-Timestamp".to_owned()),
            template: Some("v0:{timestamp}:{body}".to_owned()),
            ..layout(
                HmacAlgorithm::Sha256,
                DigestEncoding::Hex,
                "X-Slack-Signature",
            )
        }
    }

    fn options(layout: GenericHmac) -> SchemeOptions {
        SchemeOptions {
            generic: Some(layout),
            ..SchemeOptions::default()
        }
    }

    fn case(layout: GenericHmac, secret: &str, now: i64) -> Case<'static> {
        Case::new(&Generic, &[secret], now).with_options(options(layout))
    }

    // GitHub's published example ("Validating webhook deliveries" on docs.github.com).
    const GH_SECRET: &str = "It's a Secret to Everybody";
    const GH_BODY: &[u8] = b"Hello, World!";
    const GH_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    // Slack's worked example ("Verifying requests from Slack" on api.slack.com).
    const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TS: i64 = 1_531_420_618;
    const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn slack_headers(signature: &str, ts: &str) -> HeaderMap {
        headers(&[
            ("x-slack-signature", signature),
            ("x-slack-request-timestamp", ts),
        ])
    }

    // Independently computed with Python's hmac and base64 modules, for this secret and body.
    const SECRET: &str = "generic-shared-secret";
    const BODY: &[u8] = br#"{"event":"order.paid","id":"ord_42"}"#;
    const SHA1_HEX: &str = "446dabe68c57edab899421744867c6beeafd1903";
    /// HMAC-SHA512 of `1700000000.{body}`, base64.
    const SHA512_B64: &str =
        "GugTcNn2vgAu7jlY7fquVD3apQnuFkJefMv4QehnOB6RrS9fT5V5f5HWnisQeFZFYeHpYR3gd3vQoPmi5GPQJA==";

    #[test]
    fn a_source_without_a_layout_is_unconfigured() {
        let bare = Case::new(&Generic, &[SECRET], 0);
        assert_eq!(
            bare.verify(&HeaderMap::new(), BODY),
            Err(VerifyError::Unconfigured(UNCONFIGURED))
        );
        assert_eq!(
            Generic.sign(&Secret::new(SECRET), BODY, 0, None, &bare.options),
            Err(SignError::Invalid(UNCONFIGURED.to_owned()))
        );
        assert_eq!(
            Generic.check_options(&bare.options),
            Err(OptionsError::NoLayout)
        );
    }

    #[test]
    fn githubs_published_vector_verifies_as_a_layout() {
        let h = headers(&[("x-hub-signature-256", GH_SIGNATURE)]);
        assert_eq!(
            case(github_layout(), GH_SECRET, 0).verify(&h, GH_BODY),
            Ok(())
        );
    }

    #[test]
    fn slacks_published_vector_verifies_as_a_layout_with_its_timestamp() {
        let slack = case(slack_layout(), SLACK_SECRET, SLACK_TS);
        let h = slack_headers(SLACK_SIGNATURE, &SLACK_TS.to_string());
        assert_eq!(slack.verify(&h, SLACK_BODY), Ok(()));
        // The timestamp is signed: another one does not match.
        let shifted = slack_headers(SLACK_SIGNATURE, &(SLACK_TS + 1).to_string());
        assert_eq!(
            slack.verify(&shifted, SLACK_BODY),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn independent_sha1_hex_and_sha512_base64_vectors_verify() {
        let sha1 = case(
            layout(HmacAlgorithm::Sha1, DigestEncoding::Hex, "X-Signature"),
            SECRET,
            0,
        );
        let h = headers(&[("x-signature", SHA1_HEX)]);
        assert_eq!(sha1.verify(&h, BODY), Ok(()));

        let sha512 = GenericHmac {
            timestamp_header: Some("X-Timestamp".to_owned()),
            template: Some("{timestamp}.{body}".to_owned()),
            ..layout(HmacAlgorithm::Sha512, DigestEncoding::Base64, "X-Signature")
        };
        let h = headers(&[("x-signature", SHA512_B64), ("x-timestamp", "1700000000")]);
        assert_eq!(case(sha512, SECRET, 1_700_000_000).verify(&h, BODY), Ok(()));
    }

    #[test]
    fn configured_header_names_match_in_any_case() {
        let lay = layout(HmacAlgorithm::Sha1, DigestEncoding::Hex, " X-SIGNATURE ");
        let h = headers(&[("x-signature", SHA1_HEX)]);
        assert_eq!(case(lay, SECRET, 0).verify(&h, BODY), Ok(()));
    }

    #[test]
    fn errors_name_the_configured_role_not_the_header() {
        let slack = case(slack_layout(), SLACK_SECRET, SLACK_TS);
        assert_eq!(
            slack.verify(&HeaderMap::new(), SLACK_BODY),
            Err(VerifyError::MissingHeader(SIGNATURE_LABEL))
        );
        let no_ts = headers(&[("x-slack-signature", SLACK_SIGNATURE)]);
        assert_eq!(
            slack.verify(&no_ts, SLACK_BODY),
            Err(VerifyError::MissingHeader(TIMESTAMP_LABEL))
        );
        let mut twice = slack_headers(SLACK_SIGNATURE, "1531420618");
        twice.append(
            "x-slack-signature",
            http::HeaderValue::from_static(SLACK_SIGNATURE),
        );
        assert_eq!(
            slack.verify(&twice, SLACK_BODY),
            Err(VerifyError::MalformedHeader {
                header: SIGNATURE_LABEL,
                reason: "it appears more than once"
            })
        );
    }

    #[test]
    fn bad_templates_are_configuration_errors() {
        let h = headers(&[("x-signature", SHA1_HEX)]);
        for (template, timestamp_header) in [
            ("{timestamp}.{Body}", Some("x-timestamp")),
            ("{timestamp}", Some("x-timestamp")),
            ("{timestamp}.{body}", None),
            ("{id}.{body}", None),
        ] {
            let lay = GenericHmac {
                template: Some(template.to_owned()),
                timestamp_header: timestamp_header.map(str::to_owned),
                ..layout(HmacAlgorithm::Sha1, DigestEncoding::Hex, "x-signature")
            };
            assert!(check_layout(&lay).is_err());
            let bad = case(lay, SECRET, 0);
            assert_eq!(
                bad.code(&h, BODY),
                Err("source_misconfigured"),
                "{template}"
            );
            assert!(matches!(
                Generic.check_options(&bad.options),
                Err(OptionsError::BadLayout(_))
            ));
            assert!(
                Generic
                    .sign(&Secret::new(SECRET), BODY, 0, None, &bad.options)
                    .is_err()
            );
        }
        let bad_name = layout(HmacAlgorithm::Sha1, DigestEncoding::Hex, "x signature");
        assert!(check_layout(&bad_name).is_err());
    }

    #[test]
    fn templates_keep_literal_braces_and_text_around_placeholders() {
        let lay = GenericHmac {
            template: Some("{v1}{ {body} }".to_owned()),
            ..layout(HmacAlgorithm::Sha1, DigestEncoding::Hex, "x")
        };
        assert!(pieces(&lay).is_err(), "{{v1}} is an unknown placeholder");
        let lay = GenericHmac {
            template: Some("a{{body}}b{".to_owned()),
            ..layout(HmacAlgorithm::Sha1, DigestEncoding::Hex, "x")
        };
        assert_eq!(
            pieces(&lay),
            Ok(vec![Piece::Text("a{"), Piece::Body, Piece::Text("}b{"),])
        );
        let plain = layout(HmacAlgorithm::Sha1, DigestEncoding::Hex, "x");
        assert_eq!(pieces(&plain), Ok(vec![Piece::Body]));
    }

    #[test]
    fn signed_requests_verify_for_every_kind_of_layout() {
        let now = 1_750_000_000;
        let with_ids = GenericHmac {
            event_type_header: Some("X-Event".to_owned()),
            delivery_id_header: Some("X-Delivery".to_owned()),
            ..slack_layout()
        };
        for lay in [
            github_layout(),
            with_ids,
            layout(HmacAlgorithm::Sha512, DigestEncoding::Base64, "X-Signature"),
            layout(HmacAlgorithm::Sha1, DigestEncoding::Hex, "X-Signature"),
        ] {
            let round_trip = case(lay, "round-trip", now);
            let sent = Generic
                .sign(
                    &Secret::new("round-trip"),
                    BODY,
                    now,
                    None,
                    &round_trip.options,
                )
                .expect("signs");
            assert!(sent.iter().all(|(n, _)| *n == n.to_ascii_lowercase()));
            assert_eq!(
                round_trip.verify(&headers(&sent), BODY),
                Ok(()),
                "{round_trip:?}"
            );
        }
        let signed = Generic
            .sign(
                &Secret::new(GH_SECRET),
                GH_BODY,
                0,
                None,
                &options(github_layout()),
            )
            .expect("signs");
        assert_eq!(
            signed[0],
            ("x-hub-signature-256".to_owned(), GH_SIGNATURE.to_owned())
        );
    }

    #[test]
    fn the_configured_headers_give_the_event_type_and_delivery_id() {
        let lay = GenericHmac {
            event_type_header: Some("X-Event-Type".to_owned()),
            delivery_id_header: Some("x-delivery".to_owned()),
            ..github_layout()
        };
        let h = headers(&[("x-event-type", "order.paid"), ("x-delivery", "d-123")]);
        let meta = case(lay, SECRET, 0).describe(&h, BODY);
        assert_eq!(meta.event_type.as_deref(), Some("order.paid"));
        assert_eq!(meta.delivery_id.as_deref(), Some("d-123"));
        let bare = Case::new(&Generic, &[SECRET], 0);
        assert_eq!(bare.describe(&h, BODY), EventMeta::default());
    }
}
