//! Twilio: `X-Twilio-Signature` is the base64 HMAC-SHA1, keyed with the account's auth token, of
//! the URL Twilio requested followed by every form parameter of the body, sorted by name, as
//! `name` + `value` with no separators.
//!
//! Spec: <https://www.twilio.com/docs/usage/webhooks/webhooks-security> ("Validating signatures
//! from Twilio"); details the page leaves to the SDKs follow twilio-python's and twilio-node's
//! `RequestValidator`:
//! - repeated parameters are sorted by value too, and an exact repeat of a name and value counts
//!   once (both SDKs sort a set of values);
//! - a body that is not a form (JSON) is not signed directly: Twilio adds
//!   `bodySHA256=<hex SHA-256 of the body>` to the query string and signs only the URL;
//! - Twilio may sign the URL with or without the scheme's default port (`:443`, `:80`), so both
//!   forms are tried.
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

use super::digest::{any_matches, base64_digest, hmac, matched, text_key};
use super::{
    Check, EventMeta, HmacAlgorithm, Inbound, SchemeOptions, SignError, VerifyError,
    optional_header, single_header,
};
use crate::secret::Secret;

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
/// The same on every retry of one webhook request.
pub const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";
/// The query parameter that carries the SHA-256 of a JSON body.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";
pub(super) const FORWARDED_HEADERS: &[&str] = &[IDEMPOTENCY_HEADER, "user-agent"];

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
const SIGNATURE_LEN: usize = 20;

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
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
                "Twilio signs a body that is not a form only through `bodySHA256` in the query \
                 string, and the query string has none",
            ));
        }
    };

    let mut found = false;
    // Stop at the first URL form that matches: which form Twilio used is not secret, and the
    // usual case then MACs the parameters once.
    for variant in port_variants(&url) {
        if found {
            break;
        }
        let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + 2 * params.len());
        parts.push(variant.as_bytes());
        for (name, value) in &params {
            parts.push(name.as_bytes());
            parts.push(value.as_bytes());
        }
        found |= any_matches(
            HmacAlgorithm::Sha1,
            check.secrets,
            text_key,
            &parts,
            std::slice::from_ref(&candidate),
        )?;
    }
    if let Some(expected) = body_hash {
        found &= bool::from(Sha256::digest(request.body).as_slice().ct_eq(&expected));
    }
    matched(found)
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

/// The URL as given, plus the same URL with the scheme's default port added (when it has no
/// port) or removed (when it has the default one). A non-default port is signed as it is.
fn port_variants(url: &str) -> Vec<Cow<'_, str>> {
    let mut variants = vec![Cow::Borrowed(url)];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else if scheme.eq_ignore_ascii_case("http") {
        "80"
    } else {
        return variants;
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (userinfo, host_port) = authority.split_at(authority.rfind('@').map_or(0, |at| at + 1));
    // The port follows the last `:`, unless that `:` is inside an IPv6 literal (`[::1]`).
    match host_port
        .rfind(':')
        .filter(|&colon| !host_port[colon..].contains(']'))
    {
        Some(colon) if &host_port[colon + 1..] == default_port => variants.push(Cow::Owned(
            format!("{scheme}://{userinfo}{}{tail}", &host_port[..colon]),
        )),
        Some(_) => {}
        None => variants.push(Cow::Owned(format!(
            "{scheme}://{userinfo}{host_port}:{default_port}{tail}"
        ))),
    }
    variants
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
    let mut digest = [0u8; 32];
    hex::decode_to_slice(value.as_bytes(), &mut digest).map_err(|_| {
        VerifyError::MalformedBody("`bodySHA256` in the query string is not a hex SHA-256 digest")
    })?;
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
    let mut params: Vec<_> = form_urlencoded::parse(body).collect();
    params.sort_unstable();
    params.dedup();
    params
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

/// The headers Twilio would send with form body `body` to the source's public URL. A JSON body
/// cannot be signed this way: Twilio covers it with `bodySHA256` in the URL, which headers cannot
/// carry.
pub fn sign_request(
    secret: &Secret,
    body: &[u8],
    _now: i64,
    options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
    let url = public_url(options).ok_or_else(|| {
        SignError::Invalid("twilio signs the source's public URL; set --public-url".to_owned())
    })?;
    if matches!(body.trim_ascii_start().first(), Some(b'{' | b'[')) {
        return Err(SignError::Invalid(
            "twilio covers a JSON body with `bodySHA256` in the URL, which a signed request's \
             headers cannot carry; send a form-encoded body"
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

/// Twilio callbacks have no event-type field. A form body's type is `<kind>.<status>`, the kind
/// taken from the status parameter present (`message` for `MessageStatus` or `SmsStatus`,
/// `recording` for `RecordingStatus`, `call` for `CallStatus`), so `message.*` selects every
/// message callback. Its delivery id is `I-Twilio-Idempotency-Token` when sent, else
/// `<sid>:<status>`: one message or call has several callbacks, one per status. A JSON body
/// (Event Streams, CloudEvents) gives its own `type` and, for a single event, `id`.
pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
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
    use std::time::Duration;

    use http::{HeaderMap, HeaderValue};

    use super::super::TimePolicy;
    use super::*;

    // twilio-python `tests/unit/test_request_validator.py` (also used by the other SDKs): auth
    // token "12345", this URL and these parameters give these signatures.
    const DOC_TOKEN: &str = "12345";
    const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const DOC_FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309\
                             &To=%2B18005551212&Caller=%2B14158675309";
    const DOC_SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    /// The same request, signed over the URL with `:443`.
    const DOC_SIGNATURE_443: &str = "kvajT1Ptam85bY51eRf/AJRuM3w=";
    /// The same request over `http://`, signed over the URL with `:80`.
    const DOC_SIGNATURE_HTTP_80: &str = "0ZXoZLH/DfblKGATFgpif+LLRf4=";
    /// Parameters `Sid=CA123, SidAccount=AC123, Digits=5678, Digits=1234`.
    const DOC_DUPLICATES_SIGNATURE: &str = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
    /// A JSON body, its SHA-256, and the signature of `DOC_URL&bodySHA256=<hash>`.
    const DOC_JSON: &[u8] = br#"{"property": "value", "boolean": true}"#;
    const DOC_JSON_SHA256: &str =
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const DOC_JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    fn form_headers(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(signature).expect("ascii"),
        );
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        h
    }

    fn json_headers(signature: &str) -> HeaderMap {
        let mut h = form_headers(signature);
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h
    }

    fn options(url: &str) -> SchemeOptions {
        SchemeOptions {
            public_url: Some(url.to_owned()),
            ..SchemeOptions::default()
        }
    }

    fn run(
        secrets: &[Secret],
        options: &SchemeOptions,
        headers: &HeaderMap,
        body: &[u8],
        query: Option<&str>,
    ) -> Result<(), VerifyError> {
        let check = Check {
            secrets,
            policy: TimePolicy {
                now: 0,
                tolerance: Duration::ZERO,
            },
            options,
        };
        verify(
            &check,
            &Inbound {
                headers,
                body,
                query,
            },
        )
    }

    fn check_at(
        url: &str,
        headers: &HeaderMap,
        body: &[u8],
        query: Option<&str>,
    ) -> Result<(), VerifyError> {
        run(
            &[Secret::new(DOC_TOKEN)],
            &options(url),
            headers,
            body,
            query,
        )
    }

    #[test]
    fn the_sdks_published_form_vector_is_accepted() {
        assert_eq!(
            sign(&Secret::new(DOC_TOKEN), DOC_URL, DOC_FORM),
            DOC_SIGNATURE
        );
        assert_eq!(
            check_at(DOC_URL, &form_headers(DOC_SIGNATURE), DOC_FORM, None),
            Ok(())
        );
    }

    #[test]
    fn the_request_query_is_appended_to_a_public_url_without_one() {
        let h = form_headers(DOC_SIGNATURE);
        let bare = "https://mycompany.com/myapp.php";
        assert_eq!(check_at(bare, &h, DOC_FORM, Some("foo=1&bar=2")), Ok(()));
        assert_eq!(
            check_at(bare, &h, DOC_FORM, Some("foo=1&bar=3")),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check_at(bare, &h, DOC_FORM, None),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn the_url_is_accepted_with_or_without_the_default_port() {
        // Twilio signed with `:443`; the source's URL has no port, and the other way round.
        let h443 = form_headers(DOC_SIGNATURE_443);
        assert_eq!(check_at(DOC_URL, &h443, DOC_FORM, None), Ok(()));
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert_eq!(
            check_at(with_port, &form_headers(DOC_SIGNATURE), DOC_FORM, None),
            Ok(())
        );
        assert_eq!(check_at(with_port, &h443, DOC_FORM, None), Ok(()));
        let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            check_at(http, &form_headers(DOC_SIGNATURE_HTTP_80), DOC_FORM, None),
            Ok(())
        );
    }

    #[test]
    fn a_non_default_port_is_part_of_the_signed_url() {
        let url = "https://mycompany.com:8443/myapp.php?foo=1&bar=2";
        assert_eq!(
            check_at(url, &form_headers(DOC_SIGNATURE), DOC_FORM, None),
            Err(VerifyError::NoMatch)
        );
        let signature = sign(&Secret::new(DOC_TOKEN), url, DOC_FORM);
        assert_eq!(
            check_at(url, &form_headers(&signature), DOC_FORM, None),
            Ok(())
        );
    }

    #[test]
    fn port_variants_respect_userinfo_and_ipv6_literals() {
        let v = |url| {
            port_variants(url)
                .into_iter()
                .map(Cow::into_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            v("https://u:p@h.example/x?a=1"),
            [
                "https://u:p@h.example/x?a=1",
                "https://u:p@h.example:443/x?a=1"
            ]
        );
        assert_eq!(
            v("http://[::1]:80/x"),
            ["http://[::1]:80/x", "http://[::1]/x"]
        );
        assert_eq!(v("http://[::1]"), ["http://[::1]", "http://[::1]:80"]);
        assert_eq!(v("https://h:8443/x"), ["https://h:8443/x"]);
        assert_eq!(v("ftp://h/x"), ["ftp://h/x"]);
        assert_eq!(v("not a url"), ["not a url"]);
    }

    #[test]
    fn repeated_parameters_are_sorted_by_value_as_the_sdks_do() {
        let body = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234";
        assert_eq!(
            sign(&Secret::new(DOC_TOKEN), DOC_URL, body),
            DOC_DUPLICATES_SIGNATURE
        );
        assert_eq!(
            check_at(DOC_URL, &form_headers(DOC_DUPLICATES_SIGNATURE), body, None),
            Ok(())
        );
        // The order of the parameters in the body does not matter; their values do.
        let reordered = b"Digits=1234&SidAccount=AC123&Digits=5678&Sid=CA123";
        assert_eq!(
            check_at(
                DOC_URL,
                &form_headers(DOC_DUPLICATES_SIGNATURE),
                reordered,
                None
            ),
            Ok(())
        );
        let changed = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1235";
        assert_eq!(
            check_at(
                DOC_URL,
                &form_headers(DOC_DUPLICATES_SIGNATURE),
                changed,
                None
            ),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn a_json_body_is_checked_through_body_sha256_in_the_query() {
        let query = format!("foo=1&bar=2&{BODY_SHA256_PARAM}={DOC_JSON_SHA256}");
        let h = json_headers(DOC_JSON_SIGNATURE);
        assert_eq!(
            sign(
                &Secret::new(DOC_TOKEN),
                &format!("https://mycompany.com/myapp.php?{query}"),
                b""
            ),
            DOC_JSON_SIGNATURE
        );
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
        // Without `bodySHA256` the JSON body is signed by nothing.
        assert!(matches!(
            check_at(DOC_URL, &h, DOC_JSON, Some("foo=1&bar=2")),
            Err(VerifyError::MalformedBody(_))
        ));
        for bad in [
            format!("foo=1&bar=2&{BODY_SHA256_PARAM}=xyz"),
            format!("{BODY_SHA256_PARAM}={DOC_JSON_SHA256}&{BODY_SHA256_PARAM}={DOC_JSON_SHA256}"),
        ] {
            assert!(
                matches!(
                    check_at(DOC_URL, &h, DOC_JSON, Some(&bad)),
                    Err(VerifyError::MalformedBody(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn any_single_byte_change_to_a_json_body_is_rejected() {
        let body = br#"{"specversion":"1.0","type":"com.twilio.messaging.message.delivered"}"#;
        let query = format!("{BODY_SHA256_PARAM}={}", hex::encode(Sha256::digest(body)));
        let url = format!("https://hooks.example/webhooks/twilio?{query}");
        let h = json_headers(&sign(&Secret::new(DOC_TOKEN), &url, b""));
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
    fn any_single_byte_change_to_a_form_body_is_rejected() {
        // No percent escapes: a case change inside one (`%2b` for `%2B`) decodes to the same
        // parameters, which Twilio signs, and so is rightly accepted.
        let body = b"AccountSid=AC123&MessageSid=SM456&MessageStatus=delivered&To=15551234567";
        let url = "https://hooks.example/webhooks/twilio";
        let h = form_headers(&sign(&Secret::new(DOC_TOKEN), url, body));
        assert_eq!(check_at(url, &h, body, None), Ok(()));
        for i in 0..body.len() {
            let mut tampered = body.to_vec();
            tampered[i] ^= 0x20;
            assert_eq!(
                check_at(url, &h, &tampered, None),
                Err(VerifyError::NoMatch),
                "byte {i}"
            );
        }
    }

    #[test]
    fn a_wrong_token_is_rejected_and_the_second_of_two_tokens_is_accepted() {
        let h = form_headers(DOC_SIGNATURE);
        let o = options(DOC_URL);
        assert_eq!(
            run(&[Secret::new("54321")], &o, &h, DOC_FORM, None),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            run(
                &[Secret::new("old-token"), Secret::new(DOC_TOKEN)],
                &o,
                &h,
                DOC_FORM,
                None
            ),
            Ok(())
        );
    }

    #[test]
    fn a_source_without_a_public_url_cannot_verify() {
        let h = form_headers(DOC_SIGNATURE);
        for o in [SchemeOptions::default(), options("")] {
            assert_eq!(
                run(&[Secret::new(DOC_TOKEN)], &o, &h, DOC_FORM, None),
                Err(VerifyError::Unconfigured(
                    "twilio needs the source's public URL"
                ))
            );
        }
    }

    #[test]
    fn missing_malformed_and_repeated_signatures_say_what_is_wrong() {
        let mut h = form_headers(DOC_SIGNATURE);
        h.remove(SIGNATURE_HEADER);
        assert_eq!(
            check_at(DOC_URL, &h, DOC_FORM, None),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        for bad in ["not base64!", "AAAA", "RSOYDt4T1cUTdK1PDd93/VVr8B8", ""] {
            assert_eq!(
                check_at(DOC_URL, &form_headers(bad), DOC_FORM, None).map_err(|e| e.code()),
                Err("invalid_signature"),
                "{bad:?}"
            );
        }
        let mut twice = form_headers(DOC_SIGNATURE);
        twice.append(SIGNATURE_HEADER, HeaderValue::from_static(DOC_SIGNATURE));
        assert!(matches!(
            check_at(DOC_URL, &twice, DOC_FORM, None),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn a_non_form_body_without_body_sha256_is_refused() {
        let mut h = form_headers(DOC_SIGNATURE);
        h.remove(http::header::CONTENT_TYPE);
        assert!(matches!(
            check_at(DOC_URL, &h, DOC_FORM, None),
            Err(VerifyError::MalformedBody(_))
        ));
    }

    #[test]
    fn signed_requests_round_trip_and_json_bodies_are_refused() {
        let secret = Secret::new("token");
        let o = options("https://hooks.example/webhooks/sms");
        let body = b"MessageSid=SM1&MessageStatus=sent&Body=Hello+world%21";
        let headers = sign_request(&secret, body, 0, &o).expect("signs");
        let mut h = HeaderMap::new();
        for (name, value) in &headers {
            h.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        assert_eq!(
            run(std::slice::from_ref(&secret), &o, &h, body, None),
            Ok(())
        );
        assert!(sign_request(&secret, br#" {"a":1}"#, 0, &o).is_err());
        assert!(sign_request(&secret, body, 0, &SchemeOptions::default()).is_err());
    }

    fn meta(headers: &HeaderMap, body: &[u8]) -> EventMeta {
        let o = SchemeOptions::default();
        let check = Check {
            secrets: &[],
            policy: TimePolicy {
                now: 0,
                tolerance: Duration::ZERO,
            },
            options: &o,
        };
        describe(
            &check,
            &Inbound {
                headers,
                body,
                query: None,
            },
        )
    }

    #[test]
    fn describe_names_the_kind_and_status_of_a_callback() {
        let h = form_headers(DOC_SIGNATURE);
        let m = meta(
            &h,
            b"MessageSid=SM1&SmsStatus=received&MessageStatus=delivered",
        );
        assert_eq!(m.event_type.as_deref(), Some("message.delivered"));
        assert_eq!(m.delivery_id.as_deref(), Some("SM1:delivered"));
        let m = meta(&h, b"CallSid=CA1&CallStatus=in-progress");
        assert_eq!(m.event_type.as_deref(), Some("call.in-progress"));
        assert_eq!(m.delivery_id.as_deref(), Some("CA1:in-progress"));
        let m = meta(
            &h,
            b"CallSid=CA1&RecordingSid=RE1&RecordingStatus=completed",
        );
        assert_eq!(m.event_type.as_deref(), Some("recording.completed"));
        assert_eq!(m.delivery_id.as_deref(), Some("RE1:completed"));
        let m = meta(&h, b"CallSid=CA1&Digits=1");
        assert_eq!(m.event_type.as_deref(), Some("call"));
        assert_eq!(m.delivery_id.as_deref(), Some("CA1"));
        assert_eq!(meta(&h, b"Foo=bar"), EventMeta::default());

        let mut with_token = h.clone();
        with_token.insert(IDEMPOTENCY_HEADER, HeaderValue::from_static("tok-1"));
        let m = meta(&with_token, b"MessageSid=SM1&MessageStatus=sent");
        assert_eq!(m.delivery_id.as_deref(), Some("tok-1"));
        assert_eq!(m.event_type.as_deref(), Some("message.sent"));
    }

    #[test]
    fn describe_reads_cloudevents_from_a_json_body() {
        let h = json_headers(DOC_SIGNATURE);
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
}
