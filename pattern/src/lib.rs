//! Amazon EventBridge event patterns, validated once and matched against JSON values: the
//! payload filter of a Hookpost subscription, matched against
//! `{"type": …, "source": …, "headers": {…}, "body": …}`.
//!
//! # Syntax
//!
//! A pattern is a JSON object shaped like the events it matches. Every key must match (AND); a
//! key's value is either a nested object or an array whose items are alternatives (OR). An
//! event field that is an array matches when any of its elements does.
//!
//! | Item of a leaf array | Matches |
//! | --- | --- |
//! | `"text"`, `42`, `true`, `null` | that exact value; numbers compare as numbers (`300` matches `3.0e2`) |
//! | `{"prefix": "eu-"}`, `{"prefix": {"equals-ignore-case": "eu-"}}` | strings starting with it |
//! | `{"suffix": ".png"}`, `{"suffix": {"equals-ignore-case": ".png"}}` | strings ending with it |
//! | `{"equals-ignore-case": "alice"}` | strings equal to it, ignoring case |
//! | `{"wildcard": "dir/*.png"}` | strings where `*` stands for any run of characters (`\*` is a literal `*`) |
//! | `{"anything-but": "x"}`, `{"anything-but": [1, 2]}`, `{"anything-but": {"prefix": "init"}}` | any value but those (also `suffix`, `equals-ignore-case`, `wildcard`, each with a string or a list) |
//! | `{"numeric": [">", 0, "<=", 5]}` | numbers in range: `=`, or a lower (`>`, `>=`) and/or an upper (`<`, `<=`) bound |
//! | `{"exists": true}` / `{"exists": false}` | a field that has / has no value (`null` is a value; `[]` and objects are not) |
//! | `{"cidr": "10.0.0.0/24"}` | strings that are IPv4 or IPv6 addresses in the block |
//!
//! `"$or": [{…}, {…}]`, at any object level, matches when any of its (two or more) sub-patterns
//! does. A key absent from the event matches nothing but `exists: false`, which holds when the
//! field has no value anywhere in the event (every element of an array included); string
//! operators never match non-strings; `anything-but` matches any value it does not exclude, of
//! any type. A nested pattern under an array of objects matches within one element.
//!
//! # Limits
//!
//! [`Limits::DEFAULT`] bounds a pattern to 2048 bytes, 10 levels of objects, 150 values and 5 `*`
//! per wildcard value (see [`Limits`] for why), so a match costs little whatever the pattern.
//! Refusals are [`PatternError`]s naming the JSON path of the offending key.
//!
//! # Sources
//!
//! The semantics follow the Amazon EventBridge user guide:
//! - "Amazon EventBridge event patterns", <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html>
//! - "Content filtering in Amazon EventBridge event patterns", <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html>
//! - "Comparison operators for use in event patterns", <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html>
//! - "Arrays in Amazon EventBridge event patterns", <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html>
//! - "Matching null values and empty strings", <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html>
//!
//! and, where the guide is silent (array-consistent matching of objects, wildcard escapes, what
//! `anything-but` does with values of another type), EventBridge's open-source matcher,
//! <https://github.com/aws/event-ruler>.

mod case;
mod cidr;
mod compile;
mod error;
mod limits;
mod matcher;
mod size;
mod wildcard;

use serde_json::Value;

pub use error::PatternError;
pub use limits::Limits;
use matcher::{Context, Node};

/// A parsed, validated pattern, ready to match.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    root: Node,
    /// How many leaves hold `exists: false` (the size of a match's memo of absences).
    absence_slots: usize,
    source: Value,
}

impl EventPattern {
    /// Parses and validates a pattern from JSON text, within [`Limits::DEFAULT`].
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        Self::parse_with_limits(text, &Limits::DEFAULT)
    }

    /// Parses and validates a pattern from JSON text within `limits`; `max_bytes` applies to
    /// the text as given, before it is parsed.
    pub fn parse_with_limits(text: &str, limits: &Limits) -> Result<Self, PatternError> {
        if text.len() > limits.max_bytes {
            return Err(too_large(&format!("{} bytes", text.len()), limits));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|error| error::root_error(format!("not valid JSON: {error}")))?;
        let (root, absence_slots) = compile::compile(&value, limits)?;
        Ok(EventPattern {
            root,
            absence_slots,
            source: value,
        })
    }

    /// Validates a pattern given as a JSON value, within [`Limits::DEFAULT`].
    pub fn from_value(value: &Value) -> Result<Self, PatternError> {
        Self::from_value_with_limits(value, &Limits::DEFAULT)
    }

    /// Validates a pattern given as a JSON value within `limits`; `max_bytes` applies to the
    /// value's compact JSON text.
    pub fn from_value_with_limits(value: &Value, limits: &Limits) -> Result<Self, PatternError> {
        if size::exceeds(value, limits.max_bytes) {
            return Err(too_large("more than that", limits));
        }
        let (root, absence_slots) = compile::compile(value, limits)?;
        Ok(EventPattern {
            root,
            absence_slots,
            source: value.clone(),
        })
    }

    /// Whether `event` matches the pattern.
    pub fn matches(&self, event: &Value) -> bool {
        let mut cx = Context::new(event, self.absence_slots);
        self.root.matches_value(Some(event), &mut cx)
    }

    /// Whether any leaf of the pattern looks under the top-level key `key` (the dispatcher uses
    /// `looks_into("body")` to avoid parsing a body no pattern reads). Keys inside top-level
    /// `$or` branches count.
    pub fn looks_into(&self, key: &str) -> bool {
        self.root.has_key(key)
    }

    /// The pattern as given, for storage and display.
    pub fn as_value(&self) -> &Value {
        &self.source
    }
}

fn too_large(size: &str, limits: &Limits) -> PatternError {
    error::root_error(format!(
        "a pattern may be {} bytes of JSON at most; this one is {size}",
        limits.max_bytes
    ))
}
