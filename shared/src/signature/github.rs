//! GitHub: `X-Hub-Signature-256: sha256=<hex>` where the digest is HMAC-SHA256 of the raw body keyed
//! with the webhook secret as typed into GitHub.
//!
//! Spec: <https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries>.
//! GitHub sends no timestamp, so replays are caught by the delivery id (`X-GitHub-Delivery`).
//! The legacy `X-Hub-Signature: sha1=<hex>` is accepted only when the source allows it
//! (`allow_sha1`) and no SHA-256 signature was sent: SHA-1 is kept for old GitHub Enterprise servers.
//!
//! The event type is named as GitHub's users name it (GitHub's "Webhook events and payloads"
//! page, and @octokit/webhooks): `{X-GitHub-Event}.{action}` when the payload has a top-level
//! `action` (`pull_request.opened`, `issues.closed`), the bare header otherwise (`push`). A
//! subscription to `pull_request` still gets every pull request event (see
//! [`crate::subscription::event_types_match`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::digest::{BodyDigest, verify_body_digest};
use super::{
    Check, DigestEncoding, EventMeta, HmacAlgorithm, Inbound, Scheme, SchemeOptions, SignError,
    SignedHeaders, VerifyError, optional_header,
};
use crate::secret::Secret;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The legacy SHA-1 header.
pub const SHA1_HEADER: &str = "x-hub-signature";
pub const EVENT_HEADER: &str = "x-github-event";
pub const DELIVERY_HEADER: &str = "x-github-delivery";
const FORWARDED_HEADERS: &[&str] = &[
    EVENT_HEADER,
    DELIVERY_HEADER,
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "user-agent",
];

type HmacSha256 = Hmac<Sha256>;

/// GitHub's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Github;

impl Scheme for Github {
    fn name(&self) -> &'static str {
        "github"
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        if check.options.allow_sha1 && !request.headers.contains_key(SIGNATURE_HEADER) {
            return verify_sha1(check, request);
        }
        verify_body_digest(
            check,
            request,
            &BodyDigest {
                header: SIGNATURE_HEADER,
                prefix: "sha256=",
                expected: "expected `sha256=` followed by a hex digest",
                algorithm: HmacAlgorithm::Sha256,
                encoding: DigestEncoding::Hex,
            },
        )
    }

    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        EventMeta {
            delivery_id: optional_header(request.headers, DELIVERY_HEADER),
            event_type: optional_header(request.headers, EVENT_HEADER).map(
                |event| match action_of(request.body) {
                    Some(action) => format!("{event}.{action}"),
                    None => event,
                },
            ),
        }
    }

    /// The signature, a fresh delivery id and the event in `X-GitHub-Event`: the part of
    /// `event_type` before its first `.` (`pull_request.opened` is sent as `pull_request`; the
    /// action is the body's to carry).
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        _now: i64,
        event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        let mut headers = vec![
            (SIGNATURE_HEADER.to_owned(), sign(secret, body)),
            (DELIVERY_HEADER.to_owned(), uuid::Uuid::new_v4().to_string()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        if let Some(event) = event_type {
            let header = event.split('.').next().unwrap_or(event);
            headers.push((EVENT_HEADER.to_owned(), header.to_owned()));
        }
        Ok(headers)
    }
}

/// The top-level `action` of a JSON payload, or of the `payload` field of a form-encoded one
/// (a webhook set to `application/x-www-form-urlencoded`). Only a plain snake_case word is
/// taken: anything else would make a type no filter can name.
fn action_of(body: &[u8]) -> Option<String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    let action = if *first == b'{' {
        top_level_action(body)
    } else {
        let payload = url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "payload")?
            .1;
        top_level_action(payload.as_bytes())
    }?;
    let plain = !action.is_empty()
        && action.len() <= 64
        && action
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    plain.then_some(action)
}

/// The string value of the object's top-level `action` key, reading only as far as that key:
/// GitHub puts `action` first, so a 1 MiB pull request payload costs a few bytes, not a parse
/// of the whole body (the receiver's hot path; `make bench` measures GitHub at 1 KiB to 1 MiB).
/// Values before it are skipped without being built.
fn top_level_action(json: &[u8]) -> Option<String> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};

    struct Action<'a>(&'a mut Option<String>);

    impl<'de> Visitor<'de> for Action<'_> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == "action" {
                    *self.0 = map.next_value::<Option<String>>().ok().flatten();
                    // Stopping here leaves the rest unread; the parser then reports the object
                    // as unfinished, which the caller ignores: the action is all it wanted.
                    return Ok(());
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    let mut found = None;
    let mut parser = serde_json::Deserializer::from_slice(json);
    let _unfinished = (&mut parser).deserialize_map(Action(&mut found));
    found
}

fn verify_sha1(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
    verify_body_digest(
        check,
        request,
        &BodyDigest {
            header: SHA1_HEADER,
            prefix: "sha1=",
            expected: "expected `sha1=` followed by a hex digest",
            algorithm: HmacAlgorithm::Sha1,
            encoding: DigestEncoding::Hex,
        },
    )
}

/// The `X-Hub-Signature-256` value GitHub would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mut mac = mac_for(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac_for(secret: &Secret) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Case, headers};
    use super::*;

    // GitHub's published example: secret "It's a Secret to Everybody", payload "Hello, World!".
    // Source: docs.github.com, "Validating webhook deliveries" → "Testing the webhook payload validation".
    const DOC_SECRET: &str = "It's a Secret to Everybody";
    const DOC_BODY: &[u8] = b"Hello, World!";
    const DOC_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn case() -> Case<'static> {
        Case::new(&Github, &[DOC_SECRET], 0)
    }

    fn event_type(event: Option<&str>, body: &[u8]) -> Option<String> {
        let h = match event {
            Some(e) => headers(&[(EVENT_HEADER, e)]),
            None => headers::<&str, &str>(&[]),
        };
        case().describe(&h, body).event_type
    }

    #[test]
    fn the_type_is_the_event_and_its_action_as_githubs_users_write_it() {
        let opened = br#"{"action":"opened","number":2,"pull_request":{"title":"x"}}"#;
        assert_eq!(
            event_type(Some("pull_request"), opened).as_deref(),
            Some("pull_request.opened")
        );
        // A webhook set to send form-encoded payloads.
        let form = b"payload=%7B%22action%22%3A%22closed%22%2C%22issue%22%3A%7B%7D%7D";
        assert_eq!(
            event_type(Some("issues"), form).as_deref(),
            Some("issues.closed")
        );
        // Only the top level counts, wherever the key is, and nothing after it is read.
        assert_eq!(
            event_type(
                Some("pull_request"),
                br#"{"number":1,"pull_request":{"action":"nested"},"action":"closed","x":[1,2"#
            )
            .as_deref(),
            Some("pull_request.closed")
        );
        for (body, why) in [
            (&br#"{"ref":"refs/heads/main"}"#[..], "no action"),
            (
                br#"{"pull_request":{"action":"opened"}}"#,
                "only a nested action",
            ),
            (br#"{"action":"Opened!"}"#, "not a snake_case word"),
            (br#"{"action":""}"#, "empty"),
            (br#"{"action":7}"#, "not a string"),
            (b"not json", "not JSON"),
            (b"", "empty body"),
        ] {
            assert_eq!(
                event_type(Some("push"), body).as_deref(),
                Some("push"),
                "{why}"
            );
        }
        assert_eq!(event_type(None, opened), None, "no X-GitHub-Event, no type");
    }

    #[test]
    fn signing_a_type_with_an_action_sends_the_event_alone_in_the_header() {
        let signed = Github
            .sign(
                &Secret::new("s"),
                b"{}",
                0,
                Some("pull_request.opened"),
                &SchemeOptions::default(),
            )
            .expect("signs");
        assert!(
            signed.contains(&(EVENT_HEADER.to_owned(), "pull_request".to_owned())),
            "{signed:?}"
        );
    }

    #[test]
    fn githubs_published_test_vector_is_accepted() {
        assert_eq!(sign(&Secret::new(DOC_SECRET), DOC_BODY), DOC_SIGNATURE);
        let h = headers(&[(SIGNATURE_HEADER, DOC_SIGNATURE)]);
        assert_eq!(case().verify(&h, DOC_BODY), Ok(()));
    }

    // The legacy header over GitHub's published example payload; HMAC-SHA1 computed independently
    // (Python's hmac module) for secret "It's a Secret to Everybody" and body "Hello, World!".
    const DOC_SHA1: &str = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";

    #[test]
    fn legacy_sha1_is_accepted_only_when_the_source_allows_it() {
        let mut h = headers(&[(SHA1_HEADER, DOC_SHA1)]);
        assert_eq!(
            case().verify(&h, DOC_BODY),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        let allow = case().with_options(SchemeOptions {
            allow_sha1: true,
            ..SchemeOptions::default()
        });
        assert_eq!(allow.verify(&h, DOC_BODY), Ok(()));
        assert_eq!(
            allow.verify(&h, b"Hello, World?"),
            Err(VerifyError::NoMatch)
        );
        // A SHA-256 signature, when sent, is the one checked.
        h.insert(
            SIGNATURE_HEADER,
            http::HeaderValue::from_static("sha256=00"),
        );
        assert!(allow.verify(&h, DOC_BODY).is_err());
    }
}
