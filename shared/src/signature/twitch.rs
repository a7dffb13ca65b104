//! Twitch EventSub over webhooks: `Twitch-Eventsub-Message-Signature: sha256=<hex>` where the
//! digest is HMAC-SHA256, keyed with the subscription's secret, of the message id, the message
//! timestamp (RFC 3339, nanoseconds) and the raw body, concatenated.
//!
//! Spec: <https://dev.twitch.tv/docs/eventsub/handling-webhook-events/> ("Verifying the event
//! message", "Responding to a challenge request"). Twitch asks receivers to reject messages older
//! than 10 minutes and to drop repeated message ids (the receiver's duplicate detection does that
//! with the id as the delivery id). A `webhook_callback_verification` message is answered with its
//! `challenge` as plain text once verified; `notification` and `revocation` messages are queued.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::digest::{any_matches, check_timestamp, hex_digest, hmac, matched};
use super::{
    Check, EventMeta, Handshake, HmacAlgorithm, Inbound, Scheme, SchemeOptions, SignError,
    SignedHeaders, VerifyError, optional_header, single_header,
};
use crate::secret::Secret;

/// Twitch's documented limit: "make sure the message isn't older than 10 minutes".
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(10 * 60);

pub const SIGNATURE_HEADER: &str = "twitch-eventsub-message-signature";
pub const MESSAGE_ID_HEADER: &str = "twitch-eventsub-message-id";
pub const TIMESTAMP_HEADER: &str = "twitch-eventsub-message-timestamp";
pub const MESSAGE_TYPE_HEADER: &str = "twitch-eventsub-message-type";
pub const SUBSCRIPTION_TYPE_HEADER: &str = "twitch-eventsub-subscription-type";
pub const VERIFICATION_MESSAGE: &str = "webhook_callback_verification";
const FORWARDED_HEADERS: &[&str] = &[
    MESSAGE_ID_HEADER,
    MESSAGE_TYPE_HEADER,
    TIMESTAMP_HEADER,
    "twitch-eventsub-message-retry",
    SUBSCRIPTION_TYPE_HEADER,
    "twitch-eventsub-subscription-version",
    "user-agent",
];

const SIGNATURE_LEN: usize = 32;

/// Twitch EventSub's scheme.
#[derive(Debug, Clone, Copy)]
pub struct Twitch;

impl Scheme for Twitch {
    fn name(&self) -> &'static str {
        "twitch"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        let id = single_header(request.headers, MESSAGE_ID_HEADER)?;
        let timestamp = single_header(request.headers, TIMESTAMP_HEADER)?;
        let value = single_header(request.headers, SIGNATURE_HEADER)?;
        check_timestamp(parse_timestamp(timestamp)?, &check.policy)?;
        let digest = value
            .strip_prefix("sha256=")
            .ok_or(VerifyError::MalformedHeader {
                header: SIGNATURE_HEADER,
                reason: "expected `sha256=` followed by a hex digest",
            })?;
        let candidate = hex_digest(digest, SIGNATURE_LEN, SIGNATURE_HEADER)?;
        let found = any_matches(
            HmacAlgorithm::Sha256,
            check.secrets,
            &[id.as_bytes(), timestamp.as_bytes(), request.body],
            &[candidate],
        );
        matched(found)
    }

    /// The message id (the same on Twitch's resends) and the subscription type, e.g.
    /// `channel.follow`. A revocation carries its subscription's type too; the forwarded
    /// `Twitch-Eventsub-Message-Type` header tells it apart.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        EventMeta {
            delivery_id: optional_header(request.headers, MESSAGE_ID_HEADER),
            event_type: optional_header(request.headers, SUBSCRIPTION_TYPE_HEADER),
        }
    }

    /// The headers Twitch would send with notification `body` at `now`.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        now: i64,
        event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        let at = u64::try_from(now)
            .ok()
            .filter(|secs| *secs <= LAST_RFC3339_SECOND)
            .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
            .ok_or_else(|| SignError::Invalid(format!("{now} is not a time Twitch can send")))?;
        let timestamp = format_timestamp(at);
        let id = uuid::Uuid::new_v4().to_string();
        let mut headers = vec![
            (
                SIGNATURE_HEADER.to_owned(),
                sign(secret, &id, &timestamp, body),
            ),
            (MESSAGE_ID_HEADER.to_owned(), id),
            (TIMESTAMP_HEADER.to_owned(), timestamp),
            (MESSAGE_TYPE_HEADER.to_owned(), "notification".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        // The subscription type named by the caller, else the one in the body.
        if let Some(kind) = event_type.map(str::to_owned).or_else(|| {
            serde_json::from_slice::<Message>(body)
                .ok()
                .and_then(|m| m.subscription)
                .and_then(|s| s.kind)
        }) {
            headers.push((SUBSCRIPTION_TYPE_HEADER.to_owned(), kind));
        }
        Ok(headers)
    }

    /// Answers a verified `webhook_callback_verification` message with its challenge, as plain
    /// text.
    fn handshake(&self, check: &Check<'_>, request: &Inbound<'_>) -> Option<Handshake> {
        if optional_header(request.headers, MESSAGE_TYPE_HEADER).as_deref()
            != Some(VERIFICATION_MESSAGE)
        {
            return None;
        }
        self.verify(check, request).ok()?;
        let challenge = serde_json::from_slice::<Message>(request.body)
            .ok()?
            .challenge?;
        Some(Handshake {
            content_type: "text/plain",
            body: challenge,
        })
    }
}

/// Whole seconds since the Unix epoch of an RFC 3339 UTC time such as
/// `2019-11-16T10:11:12.634234626Z` (fractions are truncated).
fn parse_timestamp(value: &str) -> Result<i64, VerifyError> {
    let malformed = VerifyError::MalformedHeader {
        header: TIMESTAMP_HEADER,
        reason: "expected an RFC 3339 UTC time such as 2019-11-16T10:11:12.634234626Z",
    };
    let time = humantime::parse_rfc3339(value).map_err(|_| malformed.clone())?;
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| malformed.clone())?
        .as_secs();
    i64::try_from(seconds).map_err(|_| malformed)
}

/// The `Twitch-Eventsub-Message-Signature` value for message `id` sent at `timestamp` (as it
/// appears in the header).
pub fn sign(secret: &Secret, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mac = hmac(
        HmacAlgorithm::Sha256,
        secret.expose().as_bytes(),
        &[id.as_bytes(), timestamp.as_bytes(), body],
    );
    format!("sha256={}", hex::encode(mac))
}

/// 9999-12-31T23:59:59Z: RFC 3339 has four-digit years, and humantime panics formatting a later
/// time (found by `make fuzz`, target `signatures`).
const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

fn format_timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_nanos(at).to_string()
}

#[derive(Deserialize)]
struct Message {
    challenge: Option<String>,
    subscription: Option<Subscription>,
}

#[derive(Deserialize)]
struct Subscription {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::super::testing::{Case, headers};
    use super::*;

    // Twitch publishes no signature vector. The message id and timestamp are those of the example
    // requests in Twitch's "Handling webhook events" page; the signatures were computed
    // independently with Python's `hmac` module (HMAC-SHA256 of id + timestamp + body).
    const SECRET: &str = "hookpost-twitch-secret";
    const ID: &str = "e76c6bd4-55c9-4987-8304-da1588d8988b";
    const TS: &str = "2019-11-16T10:11:12.634234626Z";
    /// `TS` in whole seconds.
    const TS_SECS: i64 = 1_573_899_072;
    const BODY: &[u8] = br#"{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","type":"channel.follow","version":"2","status":"enabled"},"event":{"user_id":"1337","broadcaster_user_id":"1337"}}"#;
    const SIGNATURE: &str =
        "sha256=2ce0db1d1e83d9950c6f2befca758d350edbded155a52b4703767cd7845cd3f0";
    const CHALLENGE_BODY: &[u8] = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow","version":"2"}}"#;
    const CHALLENGE_SIGNATURE: &str =
        "sha256=70b2108cb64ee8163a7ce0b2b16a13efa575484815e7dbc7b03ff97e19710726";

    fn message(id: &str, ts: &str, signature: &str, kind: &str) -> HeaderMap {
        headers(&[
            (MESSAGE_ID_HEADER, id),
            (TIMESTAMP_HEADER, ts),
            (SIGNATURE_HEADER, signature),
            (MESSAGE_TYPE_HEADER, kind),
            (SUBSCRIPTION_TYPE_HEADER, "channel.follow"),
        ])
    }

    fn doc_headers() -> HeaderMap {
        message(ID, TS, SIGNATURE, "notification")
    }

    fn challenge_headers() -> HeaderMap {
        message(ID, TS, CHALLENGE_SIGNATURE, VERIFICATION_MESSAGE)
    }

    fn case() -> Case<'static> {
        Case::new(&Twitch, &[SECRET], TS_SECS)
    }

    #[test]
    fn an_independently_computed_vector_is_accepted() {
        assert_eq!(sign(&Secret::new(SECRET), ID, TS, BODY), SIGNATURE);
        assert_eq!(case().verify(&doc_headers(), BODY), Ok(()));
        let other_id = message(
            "e76c6bd4-55c9-4987-8304-da1588d8988c",
            TS,
            SIGNATURE,
            "notification",
        );
        assert_eq!(case().verify(&other_id, BODY), Err(VerifyError::NoMatch));
        // The same instant written differently is a different signed text.
        let other_ts = message(
            ID,
            "2019-11-16T10:11:12.634234627Z",
            SIGNATURE,
            "notification",
        );
        assert_eq!(case().verify(&other_ts, BODY), Err(VerifyError::NoMatch));
    }

    #[test]
    fn nanosecond_timestamps_parse_to_whole_seconds() {
        assert_eq!(parse_timestamp(TS), Ok(TS_SECS));
        assert_eq!(parse_timestamp("2019-11-16T10:11:12Z"), Ok(TS_SECS));
        assert_eq!(parse_timestamp("2019-11-16T10:11:12.5+00:00"), Ok(TS_SECS));
        for bad in [
            "",
            "1573899072",
            "2019-11-16 10:11:12",
            "2019-11-16T10:11:12+02:00",
            "1969-12-31T23:59:59Z",
            "2019-13-16T10:11:12Z",
            "yesterday",
        ] {
            assert!(
                matches!(
                    parse_timestamp(bad),
                    Err(VerifyError::MalformedHeader {
                        header: TIMESTAMP_HEADER,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn extreme_clocks_are_out_of_tolerance() {
        for now in [i64::MIN, i64::MAX] {
            assert_eq!(
                case().at(now).code(&doc_headers(), BODY),
                Err("timestamp_out_of_tolerance"),
                "{now}"
            );
        }
    }

    #[test]
    fn the_subscription_type_is_sent_from_the_body_or_as_named() {
        let secret = Secret::new("round-trip-secret");
        let kind_sent = |event_type| {
            let sent = Twitch
                .sign(
                    &secret,
                    BODY,
                    TS_SECS,
                    event_type,
                    &SchemeOptions::default(),
                )
                .expect("signs");
            let kinds: Vec<_> = sent
                .into_iter()
                .filter(|(name, _)| name == SUBSCRIPTION_TYPE_HEADER)
                .map(|(_, value)| value)
                .collect();
            kinds
        };
        assert_eq!(kind_sent(None), ["channel.follow"]);
        assert_eq!(kind_sent(Some("channel.update")), ["channel.update"]);
    }

    #[test]
    fn a_time_twitch_cannot_send_is_refused_not_a_panic() {
        let secret = Secret::new("s");
        let sign_at = |now| Twitch.sign(&secret, BODY, now, None, &SchemeOptions::default());
        // Before 1970; the clock of the fuzzer's crashing input, then the extremes.
        for now in [
            -1,
            48_380_307_030_895,
            LAST_RFC3339_SECOND as i64 + 1,
            i64::MAX,
        ] {
            assert!(sign_at(now).is_err(), "{now}");
        }
        assert!(sign_at(LAST_RFC3339_SECOND as i64).is_ok());
    }

    #[test]
    fn a_verified_challenge_is_answered_in_plain_text() {
        let answered = case()
            .handshake(&challenge_headers(), CHALLENGE_BODY)
            .expect("a handshake");
        assert_eq!(
            answered,
            Handshake {
                content_type: "text/plain",
                body: "pogchamp-kappa-360noscope-vohiyo".to_owned(),
            }
        );
    }

    #[test]
    fn a_challenge_is_not_answered_unless_it_verifies() {
        let wrong = Case::new(&Twitch, &["wrong"], TS_SECS);
        assert_eq!(wrong.handshake(&challenge_headers(), CHALLENGE_BODY), None);
        let mut unsigned = challenge_headers();
        unsigned.remove(SIGNATURE_HEADER);
        assert_eq!(case().handshake(&unsigned, CHALLENGE_BODY), None);
    }

    #[test]
    fn notifications_and_revocations_are_not_handshakes() {
        assert_eq!(case().handshake(&doc_headers(), BODY), None);
        let mut revocation = doc_headers();
        revocation.insert(MESSAGE_TYPE_HEADER, HeaderValue::from_static("revocation"));
        assert_eq!(case().verify(&revocation, BODY), Ok(()));
        assert_eq!(case().handshake(&revocation, BODY), None);
    }

    #[test]
    fn describe_reads_the_message_id_and_subscription_type() {
        let meta = case().describe(&doc_headers(), BODY);
        assert_eq!(meta.delivery_id.as_deref(), Some(ID));
        assert_eq!(meta.event_type.as_deref(), Some("channel.follow"));
    }
}
