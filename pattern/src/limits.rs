//! The bounds a pattern must stay within, so that compiling and matching it stay cheap.
//!
//! EventBridge has comparable quotas: an event pattern is at most 2048 characters
//! (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html>, "Event pattern";
//! the `PutRule` and `TestEventPattern` APIs accept up to 4096), `*` may not be repeated in a
//! wildcard (<https://github.com/aws/event-ruler#wildcard-matching>, the open-source matcher
//! behind EventBridge), and its sibling Amazon SNS caps a filter policy's combinations of values
//! at 150 (<https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html>).
//! EventBridge documents no nesting limit; ten levels leave room for `body.a.b.c…` and `$or`.

/// Bounds on a pattern, checked by [`crate::EventPattern::parse_with_limits`] and
/// [`crate::EventPattern::from_value_with_limits`]. [`Limits::default`] (the same as
/// [`Limits::DEFAULT`]) is what [`crate::EventPattern::parse`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How many objects deep the pattern may nest, counting the pattern itself as 1 and each
    /// `$or` branch as a level. Default 10.
    pub max_depth: usize,
    /// How long the pattern may be, in bytes: the text as given to `parse`, or the compact JSON
    /// of the value given to `from_value`. Default 2048, EventBridge's quota for a pattern.
    pub max_bytes: usize,
    /// How many values the pattern may hold in total: every item of every leaf array, and every
    /// item of an `anything-but` list, counts one. Default 150, the number SNS caps a filter
    /// policy at (SNS multiplies the arrays' lengths; a sum is what bounds the work of a match
    /// here, since `$or` branches are evaluated, not expanded).
    pub max_values: usize,
    /// How many `*` one `wildcard` value may hold (two in a row are always refused, as
    /// EventBridge does). Default 5.
    pub max_wildcards_per_value: usize,
}

impl Limits {
    /// The defaults documented on each field.
    pub const DEFAULT: Limits = Limits {
        max_depth: 10,
        max_bytes: 2048,
        max_values: 150,
        max_wildcards_per_value: 5,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
