//! The compiled pattern and how it is matched against an event.
//!
//! A [`Node`] is one object of the pattern: every field must match (AND), and if it has `$or`,
//! one branch must match too. A field is either a nested [`Node`] or a [`Leaf`], an array of
//! [`Matcher`]s of which one must match (OR).
//!
//! What a field "is" in the event follows EventBridge's flattened view of JSON
//! (<https://github.com/aws/event-ruler#json-array-matching>):
//! - a leaf's values are the scalars at that key; an array contributes each of its elements
//!   (nested arrays flattened), objects contribute nothing;
//! - a field "exists" when it has at least one such value (`null` counts, `[]` and `{}` do not),
//!   which is why `exists: false` matches a key whose value is an object (not a leaf, per the
//!   AWS docs) and a key whose parent is missing;
//! - a nested pattern object under an array of objects must match within one element, so
//!   `{"a": [1], "b": [2]}` does not match `[{"a": 1}, {"b": 2}]`, as EventBridge's
//!   array-consistent matching does not;
//! - `exists: false` holds when the field's path has no value anywhere in the event, whichever
//!   array element the rest of the pattern matched in: the exact opposite of `exists: true`.
//!   (EventBridge's matcher judges absence within the array elements the fields it checked
//!   before had matched in, an order that follows field names; judging it over the whole event
//!   is the order-free reading, and agrees with it whenever the absent field is checked first.)
//!
//! Matching allocates nothing (unless a pattern holds more than 64 `exists: false` leaves, see
//! [`Context`]) and recurses no deeper than the pattern's depth (bounded by
//! [`crate::Limits::max_depth`]) plus the event's array nesting, which it stops following at
//! [`MAX_ARRAY_NESTING`] levels.

use serde_json::{Map, Number, Value};

use crate::case;
use crate::cidr::Cidr;
use crate::wildcard::Wildcard;

/// How many arrays inside arrays a match follows before it treats deeper elements as absent.
/// serde_json refuses to parse more than 128 levels of nesting, so events parsed from text
/// never reach this; a `Value` built in code could.
pub(crate) const MAX_ARRAY_NESTING: usize = 128;

/// One object of the pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Leaves first, then nested objects: cheap checks before descending.
    pub(crate) fields: Vec<(String, Field)>,
    /// The branches of `$or` at this level, if any (at least two).
    pub(crate) any_of: Vec<Node>,
    /// Whether this node can match where the event has nothing (a missing key, a scalar where
    /// an object was expected): only when every field accepts absence. Checked before the
    /// absence itself, which walks the event.
    pub(crate) may_match_absent: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Leaf(Leaf),
    Object(Node),
}

/// An array of matchers, any one of which may match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Leaf {
    pub(crate) exists_true: bool,
    pub(crate) exists_false: bool,
    /// The keys from the pattern's root to this leaf (`$or` adds none), for `exists: false`;
    /// empty when the leaf has no `exists: false`.
    pub(crate) path: Vec<String>,
    /// This leaf's slot in [`Context`]'s memo of absences, when it has `exists: false`.
    pub(crate) absence_slot: usize,
    /// Every matcher but `exists`.
    pub(crate) matchers: Vec<Matcher>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    String(String),
    Number(Number),
    Bool(bool),
    Null,
    Prefix(String),
    /// Stored case-folded.
    PrefixIgnoreCase(String),
    Suffix(String),
    /// Stored case-folded.
    SuffixIgnoreCase(String),
    /// Stored case-folded.
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    Numeric(Range),
    Cidr(Cidr),
    AnythingBut(AnythingBut),
}

/// A numeric range: at most one lower and one upper bound, or `=`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Range {
    pub(crate) lower: Option<Bound>,
    pub(crate) upper: Option<Bound>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    pub(crate) value: f64,
    pub(crate) inclusive: bool,
}

/// What `anything-but` excludes. Values of another type than the excluded ones are never
/// excluded: `{"anything-but": "x"}` matches `5`, `null` and `true`, as in EventBridge.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    /// Stored case-folded.
    IgnoreCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

/// What one match needs beside the pattern: the whole event, and the answers of the
/// `exists: false` leaves already asked. An absence does not depend on which array element the
/// rest of the pattern is matching, so it is walked once per match, not once per element.
pub(crate) struct Context<'e> {
    root: &'e Value,
    /// For the first 64 slots: which are answered, and which of those are absent.
    known: u64,
    absent: u64,
    /// Slots past 64 (patterns with that many `exists: false`), allocated only for them.
    more: Vec<Option<bool>>,
}

impl<'e> Context<'e> {
    pub(crate) fn new(root: &'e Value, absence_slots: usize) -> Self {
        Context {
            root,
            known: 0,
            absent: 0,
            more: vec![None; absence_slots.saturating_sub(64)],
        }
    }

    fn is_absent(&mut self, leaf: &Leaf) -> bool {
        let slot = leaf.absence_slot;
        if slot < 64 {
            let bit = 1_u64 << slot;
            if self.known & bit == 0 {
                self.known |= bit;
                if !has_value_at(self.root, &leaf.path, 0) {
                    self.absent |= bit;
                }
            }
            return self.absent & bit != 0;
        }
        let root = self.root;
        match self.more.get_mut(slot - 64) {
            Some(Some(absent)) => *absent,
            Some(answer) => *answer.insert(!has_value_at(root, &leaf.path, 0)),
            // Every slot is sized by the compiler; a missing one is answered without the memo.
            None => !has_value_at(root, &leaf.path, 0),
        }
    }
}

impl Node {
    /// Whether this node matches the object `object`.
    pub(crate) fn matches_object(&self, object: &Map<String, Value>, cx: &mut Context<'_>) -> bool {
        self.fields
            .iter()
            .all(|(key, field)| field.matches(object.get(key), cx))
            && (self.any_of.is_empty()
                || self
                    .any_of
                    .iter()
                    .any(|branch| branch.matches_object(object, cx)))
    }

    /// Whether this node matches `value`, the event's value at the node's key (if any).
    pub(crate) fn matches_value(&self, value: Option<&Value>, cx: &mut Context<'_>) -> bool {
        match value {
            Some(Value::Object(object)) => self.matches_object(object, cx),
            Some(Value::Array(items)) => {
                let mut saw_object = false;
                any_object(items, 0, &mut saw_object, &mut |object| {
                    self.matches_object(object, cx)
                }) || (!saw_object && self.matches_nothing(cx))
            }
            _ => self.matches_nothing(cx),
        }
    }

    /// Whether this node matches where the event has no object for it.
    fn matches_nothing(&self, cx: &mut Context<'_>) -> bool {
        self.may_match_absent
            && self.fields.iter().all(|(_, field)| field.matches(None, cx))
            && (self.any_of.is_empty()
                || self.any_of.iter().any(|branch| branch.matches_nothing(cx)))
    }

    /// Whether any field of this node, or of its `$or` branches, is named `key`.
    pub(crate) fn has_key(&self, key: &str) -> bool {
        self.fields.iter().any(|(name, _)| name == key)
            || self.any_of.iter().any(|branch| branch.has_key(key))
    }
}

impl Field {
    fn matches(&self, value: Option<&Value>, cx: &mut Context<'_>) -> bool {
        match self {
            Field::Leaf(leaf) => leaf.matches(value, cx),
            Field::Object(node) => node.matches_value(value, cx),
        }
    }

    pub(crate) fn may_match_absent(&self) -> bool {
        match self {
            Field::Leaf(leaf) => leaf.exists_false,
            Field::Object(node) => node.may_match_absent,
        }
    }
}

impl Leaf {
    fn matches(&self, value: Option<&Value>, cx: &mut Context<'_>) -> bool {
        if self.exists_true && value.is_some_and(|value| any_scalar(value, 0, &mut |_| true)) {
            return true;
        }
        let matched = match value {
            Some(value) if !self.matchers.is_empty() => any_scalar(value, 0, &mut |scalar| {
                self.matchers.iter().any(|matcher| matcher.matches(scalar))
            }),
            _ => false,
        };
        // Last: it may walk the event.
        matched || (self.exists_false && cx.is_absent(self))
    }
}

impl Matcher {
    /// Whether this matcher accepts `scalar`, which is never an array or an object.
    fn matches(&self, scalar: &Value) -> bool {
        match self {
            Matcher::String(want) => scalar.as_str() == Some(want),
            Matcher::Number(want) => matches!(scalar, Value::Number(n) if numbers_equal(want, n)),
            Matcher::Bool(want) => scalar.as_bool() == Some(*want),
            Matcher::Null => scalar.is_null(),
            Matcher::Prefix(prefix) => scalar
                .as_str()
                .is_some_and(|s| s.starts_with(prefix.as_str())),
            Matcher::PrefixIgnoreCase(prefix) => scalar
                .as_str()
                .is_some_and(|s| case::starts_with(s, prefix)),
            Matcher::Suffix(suffix) => scalar
                .as_str()
                .is_some_and(|s| s.ends_with(suffix.as_str())),
            Matcher::SuffixIgnoreCase(suffix) => {
                scalar.as_str().is_some_and(|s| case::ends_with(s, suffix))
            }
            Matcher::EqualsIgnoreCase(want) => {
                scalar.as_str().is_some_and(|s| case::equals(s, want))
            }
            Matcher::Wildcard(wildcard) => scalar.as_str().is_some_and(|s| wildcard.matches(s)),
            Matcher::Numeric(range) => scalar.as_f64().is_some_and(|n| range.contains(n)),
            Matcher::Cidr(cidr) => scalar.as_str().is_some_and(|s| cidr.contains(s)),
            Matcher::AnythingBut(excluded) => !excluded.excludes(scalar),
        }
    }
}

impl Range {
    fn contains(&self, n: f64) -> bool {
        let above = self.lower.is_none_or(|b| {
            if b.inclusive {
                n >= b.value
            } else {
                n > b.value
            }
        });
        let below = self.upper.is_none_or(|b| {
            if b.inclusive {
                n <= b.value
            } else {
                n < b.value
            }
        });
        above && below
    }
}

impl AnythingBut {
    fn excludes(&self, scalar: &Value) -> bool {
        match (self, scalar) {
            (AnythingBut::Numbers(excluded), Value::Number(n)) => {
                n.as_f64().is_some_and(|n| excluded.contains(&n))
            }
            (AnythingBut::Numbers(_), _) => false,
            (_, Value::String(s)) => match self {
                AnythingBut::Strings(excluded) => excluded.iter().any(|e| e == s),
                AnythingBut::Prefixes(excluded) => {
                    excluded.iter().any(|e| s.starts_with(e.as_str()))
                }
                AnythingBut::Suffixes(excluded) => excluded.iter().any(|e| s.ends_with(e.as_str())),
                AnythingBut::IgnoreCase(excluded) => excluded.iter().any(|e| case::equals(s, e)),
                AnythingBut::Wildcards(excluded) => excluded.iter().any(|w| w.matches(s)),
                AnythingBut::Numbers(_) => false,
            },
            _ => false,
        }
    }
}

/// Exact numeric equality: integers compare as integers (so large account numbers stay exact),
/// anything else as `f64`, so `300` equals `3.0e2`.
fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return a == b;
    }
    a.as_f64() == b.as_f64()
}

/// Calls `f` on each scalar of `value` (itself, or the elements of an array, arrays flattened)
/// until it returns true.
fn any_scalar(value: &Value, nesting: usize, f: &mut impl FnMut(&Value) -> bool) -> bool {
    match value {
        Value::Object(_) => false,
        Value::Array(items) => {
            nesting < MAX_ARRAY_NESTING && items.iter().any(|item| any_scalar(item, nesting + 1, f))
        }
        scalar => f(scalar),
    }
}

/// Whether the event has a scalar at `path` below `value`, through any arrays on the way.
fn has_value_at(value: &Value, path: &[String], nesting: usize) -> bool {
    match value {
        Value::Array(items) => {
            nesting < MAX_ARRAY_NESTING
                && items
                    .iter()
                    .any(|item| has_value_at(item, path, nesting + 1))
        }
        Value::Object(object) => path.split_first().is_some_and(|(key, rest)| {
            object
                .get(key)
                .is_some_and(|value| has_value_at(value, rest, nesting))
        }),
        _ => path.is_empty(),
    }
}

/// Calls `f` on each object among `items` (arrays flattened) until it returns true, and notes
/// whether there was any object at all.
fn any_object(
    items: &[Value],
    nesting: usize,
    saw_object: &mut bool,
    f: &mut impl FnMut(&Map<String, Value>) -> bool,
) -> bool {
    if nesting >= MAX_ARRAY_NESTING {
        return false;
    }
    items.iter().any(|item| match item {
        Value::Object(object) => {
            *saw_object = true;
            f(object)
        }
        Value::Array(inner) => any_object(inner, nesting + 1, saw_object, f),
        _ => false,
    })
}
