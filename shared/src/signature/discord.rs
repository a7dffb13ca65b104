//! Discord's interactions endpoint: `X-Signature-Ed25519` is the hex Ed25519 signature of
//! `{X-Signature-Timestamp}{body}`, made with the application's private key; the timestamp is
//! Unix seconds.
//!
//! Spec: <https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers>.
//! The source's secret is the application's public key in hex, as the Developer Portal shows it
//! (General Information → Public Key). Discord checks an endpoint by sending a PING (`"type": 1`)
//! and bad signatures, and expects `{"type": 1}` (PONG) for the first and a 401 for the others;
//! the PING is answered here once verified. Signatures are checked with `verify_strict`, which
//! also refuses the malleable and small-order forms plain Ed25519 verification lets through.

use std::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;

use super::digest::{check_timestamp, matched, parse_unix};
use super::parsed_keys::ParsedKeys;
use super::{
    Check, EventMeta, Handshake, Inbound, Scheme, SchemeOptions, SignError, SignedHeaders,
    VerifyError, single_header,
};
use crate::secret::Secret;

/// Five minutes either way. Discord documents no window; it does not retry interactions (it
/// waits three seconds for an answer), so five minutes, the common choice for signed
/// timestamps, only absorbs clock skew.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
const FORWARDED_HEADERS: &[&str] = &[TIMESTAMP_HEADER, "user-agent"];

/// The interaction type of Discord's endpoint check.
const PING: u64 = 1;

const UNCONFIGURED: VerifyError = VerifyError::Unconfigured(
    "the secret is not a Discord application public key (64 hexadecimal digits)",
);

/// Discord's interactions endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Discord;

impl Scheme for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn default_tolerance(&self) -> Duration {
        DEFAULT_TOLERANCE
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        FORWARDED_HEADERS
    }

    fn verify(&self, check: &Check<'_>, request: &Inbound<'_>) -> Result<(), VerifyError> {
        let keys = check
            .secrets
            .iter()
            .map(verifying_key)
            .collect::<Result<Vec<_>, _>>()?;
        let timestamp = single_header(request.headers, TIMESTAMP_HEADER)?;
        let value = single_header(request.headers, SIGNATURE_HEADER)?;
        check_timestamp(parse_unix(timestamp, TIMESTAMP_HEADER)?, &check.policy)?;
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(value, &mut bytes).map_err(|_| VerifyError::MalformedHeader {
            header: SIGNATURE_HEADER,
            reason: "expected 128 hexadecimal digits",
        })?;
        let signature = Signature::from_bytes(&bytes);
        // Ed25519 hashes the message after the signature's R and the key, so strict verification
        // takes the message in one piece: the one copy of the body in any scheme here.
        let mut message = Vec::with_capacity(timestamp.len() + request.body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(request.body);
        let mut found = false;
        for key in &keys {
            found |= key.verify_strict(&message, &signature).is_ok();
        }
        matched(found)
    }

    /// The interaction's `id` and its type by Discord's name (`application_command`,
    /// `message_component`, `application_command_autocomplete`, `modal_submit`; a number Discord adds
    /// later stays a number). A webhook-events body gives its `event.type` (e.g.
    /// `APPLICATION_AUTHORIZED`) instead.
    fn describe(&self, _check: &Check<'_>, request: &Inbound<'_>) -> EventMeta {
        let Ok(interaction) = serde_json::from_slice::<Interaction>(request.body) else {
            return EventMeta::default();
        };
        let event_type = match interaction.event {
            Some(event) => event.kind,
            None => interaction.kind.map(interaction_type_name),
        };
        EventMeta {
            delivery_id: interaction.id,
            event_type,
        }
    }

    fn sign(
        &self,
        _secret: &Secret,
        _body: &[u8],
        _now: i64,
        _event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        Err(SignError::Asymmetric(self.name()))
    }

    /// Answers a verified PING with a PONG.
    fn handshake(&self, check: &Check<'_>, request: &Inbound<'_>) -> Option<Handshake> {
        let interaction = serde_json::from_slice::<Interaction>(request.body).ok()?;
        if interaction.kind != Some(PING) || interaction.event.is_some() {
            return None;
        }
        self.verify(check, request).ok()?;
        Some(Handshake {
            content_type: "application/json",
            body: r#"{"type":1}"#.to_owned(),
        })
    }

    /// What Discord must be told about a queued interaction, within its three-second limit: that the
    /// answer comes later. Commands and modals get a deferred message (type 5), components a deferred
    /// update (type 6), autocomplete no choices (type 8, it cannot be deferred). The subscriber follows
    /// up with the interaction token. Webhook-events bodies need no reply body.
    /// Spec: <https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-interaction-callback-type>.
    fn queued_reply(&self, request: &Inbound<'_>) -> Option<Handshake> {
        let interaction = serde_json::from_slice::<Interaction>(request.body).ok()?;
        if interaction.event.is_some() {
            return None;
        }
        let body = match interaction.kind? {
            2 | 5 => r#"{"type":5}"#,
            3 => r#"{"type":6}"#,
            4 => r#"{"type":8,"data":{"choices":[]}}"#,
            _ => return None,
        };
        Some(Handshake {
            content_type: "application/json",
            body: body.to_owned(),
        })
    }
}

/// The keys this process decoded: a public key is decompressed once per source, not per request.
static KEYS: ParsedKeys<VerifyingKey> = ParsedKeys::new();

fn verifying_key(secret: &Secret) -> Result<VerifyingKey, VerifyError> {
    KEYS.get(secret.expose(), decode_key)
}

fn decode_key(text: &str) -> Result<VerifyingKey, VerifyError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| UNCONFIGURED)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| UNCONFIGURED)
}

#[derive(Deserialize)]
struct Interaction {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<u64>,
    /// Present only in Discord's webhook events (a different endpoint with the same signature),
    /// where `type` 1 is an event, not a PING.
    event: Option<WebhookEvent>,
}

#[derive(Deserialize)]
struct WebhookEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Discord's name for an interaction type, lower-cased; unknown types keep their number.
fn interaction_type_name(kind: u64) -> String {
    match kind {
        1 => "ping".to_owned(),
        2 => "application_command".to_owned(),
        3 => "message_component".to_owned(),
        4 => "application_command_autocomplete".to_owned(),
        5 => "modal_submit".to_owned(),
        other => other.to_string(),
    }
}

/// Requests signed as Discord signs them, with a key pair of the tests' own: only Discord holds
/// the real private key.
#[cfg(test)]
pub(super) mod test_key {
    use ed25519_dalek::{Signer, SigningKey};

    use super::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
    use crate::secret::Secret;
    use crate::signature::SignedHeaders;

    /// The key pair made from `seed`, and its public key as a source's secret.
    pub(crate) fn keypair(seed: u8) -> (SigningKey, Secret) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let public = Secret::new(hex::encode(key.verifying_key().as_bytes()));
        (key, public)
    }

    /// The headers Discord would send with `body` at `now`.
    pub(crate) fn sign(key: &SigningKey, now: i64, body: &[u8]) -> SignedHeaders {
        let ts = now.to_string();
        let mut message = ts.as_bytes().to_vec();
        message.extend_from_slice(body);
        vec![
            (
                SIGNATURE_HEADER.to_owned(),
                hex::encode(key.sign(&message).to_bytes()),
            ),
            (TIMESTAMP_HEADER.to_owned(), ts),
            ("content-type".to_owned(), "application/json".to_owned()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::super::testing::{Case, headers};
    use super::test_key::{keypair, sign};
    use super::*;

    // Discord publishes no test vector. The key pair is derived in the test from a fixed seed,
    // and each request is signed with it (Ed25519 is deterministic, RFC 8032).
    const TS: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"1180000000000000000","application_id":"1170000000000000000","type":2,"data":{"id":"1","name":"ping","type":1},"token":"aW50ZXJhY3Rpb24","version":1}"#;
    const PING_BODY: &[u8] =
        br#"{"id":"1180000000000000001","application_id":"1170000000000000000","type":1,"token":"cGluZw","version":1}"#;

    fn case(public: &Secret) -> Case<'static> {
        Case::new(&Discord, &[public.expose()], TS)
    }

    fn signed(seed: u8, body: &[u8]) -> HeaderMap {
        headers(&sign(&keypair(seed).0, TS, body))
    }

    #[test]
    fn the_rfc_8032_vector_verifies_under_a_public_key_read_from_hex() {
        // RFC 8032 section 7.1, TEST 2 (message 0x72): the key in the hex form Discord's
        // Developer Portal shows, and the RFC's signature, through the strict check used here.
        let public =
            Secret::new("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
        let mut signature = [0u8; 64];
        hex::decode_to_slice(
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            &mut signature,
        )
        .expect("hex");
        let key = verifying_key(&public).expect("a key");
        let signature = Signature::from_bytes(&signature);
        assert!(key.verify_strict(b"\x72", &signature).is_ok());
        assert!(key.verify_strict(b"\x73", &signature).is_err());
    }

    #[test]
    fn a_malformed_public_key_is_a_configuration_error() {
        let (_, public) = keypair(1);
        for bad in ["", "abcd", "zz", &"0".repeat(63)] {
            let both = Case::new(&Discord, &[public.expose(), bad], TS);
            assert_eq!(
                both.code(&signed(1, BODY), BODY),
                Err("source_misconfigured"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_verified_ping_is_answered_with_a_pong() {
        let (_, public) = keypair(1);
        let answered = case(&public)
            .handshake(&signed(1, PING_BODY), PING_BODY)
            .expect("a pong");
        assert_eq!(answered.content_type, "application/json");
        assert_eq!(answered.body, r#"{"type":1}"#);
    }

    #[test]
    fn a_ping_is_not_answered_unless_it_verifies() {
        let (_, public) = keypair(1);
        assert_eq!(
            case(&public).handshake(&signed(2, PING_BODY), PING_BODY),
            None
        );
        assert_eq!(case(&public).handshake(&HeaderMap::new(), PING_BODY), None);
    }

    #[test]
    fn commands_and_webhook_events_are_not_handshakes() {
        let (_, public) = keypair(1);
        assert_eq!(case(&public).handshake(&signed(1, BODY), BODY), None);
        let event = br#"{"version":1,"application_id":"1","type":1,"event":{"type":"APPLICATION_AUTHORIZED","timestamp":"2024-10-18T14:42:53.064834"}}"#;
        assert_eq!(case(&public).handshake(&signed(1, event), event), None);
    }

    fn meta(body: &[u8]) -> EventMeta {
        case(&keypair(1).1).describe(&HeaderMap::new(), body)
    }

    #[test]
    fn describe_names_the_interaction_type_and_reads_its_id() {
        let m = meta(BODY);
        assert_eq!(m.delivery_id.as_deref(), Some("1180000000000000000"));
        assert_eq!(m.event_type.as_deref(), Some("application_command"));
        for (body, event_type) in [
            (PING_BODY, "ping"),
            (br#"{"id":"9","type":5}"#, "modal_submit"),
            (br#"{"id":"9","type":42}"#, "42"),
            (
                br#"{"type":1,"event":{"type":"APPLICATION_AUTHORIZED"}}"#,
                "APPLICATION_AUTHORIZED",
            ),
        ] {
            assert_eq!(meta(body).event_type.as_deref(), Some(event_type));
        }
        assert_eq!(meta(b"[]"), EventMeta::default());
    }

    #[test]
    fn queued_interactions_are_answered_with_a_deferred_response() {
        let reply = |body: &[u8]| {
            Discord
                .queued_reply(&Inbound {
                    headers: &HeaderMap::new(),
                    body,
                    query: None,
                })
                .map(|h| h.body)
        };
        for (body, answer) in [
            (&br#"{"id":"1","type":2}"#[..], r#"{"type":5}"#),
            (br#"{"id":"1","type":5}"#, r#"{"type":5}"#),
            (br#"{"id":"1","type":3}"#, r#"{"type":6}"#),
        ] {
            assert_eq!(reply(body).as_deref(), Some(answer));
        }
        assert!(reply(br#"{"id":"1","type":4}"#).is_some_and(|b| b.contains(r#""type":8"#)));
        assert_eq!(reply(br#"{"id":"1","type":1}"#), None);
        assert_eq!(
            reply(br#"{"type":1,"event":{"type":"APPLICATION_AUTHORIZED"}}"#),
            None
        );
    }
}
