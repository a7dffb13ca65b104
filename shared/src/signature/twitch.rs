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

use super::digest::{any_matches, check_timestamp, hex_digest, hmac, matched, text_key};
use super::{
    Check, EventMeta, Handshake, HmacAlgorithm, Inbound, SchemeOptions, SignError, VerifyError,
    optional_header, single_header,
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
pub(super) const FORWARDED_HEADERS: &[&str] = &[
    MESSAGE_ID_HEADER,
    MESSAGE_TYPE_HEADER,
    TIMESTAMP_HEADER,
    "twitch-eventsub-message-retry",
    SUBSCRIPTION_TYPE_HEADER,
    "twitch-eventsub-subscription-version",
    "user-agent",
];

const SIGNATURE_LEN: usize = 32;

pub(super) fn verify(check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
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
        text_key,
        &[id.as_bytes(), timestamp.as_bytes(), request.body],
        &[candidate],
    )?;
    matched(found)
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

/// The headers Twitch would send with notification `body` at `now`.
pub fn sign_request(
    secret: &Secret,
    body: &[u8],
    now: i64,
    _options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
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
    if let Some(kind) = serde_json::from_slice::<Message>(body)
        .ok()
        .and_then(|m| m.subscription)
        .and_then(|s| s.kind)
    {
        headers.push((SUBSCRIPTION_TYPE_HEADER.to_owned(), kind));
    }
    Ok(headers)
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

/// The message id (the same on Twitch's resends) and the subscription type, e.g.
/// `channel.follow`. A revocation carries its subscription's type too; the forwarded
/// `Twitch-Eventsub-Message-Type` header tells it apart.
pub(super) fn describe(_check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
    EventMeta {
        delivery_id: optional_header(request.headers, MESSAGE_ID_HEADER),
        event_type: optional_header(request.headers, SUBSCRIPTION_TYPE_HEADER),
    }
}

/// Answers a verified `webhook_callback_verification` message with its challenge, as plain
/// text.
pub(super) fn handshake(check: &Check<'_>, request: &Inbound<'_>) -> Option<Handshake> {
    if optional_header(request.headers, MESSAGE_TYPE_HEADER).as_deref()
        != Some(VERIFICATION_MESSAGE)
    {
        return None;
    }
    verify(check, request).ok()?;
    let challenge = serde_json::from_slice::<Message>(request.body)
        .ok()?
        .challenge?;
    Some(Handshake {
        content_type: "text/plain",
        body: challenge,
    })
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::super::TimePolicy;
    use super::super::testing::run_verify;
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

    fn headers(id: &str, ts: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(MESSAGE_ID_HEADER, HeaderValue::from_str(id).expect("ascii"));
        h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(ts).expect("ascii"));
        h.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(signature).expect("ascii"),
        );
        h.insert(
            MESSAGE_TYPE_HEADER,
            HeaderValue::from_static("notification"),
        );
        h.insert(
            SUBSCRIPTION_TYPE_HEADER,
            HeaderValue::from_static("channel.follow"),
        );
        h
    }

    fn doc_headers() -> HeaderMap {
        headers(ID, TS, SIGNATURE)
    }

    fn challenge_headers() -> HeaderMap {
        let mut h = headers(ID, TS, CHALLENGE_SIGNATURE);
        h.insert(
            MESSAGE_TYPE_HEADER,
            HeaderValue::from_static(VERIFICATION_MESSAGE),
        );
        h
    }

    fn check_of<'a>(secrets: &'a [Secret], options: &'a SchemeOptions, now: i64) -> Check<'a> {
        Check {
            secrets,
            policy: TimePolicy {
                now,
                tolerance: DEFAULT_TOLERANCE,
            },
            options,
        }
    }

    fn run(
        secrets: &[Secret],
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        run_verify(verify, secrets, DEFAULT_TOLERANCE, headers, body, now)
    }

    fn check(headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        run(&[Secret::new(SECRET)], headers, body, now)
    }

    #[test]
    fn an_independently_computed_vector_is_accepted() {
        assert_eq!(sign(&Secret::new(SECRET), ID, TS, BODY), SIGNATURE);
        assert_eq!(check(&doc_headers(), BODY, TS_SECS), Ok(()));
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
    fn a_tampered_body_id_timestamp_or_secret_is_rejected() {
        assert_eq!(
            check(&doc_headers(), CHALLENGE_BODY, TS_SECS),
            Err(VerifyError::NoMatch)
        );
        let other_id = headers("e76c6bd4-55c9-4987-8304-da1588d8988c", TS, SIGNATURE);
        assert_eq!(check(&other_id, BODY, TS_SECS), Err(VerifyError::NoMatch));
        // The same instant written differently is a different signed text.
        let other_ts = headers(ID, "2019-11-16T10:11:12.634234627Z", SIGNATURE);
        assert_eq!(check(&other_ts, BODY, TS_SECS), Err(VerifyError::NoMatch));
        assert_eq!(
            run(
                &[Secret::new("another-secret")],
                &doc_headers(),
                BODY,
                TS_SECS
            ),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn any_single_byte_change_to_the_body_is_rejected() {
        let h = doc_headers();
        for i in 0..BODY.len() {
            let mut tampered = BODY.to_vec();
            tampered[i] ^= 0x02;
            assert_eq!(
                check(&h, &tampered, TS_SECS),
                Err(VerifyError::NoMatch),
                "byte {i}"
            );
        }
    }

    #[test]
    fn the_second_of_two_active_secrets_is_accepted_during_rotation() {
        let secrets = [Secret::new("the-new-secret"), Secret::new(SECRET)];
        assert_eq!(run(&secrets, &doc_headers(), BODY, TS_SECS), Ok(()));
    }

    #[test]
    fn messages_older_or_newer_than_ten_minutes_are_rejected() {
        let h = doc_headers();
        assert_eq!(check(&h, BODY, TS_SECS + 600), Ok(()));
        assert_eq!(check(&h, BODY, TS_SECS - 600), Ok(()));
        for now in [TS_SECS + 601, TS_SECS - 601, i64::MIN, i64::MAX] {
            assert_eq!(
                check(&h, BODY, now).map_err(|e| e.code()),
                Err("timestamp_out_of_tolerance"),
                "{now}"
            );
        }
    }

    #[test]
    fn missing_malformed_and_repeated_headers_say_which_header() {
        for name in [MESSAGE_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
            let mut h = doc_headers();
            h.remove(name);
            assert_eq!(
                check(&h, BODY, TS_SECS),
                Err(VerifyError::MissingHeader(name))
            );
        }
        for bad in [
            "2ce0db1d1e83d9950c6f2befca758d350edbded155a52b4703767cd7845cd3f0",
            "sha1=2ce0db1d1e83d9950c6f2befca758d350edbded1",
            "sha256=2ce0",
            "sha256=zze0db1d1e83d9950c6f2befca758d350edbded155a52b4703767cd7845cd3f0",
        ] {
            assert_eq!(
                check(&headers(ID, TS, bad), BODY, TS_SECS).map_err(|e| e.code()),
                Err("invalid_signature"),
                "{bad}"
            );
        }
        assert!(matches!(
            check(&headers(ID, "yesterday", SIGNATURE), BODY, TS_SECS),
            Err(VerifyError::MalformedHeader {
                header: TIMESTAMP_HEADER,
                ..
            })
        ));
        let mut twice = doc_headers();
        twice.append(MESSAGE_ID_HEADER, HeaderValue::from_static("another-id"));
        assert!(matches!(
            check(&twice, BODY, TS_SECS),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn signed_requests_round_trip() {
        let secret = Secret::new("round-trip-secret");
        let mut h = HeaderMap::new();
        let signed =
            sign_request(&secret, BODY, TS_SECS, &SchemeOptions::default()).expect("signs");
        for (name, value) in &signed {
            h.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        assert_eq!(
            run(std::slice::from_ref(&secret), &h, BODY, TS_SECS),
            Ok(())
        );
        assert_eq!(
            h.get(SUBSCRIPTION_TYPE_HEADER).map(HeaderValue::as_bytes),
            Some(&b"channel.follow"[..])
        );
        assert!(sign_request(&secret, BODY, -1, &SchemeOptions::default()).is_err());
    }

    #[test]
    fn a_time_after_the_year_9999_is_refused_not_a_panic() {
        let secret = Secret::new("s");
        // The clock of the fuzzer's crashing input, then the extremes.
        for now in [48_380_307_030_895, LAST_RFC3339_SECOND as i64 + 1, i64::MAX] {
            assert!(
                sign_request(&secret, BODY, now, &SchemeOptions::default()).is_err(),
                "{now}"
            );
        }
        assert!(
            sign_request(
                &secret,
                BODY,
                LAST_RFC3339_SECOND as i64,
                &SchemeOptions::default()
            )
            .is_ok()
        );
    }

    fn answer(secrets: &[Secret], headers: &HeaderMap, body: &[u8]) -> Option<Handshake> {
        let options = SchemeOptions::default();
        handshake(
            &check_of(secrets, &options, TS_SECS),
            &Inbound {
                headers,
                body,
                query: None,
            },
        )
    }

    #[test]
    fn a_verified_challenge_is_answered_in_plain_text() {
        let answered = answer(&[Secret::new(SECRET)], &challenge_headers(), CHALLENGE_BODY)
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
        assert_eq!(
            answer(
                &[Secret::new("wrong")],
                &challenge_headers(),
                CHALLENGE_BODY
            ),
            None
        );
        let mut unsigned = challenge_headers();
        unsigned.remove(SIGNATURE_HEADER);
        assert_eq!(
            answer(&[Secret::new(SECRET)], &unsigned, CHALLENGE_BODY),
            None
        );
    }

    #[test]
    fn notifications_and_revocations_are_not_handshakes() {
        assert_eq!(answer(&[Secret::new(SECRET)], &doc_headers(), BODY), None);
        let mut revocation = doc_headers();
        revocation.insert(MESSAGE_TYPE_HEADER, HeaderValue::from_static("revocation"));
        assert_eq!(
            run(&[Secret::new(SECRET)], &revocation, BODY, TS_SECS),
            Ok(())
        );
        assert_eq!(answer(&[Secret::new(SECRET)], &revocation, BODY), None);
    }

    #[test]
    fn describe_reads_the_message_id_and_subscription_type() {
        let options = SchemeOptions::default();
        let h = doc_headers();
        let meta = describe(
            &check_of(&[], &options, TS_SECS),
            &Inbound {
                headers: &h,
                body: BODY,
                query: None,
            },
        );
        assert_eq!(meta.delivery_id.as_deref(), Some(ID));
        assert_eq!(meta.event_type.as_deref(), Some("channel.follow"));
    }
}
