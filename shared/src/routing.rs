//! What a subscription's payload filter sees, and whether it matches.
//!
//! A filter is an EventBridge event pattern ([`hookpost_pattern`]) matched against one JSON value
//! per event: `{"type": …, "source": …, "headers": {…}, "body": …}`. `type` and `source` are the
//! envelope's event type (absent when the event has none) and source id; `headers` are the
//! provider headers the envelope kept (lower-case names); `body` is the body parsed as JSON,
//! absent when it is not JSON — and a pattern that looks into `body` then never matches, not even
//! through `exists: false`.

use serde_json::{Map, Value};

use crate::envelope::Envelope;

pub use hookpost_pattern::{EventPattern, PatternError};

/// The value a filter is matched against, for `envelope` with its decoded `body`.
pub fn pattern_input(envelope: &Envelope, body: &[u8]) -> Value {
    let mut input = Map::with_capacity(4);
    if let Some(event_type) = &envelope.event_type {
        input.insert("type".to_owned(), Value::String(event_type.clone()));
    }
    input.insert(
        "source".to_owned(),
        Value::String(envelope.source_id.as_str().to_owned()),
    );
    let headers: Map<String, Value> = envelope
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    input.insert("headers".to_owned(), Value::Object(headers));
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        input.insert("body".to_owned(), json);
    }
    Value::Object(input)
}

/// Whether `pattern` matches `input` (from [`pattern_input`]).
pub fn filter_matches(pattern: &EventPattern, input: &Value) -> bool {
    if pattern.looks_into("body") && input.get("body").is_none() {
        return false;
    }
    pattern.matches(input)
}

/// A subscription's payload filter, compiled, with the rule every reader of it applies: no
/// filter lets every event through, an unreadable one none (only a table edited by hand holds
/// one: the operations core checks every filter it stores), a pattern the events it matches.
/// The dispatcher delivers by it and a recovery predicts the dispatcher by it.
#[derive(Debug)]
pub enum SubscriptionFilter {
    Everything,
    Unreadable,
    Pattern(EventPattern),
}

impl SubscriptionFilter {
    /// A subscription's stored filter text (`None`: it has none). The error says why a stored
    /// filter is unreadable, for the caller to report before it falls back to
    /// [`SubscriptionFilter::Unreadable`].
    pub fn compile(text: Option<&str>) -> Result<Self, PatternError> {
        match text {
            None => Ok(Self::Everything),
            Some(text) => EventPattern::parse(text).map(Self::Pattern),
        }
    }

    /// Whether an event gets through; `input` (its [`pattern_input`]) is built only when a
    /// pattern reads it.
    pub fn allows<'v>(&self, input: impl FnOnce() -> &'v Value) -> bool {
        match self {
            Self::Everything => true,
            Self::Unreadable => false,
            Self::Pattern(pattern) => filter_matches(pattern, input()),
        }
    }
}

/// A filter as given by an operator (a JSON object), checked and in the compact text form it is
/// stored in; the error names the offending key's path.
pub fn checked_filter(value: &Value) -> Result<String, PatternError> {
    EventPattern::from_value(value)?;
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::clock::rfc3339;
    use crate::envelope::{EncodedBody, new_event_id};
    use crate::signature::Provider;
    use crate::source::SourceId;

    fn envelope(event_type: Option<&str>, body: &[u8]) -> Envelope {
        Envelope {
            version: 1,
            event_id: new_event_id(),
            source_id: SourceId::parse("shop").expect("id"),
            provider: Provider::Github,
            event_type: event_type.map(str::to_owned),
            delivery_id: None,
            received_at: rfc3339(SystemTime::now()),
            content_type: Some("application/json".into()),
            headers: [("x-github-event".to_owned(), "push".to_owned())].into(),
            body: EncodedBody::from_bytes(body.to_vec()),
        }
    }

    #[test]
    fn a_subscription_filter_lets_all_through_when_absent_and_none_when_unreadable() {
        let input = pattern_input(
            &envelope(Some("push"), br#"{"amount":150}"#),
            br#"{"amount":150}"#,
        );
        fn untouched() -> &'static Value {
            panic!("no pattern reads it, so the input is never built")
        }
        assert!(
            SubscriptionFilter::compile(None)
                .expect("none")
                .allows(untouched)
        );
        assert!(!SubscriptionFilter::Unreadable.allows(untouched));
        let error = SubscriptionFilter::compile(Some(r#"{"body":"#)).expect_err("unreadable");
        assert!(!error.to_string().is_empty());
        let big =
            SubscriptionFilter::compile(Some(r#"{"body":{"amount":[{"numeric":[">",100]}]}}"#))
                .expect("a valid pattern");
        assert!(big.allows(|| &input));
        let bigger =
            SubscriptionFilter::compile(Some(r#"{"body":{"amount":[{"numeric":[">",200]}]}}"#))
                .expect("a valid pattern");
        assert!(!bigger.allows(|| &input));
    }

    fn matches(pattern: &str, event_type: Option<&str>, body: &[u8]) -> bool {
        let pattern = EventPattern::parse(pattern).expect("a valid pattern");
        filter_matches(&pattern, &pattern_input(&envelope(event_type, body), body))
    }

    #[test]
    fn a_pattern_sees_the_type_source_headers_and_json_body() {
        let body = br#"{"amount": 250, "currency": "eur", "tags": ["vip", "new"]}"#;
        assert!(matches(
            r#"{"type": [{"prefix": "order."}], "source": ["shop"], "headers": {"x-github-event": ["push"]}, "body": {"amount": [{"numeric": [">", 100]}], "tags": ["vip"]}}"#,
            Some("order.paid"),
            body
        ));
        assert!(!matches(
            r#"{"body": {"amount": [{"numeric": [">", 300]}]}}"#,
            Some("order.paid"),
            body
        ));
        assert!(
            !matches(r#"{"type": ["order.paid"]}"#, None, body),
            "no type"
        );
    }

    #[test]
    fn a_body_that_is_not_json_never_matches_a_pattern_that_looks_into_it() {
        for pattern in [
            r#"{"body": {"x": [{"exists": false}]}}"#,
            r#"{"body": [{"exists": false}]}"#,
            r#"{"body": {"x": [{"anything-but": "y"}]}}"#,
        ] {
            assert!(!matches(pattern, Some("t"), b"x=1&y=2"), "{pattern}");
        }
        // A pattern that does not look into the body still matches such an event.
        assert!(matches(r#"{"source": ["shop"]}"#, Some("t"), b"x=1&y=2"));
    }

    #[test]
    fn a_filter_is_stored_compact_and_a_bad_one_names_its_path() {
        let value: Value =
            serde_json::from_str(r#"{ "body": { "amount": [ { "numeric": [">", 1] } ] } }"#)
                .expect("json");
        assert_eq!(
            checked_filter(&value).expect("valid"),
            r#"{"body":{"amount":[{"numeric":[">",1]}]}}"#
        );
        let bad: Value =
            serde_json::from_str(r#"{"body": {"amount": [{"numeric": ["~", 1]}]}}"#).expect("json");
        let err = checked_filter(&bad).expect_err("refused");
        assert!(err.path.starts_with("body.amount"), "{err}");
    }
}
