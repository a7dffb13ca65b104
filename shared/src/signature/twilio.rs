//! Twilio: `X-Twilio-Signature` is the base64 HMAC-SHA1, keyed with the account's auth token, of
//! the URL Twilio requested followed by every form parameter of the body, sorted by name, as
//! `name` + `value` with no separators.
//!
//! Spec: <https://www.twilio.com/docs/usage/webhooks/webhooks-security> ("Validating signatures
//! from Twilio"); what the page leaves to the SDKs follows what twilio-python's
//! `RequestValidator.validate` (`twilio/request_validator.py`) and twilio-node's
//! `validateRequest`/`validateRequestWithBody` (`src/webhooks/webhooks.ts`) accept:
//! - repeated parameters are sorted by value too, and an exact repeat of a name and value counts
//!   once (both SDKs sort a set of values);
//! - a body that is not a form (JSON) is not signed directly: Twilio adds
//!   `bodySHA256=<lowercase hex SHA-256 of the body>` to the query string and signs only the URL;
//!   the SDKs compare that text with the digest they compute, so only lowercase hex matches;
//! - Twilio's signing is inconsistent about ports, so the SDKs accept a signature over the URL
//!   with its port removed (whatever the port) or, for a URL without one, with the standard port
//!   added (`:443` for https, `:80` for http). Hookpost accepts the same two forms and no other.
//!
//! The URL is the source's `public_url` (the URL configured at Twilio): the receiver behind API
//! Gateway cannot see it. When the request has a query string, that query, byte for byte, replaces
//! the one in `public_url`, since Twilio adds `bodySHA256` to it. Twilio signs no timestamp;
//! `I-Twilio-Idempotency-Token` identifies retries.
use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::form_urlencoded;

use super::digest::{any_matches, base64_digest, hmac, matched};
use super::{
    Check, EventMeta, HmacAlgorithm, Inbound, OptionsError, Scheme, SchemeOptions, SignError,
    SignedHeaders, VerifyError, optional_header, single_header,
};
use crate::secret::Secret;

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
/// The same on every retry of one webhook request.
pub const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";
/// The query parameter that carries the SHA-256 of a JSON body.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";
const FORWARDED_HEADERS: &[&str] = &[IDEMPOTENCY_HEADER, "user-agent"];

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
const SIGNATURE_LEN: usize = 20;

/// Twilio's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Twilio;

impl Scheme for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        let public_url = public_url(check.options).ok_or(VerifyError::Unconfigured(
            "twilio needs the source's public URL",
        ))?;
        let candidate = base64_digest(
            single_header(request.headers, SIGNATURE_HEADER)?,
            SIGNATURE_LEN,
            SIGNATURE_HEADER,
        )?;
        let url = signed_url(public_url, request.query);
        let body_hash = body_sha256_param(request.query)?;
        let params = match body_hash {
            Some(_) => Vec::new(),
            None if request.body.is_empty() => Vec::new(),
            None if is_form(request) => sorted_params(request.body),
            None => {
                return Err(VerifyError::MalformedBody(
                    "Twilio signs a body that is not a form only through `bodySHA256` in the \
                     query string, and the query string has none",
                ));
            }
        };

        let matches_over = |url: &str| {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + 2 * params.len());
            parts.push(url.as_bytes());
            for (name, value) in &params {
                parts.push(name.as_bytes());
                parts.push(value.as_bytes());
            }
            any_matches(
                HmacAlgorithm::Sha1,
                check.secrets,
                &parts,
                std::slice::from_ref(&candidate),
            )
        };
        // The other form of the URL is tried only when the URL as given does not match: which
        // form Twilio used is not secret, and the usual case then MACs the parameters once.
        let mut found = matches_over(&url);
        if !found && let Some(other) = port_variant(&url) {
            found = matches_over(&other);
        }
        if let Some(expected) = body_hash {
            found &= bool::from(Sha256::digest(request.body).as_slice().ct_eq(&expected));
        }
        matched(found)
    }

    /// Twilio callbacks have no event-type field. A form body's type is `<kind>.<status>`, the kind
    /// taken from the status parameter present (`message` for `MessageStatus` or `SmsStatus`,
    /// `recording` for `RecordingStatus`, `call` for `CallStatus`), so `message.*` selects every
    /// message callback. Its delivery id is `I-Twilio-Idempotency-Token` when sent, else
    /// `<sid>:<status>`: one message or call has several callbacks, one per status. A JSON body
    /// (Event Streams, CloudEvents) gives its own `type` and, for a single event, `id`.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        let token = optional_header(request.headers, IDEMPOTENCY_HEADER);
        let mut meta = if is_form(request) {
            describe_form(request.body)
        } else {
            describe_json(request.body)
        };
        if token.is_some() {
            meta.delivery_id = token;
        }
        meta
    }

    /// The headers Twilio would send with form body `body` to the source's public URL. A JSON
    /// body cannot be signed this way: Twilio covers it with `bodySHA256` in the URL, which
    /// headers cannot carry.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        _now: i64,
        _event_type: Option<&str>,
        options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        let url = public_url(options).ok_or_else(|| {
            SignError::Invalid("twilio signs the source's public URL; set --public-url".to_owned())
        })?;
        if matches!(body.trim_ascii_start().first(), Some(b'{' | b'[')) {
            return Err(SignError::Invalid(
                "twilio covers a JSON body with `bodySHA256` in the URL, which a signed \
                 request's headers cannot carry; send a form-encoded body"
                    .to_owned(),
            ));
        }
        Ok(vec![
            (SIGNATURE_HEADER.to_owned(), sign(secret, url, body)),
            (
                IDEMPOTENCY_HEADER.to_owned(),
                uuid::Uuid::new_v4().to_string(),
            ),
            ("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned()),
        ])
    }

    fn check_options(&self, options: &SchemeOptions) -> Result<(), OptionsError> {
        public_url(options)
            .map(|_| ())
            .ok_or(OptionsError::NoPublicUrl("twilio"))
    }
}
fn public_url(options: &SchemeOptions) -> Option<&str> {
    options.public_url.as_deref().filter(|url| !url.is_empty())
}

/// The URL Twilio requested: the configured URL, with the request's own query string when it has
/// one.
fn signed_url<'a>(public_url: &'a str, query: Option<&str>) -> Cow<'a, str> {
    match query.filter(|q| !q.is_empty()) {
        Some(query) => {
            let base = public_url
                .split_once('?')
                .map_or(public_url, |(base, _)| base);
            Cow::Owned(format!("{base}?{query}"))
        }
        None => Cow::Borrowed(public_url),
    }
}

/// The other form of `url` that Twilio's validators also accept: with its port removed when it
/// has one, whatever the port, and with the scheme's standard port added when it has none.
/// twilio-python's `remove_port`/`add_port` and twilio-node's `removePort`/`addPort` do the same.
/// Only http and https URLs have another form; Twilio requests no other scheme.
fn port_variant(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let standard_port = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else if scheme.eq_ignore_ascii_case("http") {
        "80"
    } else {
        return None;
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (userinfo, host_port) = authority.split_at(authority.rfind('@').map_or(0, |at| at + 1));
    // The port follows the last `:`, unless that `:` is inside an IPv6 literal (`[::1]`).
    let variant = match host_port
        .rfind(':')
        .filter(|&colon| !host_port[colon..].contains(']'))
    {
        Some(colon) => format!("{scheme}://{userinfo}{}{tail}", &host_port[..colon]),
        None => format!("{scheme}://{userinfo}{host_port}:{standard_port}{tail}"),
    };
    Some(variant)
}

/// The `bodySHA256` digest from the query string, when there is one.
fn body_sha256_param(query: Option<&str>) -> Result<Option<[u8; 32]>, VerifyError> {
    let mut values = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(name, _)| name == BODY_SHA256_PARAM)
        .map(|(_, value)| value);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(VerifyError::MalformedBody(
            "the query string repeats `bodySHA256`",
        ));
    }
    let not_a_digest = VerifyError::MalformedBody(
        "`bodySHA256` in the query string is not a lowercase hex SHA-256 digest",
    );
    // The SDKs compare the parameter's text with the lowercase hex digest, so uppercase never
    // matches there and is refused here.
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(not_a_digest);
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(value.as_bytes(), &mut digest).map_err(|_| not_a_digest)?;
    Ok(Some(digest))
}
fn is_form(request: &Inbound<'_>) -> bool {
    request
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(FORM_CONTENT_TYPE))
}

/// The body's form parameters, decoded, sorted by name then value, exact repeats dropped.
fn sorted_params(body: &[u8]) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let mut params: Vec<_> = form_pairs(body).collect();
    params.sort_unstable();
    params.dedup();
    params
}

/// A form body's `name=value` pairs, decoded, in order: what `form_urlencoded::parse` yields
/// (empty pairs skipped, a pair without `=` has an empty value), decoded faster. Twilio signs
/// the decoded text, so decoding is on the verify path: `form_urlencoded` copies a value once
/// to replace `+` and again to decode `%XX`, a byte at a time, which cost twice the MAC
/// (issue 19); [`decode_component`] makes one copy.
fn form_pairs(body: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            (decode_component(name), decode_component(value))
        })
}

/// One name or value of a form, decoded as the URL Standard's
/// `application/x-www-form-urlencoded` parser decodes it: `+` is a space, then `%` and two hex
/// digits is that byte (any other `%` is itself), then the bytes are UTF-8 with invalid
/// sequences replaced by U+FFFD. Borrowed when there is nothing to decode.
fn decode_component(raw: &[u8]) -> Cow<'_, str> {
    if memchr::memchr2(b'+', b'%', raw).is_none() {
        return String::from_utf8_lossy(raw);
    }
    // One copy with `+` replaced (a loop the compiler vectorises), then `%XX` decoded in place.
    let mut bytes: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    if let Some(first) = memchr::memchr(b'%', &bytes) {
        let (mut read, mut write) = (first, first);
        while read < bytes.len() {
            // Here bytes[read] is a `%`.
            let escaped = bytes
                .get(read + 1..read + 3)
                .and_then(|hex| Some((hex_value(hex[0])? << 4) | hex_value(hex[1])?));
            let (byte, used) = escaped.map_or((b'%', 1), |byte| (byte, 3));
            bytes[write] = byte;
            write += 1;
            read += used;
            let next = memchr::memchr(b'%', &bytes[read..]).map_or(bytes.len(), |i| read + i);
            bytes.copy_within(read..next, write);
            write += next - read;
            read = next;
        }
        bytes.truncate(write);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Cow::Owned(text),
        Err(invalid) => Cow::Owned(String::from_utf8_lossy(invalid.as_bytes()).into_owned()),
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    (digit as char)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

/// The `X-Twilio-Signature` value for a request to `url` with form body `form` (empty for a JSON
/// body, whose `bodySHA256` is then part of `url`).
pub fn sign(secret: &Secret, url: &str, form: &[u8]) -> String {
    let params = sorted_params(form);
    let mut parts: Vec<&[u8]> = vec![url.as_bytes()];
    for (name, value) in &params {
        parts.push(name.as_bytes());
        parts.push(value.as_bytes());
    }
    BASE64.encode(hmac(
        HmacAlgorithm::Sha1,
        secret.expose().as_bytes(),
        &parts,
    ))
}

fn describe_form(body: &[u8]) -> EventMeta {
    let params: Vec<_> = form_urlencoded::parse(body).collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_ref())
    };
    const KINDS: [(&str, &str, &[&str]); 3] = [
        ("message", "MessageSid", &["MessageStatus", "SmsStatus"]),
        ("recording", "RecordingSid", &["RecordingStatus"]),
        ("call", "CallSid", &["CallStatus"]),
    ];
    let with_status = KINDS.iter().find_map(|(kind, sid, statuses)| {
        statuses
            .iter()
            .find_map(|s| get(s))
            .map(|status| (*kind, get(sid), Some(status)))
    });
    let found = with_status.or_else(|| {
        KINDS
            .iter()
            .find_map(|(kind, sid, _)| get(sid).map(|sid| (*kind, Some(sid), None)))
    });
    let Some((kind, sid, status)) = found else {
        return EventMeta::default();
    };
    EventMeta {
        delivery_id: sid.map(|sid| match status {
            Some(status) => format!("{sid}:{status}"),
            None => sid.to_owned(),
        }),
        event_type: Some(match status {
            Some(status) => format!("{kind}.{status}"),
            None => kind.to_owned(),
        }),
    }
}

#[derive(Deserialize)]
struct CloudEvent {
    id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonBody {
    One(CloudEvent),
    Many(Vec<CloudEvent>),
}

fn describe_json(body: &[u8]) -> EventMeta {
    match serde_json::from_slice::<JsonBody>(body) {
        Ok(JsonBody::One(event)) => EventMeta {
            delivery_id: event.id,
            event_type: event.event_type,
        },
        Ok(JsonBody::Many(events)) => {
            let single = events.len() == 1;
            let first = events.into_iter().next();
            EventMeta {
                // A batch's first id does not identify the batch.
                delivery_id: first.as_ref().and_then(|e| e.id.clone()).filter(|_| single),
                event_type: first.and_then(|e| e.event_type),
            }
        }
        Err(_) => EventMeta::default(),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::testing::{Case, headers};
    use super::*;

    // twilio-python `tests/unit/test_request_validator.py` and twilio-node
    // `spec/validation.spec.js` share these: auth token "12345", this URL and these parameters
    // give these signatures.
    const DOC_TOKEN: &str = "12345";
    const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const DOC_FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309\
                             &To=%2B18005551212&Caller=%2B14158675309";
    const DOC_SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    /// The same request, signed over the URL with `:443`.
    const DOC_SIGNATURE_443: &str = "kvajT1Ptam85bY51eRf/AJRuM3w=";
    /// The same request over `http://`, signed over the URL with `:80`.
    const DOC_SIGNATURE_HTTP_80: &str = "0ZXoZLH/DfblKGATFgpif+LLRf4=";
    /// The same request over `http://`, signed over the URL with `:1234`.
    const DOC_SIGNATURE_HTTP_1234: &str = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=";
    /// Parameters `Sid=CA123, SidAccount=AC123, Digits=5678, Digits=1234`.
    const DOC_DUPLICATES_SIGNATURE: &str = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
    /// A JSON body, its SHA-256, and the signature of `DOC_URL&bodySHA256=<hash>`.
    const DOC_JSON: &[u8] = br#"{"property": "value", "boolean": true}"#;
    const DOC_JSON_SHA256: &str =
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const DOC_JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    fn form(signature: &str) -> HeaderMap {
        headers(&[
            (SIGNATURE_HEADER, signature),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ])
    }

    fn json(signature: &str) -> HeaderMap {
        headers(&[
            (SIGNATURE_HEADER, signature),
            ("content-type", "application/json"),
        ])
    }

    fn case_at(url: &str) -> Case<'static> {
        Case::new(&Twilio, &[DOC_TOKEN], 0).with_options(SchemeOptions {
            public_url: Some(url.to_owned()),
            ..SchemeOptions::default()
        })
    }

    fn check_at(
        url: &str,
        headers: &HeaderMap,
        body: &[u8],
        query: Option<&str>,
    ) -> Result<(), VerifyError> {
        case_at(url).with_query(query).verify(headers, body)
    }

    #[test]
    fn the_sdks_published_form_vector_is_accepted() {
        assert_eq!(
            sign(&Secret::new(DOC_TOKEN), DOC_URL, DOC_FORM),
            DOC_SIGNATURE
        );
        assert_eq!(
            check_at(DOC_URL, &form(DOC_SIGNATURE), DOC_FORM, None),
            Ok(())
        );
    }

    #[test]
    fn the_request_query_is_appended_to_a_public_url_without_one() {
        let h = form(DOC_SIGNATURE);
        let bare = "https://mycompany.com/myapp.php";
        assert_eq!(check_at(bare, &h, DOC_FORM, Some("foo=1&bar=2")), Ok(()));
        for query in [Some("foo=1&bar=3"), None] {
            assert_eq!(
                check_at(bare, &h, DOC_FORM, query),
                Err(VerifyError::NoMatch),
                "{query:?}"
            );
        }
    }

    #[test]
    fn the_sdks_port_vectors_are_accepted() {
        let https_1234 = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
        let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
        let http_1234 = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        let with_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        for (url, signature) in [
            // The standard port added to a URL without one.
            (DOC_URL, DOC_SIGNATURE_443),
            (http, DOC_SIGNATURE_HTTP_80),
            // Any port removed, the standard one or not (the SDKs' "removes port" cases).
            (with_443, DOC_SIGNATURE),
            (https_1234, DOC_SIGNATURE),
            // And the URL as configured.
            (with_443, DOC_SIGNATURE_443),
            (http_1234, DOC_SIGNATURE_HTTP_1234),
        ] {
            assert_eq!(
                check_at(url, &form(signature), DOC_FORM, None),
                Ok(()),
                "{url} {signature}"
            );
        }
    }

    // twilio-node `spec/validation.spec.js`, "should validate urls with credentials" (as given,
    // and "by adding port").
    #[test]
    fn urls_with_credentials_are_signed_with_them_with_or_without_the_port() {
        let url = "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2";
        for signature in [
            "CukzLTc1tT5dXEDIHm/tKBanW10=",
            "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=",
        ] {
            assert_eq!(
                check_at(url, &form(signature), DOC_FORM, None),
                Ok(()),
                "{signature}"
            );
        }
    }

    #[test]
    fn no_other_port_form_is_accepted() {
        let token = Secret::new(DOC_TOKEN);
        let over = |url: &str| form(&sign(&token, url, DOC_FORM));
        for (configured, signed_over) in [
            // A port other than the configured one, or another scheme's standard port.
            (
                "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            ),
            (DOC_URL, "https://mycompany.com:80/myapp.php?foo=1&bar=2"),
            (DOC_URL, "https://mycompany.com:8443/myapp.php?foo=1&bar=2"),
            (
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
            ),
            // Twilio's request URL with another scheme.
            (DOC_URL, "http://mycompany.com/myapp.php?foo=1&bar=2"),
        ] {
            assert_eq!(
                check_at(configured, &over(signed_over), DOC_FORM, None),
                Err(VerifyError::NoMatch),
                "{configured} signed over {signed_over}"
            );
        }
    }

    #[test]
    fn the_port_variant_respects_userinfo_and_ipv6_literals() {
        for (url, variant) in [
            (
                "https://u:p@h.example/x?a=1",
                Some("https://u:p@h.example:443/x?a=1"),
            ),
            ("http://[::1]:80/x", Some("http://[::1]/x")),
            ("http://[::1]", Some("http://[::1]:80")),
            ("https://h:8443/x", Some("https://h/x")),
            ("HTTPS://h/x", Some("HTTPS://h:443/x")),
            ("ftp://h/x", None),
            ("not a url", None),
        ] {
            assert_eq!(port_variant(url).as_deref(), variant, "{url}");
        }
    }

    #[test]
    fn repeated_parameters_are_sorted_by_value_as_the_sdks_do() {
        let body = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
        assert_eq!(
            sign(&Secret::new(DOC_TOKEN), DOC_URL, body),
            DOC_DUPLICATES_SIGNATURE
        );
        let h = form(DOC_DUPLICATES_SIGNATURE);
        // The order of the parameters in the body does not matter; their values do.
        let reordered = b"Digits=1234&SidAccount=AC123&Digits=5678&Sid=CA123";
        assert_eq!(check_at(DOC_URL, &h, reordered, None), Ok(()));
        let changed = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1235";
        assert_eq!(
            check_at(DOC_URL, &h, changed, None),
            Err(VerifyError::NoMatch)
        );
        // twilio-node, "should validate request body with an array parameter".
        let array =
            b"MessagingBinding.Address=%2B1415xxxxxxx&MessagingBinding.Address=%2B1325xxxxxxx";
        let h = form("83O6e2vORAoJHUNzJjDWN1jz+BA=");
        assert_eq!(check_at(DOC_URL, &h, array, None), Ok(()));
    }

    // twilio-node, "should validate urls with special characters": its signature is over the
    // URL as WHATWG parsing re-encodes it (`'` as `%27`). twilio-python signs the URL as given,
    // and so does Hookpost: the source's public URL must be written as Twilio requests it.
    #[test]
    fn the_url_is_signed_as_configured_not_re_encoded() {
        let h = form("TfZzewPq8wqrGlMfyAud8+/IvJ0=");
        let encoded = "https://mycompany.com/myapp.php?foo=1&bar=2&Body=It%27s+amazing";
        assert_eq!(check_at(encoded, &h, DOC_FORM, None), Ok(()));
        let quoted = "https://mycompany.com/myapp.php?foo=1&bar=2&Body=It's+amazing";
        assert_eq!(
            check_at(quoted, &h, DOC_FORM, None),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn a_json_body_is_checked_through_body_sha256_in_the_query() {
        let query = format!("foo=1&bar=2&{BODY_SHA256_PARAM}={DOC_JSON_SHA256}");
        let h = json(DOC_JSON_SIGNATURE);
        assert_eq!(check_at(DOC_URL, &h, DOC_JSON, Some(&query)), Ok(()));
        assert_eq!(
            check_at(
                DOC_URL,
                &h,
                br#"{"property": "value", "boolean": false}"#,
                Some(&query)
            ),
            Err(VerifyError::NoMatch)
        );
        // twilio-node's "when empty" and "with only sha param" vectors.
        let empty = "foo=1&bar=2&bodySHA256=44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        let h = json("Ldidvp12m26NI7eqEvxnEpkd9Hc=");
        assert_eq!(check_at(DOC_URL, &h, b"{}", Some(empty)), Ok(()));
        let only = format!("{BODY_SHA256_PARAM}={DOC_JSON_SHA256}");
        let h = json("y77kIzt2vzLz71DgmJGsen2scGs=");
        assert_eq!(check_at(DOC_URL, &h, DOC_JSON, Some(&only)), Ok(()));
    }

    #[test]
    fn a_body_sha256_that_the_sdks_would_not_match_is_refused() {
        let h = json(DOC_JSON_SIGNATURE);
        for bad in [
            // Without `bodySHA256` the JSON body is signed by nothing.
            "foo=1&bar=2".to_owned(),
            format!("foo=1&bar=2&{BODY_SHA256_PARAM}=xyz"),
            format!(
                "foo=1&bar=2&{BODY_SHA256_PARAM}={}",
                DOC_JSON_SHA256.to_uppercase()
            ),
            format!("{BODY_SHA256_PARAM}={DOC_JSON_SHA256}&{BODY_SHA256_PARAM}={DOC_JSON_SHA256}"),
        ] {
            assert_eq!(
                check_at(DOC_URL, &h, DOC_JSON, Some(&bad)).map_err(|e| e.code()),
                Err("malformed_request"),
                "{bad}"
            );
        }
        // A form body without the form content type is not read as a form.
        let mut untyped = form(DOC_SIGNATURE);
        untyped.remove(http::header::CONTENT_TYPE);
        assert!(matches!(
            check_at(DOC_URL, &untyped, DOC_FORM, None),
            Err(VerifyError::MalformedBody(_))
        ));
    }

    #[test]
    fn any_single_byte_change_to_a_json_body_is_rejected() {
        let body = br#"{"specversion":"1.0","type":"com.twilio.messaging.message.delivered"}"#;
        let query = format!("{BODY_SHA256_PARAM}={}", hex::encode(Sha256::digest(body)));
        let url = format!("https://hooks.example/webhooks/twilio?{query}");
        let h = json(&sign(&Secret::new(DOC_TOKEN), &url, b""));
        assert_eq!(check_at(&url, &h, body, Some(&query)), Ok(()));
        for i in 0..body.len() {
            let mut tampered = body.to_vec();
            tampered[i] ^= 0x20;
            assert_eq!(
                check_at(&url, &h, &tampered, Some(&query)),
                Err(VerifyError::NoMatch),
                "byte {i}"
            );
        }
    }

    #[test]
    fn a_source_without_a_public_url_cannot_verify_or_sign() {
        let h = form(DOC_SIGNATURE);
        for options in [SchemeOptions::default(), case_at("").options] {
            let case = Case::new(&Twilio, &[DOC_TOKEN], 0).with_options(options.clone());
            assert_eq!(
                case.verify(&h, DOC_FORM),
                Err(VerifyError::Unconfigured(
                    "twilio needs the source's public URL"
                ))
            );
            assert_eq!(
                Twilio.check_options(&options),
                Err(OptionsError::NoPublicUrl("twilio"))
            );
            assert!(
                Twilio
                    .sign(&Secret::new(DOC_TOKEN), DOC_FORM, 0, None, &options)
                    .is_err()
            );
        }
    }

    #[test]
    fn json_bodies_are_not_signed() {
        let case = case_at("https://hooks.example/webhooks/sms");
        let signed = Twilio.sign(
            &Secret::new("token"),
            br#" {"a":1}"#,
            0,
            None,
            &case.options,
        );
        assert!(signed.is_err());
    }

    fn meta(headers: &HeaderMap, body: &[u8]) -> EventMeta {
        Case::new(&Twilio, &[], 0).describe(headers, body)
    }

    #[test]
    fn describe_names_the_kind_and_status_of_a_callback() {
        let h = form(DOC_SIGNATURE);
        for (body, event_type, delivery_id) in [
            (
                &b"MessageSid=SM1&SmsStatus=received&MessageStatus=delivered"[..],
                "message.delivered",
                "SM1:delivered",
            ),
            (
                b"CallSid=CA1&CallStatus=in-progress",
                "call.in-progress",
                "CA1:in-progress",
            ),
            (
                b"CallSid=CA1&RecordingSid=RE1&RecordingStatus=completed",
                "recording.completed",
                "RE1:completed",
            ),
            (b"CallSid=CA1&Digits=1", "call", "CA1"),
        ] {
            let m = meta(&h, body);
            assert_eq!(m.event_type.as_deref(), Some(event_type));
            assert_eq!(m.delivery_id.as_deref(), Some(delivery_id));
        }
        assert_eq!(meta(&h, b"Foo=bar"), EventMeta::default());

        let mut with_token = h.clone();
        with_token.insert(IDEMPOTENCY_HEADER, http::HeaderValue::from_static("tok-1"));
        let m = meta(&with_token, b"MessageSid=SM1&MessageStatus=sent");
        assert_eq!(m.delivery_id.as_deref(), Some("tok-1"));
        assert_eq!(m.event_type.as_deref(), Some("message.sent"));
    }

    #[test]
    fn describe_reads_cloudevents_from_a_json_body() {
        let h = json(DOC_SIGNATURE);
        let one = br#"[{"id":"EZ1","type":"com.twilio.messaging.message.sent"}]"#;
        let m = meta(&h, one);
        assert_eq!(m.delivery_id.as_deref(), Some("EZ1"));
        assert_eq!(
            m.event_type.as_deref(),
            Some("com.twilio.messaging.message.sent")
        );
        let two = br#"[{"id":"EZ1","type":"a"},{"id":"EZ2","type":"b"}]"#;
        let m = meta(&h, two);
        assert_eq!(m.delivery_id, None);
        assert_eq!(m.event_type.as_deref(), Some("a"));
        assert_eq!(meta(&h, b"not json"), EventMeta::default());
    }

    #[test]
    fn forms_decode_exactly_as_the_url_standards_parser_decodes_them() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const PIECES: [&[u8]; 16] = [
            b"a",
            b"Body",
            b"=",
            b"&",
            b"&&",
            b"+",
            b"%",
            b"%2",
            b"%2B",
            b"%2b",
            b"%zz",
            b"%C3%A9",
            b"%C3",
            b"%FF",
            b"\xc3\xa9",
            b"\xff",
        ];
        for _ in 0..20_000 {
            let form: Vec<u8> = (0..next() % 12)
                .flat_map(|_| {
                    PIECES[(next() % PIECES.len() as u64) as usize]
                        .iter()
                        .copied()
                })
                .collect();
            let ours: Vec<_> = form_pairs(&form).collect();
            let reference: Vec<_> = form_urlencoded::parse(&form).collect();
            assert_eq!(ours, reference, "{form:?}");
        }
    }
}
