//! The envelope: the versioned JSON message the receiver queues and the dispatcher reads.
//!
//! A reader refuses versions it does not know instead of guessing, so a newer receiver and an older
//! dispatcher can never misread each other: such records fail visibly and reach the dead-letter queue.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::signature::Provider;
use crate::source::SourceId;

/// The envelope version this build writes and reads.
pub const ENVELOPE_VERSION: u32 = 1;

/// One accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u32,
    /// Hookpost's id for the event: time-ordered, and the `webhook-id` subscribers see.
    pub event_id: String,
    pub source_id: SourceId,
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The provider's own delivery id, when it sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// When the receiver accepted the event (RFC 3339, UTC).
    pub received_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The provider headers worth keeping (lower-case names).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    pub body: EncodedBody,
}

/// The exact request body: as text when it is UTF-8 (readable in the dead-letter queue), base64
/// otherwise, or — when it does not fit a queue message — the key of the object it was stored as
/// (the claim check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "encoding", content = "data", rename_all = "lowercase")]
pub enum EncodedBody {
    Utf8(String),
    Base64(String),
    Stored(String),
}

impl EncodedBody {
    /// Wraps raw bytes without copying them when they are UTF-8.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => EncodedBody::Utf8(text),
            Err(e) => EncodedBody::Base64(BASE64.encode(e.as_bytes())),
        }
    }

    /// The length of the inline text (0 for a stored body): a lower bound of its encoded size.
    pub fn inline_len(&self) -> usize {
        match self {
            EncodedBody::Utf8(text) | EncodedBody::Base64(text) => text.len(),
            EncodedBody::Stored(_) => 0,
        }
    }

    /// The original bytes of an inline body, without a copy for text.
    pub fn into_bytes(self) -> Result<Vec<u8>, EnvelopeError> {
        match self {
            EncodedBody::Utf8(text) => Ok(text.into_bytes()),
            EncodedBody::Base64(b64) => BASE64.decode(b64).map_err(|_| EnvelopeError::BadBody),
            EncodedBody::Stored(_) => Err(EnvelopeError::StoredBody),
        }
    }

    /// The original bytes of an inline body; a stored one must be fetched by its key.
    pub fn bytes(&self) -> Result<Cow<'_, [u8]>, EnvelopeError> {
        match self {
            EncodedBody::Stored(_) => Err(EnvelopeError::StoredBody),
            EncodedBody::Utf8(text) => Ok(Cow::Borrowed(text.as_bytes())),
            EncodedBody::Base64(b64) => BASE64
                .decode(b64)
                .map(Cow::Owned)
                .map_err(|_| EnvelopeError::BadBody),
        }
    }
}

/// Why a queued message is not an envelope this build can deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the message is not a Hookpost envelope: {0}")]
    Malformed(String),
    #[error(
        "envelope version {found} is not supported (this build reads version {ENVELOPE_VERSION})"
    )]
    UnsupportedVersion { found: u32 },
    #[error("the envelope body is not valid base64")]
    BadBody,
    #[error("the body is stored aside and must be fetched by its key")]
    StoredBody,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

impl Envelope {
    /// Parses a queued message, checking its version first.
    pub fn decode(message: &str) -> Result<Self, EnvelopeError> {
        match serde_json::from_str::<Envelope>(message) {
            Ok(envelope) if envelope.version == ENVELOPE_VERSION => Ok(envelope),
            Ok(envelope) => Err(EnvelopeError::UnsupportedVersion {
                found: envelope.version,
            }),
            Err(e) => match serde_json::from_str::<VersionOnly>(message) {
                Ok(v) if v.version != ENVELOPE_VERSION => {
                    Err(EnvelopeError::UnsupportedVersion { found: v.version })
                }
                _ => Err(EnvelopeError::Malformed(e.to_string())),
            },
        }
    }

    /// The JSON text queued to SQS.
    pub fn encode(&self) -> String {
        // Sized for the body plus a few escapes and the other members up front: growing the
        // buffer by doubling would copy a large body several times over.
        let mut out = Vec::with_capacity(self.body.inline_len() + self.body.inline_len() / 8 + 512);
        // Serialising a struct of strings and maps cannot fail.
        serde_json::to_writer(&mut out, self)
            .unwrap_or_else(|_| unreachable!("envelope is plain data"));
        // serde_json writes valid UTF-8 only.
        String::from_utf8(out).unwrap_or_else(|_| unreachable!("serde_json writes UTF-8"))
    }
}

/// A replay's marker (`hookpost events replay`), queued as a `replay` member beside the envelope's
/// own. Older readers ignore it (unknown members are skipped), so the envelope version stays 1.
///
/// A replay delivers again, also to subscriptions that already got the event: its delivery records
/// are kept under their own key, [`Replay::delivery_key`], so the "already delivered" check of the
/// original event does not skip it, and a retried replay still reaches only the subscriptions it
/// has not reached yet. Subscribers see the original event id (`webhook-id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    /// Unique per replay, e.g. `rpl_…`.
    pub id: String,
    /// Only these subscriptions; empty means every one that wants the event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<String>,
    /// A recovery (`hookpost events replay --since`): delivered under the event's own records, so
    /// a subscription that already has the event is skipped, and a second recovery of the same
    /// window sends nothing twice.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recover: bool,
}

/// The dispatcher's markers beside a queued envelope, read in one pass over the message.
#[derive(Debug, Default, Deserialize)]
pub struct Markers {
    /// Set on a replay ([`Replay`]).
    pub replay: Option<Replay>,
    /// Set on a copy queued again to wait for a rate limit ([`Deferral`]).
    pub deferral: Option<Deferral>,
}

impl Markers {
    /// The markers of a queued message; none when it is not a JSON object.
    pub fn read(message: &str) -> Self {
        serde_json::from_str(message).unwrap_or_default()
    }
}

impl Replay {
    /// A new replay of an event to `subscriptions` (empty: all).
    pub fn new(subscriptions: Vec<String>) -> Self {
        Self {
            id: format!("rpl_{}", uuid::Uuid::now_v7().simple()),
            subscriptions,
            recover: false,
        }
    }

    /// A recovery of an event for `subscriptions` that miss it: see [`Replay::recover`].
    pub fn recovery(subscriptions: Vec<String>) -> Self {
        Self {
            recover: true,
            ..Self::new(subscriptions)
        }
    }

    /// The marker of a queued message, if it is a replay.
    pub fn read(message: &str) -> Option<Self> {
        Markers::read(message).replay
    }

    /// `envelope_json` with this marker set (replacing an earlier one).
    pub fn mark(&self, envelope_json: &str) -> Result<String, EnvelopeError> {
        set_member(envelope_json, "replay", Some(self))
    }

    /// The key of this replay's delivery records: `{event_id}#{replay id}`, or the event's own
    /// for a recovery.
    pub fn delivery_key(&self, event_id: &str) -> String {
        if self.recover {
            event_id.to_owned()
        } else {
            format!("{event_id}#{}", self.id)
        }
    }

    /// Whether the replay is meant for `subscription_id`.
    pub fn includes(&self, subscription_id: &str) -> bool {
        self.subscriptions.is_empty() || self.subscriptions.iter().any(|s| s == subscription_id)
    }
}

/// A record queued again by the dispatcher because some of its deliveries wait for their
/// subscription's rate limit: a `deferral` member beside the envelope's own, like [`Replay`].
///
/// The copy is a new SQS message, whose receive count starts again at 1; the marker carries what
/// the original had spent, so waiting never costs the record a place in the retry schedule or
/// brings it nearer the dead-letter queue, and failing still does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferral {
    /// Receives the record has spent on failures before this copy was queued.
    #[serde(default)]
    pub failed_receives: u32,
    /// The slot each waiting subscription reserved (microseconds since the Unix epoch): the copy
    /// delivers in that slot instead of reserving another.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slots: BTreeMap<String, i64>,
}

impl Deferral {
    /// The marker of a queued message, if it was deferred.
    pub fn read(message: &str) -> Option<Self> {
        Markers::read(message).deferral
    }

    /// `envelope_json` with this marker set (replacing an earlier one); any other member, a
    /// replay's marker included, is kept.
    pub fn mark(&self, envelope_json: &str) -> Result<String, EnvelopeError> {
        set_member(envelope_json, "deferral", Some(self))
    }

    /// `envelope_json` without a deferral marker: how a record goes to the dead-letter queue, so
    /// a redrive starts its schedule afresh.
    pub fn clear(envelope_json: &str) -> Result<String, EnvelopeError> {
        set_member::<Self>(envelope_json, "deferral", None)
    }
}

/// `json` (an object) with member `name` set to `value`, or removed for `None`.
fn set_member<T: Serialize>(
    json: &str,
    name: &str,
    value: Option<&T>,
) -> Result<String, EnvelopeError> {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    match value {
        Some(value) => {
            object.insert(
                name.to_owned(),
                serde_json::to_value(value).map_err(|e| EnvelopeError::Malformed(e.to_string()))?,
            );
        }
        None => {
            object.remove(name);
        }
    }
    serde_json::to_string(&object).map_err(|e| EnvelopeError::Malformed(e.to_string()))
}

/// The object key a large body of `event_id` is stored under.
pub fn stored_body_key(source: &SourceId, event_id: &str) -> String {
    format!("bodies/{source}/{event_id}")
}

/// A new event id: `evt_` and a UUIDv7, so ids sort by time.
pub fn new_event_id() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(body: EncodedBody) -> Envelope {
        Envelope {
            version: ENVELOPE_VERSION,
            event_id: new_event_id(),
            source_id: SourceId::parse("gh").expect("valid"),
            provider: Provider::Github,
            event_type: Some("push".into()),
            delivery_id: Some("d-1".into()),
            received_at: "2026-11-22T00:00:00.000Z".into(),
            content_type: Some("application/json".into()),
            headers: BTreeMap::from([("x-github-event".into(), "push".into())]),
            body,
        }
    }

    #[test]
    fn envelopes_round_trip_with_text_and_binary_bodies() {
        for raw in [b"{\"a\":1}".to_vec(), vec![0xff, 0x00, 0x80]] {
            let e = sample(EncodedBody::from_bytes(raw.clone()));
            let back = Envelope::decode(&e.encode()).expect("decodes");
            assert_eq!(back, e);
            assert_eq!(back.body.bytes().expect("body").as_ref(), raw.as_slice());
        }
    }

    #[test]
    fn unknown_versions_and_garbage_are_refused_with_the_reason() {
        let mut e = sample(EncodedBody::Utf8("{}".into()));
        e.version = 2;
        assert_eq!(
            Envelope::decode(&e.encode()),
            Err(EnvelopeError::UnsupportedVersion { found: 2 })
        );
        assert_eq!(
            Envelope::decode(r#"{"version":9}"#),
            Err(EnvelopeError::UnsupportedVersion { found: 9 })
        );
        assert!(matches!(
            Envelope::decode("not json"),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(matches!(
            Envelope::decode(r#"{"version":1}"#),
            Err(EnvelopeError::Malformed(_))
        ));
    }

    #[test]
    fn a_replay_marker_rides_beside_the_envelope_and_old_readers_ignore_it() {
        let e = sample(EncodedBody::Utf8("{}".into()));
        let replay = Replay::new(vec!["sub_1".into()]);
        let marked = replay.mark(&e.encode()).expect("marks");
        assert_eq!(Envelope::decode(&marked), Ok(e.clone()));
        assert_eq!(Replay::read(&marked), Some(replay.clone()));
        assert_eq!(Replay::read(&e.encode()), None);
        assert!(replay.includes("sub_1") && !replay.includes("sub_2"));
        assert!(Replay::new(Vec::new()).includes("sub_2"));
        assert_eq!(
            replay.delivery_key(&e.event_id),
            format!("{}#{}", e.event_id, replay.id)
        );
    }

    #[test]
    fn a_deferral_marker_rides_beside_the_envelope_and_can_be_cleared() {
        let e = sample(EncodedBody::Utf8("{}".into()));
        let replayed = Replay::new(Vec::new()).mark(&e.encode()).expect("object");
        let deferral = Deferral {
            failed_receives: 2,
            slots: BTreeMap::from([("sub_1".to_owned(), 1_700_000_000_000_000)]),
        };
        let marked = deferral.mark(&replayed).expect("object");
        assert_eq!(Deferral::read(&marked), Some(deferral));
        assert_eq!(Envelope::decode(&marked).expect("still an envelope"), e);
        assert!(Replay::read(&marked).is_some(), "the replay marker is kept");
        let cleared = Deferral::clear(&marked).expect("object");
        assert_eq!(Deferral::read(&cleared), None);
        assert!(Replay::read(&cleared).is_some());
        assert_eq!(Deferral::read(&e.encode()), None);
        assert!(Deferral::mark(&Deferral::default(), "[1]").is_err());
    }

    #[test]
    fn event_ids_sort_by_creation_time() {
        let a = new_event_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_event_id();
        assert!(a < b);
    }
}
