//! Slack: `X-Slack-Signature: v0=<hex>`, the HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}`
//! keyed with the app's signing secret.
//!
//! Spec: <https://api.slack.com/authentication/verifying-requests-from-slack>.
//! The same scheme covers the Events API (JSON bodies), slash commands and interactivity
//! (form-encoded bodies). Slack asks receivers to refuse timestamps more than five minutes from
//! their clock. The Events API's URL verification (`"type": "url_verification"`) is answered with
//! its challenge: <https://api.slack.com/events/url_verification>.

use std::time::Duration;

use serde::Deserialize;

use super::digest::{any_matches, check_timestamp, hex_digest, hmac, parse_unix};
use super::{
    Check, EventMeta, Handshake, HmacAlgorithm, Inbound, Scheme, SchemeOptions, SignError,
    SignedHeaders, VerifyError, single_header,
};
use crate::secret::Secret;

/// "More than five minutes from local time" is a replay, per Slack's guide.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Present on the Events API's retries: <https://api.slack.com/apis/events-api#retries>.
pub const RETRY_NUM_HEADER: &str = "x-slack-retry-num";
const FORWARDED_HEADERS: &[&str] = &[RETRY_NUM_HEADER, "x-slack-retry-reason", "user-agent"];

/// The only version Slack signs with so far.
const VERSION: &str = "v0";

/// Slack's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Slack;

impl Scheme for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        let signature = single_header(request.headers, SIGNATURE_HEADER)?;
        let timestamp = single_header(request.headers, TIMESTAMP_HEADER)?;
        let signed_at = parse_unix(timestamp, TIMESTAMP_HEADER)?;
        let digest = signature
            .strip_prefix("v0=")
            .ok_or(VerifyError::MalformedHeader {
                header: SIGNATURE_HEADER,
                reason: "expected `v0=` followed by a hex digest",
            })?;
        let candidate = hex_digest(digest, 32, SIGNATURE_HEADER)?;
        let found = any_matches(
            HmacAlgorithm::Sha256,
            check.secrets,
            &[
                VERSION.as_bytes(),
                b":",
                timestamp.as_bytes(),
                b":",
                request.body,
            ],
            &[candidate],
        );
        if !found {
            return Err(VerifyError::NoMatch);
        }
        check_timestamp(signed_at, &check.policy)
    }

    /// Events API (JSON): `event_id` (the same on Slack's retries) and the inner `event.type`
    /// (`app_mention`, `message`, …), or the outer `type` when there is no inner event
    /// (`app_rate_limited`). A `message` is named as Slack's event list names what an app
    /// subscribes to, by its `channel_type`: `message.channels`, `message.groups`,
    /// `message.im`, `message.mpim`, `message.app_home` (a filter of `message` still gets them
    /// all). Interactivity (`payload=<JSON>` form): the payload's `type`
    /// (`block_actions`, `view_submission`, …) and its `trigger_id`. Slash commands (form): the
    /// `command` (`/deploy`) and the `trigger_id`.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        if looks_like_json(request.body) {
            return serde_json::from_slice::<JsonHead>(request.body)
                .map(|head| EventMeta {
                    delivery_id: head.event_id,
                    event_type: head.event.and_then(InnerEvent::type_name).or(head.kind),
                })
                .unwrap_or_default();
        }
        let mut meta = EventMeta::default();
        for (key, value) in url::form_urlencoded::parse(request.body) {
            match key.as_ref() {
                "payload" => {
                    if let Ok(head) = serde_json::from_str::<JsonHead>(&value) {
                        meta.event_type = head.kind;
                        meta.delivery_id = head.trigger_id.or(meta.delivery_id);
                    }
                }
                "command" if meta.event_type.is_none() => {
                    meta.event_type = Some(value.into_owned())
                }
                "trigger_id" if meta.delivery_id.is_none() => {
                    meta.delivery_id = Some(value.into_owned());
                }
                _ => {}
            }
        }
        meta.event_type = meta.event_type.filter(|t| !t.is_empty());
        meta.delivery_id = meta.delivery_id.filter(|t| !t.is_empty());
        meta
    }

    /// The headers Slack would send with `body` at `now`: JSON for Events API bodies, form
    /// encoding for anything else (slash commands, interactivity).
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        _event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        let content_type = if looks_like_json(body) {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        Ok(vec![
            (SIGNATURE_HEADER.to_owned(), sign(secret, body, now)),
            (TIMESTAMP_HEADER.to_owned(), now.to_string()),
            ("content-type".to_owned(), content_type.to_owned()),
        ])
    }

    /// Slack's URL verification, answered with `{"challenge": …}` (one of the three answers Slack
    /// accepts). The request is verified here too, so an unsigned challenge is never echoed even if
    /// a caller forgot to verify first.
    fn handshake(&self, check: &Check<'_>, request: &Inbound<'_>) -> Option<Handshake> {
        if !looks_like_json(request.body) {
            return None;
        }
        let probe = serde_json::from_slice::<UrlVerification>(request.body).ok()?;
        if probe.kind != "url_verification" || self.verify(check, request).is_err() {
            return None;
        }
        Some(Handshake {
            content_type: "application/json",
            body: serde_json::json!({ "challenge": probe.challenge }).to_string(),
        })
    }
}

#[derive(Deserialize)]
struct JsonHead {
    #[serde(rename = "type")]
    kind: Option<String>,
    event_id: Option<String>,
    event: Option<InnerEvent>,
    trigger_id: Option<String>,
}

#[derive(Deserialize)]
struct InnerEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    channel_type: Option<String>,
}

impl InnerEvent {
    /// `message` with its channel type as Slack's event list names it (the Events API's
    /// `message.channels`, `message.im`, …); any other type as it is.
    fn type_name(self) -> Option<String> {
        let kind = self.kind?;
        let channels = match (kind.as_str(), self.channel_type.as_deref()) {
            ("message", Some("channel")) => "channels",
            ("message", Some("group")) => "groups",
            ("message", Some("im")) => "im",
            ("message", Some("mpim")) => "mpim",
            ("message", Some("app_home")) => "app_home",
            _ => return Some(kind),
        };
        Some(format!("message.{channels}"))
    }
}

fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

#[derive(Deserialize)]
struct UrlVerification {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
}

/// The `X-Slack-Signature` value Slack would send for `body` at `timestamp`.
pub fn sign(secret: &Secret, body: &[u8], timestamp: i64) -> String {
    let ts = timestamp.to_string();
    let mac = hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &[VERSION.as_bytes(), b":", ts.as_bytes(), b":", body],
    );
    format!("{VERSION}={}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Case, headers};
    use super::*;

    // The worked example in Slack's "Verifying requests from Slack" guide (a slash command body);
    // the signature was recomputed with Python's hmac module before being trusted.
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TS: i64 = 1_531_420_618;
    const DOC_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn case() -> Case<'static> {
        Case::new(&Slack, &[DOC_SECRET], DOC_TS)
    }

    fn signed(signature: &str, timestamp: &str) -> http::HeaderMap {
        headers(&[(SIGNATURE_HEADER, signature), (TIMESTAMP_HEADER, timestamp)])
    }

    fn signed_now(body: &[u8], secret: &str, ts: i64) -> http::HeaderMap {
        signed(&sign(&Secret::new(secret), body, ts), &ts.to_string())
    }

    #[test]
    fn slacks_published_example_is_accepted() {
        assert_eq!(
            sign(&Secret::new(DOC_SECRET), DOC_BODY, DOC_TS),
            DOC_SIGNATURE
        );
        let h = signed(DOC_SIGNATURE, &DOC_TS.to_string());
        assert_eq!(case().verify(&h, DOC_BODY), Ok(()));
        // The timestamp is signed: another one does not match.
        let shifted = signed(DOC_SIGNATURE, &(DOC_TS + 1).to_string());
        assert_eq!(case().verify(&shifted, DOC_BODY), Err(VerifyError::NoMatch));
    }

    #[test]
    fn json_bodies_are_sent_as_json_and_forms_as_forms() {
        let secret = Secret::new("round-trip-secret");
        for (body, content_type) in [
            (&br#"{"type":"event_callback"}"#[..], "application/json"),
            (
                &b"command=%2Fdeploy&text=prod"[..],
                "application/x-www-form-urlencoded",
            ),
        ] {
            let sent = Slack
                .sign(&secret, body, DOC_TS, None, &SchemeOptions::default())
                .expect("signs");
            assert!(
                sent.contains(&("content-type".to_owned(), content_type.to_owned())),
                "{sent:?}"
            );
        }
    }

    fn describe_body(body: &[u8]) -> EventMeta {
        case().describe(&http::HeaderMap::new(), body)
    }

    #[test]
    fn events_api_bodies_give_the_event_id_and_inner_type() {
        let meta = describe_body(
            br#"{"token":"x","team_id":"T1","type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"app_mention","user":"U1"}}"#,
        );
        assert_eq!(meta.delivery_id.as_deref(), Some("Ev08MFMKH6"));
        assert_eq!(meta.event_type.as_deref(), Some("app_mention"));
        for (channel_type, named) in [
            ("channel", "message.channels"),
            ("group", "message.groups"),
            ("im", "message.im"),
            ("mpim", "message.mpim"),
            ("app_home", "message.app_home"),
            ("something_new", "message"),
        ] {
            let body = format!(
                r#"{{"type":"event_callback","event_id":"Ev1","event":{{"type":"message","channel_type":"{channel_type}","text":"hi"}}}}"#
            );
            assert_eq!(
                describe_body(body.as_bytes()).event_type.as_deref(),
                Some(named),
                "{channel_type}"
            );
        }
        let meta = describe_body(br#"{"type":"event_callback","event":{"type":"message"}}"#);
        assert_eq!(meta.event_type.as_deref(), Some("message"));
        let meta = describe_body(br#"{"type":"app_rate_limited","team_id":"T1"}"#);
        assert_eq!(meta.event_type.as_deref(), Some("app_rate_limited"));
        assert_eq!(meta.delivery_id, None);
    }

    #[test]
    fn form_bodies_give_the_command_or_interaction_type() {
        let meta = describe_body(DOC_BODY);
        assert_eq!(meta.event_type.as_deref(), Some("/webhook-collect"));
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
        );
        let meta = describe_body(
            b"payload=%7B%22type%22%3A%22block_actions%22%2C%22trigger_id%22%3A%2213345224609.738474920.8088930838d88f008e0%22%7D",
        );
        assert_eq!(meta.event_type.as_deref(), Some("block_actions"));
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("13345224609.738474920.8088930838d88f008e0")
        );
        assert_eq!(describe_body(b"\xff\xfe garbage"), EventMeta::default());
        assert_eq!(describe_body(b"{not json"), EventMeta::default());
    }

    // The example payload of Slack's url_verification event reference.
    const CHALLENGE_BODY: &[u8] = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;

    #[test]
    fn url_verification_is_answered_with_its_challenge_only_once_verified() {
        let signed_challenge = signed_now(CHALLENGE_BODY, DOC_SECRET, DOC_TS);
        let answer = case()
            .handshake(&signed_challenge, CHALLENGE_BODY)
            .expect("answered");
        assert_eq!(answer.content_type, "application/json");
        let json: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
        );
        // Unsigned, wrongly signed or stale: no answer.
        let unanswered = [
            http::HeaderMap::new(),
            signed_now(CHALLENGE_BODY, "attacker", DOC_TS),
            signed_now(CHALLENGE_BODY, DOC_SECRET, DOC_TS - 3600),
        ];
        for h in unanswered {
            assert_eq!(case().handshake(&h, CHALLENGE_BODY), None);
        }
    }

    #[test]
    fn other_verified_requests_are_not_handshakes() {
        let body = br#"{"type":"event_callback","challenge":"x","event":{"type":"message"}}"#;
        let h = signed_now(body, DOC_SECRET, DOC_TS);
        assert_eq!(case().handshake(&h, body), None);
        let doc = signed(DOC_SIGNATURE, &DOC_TS.to_string());
        assert_eq!(case().handshake(&doc, DOC_BODY), None);
    }
}
